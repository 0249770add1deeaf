// Three Samsa brokers against a three-node Apache Kafka KRaft cluster on this machine, in the
// same run: each round starts a fresh Samsa cluster (one etcd, node ids 0..2) and a fresh Kafka
// cluster (every node broker and controller), one after the other, and drives both with the same
// clients: topics with replication factor 3 and min.insync.replicas=2, produced with acks=all;
// then failover: a producer (acks=all, retries) sends steadily to a one-partition topic while the
// partition's leader is SIGKILLed; measured is the time from the kill to the first acknowledged
// produce of a record sent after it. The node comes back before the next kill.
//   npm run bench:compare (after the single-node table) or npm run bench:cluster -- [--rounds 3] [--records 200000]
import { parseArgs } from 'node:util';
import kafkajs from 'kafkajs';
import { Producer } from '@platformatic/kafka';
import { SamsaCluster } from '../broker/test/samsa-cluster.ts';
import { KafkaCluster, ensureKafka, kafkaTool } from '../broker/test/kafka-process.ts';
import { Comparison, type System } from './comparison.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, records: { type: 'string', default: '200000' } } });
const ROUNDS = Number(values.rounds);
const RECORDS = Number(values.records);
const BROKERS = 3;
const KAFKA_HEAP = '512M';
const KILLS_PER_ROUND = 3;
/** A failover that has not produced an acknowledgement by then is counted as failed. */
const FAILOVER_LIMIT_MS = 60_000;
const { Kafka, logLevel } = kafkajs;

const comparison = new Comparison();

interface Cluster {
  bootstrap: string;
  kill(nodeId: number, signal: 'SIGKILL'): Promise<void>;
  restart(nodeId: number): Promise<void>;
  stop(): Promise<void>;
}

async function start(system: System): Promise<Cluster> {
  if (system === 'samsa') return SamsaCluster.start({ brokers: BROKERS, config: { 'group.initial.rebalance.delay.ms': '0' } });
  return KafkaCluster.start({ nodes: BROKERS, heap: KAFKA_HEAP, settings: { 'group.initial.rebalance.delay.ms': '0' } });
}

function createTopic(bootstrap: string, topic: string, partitions: number): void {
  kafkaTool('org.apache.kafka.tools.TopicCommand', [
    '--bootstrap-server', bootstrap, '--create', '--topic', topic, '--partitions', String(partitions),
    '--replication-factor', String(BROKERS), '--config', 'min.insync.replicas=2',
  ]);
}

function producerPerformance(bootstrap: string, topic: string, records: number, size: number) {
  const out = kafkaTool('org.apache.kafka.tools.ProducerPerformance', ['--topic', topic, '--num-records', String(records), '--record-size', String(size), '--throughput', '-1', '--producer-props', `bootstrap.servers=${bootstrap}`, 'acks=all'], 600_000);
  const m = /(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency.*?(\d+) ms 99th/.exec(out.trim().split('\n').at(-1)!);
  if (!m) throw new Error(`unexpected ProducerPerformance output:\n${out}`);
  return { recordsPerSec: Number(m[2]), mbPerSec: Number(m[3]), avgLatencyMs: Number(m[4]), p99Ms: Number(m[5]) };
}

function consumerPerformance(bootstrap: string, topic: string, records: number) {
  const out = kafkaTool('org.apache.kafka.tools.ConsumerPerformance', ['--bootstrap-server', bootstrap, '--topic', topic, '--messages', String(records), '--timeout', '60000'], 600_000);
  const lines = out.trim().split('\n');
  const header = lines.findIndex((l) => l.startsWith('start.time'));
  const cols = lines[header]!.split(',').map((s) => s.trim());
  const row = lines[header + 1]!.split(',').map((s) => s.trim());
  const get = (name: string) => Number(row[cols.indexOf(name)]);
  return { mbPerSec: get('fetch.MB.sec'), recordsPerSec: get('fetch.nMsg.sec') };
}

async function jsClients(system: System, bootstrap: string): Promise<void> {
  const n = Math.min(RECORDS, 100_000);
  const value = Buffer.alloc(100, 'v');
  const brokers = bootstrap.split(',');
  createTopic(bootstrap, 'js-kafkajs', 6);
  const kafka = new Kafka({ clientId: 'bench', brokers, logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  const batch = Array.from({ length: 1000 }, () => ({ value }));
  let t = performance.now();
  for (let i = 0; i < n; i += 1000) await producer.send({ topic: 'js-kafkajs', acks: -1, messages: batch });
  comparison.record({ scenario: 'kafkajs produce 100 B, 6 partitions, acks=all', unit: 'records/s', higherIsBetter: true }, system, n / ((performance.now() - t) / 1000));
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: 'bench-kafkajs', maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'js-kafkajs', fromBeginning: true });
  let seen = 0;
  // Timed from run(): includes joining the group, the same for both systems.
  t = performance.now();
  await consumer.run({ eachBatch: async ({ batch: b }) => void (seen += b.messages.length) });
  while (seen < n) await new Promise((r) => setTimeout(r, 5));
  comparison.record({ scenario: 'kafkajs consume 100 B, 6 partitions (group join included)', unit: 'records/s', higherIsBetter: true }, system, n / ((performance.now() - t) / 1000));
  await consumer.disconnect();

  createTopic(bootstrap, 'js-platformatic', 6);
  const pk = new Producer({ clientId: 'bench', bootstrapBrokers: brokers });
  const messages = Array.from({ length: 1000 }, () => ({ topic: 'js-platformatic', value }));
  await pk.send({ messages: messages.slice(0, 1), acks: -1 });
  t = performance.now();
  for (let i = 0; i < n; i += 1000) await pk.send({ messages, acks: -1 });
  comparison.record({ scenario: '@platformatic/kafka produce 100 B, 6 partitions, acks=all', unit: 'records/s', higherIsBetter: true }, system, n / ((performance.now() - t) / 1000));
  await pk.close();
}

async function partitionState(admin: kafkajs.Admin, topic: string): Promise<{ leader: number; isr: number[] }> {
  const p = (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions[0]!;
  return { leader: p.leader, isr: p.isr };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A producer sends one record at a time (acks=all) to a one-partition topic; each kill of the
 * partition's leader is timed to the first acknowledgement of a record sent after the kill.
 * kafkajs retries as the Java producer's defaults do (backoff from 100 ms up to 1 s), for about
 * half a minute per record. A kill that cannot be measured (no acknowledgement within the limit,
 * or none even before the kill with every replica up) is counted, not timed.
 */
async function failover(system: System, cluster: Cluster): Promise<void> {
  const topic = 'failover';
  createTopic(cluster.bootstrap, topic, 1);
  const kafka = new Kafka({
    clientId: 'failover', brokers: cluster.bootstrap.split(','), logLevel: logLevel.NOTHING,
    retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 },
  });
  const admin = kafka.admin();
  await admin.connect();
  const producer = kafka.producer({ retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 } });
  await producer.connect();
  let running = true;
  let lastAckOfSendAt = -Infinity;
  let waiter: { after: number; resolve: (ackedAt: number) => void } | undefined;
  const value = Buffer.alloc(100, 'f');
  const sending = (async () => {
    while (running) {
      const sentAt = performance.now();
      try {
        await producer.send({ topic, acks: -1, timeout: 30_000, messages: [{ value }] });
        const ackedAt = performance.now();
        lastAckOfSendAt = sentAt;
        if (waiter && sentAt >= waiter.after) {
          waiter.resolve(ackedAt);
          waiter = undefined;
        }
      } catch {
        // retries exhausted or a non-retriable error: the next record is tried
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  let failures = 0;
  try {
    for (let k = 0; k < KILLS_PER_ROUND; k++) {
      let leader: number;
      try {
        ({ leader } = await until('all 3 replicas in sync', async () => {
          const s = await partitionState(admin, topic);
          return s.isr.length === BROKERS && s.leader >= 0 ? s : undefined;
        }, 120_000));
        await until('an acknowledged produce with every replica in sync', async () => (performance.now() - lastAckOfSendAt < 1000 ? true : undefined), FAILOVER_LIMIT_MS);
      } catch (err) {
        process.stderr.write(`${system}: before kill ${k + 1}: ${(err as Error).message}; no more kills this round\n`);
        failures += KILLS_PER_ROUND - k;
        break;
      }
      const killedAt = performance.now();
      const acked = new Promise<number>((resolve) => (waiter = { after: killedAt, resolve }));
      await cluster.kill(leader, 'SIGKILL');
      const ackedAt = await Promise.race([acked, new Promise<undefined>((r) => setTimeout(r, FAILOVER_LIMIT_MS))]);
      if (ackedAt === undefined) {
        waiter = undefined;
        process.stderr.write(`${system}: no acknowledged produce within ${FAILOVER_LIMIT_MS / 1000} s of killing node ${leader}\n`);
        failures++;
      } else {
        comparison.record({ scenario: 'failover: SIGKILL of the leader to the first acknowledged produce (acks=all)', unit: 'ms', higherIsBetter: false }, system, ackedAt - killedAt);
      }
      await cluster.restart(leader);
    }
    comparison.record({ scenario: `failover: kills of ${KILLS_PER_ROUND} not measured (no acknowledged produce within ${FAILOVER_LIMIT_MS / 1000} s)`, unit: 'count', higherIsBetter: false }, system, failures);
  } finally {
    running = false;
    // A record still being retried is given up on: disconnecting fails it, or the round moves on.
    await producer.disconnect().catch(() => {});
    await Promise.race([sending, new Promise((r) => setTimeout(r, 35_000))]);
    await admin.disconnect().catch(() => {});
  }
}

async function round(system: System): Promise<void> {
  const cluster = await start(system);
  try {
    for (const [size, partitions] of [[100, 1], [100, 6], [1024, 6]] as const) {
      const records = size === 100 ? RECORDS : Math.round(RECORDS / 4);
      const topic = `perf-${size}-${partitions}`;
      createTopic(cluster.bootstrap, topic, partitions);
      const scenario = `${size === 100 ? '100 B' : '1 KiB'}, ${partitions} partition${partitions > 1 ? 's' : ''}`;
      const r = producerPerformance(cluster.bootstrap, topic, records, size);
      comparison.record({ scenario: `ProducerPerformance ${scenario}, acks=all`, unit: 'records/s', higherIsBetter: true }, system, r.recordsPerSec);
      comparison.record({ scenario: `ProducerPerformance ${scenario}, acks=all`, unit: 'MB/s', higherIsBetter: true }, system, r.mbPerSec);
      comparison.record({ scenario: `ProducerPerformance ${scenario}, acks=all, p99 latency`, unit: 'ms', higherIsBetter: false }, system, r.p99Ms);
      const c = consumerPerformance(cluster.bootstrap, topic, records);
      comparison.record({ scenario: `ConsumerPerformance ${scenario}`, unit: 'MB/s', higherIsBetter: true }, system, c.mbPerSec);
    }
    await jsClients(system, cluster.bootstrap);
    await failover(system, cluster);
  } finally {
    await cluster.stop();
  }
}

async function main(): Promise<void> {
  ensureKafka();
  for (let r = 0; r < ROUNDS; r++) {
    for (const system of r % 2 === 0 ? (['samsa', 'kafka'] as const) : (['kafka', 'samsa'] as const)) {
      process.stderr.write(`cluster round ${r + 1}/${ROUNDS}: ${system}\n`);
      await round(system);
    }
  }
  comparison.report(
    'cluster-compare',
    `${BROKERS} Samsa brokers (one etcd) vs Apache Kafka 4.0.0 (${BROKERS}-node KRaft cluster, each node broker+controller, -Xmx${KAFKA_HEAP}), topics RF=3 with min.insync.replicas=2, ` +
      `${ROUNDS} rounds, ${RECORDS} records per produce scenario (1 KiB: a quarter), ${KILLS_PER_ROUND} leader kills per round, node ${process.version}`,
    { rounds: ROUNDS, records: RECORDS, brokers: BROKERS, kafkaHeap: KAFKA_HEAP, killsPerRound: KILLS_PER_ROUND, node: process.version, kafka: '4.0.0' },
  );
}

await main();
