// What an operator asks a broker over HTTP, on three real broker processes and a real etcd:
// whether stopping it now would take a partition below min.insync.replicas or offline
// (/v1/shutdown-safety), whether it is caught up (/v1/caught-up), and the replication metrics —
// answered while every ISR is whole, while a follower is paused with SIGSTOP past
// replica.lag.time.max.ms, and after a broker is killed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../protocol/client.js';
import { createTopicsApi, produceApi } from '../protocol/messages/index.js';
import { buildRecordBatch } from '../records/batch-builder.js';
import type { LaggingPartition, ShutdownBlocker } from '../replication/partition-health.js';
import { BrokerProcess } from './broker-process.js';
import { EtcdProcess } from './etcd-process.js';
import { eventuallyPasses } from './eventually.js';
import { SamsaCluster } from './samsa-cluster.js';

let cluster: SamsaCluster;

const until = (what: string, check: () => Promise<void> | void, timeoutMs = 30_000) => eventuallyPasses(what, check, timeoutMs);

// Broker 2 is a follower of every partition of `guarded` and leads none: pausing it leaves every leader running.
const GUARDED = [
  { partitionIndex: 0, brokerIds: [0, 1, 2] },
  { partitionIndex: 1, brokerIds: [1, 2, 0] },
  { partitionIndex: 2, brokerIds: [0, 2, 1] },
];

beforeAll(async () => {
  cluster = await SamsaCluster.start({
    brokers: 3,
    // A follower drops out of the ISR after 3 s without catching up; its registration lasts longer, so a short pause does not fence it.
    config: { 'broker.session.timeout.ms': '15000', 'replica.lag.time.max.ms': '3000', 'replica.fetch.backoff.ms': '200' },
  });
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

interface SafetyAnswer {
  safe: boolean;
  blocking: ShutdownBlocker[];
}

interface CaughtUpAnswer {
  caughtUp: boolean;
  lagging: LaggingPartition[];
}

async function ask<T>(nodeId: number, path: string): Promise<{ status: number; body: T }> {
  const res = await fetch(`${cluster.broker(nodeId).httpUrl}${path}`);
  return { status: res.status, body: (await res.json()) as T };
}

async function metrics(nodeId: number): Promise<string> {
  return (await fetch(`${cluster.broker(nodeId).httpUrl}/metrics`)).text();
}

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  if (!line) throw new Error(`metric ${name} not found`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function metricOf(nodeIds: number[], name: string): Promise<number[]> {
  return Promise.all(nodeIds.map(async (id) => metric(await metrics(id), name)));
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

async function createTopic(name: string, assignments: { partitionIndex: number; brokerIds: number[] }[], configs: Record<string, string>): Promise<void> {
  const c = await KafkaConnection.open('127.0.0.1', cluster.broker(0).port);
  try {
    const res = await c.send(createTopicsApi, 7, {
      topics: [{ name, numPartitions: -1, replicationFactor: -1, assignments, configs: Object.entries(configs).map(([k, value]) => ({ name: k, value })) }],
      timeoutMs: 5000,
      validateOnly: false,
    });
    expect(res.topics[0]!.errorCode).toBe(0);
  } finally {
    await c.close();
  }
}

/** `count` records in one batch to a partition's leader, acks=1 (the paused follower does not hold it up). */
async function produce(leader: number, topic: string, partition: number, count: number): Promise<void> {
  const c = await KafkaConnection.open('127.0.0.1', cluster.broker(leader).port);
  try {
    const records = Array.from({ length: count }, (_, i) => ({ key: null, value: Buffer.from(`r${i}`) }));
    const res = await c.send(produceApi, 9, { transactionalId: null, acks: 1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: partition, records: buildRecordBatch(records) }] }] });
    expect(res.responses[0]!.partitionResponses[0]!.errorCode).toBe(0);
  } finally {
    await c.close();
  }
}

const byPartition = <T extends { partition: number }>(list: T[]) => [...list].sort((a, b) => a.partition - b.partition);

describe('operator endpoints of a three-broker cluster', () => {
  it('say every broker is safe to stop and caught up while every ISR is whole, with one active controller', async () => {
    await createTopic('guarded', GUARDED, { 'min.insync.replicas': '2' });
    await until('every broker to be caught up and safe to stop', async () => {
      for (const id of [0, 1, 2]) {
        expect(await ask(id, '/v1/caught-up')).toEqual({ status: 200, body: { caughtUp: true, lagging: [] } });
        expect(await ask(id, '/v1/shutdown-safety')).toEqual({ status: 200, body: { safe: true, blocking: [] } });
      }
    });
    const controllers = await metricOf([0, 1, 2], 'samsa_active_controller');
    expect(controllers.sort()).toEqual([0, 0, 1]);
    expect(await metricOf([0, 1, 2], 'samsa_replica_partitions')).toEqual([3, 3, 3]);
    expect(await metricOf([0, 1, 2], 'samsa_leader_partitions')).toEqual([2, 1, 0]);
    expect(await metricOf([0, 1, 2], 'samsa_under_replicated_partitions')).toEqual([0, 0, 0]);
    expect(await metricOf([0, 1, 2], 'samsa_under_min_isr_partitions')).toEqual([0, 0, 0]);
    expect(await metricOf([0, 1, 2], 'samsa_controller_offline_partitions')).toEqual([0, 0, 0]);
  });

  it('report a follower paused past replica.lag.time.max.ms as lagging, and caught up again after SIGCONT', async () => {
    const shrinksBefore = sum(await metricOf([0, 1], 'samsa_isr_shrinks_total'));
    const expandsBefore = sum(await metricOf([0, 1], 'samsa_isr_expands_total'));
    await cluster.kill(2, 'SIGSTOP');
    try {
      for (const { partitionIndex, brokerIds } of GUARDED) await produce(brokerIds[0]!, 'guarded', partitionIndex, 10);
      await until('the leaders to drop the paused follower from every ISR', async () => {
        for (const id of [0, 1]) {
          const { status, body } = await ask<CaughtUpAnswer>(id, '/v1/caught-up');
          expect(status).toBe(503);
          expect(body.caughtUp).toBe(false);
          expect(byPartition(body.lagging).map((p) => [p.partition, p.reason, [...p.isr].sort()])).toEqual([
            [0, 'under-replicated', [0, 1]],
            [1, 'under-replicated', [0, 1]],
            [2, 'under-replicated', [0, 1]],
          ]);
        }
      });
      // Each leader counts what it leads: broker 0 partitions 0 and 2, broker 1 partition 1.
      expect(await metricOf([0, 1], 'samsa_under_replicated_partitions')).toEqual([2, 1]);
      expect(await metricOf([0, 1], 'samsa_under_min_isr_partitions')).toEqual([0, 0]);
      expect(sum(await metricOf([0, 1], 'samsa_isr_shrinks_total')) - shrinksBefore).toBeGreaterThanOrEqual(3);
      // The paused follower fetched nothing of the 10 records each leader took since.
      expect(await metricOf([0, 1], 'samsa_replica_max_lag_messages')).toEqual([10, 10]);
      // With ISRs of two and min.insync.replicas=2, neither remaining broker may stop.
      for (const id of [0, 1]) {
        const { status, body } = await ask<SafetyAnswer>(id, '/v1/shutdown-safety');
        expect(status).toBe(409);
        expect(body.safe).toBe(false);
        expect(byPartition(body.blocking).map((b) => [b.topic, b.partition, b.reason, b.minInsyncReplicas])).toEqual([
          ['guarded', 0, 'would-go-under-min-isr', 2],
          ['guarded', 1, 'would-go-under-min-isr', 2],
          ['guarded', 2, 'would-go-under-min-isr', 2],
        ]);
      }
    } finally {
      await cluster.kill(2, 'SIGCONT');
    }
    await until('every broker to be caught up again', async () => {
      for (const id of [0, 1, 2]) expect(await ask(id, '/v1/caught-up')).toEqual({ status: 200, body: { caughtUp: true, lagging: [] } });
    });
    expect(sum(await metricOf([0, 1], 'samsa_isr_expands_total')) - expandsBefore).toBeGreaterThanOrEqual(3);
    expect(await metricOf([0, 1, 2], 'samsa_under_replicated_partitions')).toEqual([0, 0, 0]);
    await until('the followers to have fetched everything', async () => expect(await metricOf([0, 1], 'samsa_replica_max_lag_messages')).toEqual([0, 0]));
    expect(sum(await metricOf([0, 1, 2], 'samsa_active_controller'))).toBe(1);
  });

  it('name the partitions that block stopping a broker once another is killed, and count offline partitions on the controller', async () => {
    // One replica, on broker 2: stopping broker 2 takes it offline.
    await createTopic('solo', [{ partitionIndex: 0, brokerIds: [2] }], {});
    await until('broker 2 to say that stopping it takes solo offline', async () =>
      expect(await ask(2, '/v1/shutdown-safety')).toEqual({ status: 409, body: { safe: false, blocking: [{ topic: 'solo', partition: 0, reason: 'would-go-offline', isr: [2], minInsyncReplicas: 1 }] } }),
    );
    await cluster.kill(2, 'SIGKILL');
    await until(
      'brokers 0 and 1 to block on every partition of guarded',
      async () => {
        for (const id of [0, 1]) {
          const { status, body } = await ask<SafetyAnswer>(id, '/v1/shutdown-safety');
          expect(status).toBe(409);
          expect(byPartition(body.blocking).map((b) => ({ ...b, isr: [...b.isr].sort() }))).toEqual([0, 1, 2].map((partition) => ({ topic: 'guarded', partition, reason: 'would-go-under-min-isr', isr: [0, 1], minInsyncReplicas: 2 })));
        }
      },
      60_000,
    );
    await until('the controller to count solo offline', async () => {
      expect(sum(await metricOf([0, 1], 'samsa_active_controller'))).toBe(1);
      expect(sum(await metricOf([0, 1], 'samsa_controller_offline_partitions'))).toBe(1);
    });
    const { status, body } = await ask<CaughtUpAnswer>(0, '/v1/caught-up');
    expect(status).toBe(503);
    expect(byPartition(body.lagging).map((p) => [p.topic, p.partition, p.reason])).toEqual([
      ['guarded', 0, 'under-replicated'],
      ['guarded', 1, 'under-replicated'],
      ['guarded', 2, 'under-replicated'],
    ]);
  });

  it('answer 503 rather than guess while the broker is still loading the cluster metadata', async () => {
    // A broker whose etcd is paused stays in start-up with its HTTP port open and its view of the cluster empty.
    const etcd = await EtcdProcess.start();
    const broker = await BrokerProcess.create({}, ['--node-id', '0', '--metadata', etcd.url('samsa/starting')]);
    try {
      etcd.pause();
      await broker.launch({ wait: false });
      const ask = async <T>(path: string) => {
        const res = await fetch(`${broker.httpUrl}${path}`);
        return { status: res.status, body: (await res.json()) as T };
      };
      await until('the starting broker to answer its HTTP port', async () => expect(await ask('/v1/shutdown-safety')).toEqual({ status: 503, body: { safe: false, reason: 'starting', blocking: [] } }));
      expect(await ask('/v1/caught-up')).toEqual({ status: 503, body: { caughtUp: false, reason: 'starting', lagging: [] } });
      etcd.resume();
      await broker.waitReady(30_000);
      expect(await ask('/v1/shutdown-safety')).toEqual({ status: 200, body: { safe: true, blocking: [] } });
      expect(await ask('/v1/caught-up')).toEqual({ status: 200, body: { caughtUp: true, lagging: [] } });
    } finally {
      await broker.destroy();
      await etcd.stop();
    }
  });
});
