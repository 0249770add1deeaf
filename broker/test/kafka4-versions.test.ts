// The newest versions of Kafka 4.0 that Samsa serves (Produce 12, Metadata 13, DescribeGroups 6,
// DescribeCluster 2), spoken over real sockets to Samsa and to the reference Apache Kafka with the
// same requests: each new version's fields and meaning must come out the same on both.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../protocol/client.js';
import { ErrorCode } from '../protocol/errors.js';
import {
  describeClusterApi,
  describeGroupsApi,
  findCoordinatorApi,
  initProducerIdApi,
  joinGroupApi,
  listOffsetsApi,
  metadataApi,
  produceApi,
  syncGroupApi,
} from '../protocol/messages/index.js';
import { buildRecordBatch } from '../records/batch-builder.js';
import { BrokerProcess } from './broker-process.js';
import { eventually } from './eventually.js';
import { KafkaProcess } from './kafka-process.js';
import { mustCreateTopic } from './topics.js';

/** The zero UUID (base64url, as the codecs write UUIDs): the topic is named, not asked by id. */
const NO_TOPIC_ID = 'AAAAAAAAAAAAAAAAAAAAAA';

interface Side {
  name: 'samsa' | 'kafka';
  port: number;
  c: KafkaConnection;
}

let samsa: BrokerProcess;
let kafka: KafkaProcess;
const sides: Side[] = [];

beforeAll(async () => {
  [samsa, kafka] = await Promise.all([BrokerProcess.start({ 'group.initial.rebalance.delay.ms': '0' }), KafkaProcess.start({ 'group.initial.rebalance.delay.ms': '0' })]);
  for (const [name, port] of [['samsa', samsa.port], ['kafka', kafka.port]] as const) {
    const c = await KafkaConnection.open('127.0.0.1', port, 'kafka4-versions');
    await mustCreateTopic(c, 'v4', { partitions: 1 });
    sides.push({ name, port, c });
  }
}, 180_000);

afterAll(async () => {
  for (const s of sides) await s.c.close();
  await Promise.all([samsa?.destroy(), kafka?.destroy()]);
});

/** Runs `ask` against Samsa and Kafka; the answers by broker. */
async function onBoth<T>(ask: (s: Side) => Promise<T>): Promise<{ samsa: T; kafka: T }> {
  const [ours, theirs] = await Promise.all(sides.map(ask));
  return { samsa: ours!, kafka: theirs! };
}

function latestOffset(c: KafkaConnection, topic: string): Promise<number> {
  return c
    .send(listOffsetsApi, 7, { replicaId: -1, isolationLevel: 0, timeoutMs: 5000, topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1, maxNumOffsets: 1 }] }] })
    .then((r) => r.topics[0]!.partitions[0]!.offset);
}

describe('Kafka 4.0 API versions', () => {
  it('Produce v12 appends like v11 and answers the same fields', async () => {
    const produced = await onBoth(async ({ c }) => {
      const records = buildRecordBatch([{ key: Buffer.from('k'), value: Buffer.from('v12') }, { value: Buffer.from('again') }]);
      // Kafka answers NOT_LEADER_OR_FOLLOWER until its broker has applied the new topic's
      // leadership, after CreateTopics returned; a client retries, and nothing was appended.
      const partition = await eventually('a leader for v4', async () => {
        const res = await c.send(produceApi, 12, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 'v4', partitionData: [{ index: 0, records }] }] });
        const answer = res.responses[0]!.partitionResponses[0]!;
        return answer.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER ? undefined : answer;
      });
      return { partition, end: await latestOffset(c, 'v4') };
    });
    for (const { partition, end } of [produced.samsa, produced.kafka]) {
      expect(partition).toMatchObject({ index: 0, errorCode: 0, baseOffset: 0, logAppendTimeMs: -1, logStartOffset: 0, recordErrors: [], errorMessage: null });
      expect(end).toBe(2);
    }
  });

  it('Produce v12 from a transactional producer is refused: its implicit add to the transaction is transactions v2, not enabled', async () => {
    const c = sides.find((s) => s.name === 'samsa')!.c;
    const coordinator = await eventually('the transaction coordinator', async () => {
      const res = await c.send(findCoordinatorApi, 4, { key: '', keyType: 1, coordinatorKeys: ['tx-v12'] });
      return res.coordinators[0]!.errorCode === 0 ? res.coordinators[0] : undefined;
    });
    expect(coordinator!.nodeId).toBe(1);
    const producer = await eventually('a transactional producer id', async () => {
      const res = await c.send(initProducerIdApi, 4, { transactionalId: 'tx-v12', transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
      return res.errorCode === 0 ? res : undefined;
    });
    const before = await latestOffset(c, 'v4');
    const records = buildRecordBatch([{ value: Buffer.from('in a transaction') }], { producerId: producer.producerId, producerEpoch: producer.producerEpoch, baseSequence: 0, transactional: true });
    const res = await c.send(produceApi, 12, { transactionalId: 'tx-v12', acks: -1, timeoutMs: 5000, topicData: [{ name: 'v4', partitionData: [{ index: 0, records }] }] });
    const partition = res.responses[0]!.partitionResponses[0]!;
    expect(partition.errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION);
    expect(partition.errorMessage).toMatch(/transactions v2/);
    expect(await latestOffset(c, 'v4')).toBe(before);
  });

  it('Metadata v13 answers the top-level error code (none) beside the brokers and topics', async () => {
    const answers = await onBoth(({ c }) =>
      c.send(metadataApi, 13, { topics: [{ topicId: NO_TOPIC_ID, name: 'v4' }, { topicId: NO_TOPIC_ID, name: 'no-such-topic' }], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }),
    );
    for (const [name, res] of Object.entries(answers)) {
      const port = sides.find((s) => s.name === name)!.port;
      expect(res.errorCode, name).toBe(ErrorCode.NONE);
      expect(res.brokers.map((b) => b.port), name).toEqual([port]);
      expect(res.topics.map((t) => [t.name, t.errorCode, t.partitions.length]), name).toEqual([
        ['v4', 0, 1],
        ['no-such-topic', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 0],
      ]);
    }
  });

  it('DescribeGroups v6 answers GROUP_ID_NOT_FOUND with a message for an unknown group (v5: Dead, no error) and describes a live one', async () => {
    const answers = await onBoth(async ({ name, c }) => {
      const protocols = [{ name: 'range', metadata: Buffer.from([0, 0, 0, 0, 0, 1, 0, 2, 118, 52, 0, 0, 0, 0]) }];
      const join = (memberId: string) => c.send(joinGroupApi, 9, { groupId: 'described', sessionTimeoutMs: 30_000, rebalanceTimeoutMs: 30_000, memberId, groupInstanceId: null, protocolType: 'consumer', protocols, reason: null });
      const ask = (version: number) => c.send(describeGroupsApi, version, { groups: ['described', 'never-seen'], includeAuthorizedOperations: false });
      // Kafka loads each offsets partition after creating the topic: until then NOT_COORDINATOR.
      await eventually('the group coordinators', async () => {
        const found = await c.send(findCoordinatorApi, 4, { key: '', keyType: 0, coordinatorKeys: ['described', 'never-seen'] });
        return found.coordinators.every((f) => f.errorCode === 0) && (await ask(6)).groups.every((g) => g.errorCode !== ErrorCode.NOT_COORDINATOR) ? true : undefined;
      });
      // Until its offsets partition is loaded Kafka answers COORDINATOR_LOAD_IN_PROGRESS; a client retries.
      const memberId = (await eventually('a member id', async () => {
        const first = await join('');
        return first.errorCode === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS ? undefined : first;
      })).memberId;
      const joined = await join(memberId);
      const synced = await c.send(syncGroupApi, 5, { groupId: 'described', generationId: joined.generationId, memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [{ memberId, assignment: Buffer.from([0, 0]) }] });
      // Kafka 4's coordinator answers reads from its last committed state: the sync shows a moment later.
      await eventually(`the group stable on ${name} (joined ${JSON.stringify(joined)}, synced ${JSON.stringify(synced)})`, async () => {
        const group = (await ask(6)).groups.find((g) => g.groupId === 'described');
        if (group?.groupState !== 'Stable') throw new Error(`state ${group?.groupState} error ${group?.errorCode}`);
        return true;
      });
      const byId = async (version: number) => (await ask(version)).groups.sort((a, b) => a.groupId.localeCompare(b.groupId));
      return { v6: await byId(6), v5: await byId(5), memberId };
    });
    for (const [name, { v6, v5, memberId }] of Object.entries(answers)) {
      const [live, unknown] = v6;
      expect(live, name).toMatchObject({ groupId: 'described', errorCode: 0, errorMessage: null, groupState: 'Stable', protocolType: 'consumer', protocolData: 'range' });
      expect(live!.members.map((m) => m.memberId), name).toEqual([memberId]);
      expect(unknown, name).toMatchObject({ groupId: 'never-seen', errorCode: ErrorCode.GROUP_ID_NOT_FOUND, groupState: 'Dead', members: [] });
      expect(unknown!.errorMessage, name).toContain('never-seen');
      expect(v5[1], name).toMatchObject({ groupId: 'never-seen', errorCode: 0, groupState: 'Dead', members: [] });
    }
  });

  it('DescribeCluster v2 lists the brokers as unfenced whether or not fenced ones are asked for, and only on a broker endpoint', async () => {
    const answers = await onBoth(async ({ c }) => {
      const ask = (endpointType: number, includeFencedBrokers: boolean) => c.send(describeClusterApi, 2, { includeClusterAuthorizedOperations: false, endpointType, includeFencedBrokers });
      return { plain: await ask(1, false), withFenced: await ask(1, true), controllers: await ask(2, false), unknownType: await ask(7, false) };
    });
    for (const [name, res] of Object.entries(answers)) {
      const port = sides.find((s) => s.name === name)!.port;
      for (const listed of [res.plain, res.withFenced]) {
        expect(listed, name).toMatchObject({ errorCode: 0, errorMessage: null, endpointType: 1 });
        expect(listed.brokers.map((b) => [b.port, b.isFenced]), name).toEqual([[port, false]]);
      }
      expect(res.controllers, name).toMatchObject({ errorCode: ErrorCode.MISMATCHED_ENDPOINT_TYPE, brokers: [] });
      expect(res.controllers.errorMessage, name).toBeTruthy();
      expect(res.unknownType, name).toMatchObject({ errorCode: ErrorCode.UNSUPPORTED_ENDPOINT_TYPE, brokers: [] });
      expect(res.unknownType.errorMessage, name).toBeTruthy();
    }
  });
});
