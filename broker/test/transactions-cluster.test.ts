// Transactions at the partition in a replicated cluster (real broker processes, real etcd): only
// the leader describes its producers (NOT_LEADER_OR_FOLLOWER elsewhere), and a follower that
// took the leader's transactional batches knows the open transaction when it becomes leader, so
// read_committed readers stay held at it after the old leader is killed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../protocol/client.js';
import { ErrorCode } from '../protocol/errors.js';
import { createTopicsApi, describeProducersApi, fetchApi, initProducerIdApi, metadataApi, produceApi } from '../protocol/messages/index.js';
import { buildRecordBatch } from '../records/batch-builder.js';
import { SamsaCluster } from './samsa-cluster.js';
import { eventually } from './eventually.js';
import { consumerFetch } from './fetch-request.js';

let cluster: SamsaCluster;

beforeAll(async () => {
  cluster = await SamsaCluster.start({ brokers: 3, config: { 'broker.session.timeout.ms': '3000' } });
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

async function withBroker<T>(nodeId: number, use: (c: KafkaConnection) => Promise<T>): Promise<T> {
  const c = await KafkaConnection.open('127.0.0.1', cluster.broker(nodeId).port);
  try {
    return await use(c);
  } finally {
    await c.close();
  }
}

const partitionState = (nodeId: number, topic: string) =>
  withBroker(nodeId, async (c) => {
    const res = await c.send(metadataApi, 12, { topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: topic }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false, includeClusterAuthorizedOperations: false });
    return res.topics[0]!.partitions[0];
  });

const describeProducers = (nodeId: number, topic: string) =>
  withBroker(nodeId, async (c) => (await c.send(describeProducersApi, 0, { topics: [{ name: topic, partitionIndexes: [0] }] })).topics[0]!.partitions[0]!);

const readCommitted = (nodeId: number, topic: string) =>
  withBroker(nodeId, async (c) => (await c.send(fetchApi, 12, consumerFetch(topic, { isolationLevel: 1 }))).responses[0]!.partitions[0]!);

describe('an open transaction in a replicated partition', () => {
  it('is described by the leader only, and known to the follower that becomes leader', async () => {
    const topic = 'txn-replicated';
    const created = await withBroker(0, (c) =>
      c.send(createTopicsApi, 7, { topics: [{ name: topic, numPartitions: 1, replicationFactor: 3, assignments: [], configs: [{ name: 'min.insync.replicas', value: '2' }] }], timeoutMs: 5000, validateOnly: false }),
    );
    expect(created.topics[0]!.errorCode).toBe(ErrorCode.NONE);
    await eventually('all replicas in sync', async () => ((await partitionState(0, topic))?.isrNodes.length === 3 ? true : undefined), 30_000);
    const leader = (await partitionState(0, topic))!.leaderId;
    const followers = [0, 1, 2].filter((id) => id !== leader);

    const { producerId, producerEpoch } = await withBroker(leader, (c) => c.send(initProducerIdApi, 4, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 }));
    const plain = buildRecordBatch([{ value: Buffer.from('before') }]);
    const txn = buildRecordBatch([{ value: Buffer.from('t1') }, { value: Buffer.from('t2') }], { producerId, producerEpoch, baseSequence: 0, transactional: true });
    for (const [records, transactionalId] of [[plain, null], [txn, 'txn-replicated-test']] as const) {
      const res = await withBroker(leader, (c) => c.send(produceApi, 9, { transactionalId, acks: -1, timeoutMs: 10_000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] }));
      expect(res.responses[0]!.partitionResponses[0]!.errorCode).toBe(ErrorCode.NONE);
    }

    const open = { producerId, producerEpoch, lastSequence: 1, currentTxnStartOffset: 1, coordinatorEpoch: -1 };
    expect(await describeProducers(leader, topic)).toMatchObject({ errorCode: ErrorCode.NONE, activeProducers: [open] });
    for (const follower of followers) expect(await describeProducers(follower, topic)).toMatchObject({ errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, activeProducers: [] });
    expect(await readCommitted(leader, topic)).toMatchObject({ errorCode: ErrorCode.NONE, highWatermark: 3, lastStableOffset: 1 });

    await cluster.kill(leader);
    const next = await eventually(
      'a new leader',
      async () => {
        const state = await partitionState(followers[0]!, topic);
        return state && state.leaderId >= 0 && state.leaderId !== leader ? state.leaderId : undefined;
      },
      30_000,
    );
    expect(await describeProducers(next, topic)).toMatchObject({ errorCode: ErrorCode.NONE, activeProducers: [open] });
    await eventually('the new leader to serve the partition', async () => ((await readCommitted(next, topic)).errorCode === ErrorCode.NONE ? true : undefined), 30_000);
    expect(await readCommitted(next, topic)).toMatchObject({ errorCode: ErrorCode.NONE, highWatermark: 3, lastStableOffset: 1 });
  }, 120_000);
});
