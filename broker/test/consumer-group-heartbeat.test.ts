// ConsumerGroupHeartbeat and ConsumerGroupDescribe (KIP-848) spoken directly to a real broker
// process: member epochs and fencing, revocation before reassignment, offsets committed and
// fetched at the member epoch, the assignors, static membership, session expiry, bad requests
// and the line between classic and consumer-protocol groups (their mixing: consumer-group-migration.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../protocol/client.js';
import { ErrorCode } from '../protocol/errors.js';
import {
  consumerGroupDescribeApi,
  consumerGroupHeartbeatApi,
  createTopicsApi,
  deleteGroupsApi,
  describeGroupsApi,
  joinGroupApi,
  listGroupsApi,
  metadataApi,
  offsetCommitApi,
  offsetFetchApi,
  txnOffsetCommitApi,
  type ConsumerGroupHeartbeatRequest,
  type ConsumerGroupHeartbeatResponse,
} from '../protocol/messages/index.js';
import { defaultConsumerGroupHeartbeatRequest } from '../protocol/messages/consumer-group-heartbeat-request.js';
import { defaultMetadataRequest } from '../protocol/messages/metadata-request.js';
import { BrokerProcess } from './broker-process.js';
import { eventuallyPasses } from './eventually.js';
import { compileJava, runJava } from './java-programs.js';

/** Lower bounds that let the session and heartbeat be short (Kafka's defaults: 45 s and 5 s). */
const SHORT_BOUNDS = { 'group.consumer.min.session.timeout.ms': '1000', 'group.consumer.min.heartbeat.interval.ms': '100' };

let broker: BrokerProcess;
let c: KafkaConnection;
const topicIds = new Map<string, string>();

beforeAll(async () => {
  broker = await BrokerProcess.start({ 'group.initial.rebalance.delay.ms': '0', 'group.consumer.session.timeout.ms': '4000', 'group.consumer.heartbeat.interval.ms': '1000', ...SHORT_BOUNDS });
  c = await KafkaConnection.open('127.0.0.1', broker.port, 'cg-heartbeat');
  await c.send(createTopicsApi, 7, {
    topics: ['cgh', 'cgh-two'].map((name) => ({ name, numPartitions: 4, replicationFactor: 1, assignments: [], configs: [] })),
    timeoutMs: 5000,
    validateOnly: false,
  });
  const metadata = await c.send(metadataApi, 12, { ...defaultMetadataRequest(), topics: null });
  for (const t of metadata.topics) topicIds.set(t.name!, t.topicId);
});

afterAll(async () => {
  await c?.close();
  await broker?.destroy();
});

function heartbeat(req: Partial<ConsumerGroupHeartbeatRequest>): Promise<ConsumerGroupHeartbeatResponse> {
  return c.send(consumerGroupHeartbeatApi, 1, { ...defaultConsumerGroupHeartbeatRequest(), ...req });
}

const join = (groupId: string, memberId: string, extra: Partial<ConsumerGroupHeartbeatRequest> = {}) =>
  heartbeat({ groupId, memberId, memberEpoch: 0, rebalanceTimeoutMs: 30_000, subscribedTopicNames: ['cgh'], topicPartitions: [], ...extra });

/** An assignment of topic "cgh" as the wire carries it. */
const owned = (...partitions: number[]) => [{ topicId: topicIds.get('cgh')!, partitions }];
const partitionsOf = (r: ConsumerGroupHeartbeatResponse) => r.assignment?.topicPartitions.flatMap((t) => t.partitions).sort() ?? null;

describe('ConsumerGroupHeartbeat', () => {
  it('a joining member takes partitions only once the other has revoked them; epochs fence stale requests', async () => {
    const a = await join('revoke', 'member-a');
    expect(a).toMatchObject({ errorCode: 0, memberId: 'member-a', memberEpoch: 1, heartbeatIntervalMs: 1000 });
    expect(partitionsOf(a)).toEqual([0, 1, 2, 3]);

    // b joins: the target gives it two of a's partitions, which a still owns, so b gets the new epoch and nothing yet.
    const b = await join('revoke', 'member-b');
    expect(b).toMatchObject({ errorCode: 0, memberEpoch: 2 });
    expect(partitionsOf(b)).toEqual([]);

    // a is told to keep two partitions (revoke the others) and stays at its epoch until it has.
    const revoking = await heartbeat({ groupId: 'revoke', memberId: 'member-a', memberEpoch: 1 });
    expect(revoking).toMatchObject({ errorCode: 0, memberEpoch: 1 });
    const kept = partitionsOf(revoking)!;
    expect(kept).toHaveLength(2);
    const released = [0, 1, 2, 3].filter((p) => !kept.includes(p));
    // Until a reports them gone, b still waits.
    expect((await heartbeat({ groupId: 'revoke', memberId: 'member-b', memberEpoch: 2 })).assignment).toBeNull();
    const revoked = await heartbeat({ groupId: 'revoke', memberId: 'member-a', memberEpoch: 1, topicPartitions: owned(...kept) });
    expect(revoked).toMatchObject({ errorCode: 0, memberEpoch: 2 });
    const gained = await heartbeat({ groupId: 'revoke', memberId: 'member-b', memberEpoch: 2 });
    expect(partitionsOf(gained)).toEqual(released);

    expect((await heartbeat({ groupId: 'revoke', memberId: 'member-a', memberEpoch: 7 })).errorCode).toBe(ErrorCode.FENCED_MEMBER_EPOCH);
    expect((await heartbeat({ groupId: 'revoke', memberId: 'stranger', memberEpoch: 2 })).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect((await heartbeat({ groupId: 'no-such-group', memberId: 'member-a', memberEpoch: 2 })).errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND);

    // Offsets are committed and fetched at the member's current epoch.
    const commit = (memberEpoch: number) =>
      c.send(offsetCommitApi, 9, { groupId: 'revoke', generationIdOrMemberEpoch: memberEpoch, memberId: 'member-a', groupInstanceId: null, retentionTimeMs: -1, topics: [{ name: 'cgh', partitions: [{ partitionIndex: kept[0]!, committedOffset: 5, committedLeaderEpoch: -1, commitTimestamp: -1, committedMetadata: null }] }] });
    expect((await commit(1)).topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.STALE_MEMBER_EPOCH);
    expect((await commit(2)).topics[0]!.partitions[0]!.errorCode).toBe(0);
    // A transactional producer sends the consumer's member id and epoch (KIP-447).
    const txnCommit = (memberId: string, generationId: number) =>
      c.send(txnOffsetCommitApi, 3, { transactionalId: 'cgh-txn', groupId: 'revoke', producerId: 4242, producerEpoch: 0, generationId, memberId, groupInstanceId: null, topics: [{ name: 'cgh', partitions: [{ partitionIndex: kept[1]!, committedOffset: 3, committedLeaderEpoch: -1, committedMetadata: null }] }] });
    expect((await txnCommit('member-a', 1)).topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect((await txnCommit('stranger', 2)).topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect((await txnCommit('member-a', 2)).topics[0]!.partitions[0]!.errorCode).toBe(0);
    const fetch = (memberEpoch: number) => c.send(offsetFetchApi, 9, { groupId: '', topics: null, requireStable: false, groups: [{ groupId: 'revoke', memberId: 'member-a', memberEpoch, topics: [{ name: 'cgh', partitionIndexes: [kept[0]!] }] }] });
    expect((await fetch(1)).groups[0]!.errorCode).toBe(ErrorCode.STALE_MEMBER_EPOCH);
    expect((await fetch(2)).groups[0]!.topics[0]!.partitions[0]!.committedOffset).toBe(5);

    const described = (await c.send(consumerGroupDescribeApi, 0, { groupIds: ['revoke'], includeAuthorizedOperations: false })).groups[0]!;
    expect(described).toMatchObject({ errorCode: 0, groupState: 'Stable', groupEpoch: 2, assignmentEpoch: 2, assignorName: 'uniform' });
    const members = Object.fromEntries(described.members.map((m) => [m.memberId, m]));
    expect(members['member-a']!.assignment.topicPartitions).toEqual([{ topicId: topicIds.get('cgh'), topicName: 'cgh', partitions: kept }]);
    expect(members['member-b']!.targetAssignment.topicPartitions[0]!.partitions).toEqual(released);
    expect(members['member-b']).toMatchObject({ memberEpoch: 2, clientId: 'cg-heartbeat', subscribedTopicNames: ['cgh'] });

    // A member leaving (epoch -1) hands its partitions back through a new target.
    expect(await heartbeat({ groupId: 'revoke', memberId: 'member-b', memberEpoch: -1 })).toMatchObject({ errorCode: 0, memberEpoch: -1 });
    const alone = await heartbeat({ groupId: 'revoke', memberId: 'member-a', memberEpoch: 2, topicPartitions: owned(...kept) });
    expect(alone.memberEpoch).toBe(3);
    expect(partitionsOf(alone)).toEqual([0, 1, 2, 3]);
  });

  it('a member subscribed by regular expression gets the topics whose whole name matches, and new ones as they are created', async () => {
    const joined = await join('by-regex', 'r', { subscribedTopicNames: null, subscribedTopicRegex: 'cgh-.*' });
    expect(joined).toMatchObject({ errorCode: 0, memberEpoch: 1 });
    expect(joined.assignment!.topicPartitions).toEqual([{ topicId: topicIds.get('cgh-two'), partitions: [0, 1, 2, 3] }]);
    await c.send(createTopicsApi, 7, { topics: [{ name: 'cgh-three', numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
    const grown = await heartbeat({ groupId: 'by-regex', memberId: 'r', memberEpoch: 1 });
    expect(grown.memberEpoch).toBe(2);
    expect(grown.assignment!.topicPartitions.map((t) => t.partitions.length).sort()).toEqual([2, 4]);
    const described = (await c.send(consumerGroupDescribeApi, 0, { groupIds: ['by-regex'], includeAuthorizedOperations: false })).groups[0]!;
    expect(described.members[0]).toMatchObject({ subscribedTopicNames: [], subscribedTopicRegex: 'cgh-.*' });
    expect(described.members[0]!.assignment.topicPartitions.map((t) => t.topicName).sort()).toEqual(['cgh-three', 'cgh-two']);

    // A heartbeat with another pattern replaces it: now only "cgh" matches.
    const changed = await heartbeat({ groupId: 'by-regex', memberId: 'r', memberEpoch: 2, subscribedTopicRegex: 'cgh', topicPartitions: grown.assignment!.topicPartitions.map(({ topicId, partitions }) => ({ topicId, partitions })) });
    expect(changed).toMatchObject({ errorCode: 0, memberEpoch: 2 });
    // The partitions of cgh-two and cgh-three are revoked first, then cgh's are given.
    expect(changed.assignment!.topicPartitions).toEqual([]);
    const moved = await heartbeat({ groupId: 'by-regex', memberId: 'r', memberEpoch: 2, topicPartitions: [] });
    expect(moved.memberEpoch).toBe(3);
    expect(moved.assignment!.topicPartitions).toEqual([{ topicId: topicIds.get('cgh'), partitions: [0, 1, 2, 3] }]);

    // The Java client (4.0) leaves with an empty pattern in its heartbeat: the leave is taken, the member is gone.
    const left = await heartbeat({ groupId: 'by-regex', memberId: 'r', memberEpoch: -1, subscribedTopicRegex: '', topicPartitions: [] });
    expect(left).toMatchObject({ errorCode: 0, memberEpoch: -1 });
    const after = (await c.send(consumerGroupDescribeApi, 0, { groupIds: ['by-regex'], includeAuthorizedOperations: false })).groups[0]!;
    expect(after).toMatchObject({ groupState: 'Empty', members: [] });

    // An empty pattern is valid and matches nothing: the member joins subscribed to no topic.
    const none = await join('by-empty-regex', 'e', { subscribedTopicNames: null, subscribedTopicRegex: '' });
    expect(none).toMatchObject({ errorCode: 0, memberEpoch: 1 });
    expect(partitionsOf(none)).toEqual([]);
  });

  it('the range assignor gives each member a contiguous range of every topic', async () => {
    const subscription = { subscribedTopicNames: ['cgh', 'cgh-two'], serverAssignor: 'range' };
    await join('ranged', 'm1', subscription);
    await join('ranged', 'm2', subscription);
    const described = (await c.send(consumerGroupDescribeApi, 0, { groupIds: ['ranged'], includeAuthorizedOperations: false })).groups[0]!;
    expect(described.assignorName).toBe('range');
    const target = (id: string) => described.members.find((m) => m.memberId === id)!.targetAssignment.topicPartitions.map((t) => [t.topicName, t.partitions]).sort();
    expect(target('m1')).toEqual([['cgh', [0, 1]], ['cgh-two', [0, 1]]]);
    expect(target('m2')).toEqual([['cgh', [2, 3]], ['cgh-two', [2, 3]]]);
  });

  it('a static member that leaves for now comes back under a new id to its partitions, without a new group epoch', async () => {
    const first = await join('static', 'static-1', { instanceId: 'instance-1' });
    expect(partitionsOf(first)).toEqual([0, 1, 2, 3]);
    expect((await join('static', 'static-2', { instanceId: 'instance-1' })).errorCode).toBe(ErrorCode.UNRELEASED_INSTANCE_ID);
    expect(await heartbeat({ groupId: 'static', memberId: 'static-1', memberEpoch: -2, instanceId: 'instance-1' })).toMatchObject({ errorCode: 0, memberEpoch: -2 });
    const back = await join('static', 'static-2', { instanceId: 'instance-1' });
    expect(back).toMatchObject({ errorCode: 0, memberId: 'static-2', memberEpoch: 1 });
    expect(partitionsOf(back)).toEqual([0, 1, 2, 3]);
    const described = (await c.send(consumerGroupDescribeApi, 0, { groupIds: ['static'], includeAuthorizedOperations: false })).groups[0]!;
    expect(described).toMatchObject({ groupEpoch: 1 });
    expect(described.members.map((m) => [m.memberId, m.instanceId])).toEqual([['static-2', 'instance-1']]);
    expect((await heartbeat({ groupId: 'static', memberId: 'static-1', memberEpoch: 1, instanceId: 'instance-1' })).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('a member that stops heartbeating is removed after group.consumer.session.timeout.ms', async () => {
    await join('expiry', 'quiet');
    await eventuallyPasses('the member expired', async () => {
      const g = (await c.send(consumerGroupDescribeApi, 0, { groupIds: ['expiry'], includeAuthorizedOperations: false })).groups[0]!;
      expect(g).toMatchObject({ groupState: 'Empty', members: [], groupEpoch: 2 });
    }, 15_000);
    // An empty consumer group can be deleted, as a classic one.
    expect((await c.send(deleteGroupsApi, 2, { groupsNames: ['expiry'] })).results[0]!.errorCode).toBe(0);
    expect((await c.send(consumerGroupDescribeApi, 0, { groupIds: ['expiry'], includeAuthorizedOperations: false })).groups[0]!.errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND);
  });

  it('holds the session timeout and heartbeat interval to their bounds at start-up, as Kafka does', async () => {
    // Kafka 4.0 refuses the same three with the same words (before the numbers).
    const refused = [
      [{ 'group.consumer.session.timeout.ms': '4000' }, /group\.consumer\.session\.timeout\.ms must be greater than or equal to group\.consumer\.min\.session\.timeout\.ms \(4000 < 45000\)/],
      [{ 'group.consumer.heartbeat.interval.ms': '20000' }, /group\.consumer\.heartbeat\.interval\.ms must be less than or equal to group\.consumer\.max\.heartbeat\.interval\.ms \(20000 > 15000\)/],
      [{ ...SHORT_BOUNDS, 'group.consumer.session.timeout.ms': '1000', 'group.consumer.heartbeat.interval.ms': '1000' }, /group\.consumer\.heartbeat\.interval\.ms must be less than group\.consumer\.session\.timeout\.ms/],
    ] as const;
    for (const [settings, message] of refused) await expect(BrokerProcess.start(settings)).rejects.toThrow(message);
  });

  it('refuses bad requests with Kafka error codes and messages', async () => {
    const noTimeout = await heartbeat({ groupId: 'bad', memberId: 'x', memberEpoch: 0, subscribedTopicNames: ['cgh'], topicPartitions: [] });
    expect(noTimeout).toMatchObject({ errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'RebalanceTimeoutMs must be provided in first request.' });
    expect((await join('bad', 'x', { subscribedTopicNames: null })).errorCode).toBe(ErrorCode.INVALID_REQUEST);
    expect((await join('', 'x')).errorCode).toBe(ErrorCode.INVALID_REQUEST);
    expect((await heartbeat({ groupId: 'bad', memberId: '', memberEpoch: 3 })).errorCode).toBe(ErrorCode.INVALID_REQUEST);
    for (const pattern of ['[cgh', '(?=cgh).*', '(c)gh\\1']) {
      const regex = await join('bad', 'x', { subscribedTopicNames: null, subscribedTopicRegex: pattern });
      expect(regex.errorCode, pattern).toBe(ErrorCode.INVALID_REGULAR_EXPRESSION);
      expect(regex.errorMessage).toMatch(/is not a valid regular expression/);
    }
    const assignor = await join('bad', 'x', { serverAssignor: 'sticky' });
    expect(assignor.errorCode).toBe(ErrorCode.UNSUPPORTED_ASSIGNOR);
    expect(assignor.errorMessage).toMatch(/uniform, range/);
  });

  it('keeps classic and consumer-protocol groups apart where the embedded protocol is unreadable; ListGroups and DescribeGroups know both', async () => {
    await join('cg-only', 'm');
    // A classic member may join a consumer group (consumer-group-migration.test.ts), but not with a subscription that does not decode.
    const classicJoin = await c.send(joinGroupApi, 9, { groupId: 'cg-only', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: '', groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }], reason: null });
    expect(classicJoin.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    expect((await c.send(describeGroupsApi, 6, { groups: ['cg-only'], includeAuthorizedOperations: false })).groups[0]!.errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND);
    expect((await c.send(deleteGroupsApi, 2, { groupsNames: ['cg-only'] })).results[0]!.errorCode).toBe(ErrorCode.NON_EMPTY_GROUP);
    const listed = await c.send(listGroupsApi, 5, { statesFilter: [], typesFilter: ['consumer'] });
    expect(listed.groups.find((g) => g.groupId === 'cg-only')).toEqual({ groupId: 'cg-only', protocolType: 'consumer', groupState: 'Stable', groupType: 'consumer' });

    // Once the consumer group is empty, a classic member may take the id.
    expect((await heartbeat({ groupId: 'cg-only', memberId: 'm', memberEpoch: -1 })).errorCode).toBe(0);
    const taken = await c.send(joinGroupApi, 9, { groupId: 'cg-only', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: classicJoin.memberId, groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }], reason: null });
    expect(taken.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
    expect((await c.send(joinGroupApi, 9, { groupId: 'cg-only', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: taken.memberId, groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }], reason: null })).errorCode).toBe(0);
    expect((await c.send(listGroupsApi, 5, { statesFilter: [], typesFilter: [] })).groups.find((g) => g.groupId === 'cg-only')?.groupType).toBe('classic');

    // A classic group with a member whose subscription does not decode cannot become a consumer group.
    const classic = (memberId: string) => c.send(joinGroupApi, 5, { groupId: 'classic-only', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId, groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }], reason: null });
    const joined = await classic((await classic('')).memberId);
    expect(joined.errorCode).toBe(0);
    expect(await join('classic-only', 'm')).toMatchObject({
      errorCode: ErrorCode.GROUP_ID_NOT_FOUND,
      errorMessage: 'Cannot upgrade classic group classic-only to consumer group because the embedded consumer protocol is malformed.',
    });
    const notConsumer = (await c.send(consumerGroupDescribeApi, 0, { groupIds: ['classic-only'], includeAuthorizedOperations: false })).groups[0]!;
    expect(notConsumer).toMatchObject({ errorCode: ErrorCode.GROUP_ID_NOT_FOUND, errorMessage: 'Group classic-only is not a consumer group.' });
  });

  it("writes Kafka's record layouts: Kafka's own group coordinator serde reads every record of __consumer_offsets", async () => {
    const classpath = compileJava('scripts/kafka/pom.xml', '.cache/kafka/lib', ['broker/test/java/OffsetsTopicRecords.java']);
    const lines = (await runJava(classpath, 'OffsetsTopicRecords', [broker.bootstrap])).trim().split('\n');
    expect(lines.filter((l) => l.startsWith('UNREADABLE'))).toEqual([]);
    const of = (group: string, key: string) => lines.filter((l) => l.startsWith(`${key}(groupId='${group}'`));
    // Group "revoke" went to epoch 3 (a, b joining, b leaving); the session of member-a, no longer heartbeating, then ended (4).
    expect(of('revoke', 'ConsumerGroupMetadataKey').map((l) => l.replace(/.* /, ''))).toEqual([1, 2, 3, 4].map((e) => `ConsumerGroupMetadataValue(epoch=${e})`));
    expect(of('revoke', 'ConsumerGroupTargetAssignmentMetadataKey').at(-1)).toMatch(/assignmentEpoch=4\)$/);
    expect(of('revoke', 'ConsumerGroupMemberMetadataKey').find((l) => l.includes("memberId='member-a'"))).toMatch(/clientId='cg-heartbeat'.*subscribedTopicNames=\[cgh\].*rebalanceTimeoutMs=30000/);
    const currentOfA = of('revoke', 'ConsumerGroupCurrentMemberAssignmentKey').filter((l) => l.includes("memberId='member-a'"));
    // a revoking (state 1: UNREVOKED_PARTITIONS) at epoch 1, then stable at 2 and 3.
    expect(currentOfA.some((l) => /memberEpoch=1, previousMemberEpoch=0, state=1/.test(l))).toBe(true);
    expect(currentOfA.some((l) => /memberEpoch=3, previousMemberEpoch=2, state=0/.test(l))).toBe(true);
    // Members that left or expired end in tombstones.
    for (const id of ['member-a', 'member-b']) {
      for (const key of ['ConsumerGroupMemberMetadataKey', 'ConsumerGroupTargetAssignmentMemberKey', 'ConsumerGroupCurrentMemberAssignmentKey']) {
        expect(of('revoke', key).filter((l) => l.includes(`memberId='${id}'`)).at(-1)).toMatch(/ null$/);
      }
    }
    expect(of('static', 'ConsumerGroupMemberMetadataKey').find((l) => l.includes("memberId='static-2'"))).toMatch(/instanceId='instance-1'/);
  }, 180_000);
});
