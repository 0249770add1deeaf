// The consumer group protocol (KIP-848) on the wire: ConsumerGroupHeartbeat and
// ConsumerGroupDescribe. Semantics live in groups/consumer-coordinator.ts; this module maps fields.
import type { BrokerContext, RequestContext } from '../context.js';
import type { Assignment } from '../groups/assignors.js';
import { ErrorCode } from '../protocol/errors.js';
import type { ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse } from '../protocol/messages/index.js';

const NOT_REQUESTED = -2147483648;
const CLASSIC_MEMBER = 0;
const CONSUMER_MEMBER = 1;
// Group operations allowed with no authorizer: READ, DELETE, DESCRIBE (Kafka's AclOperation bits 3, 6, 8).
const ALL_GROUP_OPERATIONS = (1 << 3) | (1 << 6) | (1 << 8);

export async function handleConsumerGroupHeartbeat(broker: BrokerContext, req: ConsumerGroupHeartbeatRequest, ctx: RequestContext): Promise<ConsumerGroupHeartbeatResponse> {
  await broker.groups.ensureOffsetsTopic();
  if (!broker.groups.owns(req.groupId)) {
    return { throttleTimeMs: 0, errorCode: ErrorCode.NOT_COORDINATOR, errorMessage: `broker ${broker.nodeId} is not the coordinator of group ${req.groupId}`, memberId: null, memberEpoch: -1, heartbeatIntervalMs: 0, assignment: null };
  }
  const result = await broker.groups.consumerHeartbeat({
    groupId: req.groupId,
    memberId: req.memberId,
    memberEpoch: req.memberEpoch,
    instanceId: req.instanceId,
    rackId: req.rackId,
    rebalanceTimeoutMs: req.rebalanceTimeoutMs,
    subscribedTopicNames: req.subscribedTopicNames,
    subscribedTopicRegex: req.subscribedTopicRegex,
    serverAssignor: req.serverAssignor,
    ownedPartitions: req.topicPartitions,
    clientId: ctx.clientId ?? '',
    clientHost: ctx.clientHost,
  });
  return {
    throttleTimeMs: 0,
    errorCode: result.errorCode,
    errorMessage: result.errorMessage,
    memberId: result.memberId,
    memberEpoch: result.memberEpoch,
    heartbeatIntervalMs: result.heartbeatIntervalMs,
    assignment: result.assignment ? { topicPartitions: [...result.assignment].map(([topicId, partitions]) => ({ topicId, partitions })) } : null,
  };
}

export function handleConsumerGroupDescribe(broker: BrokerContext, req: ConsumerGroupDescribeRequest): ConsumerGroupDescribeResponse {
  const operations = req.includeAuthorizedOperations ? ALL_GROUP_OPERATIONS : NOT_REQUESTED;
  return { throttleTimeMs: 0, groups: req.groupIds.map((groupId) => describeGroup(broker, groupId, operations)) };
}

/** One group as ConsumerGroupDescribe answers it; a classic group or none at all is GROUP_ID_NOT_FOUND, as Kafka answers. */
export function describeGroup(broker: BrokerContext, groupId: string, authorizedOperations: number): ConsumerGroupDescribeResponse['groups'][number] {
  const none = { groupId, groupState: '', groupEpoch: -1, assignmentEpoch: -1, assignorName: '', members: [], authorizedOperations };
  if (!broker.groups.owns(groupId)) return { ...none, errorCode: ErrorCode.NOT_COORDINATOR, errorMessage: `broker ${broker.nodeId} is not the coordinator of group ${groupId}` };
  const group = broker.groups.getConsumerGroup(groupId);
  if (!group) {
    const classic = broker.groups.get(groupId) !== undefined;
    return { ...none, errorCode: ErrorCode.GROUP_ID_NOT_FOUND, errorMessage: classic ? `Group ${groupId} is not a consumer group.` : `Group ${groupId} not found.` };
  }
  const named = (a: Assignment) => ({
    topicPartitions: [...a].map(([topicId, partitions]) => ({ topicId, topicName: broker.registry.getById(topicId)?.name ?? '', partitions })),
  });
  return {
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    groupId,
    groupState: group.state,
    groupEpoch: group.groupEpoch,
    assignmentEpoch: group.assignmentEpoch,
    assignorName: broker.groups.consumer.assignorFor(group).name,
    members: [...group.members.values()].map((m) => ({
      memberId: m.memberId,
      instanceId: m.instanceId,
      rackId: m.rackId,
      memberEpoch: m.memberEpoch,
      clientId: m.clientId,
      clientHost: m.clientHost,
      subscribedTopicNames: m.subscribedTopicNames,
      subscribedTopicRegex: m.subscribedTopicRegex,
      assignment: named(m.assigned),
      targetAssignment: named(group.targetAssignment.get(m.memberId) ?? new Map()),
      // KIP-1099 (v1): 0 for a member of the classic protocol, 1 for one of the consumer protocol.
      memberType: m.classic !== null ? CLASSIC_MEMBER : CONSUMER_MEMBER,
    })),
    authorizedOperations,
  };
}

