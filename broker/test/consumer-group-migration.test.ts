// Classic and consumer-protocol members in one group (KIP-848's online upgrade and downgrade),
// spoken on the wire to a real broker: a ConsumerGroupHeartbeat joining a classic group converts
// it, the classic member keeps its partitions and is then served from the consumer group
// (JoinGroup/SyncGroup/Heartbeat/OffsetCommit at its member epoch), and the group goes back to
// the classic protocol when its last consumer-protocol member leaves; group.consumer.migration.policy
// decides which of these may happen. Also proven on Apache Kafka 4.0:
//   SAMSA_TEST_BROKER=kafka npx vitest run broker/test/consumer-group-migration.test.ts
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeAssignment, encodeAssignment } from '../groups/embedded-consumer-protocol.js';
import { KafkaConnection } from '../protocol/client.js';
import { ErrorCode } from '../protocol/errors.js';
import {
  consumerGroupDescribeApi,
  consumerGroupHeartbeatApi,
  createTopicsApi,
  describeGroupsApi,
  findCoordinatorApi,
  heartbeatApi,
  joinGroupApi,
  leaveGroupApi,
  listGroupsApi,
  metadataApi,
  offsetCommitApi,
  syncGroupApi,
  type ConsumerGroupHeartbeatRequest,
  type ConsumerGroupHeartbeatResponse,
  type JoinGroupResponse,
} from '../protocol/messages/index.js';
import { defaultConsumerGroupHeartbeatRequest } from '../protocol/messages/consumer-group-heartbeat-request.js';
import { writeConsumerProtocolSubscription } from '../protocol/messages/consumer-protocol-subscription.js';
import { defaultMetadataRequest } from '../protocol/messages/metadata-request.js';
import { Writer } from '../protocol/writer.js';
import { againstKafka, type BrokerUnderTest, startBrokerUnderTest } from './broker-under-test.js';
import { eventually, eventuallyPasses } from './eventually.js';
import { compileJava, runJava } from './java-programs.js';

const TOPIC = 'mig';

/** A broker with the given migration policy, a 4-partition topic, and a connection to it. */
async function start(policy: string | null): Promise<{ broker: BrokerUnderTest; c: KafkaConnection; topicId: string }> {
  const settings: Record<string, string> = policy === null ? {} : { 'group.consumer.migration.policy': policy };
  const broker = await startBrokerUnderTest(settings, settings);
  const c = await KafkaConnection.open('127.0.0.1', broker.port, 'cg-migration');
  await c.send(createTopicsApi, 7, { topics: [{ name: TOPIC, numPartitions: 4, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
  const metadata = await c.send(metadataApi, 12, { ...defaultMetadataRequest(), topics: null });
  return { broker, c, topicId: metadata.topics.find((t) => t.name === TOPIC)!.topicId };
}

/** The embedded consumer protocol's subscription (v1: with the partitions the member still owns). */
function subscription(owned: number[] = []): Buffer {
  const w = new Writer(64);
  w.int16(1);
  writeConsumerProtocolSubscription(w, { topics: [TOPIC], userData: null, ownedPartitions: owned.length > 0 ? [{ topic: TOPIC, partitions: owned }] : [], generationId: -1, rackId: null }, 1);
  return w.toBuffer();
}

/** One classic member speaking JoinGroup v9, SyncGroup v5, Heartbeat v4 and OffsetCommit v9. */
class ClassicMember {
  memberId = '';
  generation = -1;
  constructor(
    private readonly c: KafkaConnection,
    readonly groupId: string,
    private readonly protocolType = 'consumer',
    private readonly rebalanceTimeoutMs = 20_000,
    private readonly instanceId: string | null = null,
  ) {}

  async join(owned: number[] = []): Promise<JoinGroupResponse> {
    const send = () =>
      untilCoordinator(this.c, this.groupId, () => this.c.send(joinGroupApi, 9, { groupId: this.groupId, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: this.rebalanceTimeoutMs, memberId: this.memberId, groupInstanceId: this.instanceId, protocolType: this.protocolType, protocols: [{ name: 'range', metadata: subscription(owned) }], reason: null }));
    let r = await send();
    if (r.errorCode === ErrorCode.MEMBER_ID_REQUIRED) {
      this.memberId = r.memberId;
      r = await send();
    }
    if (r.errorCode === ErrorCode.NONE) {
      this.memberId = r.memberId;
      this.generation = r.generationId;
    }
    return r;
  }

  /** SyncGroup; as the leader it hands itself `lead`. Resolves with the partitions of topic "mig" it is given. */
  async sync(lead: number[] | null = null): Promise<{ errorCode: number; partitions: number[] }> {
    const assignments = lead === null ? [] : [{ memberId: this.memberId, assignment: encodeAssignment([{ topic: TOPIC, partitions: lead }]) }];
    const r = await this.c.send(syncGroupApi, 5, { groupId: this.groupId, generationId: this.generation, memberId: this.memberId, groupInstanceId: this.instanceId, protocolType: this.protocolType, protocolName: 'range', assignments });
    return { errorCode: r.errorCode, partitions: r.errorCode === 0 ? decodeAssignment(r.assignment).flatMap((t) => t.partitions).sort() : [] };
  }

  async heartbeat(generation = this.generation): Promise<number> {
    return (await this.c.send(heartbeatApi, 4, { groupId: this.groupId, generationId: generation, memberId: this.memberId, groupInstanceId: this.instanceId })).errorCode;
  }

  async commit(generation: number, partition: number, offset: number): Promise<number> {
    const r = await this.c.send(offsetCommitApi, 9, {
      groupId: this.groupId,
      generationIdOrMemberEpoch: generation,
      memberId: this.memberId,
      groupInstanceId: null,
      retentionTimeMs: -1,
      topics: [{ name: TOPIC, partitions: [{ partitionIndex: partition, committedOffset: offset, committedLeaderEpoch: -1, commitTimestamp: -1, committedMetadata: null }] }],
    });
    return r.topics[0]!.partitions[0]!.errorCode;
  }
}

function heartbeat(c: KafkaConnection, req: Partial<ConsumerGroupHeartbeatRequest>): Promise<ConsumerGroupHeartbeatResponse> {
  return c.send(consumerGroupHeartbeatApi, 1, { ...defaultConsumerGroupHeartbeatRequest(), ...req });
}

const joinConsumer = (c: KafkaConnection, groupId: string, memberId: string) =>
  untilCoordinator(c, groupId, () => heartbeat(c, { groupId, memberId, memberEpoch: 0, rebalanceTimeoutMs: 20_000, subscribedTopicNames: [TOPIC], topicPartitions: [] }));

/** A group's first request, sent again while the offsets topic is being created (Kafka creates it at FindCoordinator) or loaded. */
async function untilCoordinator<T extends { errorCode: number }>(c: KafkaConnection, groupId: string, send: () => Promise<T>): Promise<T> {
  const notYet: number[] = [ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.NOT_COORDINATOR];
  return eventually('the group coordinator', async () => {
    await c.send(findCoordinatorApi, 4, { key: '', keyType: 0, coordinatorKeys: [groupId] });
    const r = await send();
    return notYet.includes(r.errorCode) ? undefined : r;
  });
}

const partitionsOf = (r: ConsumerGroupHeartbeatResponse) => r.assignment?.topicPartitions.flatMap((t) => t.partitions).sort() ?? null;

/** A classic group of one member that owns all four partitions, at generation `generation`. */
async function stableClassicGroup(c: KafkaConnection, groupId: string, protocolType = 'consumer', rebalanceTimeoutMs?: number): Promise<ClassicMember> {
  const a = new ClassicMember(c, groupId, protocolType, rebalanceTimeoutMs);
  expect((await a.join()).errorCode).toBe(0);
  expect(await a.sync([0, 1, 2, 3])).toEqual({ errorCode: 0, partitions: [0, 1, 2, 3] });
  return a;
}

const describeConsumerGroup = async (c: KafkaConnection, groupId: string) => (await c.send(consumerGroupDescribeApi, 1, { groupIds: [groupId], includeAuthorizedOperations: false })).groups[0]!;

describe('online migration between the classic and the consumer protocol (bidirectional, the default)', () => {
  let broker: BrokerUnderTest;
  let c: KafkaConnection;
  let topicId: string;

  beforeAll(async () => {
    ({ broker, c, topicId } = await start(null));
  }, 120_000);

  afterAll(async () => {
    await c?.close();
    await broker?.destroy();
  });

  it('a consumer-protocol member converts a classic group; the classic member keeps, then shares, its partitions; the group is classic again when the consumer member leaves', async () => {
    const a = await stableClassicGroup(c, 'mixed');
    const gen = a.generation;

    // b (consumer protocol) joins: the group becomes a consumer group at the classic generation; a still owns all, so b gets the new epoch and nothing yet.
    const bId = randomUUID();
    const b = await joinConsumer(c, 'mixed', bId);
    expect(b).toMatchObject({ errorCode: 0, memberEpoch: gen + 1 });
    expect(partitionsOf(b)).toEqual([]);
    const converted = await describeConsumerGroup(c, 'mixed');
    expect(converted).toMatchObject({ errorCode: 0, groupEpoch: gen + 1 });
    const byId = Object.fromEntries(converted.members.map((m) => [m.memberId, m]));
    // KIP-1099 (ConsumerGroupDescribe v1): 0 a classic member, 1 a consumer-protocol member.
    expect(byId[a.memberId]).toMatchObject({ memberType: 0, memberEpoch: gen, subscribedTopicNames: [TOPIC] });
    expect(byId[a.memberId]!.assignment.topicPartitions).toEqual([{ topicId, topicName: TOPIC, partitions: [0, 1, 2, 3] }]);
    expect(byId[bId]).toMatchObject({ memberType: 1, memberEpoch: gen + 1 });
    // DescribeGroups knows classic groups only: a consumer group is not found (v6), or Dead before v6.
    expect((await c.send(describeGroupsApi, 6, { groups: ['mixed'], includeAuthorizedOperations: false })).groups[0]).toMatchObject({ errorCode: ErrorCode.GROUP_ID_NOT_FOUND, errorMessage: 'Group mixed is not a classic group.', groupState: 'Dead' });
    expect((await c.send(describeGroupsApi, 5, { groups: ['mixed'], includeAuthorizedOperations: false })).groups[0]).toMatchObject({ errorCode: 0, groupState: 'Dead', members: [] });

    // a, at its old generation, is told to rejoin; it rejoins having let its partitions go (eager) and is given half.
    expect(await a.commit(gen, 0, 7)).toBe(0);
    expect(await a.heartbeat()).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    const rejoined = await a.join();
    expect(rejoined).toMatchObject({ errorCode: 0, generationId: gen + 1, protocolType: 'consumer', protocolName: 'range', members: [] });
    const half = await a.sync();
    expect(half.errorCode).toBe(0);
    expect(half.partitions).toHaveLength(2);
    const other = [0, 1, 2, 3].filter((p) => !half.partitions.includes(p));
    expect(partitionsOf(await heartbeat(c, { groupId: 'mixed', memberId: bId, memberEpoch: gen + 1 }))).toEqual(other);
    expect(await a.heartbeat()).toBe(0);
    expect(await a.heartbeat(gen)).toBe(ErrorCode.ILLEGAL_GENERATION);
    // Offsets of a classic member are committed at its member epoch; an old generation is ILLEGAL_GENERATION (a classic client does not know STALE_MEMBER_EPOCH).
    expect(await a.commit(gen + 1, half.partitions[0]!, 11)).toBe(0);
    expect(await a.commit(gen, half.partitions[0]!, 12)).toBe(ErrorCode.ILLEGAL_GENERATION);
    const stable = await describeConsumerGroup(c, 'mixed');
    expect(stable.groupState).toBe('Stable');
    expect(stable.members.map((m) => m.memberType).sort()).toEqual([0, 1]);

    // b leaves: a alone is left, of the classic protocol, so the group is classic again and rebalances.
    expect((await heartbeat(c, { groupId: 'mixed', memberId: bId, memberEpoch: -1 })).errorCode).toBe(0);
    expect((await describeConsumerGroup(c, 'mixed')).errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND);
    const classic = (await c.send(describeGroupsApi, 5, { groups: ['mixed'], includeAuthorizedOperations: false })).groups[0]!;
    expect(classic).toMatchObject({ errorCode: 0, groupState: 'PreparingRebalance', protocolType: 'consumer' });
    expect(classic.members.map((m) => m.memberId)).toEqual([a.memberId]);
    expect((await c.send(listGroupsApi, 5, { statesFilter: [], typesFilter: [] })).groups.find((g) => g.groupId === 'mixed')?.groupType).toBe('classic');
    expect(await a.heartbeat()).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    const classicAgain = await a.join(half.partitions);
    expect(classicAgain).toMatchObject({ errorCode: 0, leader: a.memberId });
    expect(classicAgain.generationId).toBeGreaterThan(gen + 1);
    expect(await a.sync([0, 1, 2, 3])).toEqual({ errorCode: 0, partitions: [0, 1, 2, 3] });
    expect(await a.heartbeat()).toBe(0);
  }, 120_000);

  it('a classic member joining a consumer group gets what the server-side assignor gives it', async () => {
    const bId = randomUUID();
    expect(partitionsOf(await joinConsumer(c, 'consumer-first', bId))).toEqual([0, 1, 2, 3]);
    const a = new ClassicMember(c, 'consumer-first');
    const joined = await a.join();
    expect(joined.errorCode).toBe(0);
    // b must give two up first: a gets none of them yet.
    expect(await a.sync()).toEqual({ errorCode: 0, partitions: [] });
    const revoking = await heartbeat(c, { groupId: 'consumer-first', memberId: bId, memberEpoch: 1 });
    const kept = partitionsOf(revoking)!;
    expect(kept).toHaveLength(2);
    await heartbeat(c, { groupId: 'consumer-first', memberId: bId, memberEpoch: 1, topicPartitions: [{ topicId, partitions: kept }] });
    // Its partitions are free now: a is told to rejoin, and then gets them.
    expect(await a.heartbeat()).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    expect((await a.join()).errorCode).toBe(0);
    expect((await a.sync()).partitions).toEqual([0, 1, 2, 3].filter((p) => !kept.includes(p)));
    expect(await a.heartbeat()).toBe(0);
    // A classic member leaving a consumer group gives its partitions back to the consumer member (no downgrade: that member is of the consumer protocol).
    const left = await c.send(leaveGroupApi, 5, { groupId: 'consumer-first', memberId: '', members: [{ memberId: a.memberId, groupInstanceId: null, reason: null }] });
    expect(left.members[0]!.errorCode).toBe(0);
    const all = await heartbeat(c, { groupId: 'consumer-first', memberId: bId, memberEpoch: 2, topicPartitions: [{ topicId, partitions: kept }] });
    expect(partitionsOf(all)).toEqual([0, 1, 2, 3]);
  }, 60_000);

  it('a classic member told to rejoin that does not is removed after its rebalance timeout, and its partitions go to the others', async () => {
    const a = await stableClassicGroup(c, 'no-rejoin', 'consumer', 2000);
    const bId = randomUUID();
    const b = await joinConsumer(c, 'no-rejoin', bId);
    expect(b.errorCode).toBe(0);
    expect(await a.heartbeat()).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    // a goes on heartbeating (its session lives) but never rejoins.
    await eventuallyPasses('a removed', async () => expect(await a.heartbeat()).toBe(ErrorCode.UNKNOWN_MEMBER_ID));
    await eventuallyPasses('b has every partition', async () => {
      expect(partitionsOf(await heartbeat(c, { groupId: 'no-rejoin', memberId: bId, memberEpoch: (await describeConsumerGroup(c, 'no-rejoin')).members[0]!.memberEpoch }))).toEqual([0, 1, 2, 3]);
    });
  }, 60_000);

  it('a static classic member back under a new member id takes its place and partitions in the consumer group; the old id is fenced', async () => {
    const bId = randomUUID();
    await joinConsumer(c, 'static-classic', bId);
    const first = new ClassicMember(c, 'static-classic', 'consumer', 20_000, 'instance-1');
    expect((await first.join()).errorCode).toBe(0);
    await first.sync();
    const revoking = await heartbeat(c, { groupId: 'static-classic', memberId: bId, memberEpoch: 1 });
    await heartbeat(c, { groupId: 'static-classic', memberId: bId, memberEpoch: 1, topicPartitions: [{ topicId, partitions: partitionsOf(revoking)! }] });
    expect(await first.heartbeat()).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    expect((await first.join()).errorCode).toBe(0);
    const owned = (await first.sync()).partitions;
    expect(owned).toHaveLength(2);

    // The same instance restarts: no member id yet, so it gets a new one, with the old one's partitions.
    const second = new ClassicMember(c, 'static-classic', 'consumer', 20_000, 'instance-1');
    const back = await second.join(owned);
    expect(back.errorCode).toBe(0);
    expect(second.memberId).not.toBe(first.memberId);
    expect((await second.sync()).partitions).toEqual(owned);
    expect(await first.heartbeat()).toBe(ErrorCode.FENCED_INSTANCE_ID);
    const members = (await describeConsumerGroup(c, 'static-classic')).members.map((m) => [m.memberId, m.instanceId, m.memberType]);
    expect(members.sort()).toEqual([[bId, null, 1], [second.memberId, 'instance-1', 0]].sort());
  }, 60_000);

  it('refuses to convert a classic group that does not use the consumer embedded protocol, or whose protocol does not decode', async () => {
    await stableClassicGroup(c, 'connect-like', 'connect');
    expect(await joinConsumer(c, 'connect-like', randomUUID())).toMatchObject({
      errorCode: ErrorCode.GROUP_ID_NOT_FOUND,
      errorMessage: 'Cannot upgrade classic group connect-like to consumer group because the group does not use the consumer embedded protocol.',
    });
    // A heartbeat that is not a join finds no consumer group.
    expect((await heartbeat(c, { groupId: 'connect-like', memberId: randomUUID(), memberEpoch: 3 })).errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND);
  }, 60_000);

  it.skipIf(againstKafka)("writes a classic member's metadata as Kafka 4.0 does: Kafka's own serde reads it", async () => {
    const classpath = compileJava('scripts/kafka/pom.xml', '.cache/kafka/lib', ['broker/test/java/OffsetsTopicRecords.java']);
    const lines = (await runJava(classpath, 'OffsetsTopicRecords', [broker.bootstrap])).trim().split('\n');
    expect(lines.filter((l) => l.startsWith('UNREADABLE'))).toEqual([]);
    const members = lines.filter((l) => l.startsWith("ConsumerGroupMemberMetadataKey(groupId='mixed'") && !l.endsWith(' null'));
    expect(members.some((l) => /classicMemberMetadata=ClassicMemberMetadata\(sessionTimeoutMs=10000, supportedProtocols=\[ClassicProtocol\(name='range'/.test(l))).toBe(true);
    // A consumer-protocol member's is null (Kafka reads an absent tag as an empty classic member).
    expect(members.some((l) => /classicMemberMetadata=null\)$/.test(l))).toBe(true);
    // The conversion: the classic group's tombstone, then the consumer group; the downgrade: the consumer group's tombstones, then the classic group.
    const ofMixed = lines.filter((l) => l.includes("groupId='mixed'") || l.includes("group='mixed'"));
    expect(ofMixed.findIndex((l) => l.startsWith('GroupMetadataKey') && l.endsWith(' null'))).toBeLessThan(ofMixed.findIndex((l) => l.startsWith('ConsumerGroupMetadataKey')));
    expect(ofMixed.findLastIndex((l) => l.startsWith('ConsumerGroupMetadataKey') && l.endsWith(' null'))).toBeLessThan(ofMixed.findLastIndex((l) => l.startsWith('GroupMetadataKey') && !l.endsWith(' null')));
  }, 180_000);
});

describe('group.consumer.migration.policy', () => {
  it('upgrade: a classic group converts, but stays a consumer group when its consumer-protocol member leaves', async () => {
    const { broker, c } = await start('upgrade');
    try {
      const a = await stableClassicGroup(c, 'up-only');
      const bId = randomUUID();
      expect((await joinConsumer(c, 'up-only', bId)).errorCode).toBe(0);
      expect(await a.heartbeat()).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
      expect((await a.join()).errorCode).toBe(0);
      expect((await heartbeat(c, { groupId: 'up-only', memberId: bId, memberEpoch: -1 })).errorCode).toBe(0);
      const described = await describeConsumerGroup(c, 'up-only');
      expect(described.errorCode).toBe(0);
      expect(described.members.map((m) => [m.memberId, m.memberType])).toEqual([[a.memberId, 0]]);
      // a gets every partition back from the consumer group's assignor.
      expect(await a.heartbeat()).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
      expect((await a.join()).errorCode).toBe(0);
      expect((await a.sync()).partitions).toEqual([0, 1, 2, 3]);
    } finally {
      await c.close();
      await broker.destroy();
    }
  }, 120_000);

  it('disabled: a consumer-protocol member cannot join a classic group with members', async () => {
    const { broker, c } = await start('disabled');
    try {
      await stableClassicGroup(c, 'never');
      expect(await joinConsumer(c, 'never', randomUUID())).toMatchObject({
        errorCode: ErrorCode.GROUP_ID_NOT_FOUND,
        errorMessage: 'Cannot upgrade classic group never to consumer group because online upgrade is disabled.',
      });
    } finally {
      await c.close();
      await broker.destroy();
    }
  }, 120_000);
});
