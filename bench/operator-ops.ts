// What the operator's day-2 operations cost a running application: a KafkaCluster of 3 brokers on
// a real control plane (kube-apiserver, kube-controller-manager, the chart's operator process, the
// test kubelet running broker processes), a topic with replication factor 3 and
// min.insync.replicas=2 holding some data, and a kafkajs producer sending acks=all at a steady
// rate throughout. Measured for each operation — a full roll of the 3 brokers, scaling 3→4 (the
// operator moves partitions onto the new broker) and 4→3 (it moves them off first) — how long it
// took, the bytes it moved, the sends that failed (the bar is 0), and the p99 produce latency
// during it against the same load with no operation. At the end every acknowledged record is
// read back.
//   npm run bench:operator -- [--rate 400] [--preload-mb 64] [--baseline-s 30]
import { parseArgs } from 'node:util';
import kafkajs from 'kafkajs';
import { KafkaConnection } from '../broker/protocol/client.js';
import { describeLogDirsApi } from '../broker/protocol/messages/index.js';
import { API_VERSION } from '../operator/crds/types.js';
import type { KubernetesObject } from '../operator/kube.js';
import { type Obj, OperatorHarness } from '../operator/test/operator-harness.js';

const { values } = parseArgs({ options: { rate: { type: 'string', default: '400' }, 'preload-mb': { type: 'string', default: '64' }, 'baseline-s': { type: 'string', default: '30' } } });
const RATE = Number(values.rate);
const PRELOAD_BYTES = Number(values['preload-mb']) * 2 ** 20;
const BASELINE_MS = Number(values['baseline-s']) * 1000;
const NS = 'bench';
const CLUSTER = 'bench';
const TOPIC = 'load';
const RECORD = Buffer.alloc(1024, 'r');
const { Kafka, logLevel } = kafkajs;

const harness = await OperatorHarness.start([NS]);
try {
  await harness.startOperator(['resyncSeconds=10']);
  const admin = harness.admin;
  const cluster = () => harness.get('KafkaCluster', NS, CLUSTER);
  const ready = async () => {
    const kc = await cluster();
    const c = kc.status?.conditions?.find((x) => x.type === 'Ready');
    return c?.status === 'True' && kc.status?.observedGeneration === kc.metadata!.generation && !kc.status?.operation;
  };
  const brokerIps = async () => (await admin.list<Obj & { status: { podIP?: string } }>('v1', 'Pod', NS)).flatMap((p) => (p.status.podIP ? [p.status.podIP] : []));

  await admin.create({
    apiVersion: API_VERSION,
    kind: 'KafkaCluster',
    metadata: { name: CLUSTER, namespace: NS },
    spec: { replicas: 3, config: { 'default.replication.factor': '3', 'min.insync.replicas': '2' } },
  } as KubernetesObject);
  await harness.waitFor('cluster ready', ready, 300_000);
  const kafka = new Kafka({ clientId: 'bench-operator', brokers: (await brokerIps()).map((ip) => `${ip}:9092`), logLevel: logLevel.NOTHING });
  const kadmin = kafka.admin();
  await kadmin.connect();
  await kadmin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 6, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }], waitForLeaders: true });
  await kadmin.disconnect();

  const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 5000 } });
  await producer.connect();
  // Data for the moves to carry: PRELOAD_BYTES of 1 KiB records before the load starts.
  const batch = Array.from({ length: 256 }, () => ({ value: RECORD }));
  for (let sent = 0; sent < PRELOAD_BYTES; sent += batch.length * RECORD.length) await producer.send({ topic: TOPIC, acks: -1, messages: batch });
  let acked = Math.ceil(PRELOAD_BYTES / (batch.length * RECORD.length)) * batch.length;

  /** Sends one record every 1/RATE s (acks=all) until stopped; latency of each send, failures counted. */
  const load = () => {
    const latencies: number[] = [];
    let failed = 0;
    let running = true;
    const errors = new Map<string, number>();
    const done = (async () => {
      const inFlight = new Set<Promise<void>>();
      const start = performance.now();
      for (let i = 0; running; i++) {
        const due = start + (i * 1000) / RATE;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const t = performance.now();
        const send = producer
          .send({ topic: TOPIC, acks: -1, messages: [{ value: RECORD }] })
          .then(() => {
            latencies.push(performance.now() - t);
            acked++;
          })
          .catch((err: Error) => {
            failed++;
            errors.set(err.message, (errors.get(err.message) ?? 0) + 1);
          })
          .finally(() => inFlight.delete(send));
        inFlight.add(send);
      }
      await Promise.all(inFlight);
    })();
    return {
      async stop() {
        running = false;
        await done;
        return { latencies, failed, errors };
      },
    };
  };
  const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.99)] ?? NaN;

  const rows: string[][] = [];
  const baseline = load();
  await new Promise((r) => setTimeout(r, BASELINE_MS));
  const base = await baseline.stop();
  rows.push(['no operation (baseline)', (BASELINE_MS / 1000).toFixed(0), '-', String(base.failed), p99(base.latencies).toFixed(1), String(base.latencies.length)]);

  async function measure(name: string, start: () => Promise<void>, finished: () => Promise<boolean>, moved: () => Promise<string>): Promise<void> {
    const during = load();
    const t = performance.now();
    await start();
    await harness.waitFor(`${name} finished`, finished, 1_800_000);
    const seconds = (performance.now() - t) / 1000;
    const result = await during.stop();
    rows.push([name, seconds.toFixed(1), await moved(), String(result.failed), p99(result.latencies).toFixed(1), String(result.latencies.length)]);
    if (result.failed > 0) console.error(`${name}: failed sends by error:`, Object.fromEntries(result.errors));
  }

  const uids = async () => new Set((await admin.list<Obj>('v1', 'Pod', NS)).map((p) => p.metadata!.uid!));
  const before = await uids();
  await measure(
    'full roll of 3 brokers',
    async () => void (await admin.mergePatch(await cluster(), { metadata: { annotations: { 'samsa.dev/restart': String(Date.now()) } } })),
    async () => (await ready()) && [...(await uids())].every((u) => !before.has(u)),
    async () => '-',
  );
  await measure(
    'scale 3→4 with rebalance',
    async () => void (await admin.mergePatch(await cluster(), { spec: { replicas: 4 } })),
    async () => (await ready()) && (await brokerIps()).length === 4,
    async () => `${((await movedOnto(3)) / 2 ** 20).toFixed(1)} MiB`,
  );
  const onFour = await movedOnto(3);
  await measure(
    'scale 4→3',
    async () => void (await admin.mergePatch(await cluster(), { spec: { replicas: 3 } })),
    async () => (await ready()) && (await brokerIps()).length === 3,
    async () => `${(onFour / 2 ** 20).toFixed(1)} MiB`,
  );
  await producer.disconnect();

  /** Bytes broker `id` holds (DescribeLogDirs of that broker). */
  async function movedOnto(id: number): Promise<number> {
    const pod = await admin.get<Obj & { status: { podIP: string } }>('v1', 'Pod', NS, `${CLUSTER}-${id}`);
    const conn = await KafkaConnection.open(pod.status.podIP, 9092, 'bench-operator');
    try {
      const res = await conn.send(describeLogDirsApi, 4, { topics: null });
      return res.results.reduce((n, dir) => n + dir.topics.reduce((m, t) => m + t.partitions.reduce((k, p) => k + Number(p.partitionSize), 0), 0), 0);
    } finally {
      await conn.close();
    }
  }

  // Every acknowledged record is there: in the log (the partitions' high watermarks; nothing was
  // deleted, so each starts at 0) and to a consumer.
  const verifier = kafka.admin();
  await verifier.connect();
  const inLog = (await verifier.fetchTopicOffsets(TOPIC)).reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  await verifier.disconnect();
  const consumer = kafka.consumer({ groupId: 'bench-verify' });
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  let read = 0;
  await consumer.run({ eachBatch: async ({ batch: b }) => void (read += b.messages.length) });
  const deadline = Date.now() + 600_000;
  while (read < inLog && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
  await consumer.disconnect();

  const header = ['operation under load', 'seconds', 'bytes moved', 'failed sends', 'p99 produce ms', 'acked sends'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |';
  console.log(`\nSamsa operator day-2 operations, acks=all load of ${RATE} records/s (1 KiB), ${Math.round(PRELOAD_BYTES / 2 ** 20)} MiB preloaded, RF 3, min.insync.replicas 2`);
  console.log(line(header));
  console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const r of rows) console.log(line(r));
  console.log(`\nacknowledged records: ${acked}; in the log: ${inLog}; read back by a consumer: ${read}${inLog >= acked && read >= acked ? ' (none lost)' : ' — MISSING RECORDS'}`);
  if (inLog < acked || read < acked) process.exitCode = 1;
} finally {
  await harness.stop();
}
