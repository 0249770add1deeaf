// A cluster whose etcd stops answering (SIGSTOP) for longer than the broker sessions: leaders keep
// serving produce (acks=all, the ISR still replicating) and fetch, a request that needs a metadata
// change gets a retriable error that says why, and once etcd answers again the brokers register
// again, every acknowledged record is there, and metadata changes work.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../protocol/client.js';
import { createTopicsApi, fetchApi, metadataApi, produceApi } from '../protocol/messages/index.js';
import { ErrorCode } from '../protocol/errors.js';
import { buildRecordBatch } from '../records/batch-builder.js';
import { decodeRecords, readBatchInfo } from '../records/record-batch.js';
import { SamsaCluster } from './samsa-cluster.js';
import { eventually } from './eventually.js';
import { consumerFetch } from './fetch-request.js';

let cluster: SamsaCluster;
const SESSION_MS = 3000;

beforeAll(async () => {
  cluster = await SamsaCluster.start({ brokers: 3, config: { 'broker.session.timeout.ms': String(SESSION_MS), 'replica.lag.time.max.ms': '20000' } });
}, 120_000);

afterAll(async () => {
  cluster?.etcd.resume();
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

const metadata = (nodeId: number, topics: string[] | null) =>
  withBroker(nodeId, (c) =>
    c.send(metadataApi, 12, { topics: topics?.map((name) => ({ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name })) ?? null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false, includeClusterAuthorizedOperations: false }),
  );

const createTopic = (nodeId: number, name: string) =>
  withBroker(nodeId, async (c) => (await c.send(createTopicsApi, 7, { topics: [{ name, numPartitions: 1, replicationFactor: 3, assignments: [], configs: [{ name: 'min.insync.replicas', value: '2' }] }], timeoutMs: 5000, validateOnly: false })).topics[0]!);

const produce = (nodeId: number, topic: string, value: string) =>
  withBroker(nodeId, async (c) => {
    const res = await c.send(produceApi, 9, { transactionalId: null, acks: -1, timeoutMs: 10_000, topicData: [{ name: topic, partitionData: [{ index: 0, records: buildRecordBatch([{ key: null, value: Buffer.from(value) }]) }] }] });
    return res.responses[0]!.partitionResponses[0]!;
  });

async function readAll(nodeId: number, topic: string): Promise<string[]> {
  return withBroker(nodeId, async (c) => {
    const res = await c.send(fetchApi, 12, consumerFetch(topic));
    const p = res.responses[0]!.partitions[0]!;
    expect(p.errorCode).toBe(ErrorCode.NONE);
    const records = p.records ?? Buffer.alloc(0);
    const values: string[] = [];
    for (let at = 0; at < records.length; ) {
      const batch = readBatchInfo(records, at);
      for (const r of decodeRecords(records.subarray(at, at + batch.size))) values.push(r.value!.toString());
      at += batch.size;
    }
    return values;
  });
}

describe('etcd unavailable for longer than the broker sessions', () => {
  it('leaves leaders serving, refuses metadata changes with a retriable error, and recovers', async () => {
    expect((await createTopic(0, 'steady')).errorCode).toBe(ErrorCode.NONE);
    await eventually('the topic to be in sync', async () => ((await metadata(0, ['steady'])).topics[0]!.partitions[0]!.isrNodes.length === 3 ? true : undefined), 30_000);
    const leader = (await metadata(0, ['steady'])).topics[0]!.partitions[0]!.leaderId;
    const acked: string[] = [];
    for (let i = 0; i < 5; i++) {
      expect((await produce(leader, 'steady', `before-${i}`)).errorCode).toBe(ErrorCode.NONE);
      acked.push(`before-${i}`);
    }

    cluster.etcd.pause();
    try {
      // Past the session TTL: every broker has lost its registration as far as it can tell.
      await new Promise((resolve) => setTimeout(resolve, SESSION_MS + 1500));
      for (let i = 0; i < 5; i++) {
        expect((await produce(leader, 'steady', `during-${i}`)).errorCode).toBe(ErrorCode.NONE);
        acked.push(`during-${i}`);
      }
      expect(await readAll(leader, 'steady')).toEqual(acked);
      const refused = await createTopic((leader + 1) % 3, 'needs-metadata');
      expect(refused.errorCode).toBe(ErrorCode.REQUEST_TIMED_OUT);
      expect(refused.errorMessage).toContain('metadata store');
      const ready = await fetch(`${cluster.broker(leader).httpUrl}/readyz`);
      expect(ready.status).toBe(503);
    } finally {
      cluster.etcd.resume();
    }

    await eventually('every broker to be registered and ready again', async () => {
      for (const b of cluster.brokers) if ((await fetch(`${b.httpUrl}/readyz`)).status !== 200) return undefined;
      return (await metadata(0, null)).brokers.length === 3 ? true : undefined;
    }, 60_000);
    await eventually('a metadata change to succeed', async () => ((await createTopic(1, 'after-outage')).errorCode === ErrorCode.NONE ? true : undefined), 30_000);
    await eventually('the partition to have a leader with a whole ISR', async () => {
      const p = (await metadata(0, ['steady'])).topics[0]!.partitions[0]!;
      return p.leaderId >= 0 && p.isrNodes.length === 3 ? p : undefined;
    }, 60_000);
    const newLeader = (await metadata(0, ['steady'])).topics[0]!.partitions[0]!.leaderId;
    await eventually('a produce after the outage', async () => ((await produce(newLeader, 'steady', 'after')).errorCode === ErrorCode.NONE ? true : undefined), 30_000);
    acked.push('after');
    expect(await readAll(newLeader, 'steady')).toEqual(acked);
  }, 180_000);
});
