// Three real broker processes on one real etcd form one cluster: shared metadata, replicas
// placed by the controller, followers replicating over the Fetch API, acks=all answered once the
// ISR has the records, a new leader from the ISR when the leader is killed, controlled shutdown
// moving leaderships away, and bad placement requests refused with Kafka's codes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import { KafkaConnection } from '../protocol/client.js';
import { createTopicsApi, metadataApi, describeClusterApi, describeTopicPartitionsApi, findCoordinatorApi, offsetFetchApi, produceApi } from '../protocol/messages/index.js';
import { ErrorCode } from '../protocol/errors.js';
import { buildRecordBatch } from '../records/batch-builder.js';
import { SamsaCluster } from './samsa-cluster.js';
import { eventuallyPasses } from './eventually.js';
import { consumeValues } from './kafkajs-consume.js';
import { kafkaTool } from './kafka-process.js';

const { Kafka, logLevel } = kafkajs;

let cluster: SamsaCluster;

/** Polls `check` (which asserts) until it passes; on timeout the brokers' warnings go to the test output. */
const until = async (what: string, check: () => Promise<void> | void, timeoutMs?: number) => {
  try {
    return await eventuallyPasses(what, check, timeoutMs);
  } catch (err) {
    for (const b of cluster.brokers) console.log(`broker on ${b.port}:\n${b.output.split('\n').filter((l) => /"level":(40|50)|ISR|truncat/.test(l)).slice(-25).join('\n')}`);
    throw err;
  }
};

beforeAll(async () => {
  cluster = await SamsaCluster.start({
    brokers: 3,
    // Short timeouts so that fencing and ISR changes happen within a test.
    config: { 'broker.session.timeout.ms': '3000', 'replica.lag.time.max.ms': '3000', 'replica.fetch.backoff.ms': '200' },
  });
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

async function connect(nodeId: number): Promise<KafkaConnection> {
  return KafkaConnection.open('127.0.0.1', cluster.broker(nodeId).port);
}

async function metadata(nodeId: number, topics: string[] | null) {
  const c = await connect(nodeId);
  try {
    return await c.send(metadataApi, 12, { topics: topics?.map((name) => ({ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name })) ?? null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false, includeClusterAuthorizedOperations: false });
  } finally {
    await c.close();
  }
}

async function createTopic(nodeId: number, topic: { name: string; numPartitions: number; replicationFactor: number; assignments?: { partitionIndex: number; brokerIds: number[] }[]; configs?: Record<string, string> }) {
  const c = await connect(nodeId);
  try {
    const res = await c.send(createTopicsApi, 7, {
      topics: [{ name: topic.name, numPartitions: topic.numPartitions, replicationFactor: topic.replicationFactor, assignments: topic.assignments ?? [], configs: Object.entries(topic.configs ?? {}).map(([name, value]) => ({ name, value })) }],
      timeoutMs: 5000,
      validateOnly: false,
    });
    return res.topics[0]!;
  } finally {
    await c.close();
  }
}

function client(id: string) {
  return new Kafka({ clientId: id, brokers: cluster.bootstrap.split(','), logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 } });
}

const consumeAll = (topic: string, expected: number) => consumeValues(client('reader'), topic, expected);

describe('a three-broker cluster', () => {
  it('answers Metadata and DescribeCluster for the whole cluster from every broker', async () => {
    await until('every broker to list the three brokers', async () => {
      for (const id of [0, 1, 2]) {
        const md = await metadata(id, null);
        expect(md.brokers.map((b) => b.nodeId).sort()).toEqual([0, 1, 2]);
        expect(md.controllerId).toBeGreaterThanOrEqual(0);
      }
    });
    const controllers = new Set<number>();
    const clusterIds = new Set<string>();
    for (const id of [0, 1, 2]) {
      const c = await connect(id);
      const res = await c.send(describeClusterApi, 0, { includeClusterAuthorizedOperations: false, endpointType: 1, includeFencedBrokers: false });
      await c.close();
      controllers.add(res.controllerId);
      clusterIds.add(res.clusterId);
      expect(res.brokers).toHaveLength(3);
    }
    expect(controllers.size).toBe(1);
    expect(clusterIds.size).toBe(1);
  });

  it('places replicas of a new topic on every broker and shows them in sync everywhere', async () => {
    const created = await createTopic(1, { name: 'replicated', numPartitions: 6, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } });
    expect(created.errorCode).toBe(0);
    await until('the topic to be in sync on every broker', async () => {
      for (const id of [0, 1, 2]) {
        const md = await metadata(id, ['replicated']);
        const partitions = md.topics[0]!.partitions;
        expect(partitions).toHaveLength(6);
        for (const p of partitions) {
          expect([...p.replicaNodes].sort()).toEqual([0, 1, 2]);
          expect([...p.isrNodes].sort()).toEqual([0, 1, 2]);
          expect(p.leaderId).toBe(p.replicaNodes[0]);
        }
        // Leadership is spread: every broker leads two of the six partitions.
        const leaders = partitions.map((p) => p.leaderId);
        for (const b of [0, 1, 2]) expect(leaders.filter((l) => l === b)).toHaveLength(2);
      }
    });
  });

  it('describes partitions with DescribeTopicPartitions from any broker, page by page, as kafka-topics --describe shows them', async () => {
    expect((await createTopic(0, { name: 'described', numPartitions: 6, replicationFactor: 3 })).errorCode).toBe(0);
    await until('the topic to be in sync', async () => {
      for (const p of (await metadata(2, ['described'])).topics[0]!.partitions) expect(p.isrNodes).toHaveLength(3);
    });
    const c = await connect(2);
    try {
      const first = await c.send(describeTopicPartitionsApi, 0, { topics: [{ name: 'described' }], responsePartitionLimit: 4, cursor: null });
      expect(first.topics[0]!.partitions.map((p) => p.partitionIndex)).toEqual([0, 1, 2, 3]);
      expect(first.nextCursor).toEqual({ topicName: 'described', partitionIndex: 4 });
      const rest = await c.send(describeTopicPartitionsApi, 0, { topics: [{ name: 'described' }], responsePartitionLimit: 4, cursor: first.nextCursor });
      expect(rest.topics[0]!.partitions.map((p) => p.partitionIndex)).toEqual([4, 5]);
      expect(rest.nextCursor).toBeNull();
      for (const p of [...first.topics[0]!.partitions, ...rest.topics[0]!.partitions]) expect([...p.isrNodes].sort()).toEqual([0, 1, 2]);
    } finally {
      await c.close();
    }
    const out = kafkaTool('org.apache.kafka.tools.TopicCommand', ['--bootstrap-server', cluster.bootstrap, '--describe', '--topic', 'described']);
    expect(out).toMatch(/PartitionCount: 6\s+ReplicationFactor: 3/);
    expect(out.match(/Replicas: \d,\d,\d\s+Isr: \d,\d,\d/g)).toHaveLength(6);
  });

  it('sends a produce to a follower back to the leader with NOT_LEADER_OR_FOLLOWER', async () => {
    const md = await metadata(0, ['replicated']);
    const p0 = md.topics[0]!.partitions.find((p) => p.partitionIndex === 0)!;
    const follower = [0, 1, 2].find((id) => id !== p0.leaderId)!;
    const c = await connect(follower);
    try {
      const res = await c.send(produceApi, 10, {
        transactionalId: null,
        acks: -1,
        timeoutMs: 5000,
        topicData: [{ name: 'replicated', partitionData: [{ index: 0, records: buildRecordBatch([{ key: null, value: Buffer.from('x') }]) }] }],
      });
      const r = res.responses[0]!.partitionResponses[0]!;
      expect(r.errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
      expect(r.currentLeader.leaderId).toBe(p0.leaderId);
      expect(res.nodeEndpoints.map((e) => e.nodeId)).toEqual([p0.leaderId]);
    } finally {
      await c.close();
    }
  });

  it('keeps every acknowledged acks=all record when the leader is killed, and elects a new leader from the ISR', async () => {
    const producer = client('writer').producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const acked: string[] = [];
    for (let i = 0; i < 300; i++) {
      await producer.send({ topic: 'replicated', acks: -1, messages: [{ key: `k${i % 6}`, value: `before-${i}` }] });
      acked.push(`before-${i}`);
    }
    const before = await metadata(0, ['replicated']);
    const victim = before.topics[0]!.partitions.find((p) => p.partitionIndex === 0)!.leaderId;
    await cluster.kill(victim, 'SIGKILL');
    const survivors = [0, 1, 2].filter((id) => id !== victim);
    await until('the partitions to get new leaders', async () => {
      const md = await metadata(survivors[0]!, ['replicated']);
      for (const p of md.topics[0]!.partitions) {
        expect(p.leaderId).not.toBe(victim);
        expect(p.leaderId).toBeGreaterThanOrEqual(0);
        expect(p.isrNodes).not.toContain(victim);
      }
    }, 30_000);
    for (let i = 0; i < 100; i++) {
      await producer.send({ topic: 'replicated', acks: -1, messages: [{ key: `k${i % 6}`, value: `after-${i}` }] });
      acked.push(`after-${i}`);
    }
    await producer.disconnect();
    const values = await consumeAll('replicated', acked.length);
    expect(new Set(values)).toEqual(new Set(acked));
    expect(values).toHaveLength(acked.length);

    // Back, the broker catches up and rejoins every ISR.
    await cluster.restart(victim);
    await until('the restarted broker to rejoin every ISR', async () => {
      const md = await metadata(victim, ['replicated']);
      for (const p of md.topics[0]!.partitions) expect([...p.isrNodes].sort()).toEqual([0, 1, 2]);
    }, 60_000);
  });

  it('refuses acks=all below min.insync.replicas with NOT_ENOUGH_REPLICAS and takes acks=1', async () => {
    const created = await createTopic(0, { name: 'min-isr', numPartitions: 1, replicationFactor: 3, assignments: [], configs: { 'min.insync.replicas': '3' } });
    expect(created.errorCode).toBe(0);
    await until('the topic to be in sync', async () => expect((await metadata(0, ['min-isr'])).topics[0]!.partitions[0]!.isrNodes).toHaveLength(3));
    const { leaderId, replicaNodes } = (await metadata(0, ['min-isr'])).topics[0]!.partitions[0]!;
    const follower = replicaNodes.find((id) => id !== leaderId)!;
    await cluster.kill(follower, 'SIGKILL');
    try {
      await until('the killed follower to leave the ISR', async () => expect((await metadata(leaderId, ['min-isr'])).topics[0]!.partitions[0]!.isrNodes).toHaveLength(2), 30_000);
      const c = await connect(leaderId);
      const send = (acks: number) =>
        c.send(produceApi, 9, {
          transactionalId: null,
          acks,
          timeoutMs: 5000,
          topicData: [{ name: 'min-isr', partitionData: [{ index: 0, records: buildRecordBatch([{ key: null, value: Buffer.from('v') }]) }] }],
        });
      const refused = (await send(-1)).responses[0]!.partitionResponses[0]!;
      expect(refused.errorCode).toBe(ErrorCode.NOT_ENOUGH_REPLICAS);
      expect(refused.errorMessage).toContain('min.insync.replicas');
      expect((await send(1)).responses[0]!.partitionResponses[0]!.errorCode).toBe(0);
      await c.close();
    } finally {
      await cluster.restart(follower);
    }
  });

  it('refuses bad placements with Kafka error codes and records nothing', async () => {
    const tooMany = await createTopic(2, { name: 'rf-too-large', numPartitions: 1, replicationFactor: 4 });
    expect(tooMany.errorCode).toBe(ErrorCode.INVALID_REPLICATION_FACTOR);
    const unknown = await createTopic(2, { name: 'unknown-broker', numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [0, 7] }] });
    expect(unknown.errorCode).toBe(ErrorCode.INVALID_REPLICA_ASSIGNMENT);
    const duplicate = await createTopic(2, { name: 'duplicate-replica', numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [1, 1] }] });
    expect(duplicate.errorCode).toBe(ErrorCode.INVALID_REPLICA_ASSIGNMENT);
    const md = await metadata(0, null);
    expect(md.topics.map((t) => t.name)).not.toEqual(expect.arrayContaining(['rf-too-large', 'unknown-broker', 'duplicate-replica']));
  });

  it('moves leaderships away on SIGTERM before the broker stops (controlled shutdown)', async () => {
    await until('every ISR to be whole again', async () => {
      const md = await metadata(0, ['replicated']);
      for (const p of md.topics[0]!.partitions) expect(p.isrNodes).toHaveLength(3);
    }, 60_000);
    const md = await metadata(0, ['replicated']);
    const leader = md.topics[0]!.partitions[0]!.leaderId;
    const broker = cluster.broker(leader);
    await broker.stop();
    expect(broker.output).toContain('controlled shutdown: leaderships moved');
    const after = await metadata([0, 1, 2].find((id) => id !== leader)!, ['replicated']);
    for (const p of after.topics[0]!.partitions) expect(p.leaderId).not.toBe(leader);
    await cluster.restart(leader);
  });

  it("moves leadership back to the preferred replicas with Kafka's kafka-leader-election tool", async () => {
    const created = await createTopic(0, { name: 'preferred', numPartitions: 3, replicationFactor: 3 });
    expect(created.errorCode).toBe(0);
    await until('the topic to be in sync', async () => {
      for (const p of (await metadata(0, ['preferred'])).topics[0]!.partitions) expect(p.isrNodes).toHaveLength(3);
    });
    // Broker 2 restarts: the partitions it led move away and stay away (the automatic rebalance runs every 300 s).
    await cluster.kill(2, 'SIGKILL');
    await cluster.restart(2);
    await until('broker 2 to be back in every ISR, leading nothing', async () => {
      const partitions = (await metadata(0, ['preferred'])).topics[0]!.partitions;
      for (const p of partitions) expect(p.isrNodes).toHaveLength(3);
      expect(partitions.filter((p) => p.leaderId === 2)).toHaveLength(0);
    }, 60_000);
    const out = kafkaTool('org.apache.kafka.tools.LeaderElectionCommand', ['--bootstrap-server', cluster.bootstrap, '--election-type', 'PREFERRED', '--all-topic-partitions']);
    expect(out).toContain('Successfully completed leader election (PREFERRED)');
    await until('every partition to be led by its preferred replica', async () => {
      for (const p of (await metadata(1, ['preferred'])).topics[0]!.partitions) expect(p.leaderId).toBe(p.replicaNodes[0]);
    });
    // Asked again, there is nothing to do: Kafka's ELECTION_NOT_NEEDED.
    const again = kafkaTool('org.apache.kafka.tools.LeaderElectionCommand', ['--bootstrap-server', cluster.bootstrap, '--election-type', 'PREFERRED', '--topic', 'preferred', '--partition', '0']);
    expect(again).toContain('Valid replica already elected for partitions');
  });

  it('keeps committed offsets when the group coordinator is killed: the group moves with its offsets partition', async () => {
    expect((await createTopic(0, { name: 'group-move', numPartitions: 1, replicationFactor: 3 })).errorCode).toBe(0);
    const admin = client('group-move').admin();
    await admin.connect();
    await admin.setOffsets({ groupId: 'moving-group', topic: 'group-move', partitions: [{ partition: 0, offset: '42' }] });
    await admin.disconnect();
    const coordinatorSeenBy = async (nodeId: number) => {
      const c = await connect(nodeId);
      try {
        return await c.send(findCoordinatorApi, 3, { key: 'moving-group', keyType: 0, coordinatorKeys: [] });
      } finally {
        await c.close();
      }
    };
    const coordinator = (await coordinatorSeenBy(0)).nodeId;
    const survivor = [0, 1, 2].find((id) => id !== coordinator)!;
    await cluster.kill(coordinator, 'SIGKILL');
    try {
      await until('the group to answer from its new coordinator', async () => {
        const found = await coordinatorSeenBy(survivor);
        expect(found.errorCode).toBe(0);
        expect(found.nodeId).not.toBe(coordinator);
        const c = await connect(found.nodeId);
        try {
          const res = await c.send(offsetFetchApi, 7, { groupId: 'moving-group', topics: [{ name: 'group-move', partitionIndexes: [0] }], groups: [], requireStable: false });
          expect(res.errorCode).toBe(0);
          expect(res.topics[0]!.partitions[0]!.committedOffset).toBe(42);
        } finally {
          await c.close();
        }
      }, 45_000);
    } finally {
      await cluster.restart(coordinator);
    }
  }, 120_000);
});
