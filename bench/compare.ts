// Samsa side by side with Apache Kafka on this machine, in the same run: each round starts a
// fresh Samsa broker and a fresh single-node KRaft Kafka, one after the other, and drives both
// with the same clients and settings. Both have a PLAINTEXT listener and an SSL one (PEM key and
// trust stores from the same files) for the TLS rows. Prints one table (medians, min–max, Samsa/Kafka), and
// writes bench/results/compare-<time>.json and an SVG chart of the ratios.
//   npm run bench:compare -- [--rounds 3] [--records 200000] (bench/cluster-compare.ts runs after it)
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import kafkajs from 'kafkajs';
import { Consumer, Producer, stringDeserializers } from '@platformatic/kafka';
import { BrokerProcess, freePort } from '../broker/test/broker-process.ts';
import { KafkaProcess, ensureKafka, kafkaTool } from '../broker/test/kafka-process.ts';
import { TlsTestFiles, keystorePem } from '../broker/test/tls-files.ts';
import { compileJava, runJava } from '../broker/test/java-programs.ts';
import { Comparison, type Metric, type System } from './comparison.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, records: { type: 'string', default: '200000' } } });
const ROUNDS = Number(values.rounds);
const RECORDS = Number(values.records);
const { Kafka, logLevel } = kafkajs;

/** One key store and CA for both brokers; the key unencrypted, as the JDK reads Node's PBES2 keys not. */
const tlsFiles = new TlsTestFiles();
const KEYSTORE = tlsFiles.write('broker.pem', keystorePem(tlsFiles.broker()));
const TRUSTSTORE = tlsFiles.write('ca.pem', tlsFiles.ca.cert);
/** Settings of Kafka's tools on the SSL listener. */
const TLS_CLIENT = tlsFiles.write('client.properties', `security.protocol=SSL\nssl.truststore.type=PEM\nssl.truststore.location=${TRUSTSTORE}\n`);
/** ConsumerPerformance reading only committed transactions. */
const READ_COMMITTED = tlsFiles.write('read-committed.properties', 'isolation.level=read_committed\n');
/** The Java client and bench/java/TransactionalPerformance.java, compiled in main(). */
let javaClasspath = '';

interface Running {
  bootstrap: string;
  /** The SSL listener. */
  tlsBootstrap: string;
  pid: number;
  stop(): Promise<void>;
}
const comparison = new Comparison();

function record(metric: Metric, system: System, value: number): void {
  comparison.record(metric, system, value);
}

/** CPU seconds (user+system) and peak resident memory of a process, from /proc. */
function usage(pid: number): { cpuSeconds: number; peakRssMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpuSeconds: ticks / 100, peakRssMb: hwm ? Number(hwm[1]) / 1024 : 0 };
}

async function start(system: System): Promise<Running & { startupMs: number }> {
  if (system === 'samsa') {
    const b = await BrokerProcess.start({
      'group.initial.rebalance.delay.ms': '0',
      listeners: 'PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0',
      'ssl.keystore.type': 'PEM',
      'ssl.keystore.location': KEYSTORE,
      'ssl.truststore.type': 'PEM',
      'ssl.truststore.location': TRUSTSTORE,
    });
    const startupMs = await firstProduce(b.bootstrap, b.launchedAt);
    return { bootstrap: b.bootstrap, tlsBootstrap: b.bootstrapOn('SSL'), pid: b.pid, startupMs, stop: () => b.destroy() };
  }
  const [port, controllerPort, tlsPort] = [await freePort(), await freePort(), await freePort()];
  const k = await KafkaProcess.create(
    {
      listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort},SSL://127.0.0.1:${tlsPort}`,
      'advertised.listeners': `PLAINTEXT://127.0.0.1:${port},SSL://127.0.0.1:${tlsPort}`,
      'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL',
      'ssl.keystore.type': 'PEM',
      'ssl.keystore.location': KEYSTORE,
      'ssl.truststore.type': 'PEM',
      'ssl.truststore.location': TRUSTSTORE,
    },
    undefined,
    { port, controllerPort },
  );
  await k.launch();
  const startupMs = await firstProduce(k.bootstrap, k.launchedAt);
  return { bootstrap: k.bootstrap, tlsBootstrap: `127.0.0.1:${tlsPort}`, pid: k.pid, startupMs, stop: () => k.destroy() };
}

/** Milliseconds from process start until a produce is acknowledged (the same client for both). */
async function firstProduce(bootstrap: string, launchedAt: number): Promise<number> {
  const kafka = new Kafka({ clientId: 'startup', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
  for (;;) {
    const producer = kafka.producer({ allowAutoTopicCreation: true });
    try {
      await producer.connect();
      await producer.send({ topic: 'startup', acks: 1, messages: [{ value: 'up' }] });
      await producer.disconnect();
      return performance.now() - launchedAt;
    } catch {
      await producer.disconnect().catch(() => {});
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

function createTopic(bootstrap: string, topic: string, partitions: number): void {
  kafkaTool('org.apache.kafka.tools.TopicCommand', ['--bootstrap-server', bootstrap, '--create', '--topic', topic, '--partitions', String(partitions), '--replication-factor', '1']);
}

/** `config`: a client properties file (the SSL listener's settings). */
function producerPerformance(bootstrap: string, topic: string, records: number, size: number, acks: string, config?: string) {
  const out = kafkaTool('org.apache.kafka.tools.ProducerPerformance', ['--topic', topic, '--num-records', String(records), '--record-size', String(size), '--throughput', '-1', '--producer-props', `bootstrap.servers=${bootstrap}`, `acks=${acks}`, ...(config ? ['--producer.config', config] : [])]);
  const m = /(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency.*?(\d+) ms 99th/.exec(out.trim().split('\n').at(-1)!);
  if (!m) throw new Error(`unexpected ProducerPerformance output:\n${out}`);
  return { recordsPerSec: Number(m[2]), mbPerSec: Number(m[3]), avgLatencyMs: Number(m[4]), p99Ms: Number(m[5]) };
}

function consumerPerformance(bootstrap: string, topic: string, records: number, config?: string) {
  const out = kafkaTool('org.apache.kafka.tools.ConsumerPerformance', ['--bootstrap-server', bootstrap, '--topic', topic, '--messages', String(records), '--timeout', '60000', ...(config ? ['--consumer.config', config] : [])]);
  const lines = out.trim().split('\n');
  const header = lines.findIndex((l) => l.startsWith('start.time'));
  const cols = lines[header]!.split(',').map((s) => s.trim());
  const row = lines[header + 1]!.split(',').map((s) => s.trim());
  const get = (name: string) => Number(row[cols.indexOf(name)]);
  return { mbPerSec: get('fetch.MB.sec'), recordsPerSec: get('fetch.nMsg.sec') };
}

function endToEndLatency(bootstrap: string, topic: string) {
  const out = kafkaTool('org.apache.kafka.tools.EndToEndLatency', [bootstrap, topic, '5000', '1', '100']);
  const m = /50th = ([\d.]+), 99th = ([\d.]+), 99.9th = ([\d.]+)/.exec(out);
  const avg = /Avg latency: ([\d.]+) ms/.exec(out);
  if (!m || !avg) throw new Error(`unexpected EndToEndLatency output:\n${out}`);
  return { avg: Number(avg[1]), p50: Number(m[1]), p99: Number(m[2]), p999: Number(m[3]) };
}

/**
 * The Java client's transactional produce (begin, send, commit; 100 and 10 records per
 * transaction), then ConsumerPerformance with isolation.level=read_committed over the topic of
 * 100-record transactions (its control batches included).
 */
async function transactions(system: System, bootstrap: string): Promise<void> {
  for (const perTransaction of [100, 10]) {
    const records = Math.round(perTransaction === 100 ? RECORDS / 4 : RECORDS / 20);
    const topic = `txn-${perTransaction}`;
    createTopic(bootstrap, topic, 1);
    const out = await runJava(javaClasspath, 'TransactionalPerformance', [bootstrap, topic, String(records), String(perTransaction), '100', `bench-${topic}`], 600_000);
    const r = JSON.parse(out.trim().split('\n').at(-1)!) as { recordsPerSec: number; transactionsPerSec: number };
    const scenario = `Java client transactional produce 100 B, ${perTransaction} records per transaction`;
    record({ scenario, unit: 'records/s', higherIsBetter: true }, system, r.recordsPerSec);
    record({ scenario, unit: 'transactions/s', higherIsBetter: true }, system, r.transactionsPerSec);
  }
  const c = consumerPerformance(bootstrap, 'txn-100', Math.round(RECORDS / 4), READ_COMMITTED);
  record({ scenario: 'ConsumerPerformance 100 B, read_committed, 100-record transactions', unit: 'MB/s', higherIsBetter: true }, system, c.mbPerSec);
}

async function jsClients(system: System, bootstrap: string): Promise<void> {
  const n = Math.min(RECORDS, 100_000);
  const value = Buffer.alloc(100, 'v');
  const kafka = new Kafka({ clientId: 'bench', brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  const batch = Array.from({ length: 1000 }, () => ({ value }));
  let t = performance.now();
  for (let i = 0; i < n; i += 1000) await producer.send({ topic: 'js-kafkajs', acks: 1, messages: batch });
  record({ scenario: 'kafkajs produce 100 B, acks=1', unit: 'records/s', higherIsBetter: true }, system, n / ((performance.now() - t) / 1000));
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: 'bench-kafkajs', maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'js-kafkajs', fromBeginning: true });
  let seen = 0;
  // Timed from run(): includes joining the group, the same for both brokers.
  t = performance.now();
  await consumer.run({ eachBatch: async ({ batch: b }) => void (seen += b.messages.length) });
  while (seen < n) await new Promise((r) => setTimeout(r, 5));
  record({ scenario: 'kafkajs consume 100 B (group join included)', unit: 'records/s', higherIsBetter: true }, system, n / ((performance.now() - t) / 1000));
  await consumer.disconnect();

  const pk = new Producer({ clientId: 'bench', bootstrapBrokers: [bootstrap], autocreateTopics: true });
  const messages = Array.from({ length: 1000 }, () => ({ topic: 'js-platformatic', value }));
  await pk.send({ messages: messages.slice(0, 1), acks: 1 });
  t = performance.now();
  for (let i = 0; i < n; i += 1000) await pk.send({ messages, acks: 1 });
  record({ scenario: '@platformatic/kafka produce 100 B, acks=1', unit: 'records/s', higherIsBetter: true }, system, n / ((performance.now() - t) / 1000));
  await pk.close();
  const pc = new Consumer({ clientId: 'bench', groupId: 'bench-platformatic', bootstrapBrokers: [bootstrap], deserializers: stringDeserializers });
  seen = 0;
  t = performance.now();
  const stream = await pc.consume({ topics: ['js-platformatic'], mode: 'earliest', maxWaitTime: 100 });
  stream.on('data', () => void seen++);
  while (seen < n + 1) await new Promise((r) => setTimeout(r, 5));
  record({ scenario: '@platformatic/kafka consume 100 B (group join included)', unit: 'records/s', higherIsBetter: true }, system, n / ((performance.now() - t) / 1000));
  await stream.close();
  await pc.close();
}

async function round(system: System): Promise<void> {
  const broker = await start(system);
  record({ scenario: 'process start to first acknowledged produce', unit: 'ms', higherIsBetter: false }, system, broker.startupMs);
  const before = usage(broker.pid);
  let bytes = 0;
  try {
    for (const size of [100, 1024]) {
      const records = size === 100 ? RECORDS : Math.round(RECORDS / 4);
      for (const partitions of [1, 6]) {
        for (const acks of ['1', 'all']) {
          const topic = `perf-${size}-${partitions}-${acks}`;
          createTopic(broker.bootstrap, topic, partitions);
          const r = producerPerformance(broker.bootstrap, topic, records, size, acks);
          bytes += records * size;
          const scenario = `ProducerPerformance ${size} B, ${partitions} partition${partitions > 1 ? 's' : ''}, acks=${acks}`;
          record({ scenario, unit: 'records/s', higherIsBetter: true }, system, r.recordsPerSec);
          record({ scenario, unit: 'MB/s', higherIsBetter: true }, system, r.mbPerSec);
        }
        const c = consumerPerformance(broker.bootstrap, `perf-${size}-${partitions}-1`, records);
        bytes += records * size;
        record({ scenario: `ConsumerPerformance ${size} B, ${partitions} partition${partitions > 1 ? 's' : ''}`, unit: 'MB/s', higherIsBetter: true }, system, c.mbPerSec);
      }
    }
    const e2e = endToEndLatency(broker.bootstrap, 'e2e-latency');
    // EndToEndLatency sends one record, waits for it to be consumed, and repeats; it reports
    // percentiles in whole milliseconds, so the average carries the sub-millisecond detail.
    record({ scenario: 'EndToEndLatency 100 B, acks=1, average', unit: 'ms', higherIsBetter: false }, system, e2e.avg);
    record({ scenario: 'EndToEndLatency 100 B, acks=1, p50', unit: 'ms', higherIsBetter: false }, system, e2e.p50);
    record({ scenario: 'EndToEndLatency 100 B, acks=1, p99', unit: 'ms', higherIsBetter: false }, system, e2e.p99);
    record({ scenario: 'EndToEndLatency 100 B, acks=1, p99.9', unit: 'ms', higherIsBetter: false }, system, e2e.p999);
    await jsClients(system, broker.bootstrap);
    bytes += 4 * Math.min(RECORDS, 100_000) * 100;
    const after = usage(broker.pid);
    record({ scenario: 'broker CPU seconds per GB moved', unit: 's/GB', higherIsBetter: false }, system, (after.cpuSeconds - before.cpuSeconds) / (bytes / 1e9));
    record({ scenario: 'broker peak RSS', unit: 'MB', higherIsBetter: false }, system, after.peakRssMb);
    // TLS: the same tools on the SSL listener (server-authenticated TLS, no client certificate);
    // after the CPU and memory rows, which stay those of the PLAINTEXT scenarios.
    for (const size of [100, 1024]) {
      const records = size === 100 ? RECORDS : Math.round(RECORDS / 4);
      const topic = `perf-tls-${size}-6`;
      createTopic(broker.bootstrap, topic, 6);
      const r = producerPerformance(broker.tlsBootstrap, topic, records, size, '1', TLS_CLIENT);
      const c = consumerPerformance(broker.tlsBootstrap, topic, records, TLS_CLIENT);
      record({ scenario: `TLS ProducerPerformance ${size} B, 6 partitions, acks=1`, unit: 'MB/s', higherIsBetter: true }, system, r.mbPerSec);
      record({ scenario: `TLS ConsumerPerformance ${size} B, 6 partitions`, unit: 'MB/s', higherIsBetter: true }, system, c.mbPerSec);
    }
    await transactions(system, broker.bootstrap);
  } finally {
    await broker.stop();
  }
}

async function main(): Promise<void> {
  ensureKafka();
  javaClasspath = compileJava('scripts/java/pom.xml', '.cache/java/lib', ['bench/java/TransactionalPerformance.java']);
  for (let r = 0; r < ROUNDS; r++) {
    for (const system of r % 2 === 0 ? (['samsa', 'kafka'] as const) : (['kafka', 'samsa'] as const)) {
      process.stderr.write(`round ${r + 1}/${ROUNDS}: ${system}\n`);
      await round(system);
    }
  }
  comparison.report(
    'compare',
    `Samsa vs Apache Kafka 4.0.0 (KRaft, single node), ${ROUNDS} rounds, ${RECORDS} records per produce scenario (1 KiB: a quarter), node ${process.version}`,
    { rounds: ROUNDS, records: RECORDS, node: process.version, kafka: '4.0.0' },
  );
  tlsFiles.remove();
}

await main();
