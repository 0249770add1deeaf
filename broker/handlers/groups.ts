// The classic group protocol on the wire: FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
// LeaveGroup, OffsetCommit, TxnOffsetCommit, OffsetFetch, DescribeGroups, ListGroups, DeleteGroups,
// OffsetDelete.
// Semantics live in groups/coordinator.ts; this module maps versions and fields.
import type { BrokerContext, RequestContext } from '../context.js';
import type { Group } from '../groups/group.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import type {
  FindCoordinatorRequest,
  FindCoordinatorResponse,
  JoinGroupRequest,
  JoinGroupResponse,
  SyncGroupRequest,
  SyncGroupResponse,
  HeartbeatRequest,
  HeartbeatResponse,
  LeaveGroupRequest,
  LeaveGroupResponse,
  OffsetCommitRequest,
  OffsetCommitResponse,
  TxnOffsetCommitRequest,
  TxnOffsetCommitResponse,
  OffsetFetchRequest,
  OffsetFetchResponse,
  DescribeGroupsRequest,
  DescribeGroupsResponse,
  ListGroupsRequest,
  ListGroupsResponse,
  DeleteGroupsRequest,
  DeleteGroupsResponse,
  OffsetDeleteRequest,
  OffsetDeleteResponse,
} from '../protocol/messages/index.js';
import type { Coordinator } from '../protocol/messages/find-coordinator-response.js';
import type { OffsetFetchResponsePartition } from '../protocol/messages/offset-fetch-response.js';
import { readConsumerProtocolSubscription, consumerProtocolSubscriptionVersions } from '../protocol/messages/consumer-protocol-subscription.js';
import { Reader } from '../protocol/reader.js';
import { OFFSETS_TOPIC, type OffsetToCommit } from '../groups/coordinator.js';
import { partitionForGroup } from '../groups/offsets-records.js';
import { TRANSACTION_STATE_TOPIC } from '../transactions/transaction-log-records.js';

const GROUP_KEY = 0;
const TRANSACTION_KEY = 1;
const NOT_REQUESTED = -2147483648;
// Group operations allowed with no authorizer: READ, DELETE, DESCRIBE (Kafka's AclOperation bits 3, 6, 8).
const ALL_GROUP_OPERATIONS = (1 << 3) | (1 << 6) | (1 << 8);

export async function handleFindCoordinator(broker: BrokerContext, req: FindCoordinatorRequest, ctx: RequestContext): Promise<FindCoordinatorResponse> {
  const keys = ctx.apiVersion >= 4 ? req.coordinatorKeys : [req.key];
  const coordinators: Coordinator[] = [];
  for (const key of keys) {
    const none = { key, nodeId: -1, host: '', port: -1 };
    if (req.keyType === TRANSACTION_KEY && key === '') {
      coordinators.push({ ...none, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'the transactional id is empty' });
    } else if (req.keyType === TRANSACTION_KEY) {
      // The coordinator of a transactional id is the leader of its __transaction_state partition.
      await broker.transactions.ensureStateTopic();
      const topic = broker.registry.get(TRANSACTION_STATE_TOPIC);
      const partition = broker.transactions.partitionFor(key);
      const state = topic && partition !== undefined ? broker.view.partition(topic, partition)?.state : undefined;
      const leader = state && state.leader >= 0 ? broker.broker(state.leader, ctx.listenerName) : undefined;
      if (!leader) coordinators.push({ ...none, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: 'the transaction state partition of this id has no leader now' });
      else coordinators.push({ key, nodeId: leader.nodeId, host: leader.host, port: leader.port, errorCode: ErrorCode.NONE, errorMessage: null });
    } else if (req.keyType !== GROUP_KEY) {
      coordinators.push({ ...none, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `unknown coordinator key type ${req.keyType}` });
    } else {
      await broker.groups.ensureOffsetsTopic();
      // The coordinator of a group is the leader of its offsets-topic partition.
      const topic = broker.registry.get(OFFSETS_TOPIC);
      const state = topic && broker.view.partition(topic, partitionForGroup(key, topic.partitions.length))?.state;
      const leader = state && state.leader >= 0 ? broker.broker(state.leader, ctx.listenerName) : undefined;
      if (!leader) coordinators.push({ ...none, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: 'the offsets partition of this group has no leader now' });
      else coordinators.push({ key, nodeId: leader.nodeId, host: leader.host, port: leader.port, errorCode: ErrorCode.NONE, errorMessage: null });
    }
  }
  const first = coordinators[0]!;
  return {
    throttleTimeMs: 0,
    errorCode: first.errorCode,
    errorMessage: first.errorMessage,
    nodeId: first.nodeId,
    host: first.host,
    port: first.port,
    coordinators: ctx.apiVersion >= 4 ? coordinators : [],
  };
}

/** NOT_COORDINATOR when this broker does not lead the group's offsets partition (the client asks FindCoordinator again). */
function notCoordinator(broker: BrokerContext, groupId: string): boolean {
  return !broker.groups.owns(groupId);
}

export async function handleJoinGroup(broker: BrokerContext, req: JoinGroupRequest, ctx: RequestContext): Promise<JoinGroupResponse> {
  await broker.groups.ensureOffsetsTopic();
  if (notCoordinator(broker, req.groupId)) {
    return { throttleTimeMs: 0, errorCode: ErrorCode.NOT_COORDINATOR, generationId: -1, protocolType: null, protocolName: ctx.apiVersion >= 7 ? null : '', leader: '', skipAssignment: false, memberId: req.memberId, members: [] };
  }
  const result = await broker.groups.join({
    groupId: req.groupId,
    memberId: req.memberId,
    groupInstanceId: req.groupInstanceId,
    clientId: ctx.clientId ?? '',
    clientHost: ctx.clientHost,
    sessionTimeoutMs: req.sessionTimeoutMs,
    rebalanceTimeoutMs: ctx.apiVersion >= 1 ? req.rebalanceTimeoutMs : req.sessionTimeoutMs,
    protocolType: req.protocolType,
    protocols: req.protocols,
    requireKnownMemberId: ctx.apiVersion >= 4,
  });
  return {
    throttleTimeMs: 0,
    errorCode: result.errorCode,
    generationId: result.generationId,
    protocolType: result.protocolType,
    // Before v7 the protocol name is not nullable.
    protocolName: result.protocolName ?? (ctx.apiVersion >= 7 ? null : ''),
    leader: result.leader,
    skipAssignment: false,
    memberId: result.memberId,
    members: result.members,
  };
}

export async function handleSyncGroup(broker: BrokerContext, req: SyncGroupRequest): Promise<SyncGroupResponse> {
  if (notCoordinator(broker, req.groupId)) return { throttleTimeMs: 0, errorCode: ErrorCode.NOT_COORDINATOR, protocolType: null, protocolName: null, assignment: Buffer.alloc(0) };
  const result = await broker.groups.sync(req.groupId, req.generationId, req.memberId, req.groupInstanceId, req.protocolType, req.protocolName, req.assignments);
  return { throttleTimeMs: 0, ...result };
}

export function handleHeartbeat(broker: BrokerContext, req: HeartbeatRequest): HeartbeatResponse {
  if (notCoordinator(broker, req.groupId)) return { throttleTimeMs: 0, errorCode: ErrorCode.NOT_COORDINATOR };
  return { throttleTimeMs: 0, errorCode: broker.groups.heartbeat(req.groupId, req.generationId, req.memberId, req.groupInstanceId) };
}

export function handleLeaveGroup(broker: BrokerContext, req: LeaveGroupRequest, ctx: RequestContext): LeaveGroupResponse {
  const leaving = ctx.apiVersion >= 3 ? req.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId })) : [{ memberId: req.memberId, groupInstanceId: null }];
  if (notCoordinator(broker, req.groupId)) return { throttleTimeMs: 0, errorCode: ErrorCode.NOT_COORDINATOR, members: [] };
  const codes = broker.groups.leave(req.groupId, leaving);
  return {
    throttleTimeMs: 0,
    errorCode: ctx.apiVersion >= 3 ? ErrorCode.NONE : codes[0]!,
    members: ctx.apiVersion >= 3 ? leaving.map((l, i) => ({ ...l, errorCode: codes[i]! })) : [],
  };
}

type CommittedTopics = Array<{ name: string; partitions: Array<{ partitionIndex: number; committedOffset: number; committedLeaderEpoch: number; committedMetadata: string | null }> }>;

/**
 * Runs a commit of `topics`' offsets at the group's coordinator and answers per partition; a
 * KafkaError (not the coordinator, a fenced producer, an offsets log that cannot be written)
 * answers every partition.
 */
async function commitOffsets(
  broker: BrokerContext,
  groupId: string,
  topics: CommittedTopics,
  commit: (offsets: OffsetToCommit[]) => Promise<number[] | number>,
): Promise<{ throttleTimeMs: number; topics: Array<{ name: string; partitions: Array<{ partitionIndex: number; errorCode: number }> }> }> {
  const offsets = topics.flatMap((t) =>
    t.partitions.map((p) => ({ topic: t.name, partition: p.partitionIndex, offset: p.committedOffset, leaderEpoch: p.committedLeaderEpoch, metadata: p.committedMetadata })),
  );
  let result: number[] | number;
  try {
    await broker.groups.ensureOffsetsTopic();
    if (notCoordinator(broker, groupId)) throw new KafkaError(ErrorCode.NOT_COORDINATOR, `broker ${broker.nodeId} is not the coordinator of group ${groupId}`);
    result = await commit(offsets);
  } catch (err) {
    if (!(err instanceof KafkaError)) throw err;
    result = err.code;
  }
  let i = 0;
  return {
    throttleTimeMs: 0,
    topics: topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: typeof result === 'number' ? result : result[i++]! })),
    })),
  };
}

export function handleOffsetCommit(broker: BrokerContext, req: OffsetCommitRequest): Promise<OffsetCommitResponse> {
  return commitOffsets(broker, req.groupId, req.topics, (offsets) => broker.groups.commit(req.groupId, req.generationIdOrMemberEpoch, req.memberId, req.groupInstanceId, offsets));
}

/** TxnOffsetCommit (KIP-98): offsets the producer's transaction commits, visible once it commits. */
export function handleTxnOffsetCommit(broker: BrokerContext, req: TxnOffsetCommitRequest): Promise<TxnOffsetCommitResponse> {
  return commitOffsets(broker, req.groupId, req.topics, (offsets) =>
    broker.groups.commitTransactional({
      groupId: req.groupId,
      producerId: req.producerId,
      producerEpoch: req.producerEpoch,
      generationId: req.generationId,
      memberId: req.memberId,
      groupInstanceId: req.groupInstanceId,
      offsets,
    }),
  );
}

/** The group's offsets; with require_stable (v7+), UNSTABLE_OFFSET_COMMIT for a partition an open transaction commits (the consumer retries, KIP-447). */
function fetchPartitions(broker: BrokerContext, groupId: string, topics: Array<{ name: string; partitionIndexes: number[] }> | null, requireStable: boolean) {
  const wanted = topics ?? [...broker.groups.committedTopics(groupId)].map(([name, partitionIndexes]) => ({ name, partitionIndexes: partitionIndexes.sort((a, b) => a - b) }));
  return wanted.map((t) => ({
    name: t.name,
    partitions: t.partitionIndexes.map((partitionIndex): OffsetFetchResponsePartition => {
      if (requireStable && broker.groups.hasPendingTxnOffset(groupId, t.name, partitionIndex)) {
        return { partitionIndex, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT };
      }
      const c = broker.groups.committed(groupId, t.name, partitionIndex);
      return { partitionIndex, committedOffset: c?.offset ?? -1, committedLeaderEpoch: c?.leaderEpoch ?? -1, metadata: c?.metadata ?? '', errorCode: ErrorCode.NONE };
    }),
  }));
}

export function handleOffsetFetch(broker: BrokerContext, req: OffsetFetchRequest, ctx: RequestContext): OffsetFetchResponse {
  if (ctx.apiVersion >= 8) {
    return {
      throttleTimeMs: 0,
      topics: [],
      errorCode: ErrorCode.NONE,
      groups: req.groups.map((g) => {
        if (notCoordinator(broker, g.groupId)) return { groupId: g.groupId, topics: [], errorCode: ErrorCode.NOT_COORDINATOR };
        // v9+: a member of a consumer-protocol group fetches at its current epoch (KIP-848).
        const consumerGroup = broker.groups.getConsumerGroup(g.groupId);
        const memberCode = consumerGroup ? broker.groups.consumer.validateFetch(consumerGroup, g.memberId, g.memberEpoch) : ErrorCode.NONE;
        if (memberCode !== ErrorCode.NONE) return { groupId: g.groupId, topics: [], errorCode: memberCode };
        return { groupId: g.groupId, topics: fetchPartitions(broker, g.groupId, g.topics, req.requireStable), errorCode: ErrorCode.NONE };
      }),
    };
  }
  if (notCoordinator(broker, req.groupId)) return { throttleTimeMs: 0, topics: [], errorCode: ErrorCode.NOT_COORDINATOR, groups: [] };
  return { throttleTimeMs: 0, topics: fetchPartitions(broker, req.groupId, req.topics, req.requireStable), errorCode: ErrorCode.NONE, groups: [] };
}

/** A group unknown to its coordinator: Dead without an error before v6, GROUP_ID_NOT_FOUND from v6 on (KIP-1043). */
function unknownGroup(groupId: string, apiVersion: number) {
  return apiVersion >= 6 ? { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, errorMessage: `Group '${groupId}' does not exist.` } : { errorCode: ErrorCode.NONE, errorMessage: null };
}

export function handleDescribeGroups(broker: BrokerContext, req: DescribeGroupsRequest, apiVersion: number): DescribeGroupsResponse {
  return {
    throttleTimeMs: 0,
    groups: req.groups.map((groupId) => {
      const g = broker.groups.get(groupId);
      const operations = req.includeAuthorizedOperations ? ALL_GROUP_OPERATIONS : NOT_REQUESTED;
      if (notCoordinator(broker, groupId)) return { errorCode: ErrorCode.NOT_COORDINATOR, errorMessage: null, groupId, groupState: '', protocolType: '', protocolData: '', members: [], authorizedOperations: operations };
      // A consumer-protocol group is described by ConsumerGroupDescribe; Kafka answers this for it (the admin client then asks that), before v6 as a Dead group.
      if (broker.groups.getConsumerGroup(groupId)) {
        const notClassic = apiVersion >= 6 ? { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, errorMessage: `Group ${groupId} is not a classic group.`, groupState: 'Dead' } : { errorCode: ErrorCode.NONE, errorMessage: null, groupState: 'Dead' };
        return { ...notClassic, groupId, protocolType: '', protocolData: '', members: [], authorizedOperations: operations };
      }
      if (!g) return { ...unknownGroup(groupId, apiVersion), groupId, groupState: 'Dead', protocolType: '', protocolData: '', members: [], authorizedOperations: operations };
      return {
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        groupId,
        groupState: g.state,
        protocolType: g.protocolType ?? '',
        protocolData: g.state === 'Stable' ? (g.protocolName ?? '') : '',
        members: [...g.members.values()].map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          memberMetadata: g.metadataOf(m),
          memberAssignment: m.assignment,
        })),
        authorizedOperations: operations,
      };
    }),
  };
}

export function handleListGroups(broker: BrokerContext, req: ListGroupsRequest): ListGroupsResponse {
  const states = new Set(req.statesFilter.map((s) => s.toLowerCase()));
  const types = new Set(req.typesFilter.map((s) => s.toLowerCase()));
  const classic = broker.groups.all().map((g) => ({ groupId: g.id, protocolType: g.protocolType ?? '', groupState: g.state, groupType: 'classic' }));
  const consumer = [...broker.groups.consumer.groups.values()].map((g) => ({ groupId: g.id, protocolType: 'consumer', groupState: g.state, groupType: 'consumer' }));
  const groups = [...classic, ...consumer].filter((g) => (states.size === 0 || states.has(g.groupState.toLowerCase())) && (types.size === 0 || types.has(g.groupType)));
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, groups };
}

export function handleDeleteGroups(broker: BrokerContext, req: DeleteGroupsRequest): DeleteGroupsResponse {
  return { throttleTimeMs: 0, results: req.groupsNames.map((groupId) => ({ groupId, errorCode: notCoordinator(broker, groupId) ? ErrorCode.NOT_COORDINATOR : broker.groups.deleteGroup(groupId) })) };
}

/** Topics the members of a consumer group subscribe to, from their protocol metadata. */
function subscribedTopics(group: Group): Set<string> {
  const topics = new Set<string>();
  if (group.protocolType !== 'consumer') return topics;
  for (const m of group.members.values()) {
    const metadata = group.metadataOf(m);
    if (metadata.length < 2) continue;
    try {
      const r = new Reader(metadata);
      const version = Math.min(r.int16(), consumerProtocolSubscriptionVersions.max);
      for (const t of readConsumerProtocolSubscription(r, version).topics) topics.add(t);
    } catch {
      // Metadata a client encoded its own way tells us nothing; the offsets stay deletable.
    }
  }
  return topics;
}

export function handleOffsetDelete(broker: BrokerContext, req: OffsetDeleteRequest): OffsetDeleteResponse {
  const partitions = req.topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partitionIndex })));
  if (notCoordinator(broker, req.groupId)) return { errorCode: ErrorCode.NOT_COORDINATOR, throttleTimeMs: 0, topics: [] };
  const result = broker.groups.deleteOffsets(req.groupId, partitions, subscribedTopics);
  let i = 0;
  return {
    errorCode: typeof result === 'number' ? result : ErrorCode.NONE,
    throttleTimeMs: 0,
    topics:
      typeof result === 'number'
        ? []
        : req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: result[i++]! })) })),
  };
}
