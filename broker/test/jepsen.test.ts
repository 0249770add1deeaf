// A Jepsen-style fault test of the cluster: three real brokers on a real etcd, a topic with RF=3
// and min.insync.replicas=2, idempotent kafkajs producers and the Java client's with acks=all
// writing uniquely numbered records without pause, while the test SIGKILLs partition leaders,
// pauses brokers with SIGSTOP (shorter and longer than broker.session.timeout.ms) and restarts
// brokers with SIGTERM (controlled shutdown), cycle after cycle; on a second cluster whose every connection passes
// through proxies the test controls, it cuts leaders off from everyone, or from etcd only, while
// they keep running. Once the faults stop and every ISR is whole, every partition is read from its
// leader, then again from other leaders after further leader changes, and once more by a kafkajs
// consumer. Every acknowledged record must be there, at the offset it was acknowledged with,
// exactly once; no offset may hold different records on different reads.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import kafkajs from 'kafkajs';
import { KafkaConnection } from '../protocol/client.js';
import { createTopicsApi, fetchApi, metadataApi } from '../protocol/messages/index.js';
import { ErrorCode } from '../protocol/errors.js';
import { decodeRecords, readBatchInfo, LOG_OVERHEAD } from '../records/record-batch.js';
import { SamsaCluster } from './samsa-cluster.js';
import { consumerFetch } from './fetch-request.js';
import { BrokerProcess } from './broker-process.js';
import { EtcdProcess } from './etcd-process.js';
import { TcpProxy } from './tcp-proxy.js';
import { eventuallyPasses } from './eventually.js';

const { Kafka, logLevel } = kafkajs;

const TOPIC = 'jepsen';
const PARTITIONS = 6;
const BROKERS = [0, 1, 2];
/** kafkajs producers; the Java producer writes beside them. */
const PRODUCERS = 3;
/** Records per send (one batch to one partition). */
const RECORDS_PER_SEND = 4;
/** How long faults are injected by signal; the reads and checks after it take about half a minute more. */
const FAULT_PHASE_MS = 120_000;
/** How long leaders are cut off in turn through the proxies. */
const PARTITION_PHASE_MS = 60_000;
const SESSION_TIMEOUT_MS = 3000;

const ROOT = resolve(import.meta.dirname, '../..');
const JAVA_LIB = join(ROOT, '.cache/java/lib');

/** What the test needs of a cluster: SamsaCluster, or the ProxiedCluster below. */
interface TestCluster {
  readonly bootstrap: string;
  broker(nodeId: number): BrokerProcess;
  kill(nodeId: number, signal?: 'SIGKILL' | 'SIGSTOP' | 'SIGCONT'): Promise<void>;
  restart(nodeId: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Three brokers whose every connection goes through a TcpProxy the test controls: each broker's
 * Kafka listener is advertised at its proxy (clients and the other brokers' fetchers come in
 * through it) and each broker reaches etcd through its own. Isolating a broker cuts both: no
 * one reaches it and it reaches no metadata, while it keeps running (unlike SIGSTOP) and
 * believes what it last knew. Its own fetches to the other brokers still go out (an asymmetric
 * partition). The checker's requests go to the brokers' own ports, outside the partition.
 */
class ProxiedCluster implements TestCluster {
  private constructor(
    readonly brokers: BrokerProcess[],
    private readonly kafkaProxies: TcpProxy[],
    private readonly etcdProxies: TcpProxy[],
    private readonly etcd: EtcdProcess,
  ) {}

  static async start(config: Record<string, string>): Promise<ProxiedCluster> {
    const etcd = await EtcdProcess.start();
    const prefix = `samsa/${randomBytes(6).toString('hex')}`;
    const cluster = new ProxiedCluster([], [], [], etcd);
    for (const id of BROKERS) {
      const etcdProxy = await TcpProxy.start(etcd.clientPort);
      const broker = await BrokerProcess.create(config);
      const kafkaProxy = await TcpProxy.start(broker.port);
      broker.extraArgs.push('--node-id', String(id), '--metadata', `etcd://127.0.0.1:${etcdProxy.port}/${prefix}`, '--advertised-port', String(kafkaProxy.port));
      cluster.brokers.push(broker);
      cluster.kafkaProxies.push(kafkaProxy);
      cluster.etcdProxies.push(etcdProxy);
    }
    for (const broker of cluster.brokers) await broker.launch({ wait: false });
    await Promise.all(cluster.brokers.map((b) => b.waitReady(60_000)));
    return cluster;
  }

  get bootstrap(): string {
    return this.kafkaProxies.map((p) => p.endpoint).join(',');
  }

  broker(nodeId: number): BrokerProcess {
    return this.brokers[nodeId]!;
  }

  async kill(nodeId: number, signal: 'SIGKILL' | 'SIGSTOP' | 'SIGCONT' = 'SIGKILL'): Promise<void> {
    if (signal === 'SIGKILL') await this.broker(nodeId).kill();
    else this.broker(nodeId).signal(signal);
  }

  async restart(nodeId: number): Promise<void> {
    const broker = this.broker(nodeId);
    if (broker.running) await broker.stop();
    await broker.launch({ readyTimeoutMs: 60_000 });
  }

  /** Cuts the broker off from etcd and, unless `etcdOnly`, from everyone who connects to it. */
  isolate(nodeId: number, etcdOnly: boolean): void {
    this.etcdProxies[nodeId]!.cut();
    if (!etcdOnly) this.kafkaProxies[nodeId]!.cut();
  }

  /** Ends the partition. Connections that lived through it lost bytes in the proxy: they are broken, as TCP would time them out. */
  heal(nodeId: number): void {
    for (const proxy of [this.etcdProxies[nodeId]!, this.kafkaProxies[nodeId]!]) {
      proxy.reset();
      proxy.heal();
    }
  }

  async stop(): Promise<void> {
    // SIGTERM, and SIGKILL for a broker whose shutdown hangs.
    await Promise.all(
      this.brokers.map(async (b) => {
        const timer = setTimeout(() => b.signal('SIGKILL'), 30_000);
        await b.stop();
        clearTimeout(timer);
      }),
    );
    for (const b of this.brokers) rmSync(b.dataDir, { recursive: true, force: true });
    for (const proxy of [...this.kafkaProxies, ...this.etcdProxies]) await proxy.stop();
    await this.etcd.stop();
  }
}

let cluster: TestCluster;
/** Where JepsenProducer.java is compiled to. */
let javaClasses: string;
/** Brokers stopped with SIGSTOP right now: nothing is asked of them. */
const paused = new Set<number>();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects when `promise` does not settle in time (a request to a broker that froze must not hang the test). */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

const until = eventuallyPasses;

async function withConnection<T>(nodeId: number, use: (c: KafkaConnection) => Promise<T>): Promise<T> {
  const c = await KafkaConnection.open('127.0.0.1', cluster.broker(nodeId).port, 'jepsen-checker');
  try {
    return await within(10_000, `a request to broker ${nodeId}`, use(c));
  } finally {
    await c.close();
  }
}

interface PartitionInfo {
  partition: number;
  leader: number;
  leaderEpoch: number;
  isr: number[];
}

/** The topic's partitions as broker `nodeId` sees them. */
async function partitions(nodeId: number, name = TOPIC): Promise<PartitionInfo[]> {
  const md = await withConnection(nodeId, (c) =>
    c.send(metadataApi, 12, { topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false, includeClusterAuthorizedOperations: false }),
  );
  const topic = md.topics[0]!;
  if (topic.errorCode !== ErrorCode.NONE) throw new Error(`metadata of ${name} from broker ${nodeId}: error ${topic.errorCode}`);
  return topic.partitions.map((p) => ({ partition: p.partitionIndex, leader: p.leaderId, leaderEpoch: p.leaderEpoch, isr: [...p.isrNodes].sort() })).sort((a, b) => a.partition - b.partition);
}

/** Brokers that run and are not paused. */
const responsive = () => BROKERS.filter((id) => cluster.broker(id).running && !paused.has(id));

/** The partitions as the first responsive broker sees them. */
async function currentPartitions(): Promise<PartitionInfo[]> {
  let lastError: unknown;
  for (const id of responsive()) {
    try {
      return await partitions(id);
    } catch (err) {
      lastError = err;
    }
  }
  throw new Error(`no broker answered metadata: ${String(lastError)}`);
}

/** Every partition led, with at least min.insync.replicas in sync: producers can make progress. */
const writable = () =>
  until(
    'every partition to have a leader and two in-sync replicas',
    async () => {
      for (const p of await currentPartitions()) {
        expect(p.leader, `leader of ${TOPIC}-${p.partition}`).toBeGreaterThanOrEqual(0);
        expect(p.isr.length, `ISR of ${TOPIC}-${p.partition}: ${p.isr.join(',')}`).toBeGreaterThanOrEqual(2);
      }
    },
    90_000,
  );

/** Every broker sees every partition of the topic led and with all three replicas in sync. */
const whole = (name = TOPIC) =>
  until(
    `every ISR of ${name} to be whole on every broker`,
    async () => {
      for (const id of BROKERS) {
        for (const p of await partitions(id, name)) {
          expect(p.leader, `leader of ${name}-${p.partition} on broker ${id}`).toBeGreaterThanOrEqual(0);
          expect(p.isr, `ISR of ${name}-${p.partition} on broker ${id}`).toEqual(BROKERS);
        }
      }
    },
    90_000,
  );

/** Every record of a partition, offset → value, read from broker `nodeId` (which must lead it) up to its high watermark. */
async function readPartition(nodeId: number, partition: number, name = TOPIC): Promise<Map<number, string>> {
  const records = new Map<number, string>();
  await withConnection(nodeId, async (c) => {
    let offset = 0;
    for (;;) {
      const res = await c.send(fetchApi, 12, consumerFetch(name, { partition, fetchOffset: offset, maxBytes: 4 << 20 }));
      const p = res.responses[0]!.partitions[0]!;
      if (p.errorCode !== ErrorCode.NONE) throw new Error(`fetch of ${name}-${partition} at ${offset} from broker ${nodeId}: error ${p.errorCode}`);
      const buf = p.records ?? Buffer.alloc(0);
      let pos = 0;
      while (pos + LOG_OVERHEAD <= buf.length) {
        const info = readBatchInfo(buf, pos);
        if (pos + info.size > buf.length) break;
        for (const r of decodeRecords(buf.subarray(pos, pos + info.size))) {
          if (records.has(r.offset)) throw new Error(`offset ${r.offset} of ${name}-${partition} returned twice by broker ${nodeId}`);
          records.set(r.offset, r.value!.toString());
        }
        offset = info.baseOffset + info.lastOffsetDelta + 1;
        pos += info.size;
      }
      if (offset >= Number(p.highWatermark)) return;
      if (pos === 0) throw new Error(`broker ${nodeId} returned no whole batch of ${name}-${partition} at ${offset} below its high watermark ${p.highWatermark}`);
    }
  });
  return records;
}

/** Where each acknowledged record was acknowledged to be. */
interface Ack {
  partition: number;
  offset: number;
}

/** The producers' ledger: every record sent, acknowledged or given up on. */
class Ledger {
  readonly acked = new Map<string, Ack>();
  /** Records whose send failed for good: written or not, no one knows. */
  readonly indeterminate = new Set<string>();
  readonly attempted = new Set<string>();
  sendFailures = 0;
  producersReplaced = 0;
}

function kafka(clientId: string) {
  return new Kafka({
    clientId,
    brokers: cluster.bootstrap.split(','),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    requestTimeout: 15_000,
    retry: { retries: 12, initialRetryTime: 100, maxRetryTime: 2000 },
  });
}

/** One idempotent acks=all producer writing `name-<n>` records until `stopped()`. */
async function produceUntil(name: string, firstPartition: number, ledger: Ledger, stopped: () => boolean): Promise<void> {
  const client = kafka(name);
  const open = async () => {
    for (;;) {
      const producer = client.producer({ idempotent: true, maxInFlightRequests: 1 });
      try {
        await producer.connect();
        return producer;
      } catch {
        await sleep(500);
      }
    }
  };
  let producer = await open();
  let seq = 0;
  let partition = firstPartition;
  while (!stopped()) {
    const ids = Array.from({ length: RECORDS_PER_SEND }, () => `${name}-${seq++}`);
    for (const id of ids) ledger.attempted.add(id);
    try {
      const [result] = await producer.send({ topic: TOPIC, acks: -1, timeout: 10_000, messages: ids.map((value) => ({ partition, value })) });
      const base = Number(result!.baseOffset);
      ids.forEach((id, i) => ledger.acked.set(id, { partition: result!.partition, offset: base + i }));
      partition = (partition + 1) % PARTITIONS;
    } catch {
      ledger.sendFailures++;
      for (const id of ids) ledger.indeterminate.add(id);
      // After a send that failed for good the producer's sequence state is unknown to it: a new
      // producer (a new producer id) instead of reusing sequence numbers for other records.
      await producer.disconnect().catch(() => {});
      ledger.producersReplaced++;
      producer = await open();
    }
  }
  await producer.disconnect().catch(() => {});
}

/**
 * The Java client's idempotent producer (broker/test/java/JepsenProducer.java, five requests in
 * flight) writing `name-<n>` records until `stop` resolves; its outcomes go into the ledger.
 */
async function produceWithJava(name: string, ledger: Ledger, stop: Promise<void>): Promise<void> {
  const child = spawn('java', ['-cp', `${javaClasses}:${JAVA_LIB}/*`, 'JepsenProducer', cluster.bootstrap, TOPIC, name, String(PARTITIONS)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  let done = false;
  const lines = createInterface({ input: child.stdout! });
  lines.on('line', (line) => {
    const [kind, id, partition, offset] = line.split(' ');
    if (kind === 'ACK') {
      ledger.attempted.add(id!);
      ledger.acked.set(id!, { partition: Number(partition), offset: Number(offset) });
    } else if (kind === 'FAIL') {
      ledger.attempted.add(id!);
      ledger.indeterminate.add(id!);
      ledger.sendFailures++;
    } else if (kind === 'DONE') done = true;
  });
  await stop;
  child.stdin!.end();
  const code = await exited;
  if (code !== 0 || !done) throw new Error(`the Java producer exited with ${code}${done ? '' : ' before reporting every record'}:\n${stderr}`);
}

type Fault = 'kill-leader' | 'pause-leader' | 'pause-short' | 'terminate' | 'isolate-leader' | 'isolate-leader-from-etcd';
const SIGNAL_FAULTS: Fault[] = ['kill-leader', 'pause-leader', 'terminate', 'kill-leader', 'pause-short', 'pause-leader'];
const PARTITION_FAULTS: Fault[] = ['isolate-leader', 'isolate-leader-from-etcd'];

/** One fault cycle: picks a victim, injects the fault, undoes it. Returns a description for the log. */
async function injectFault(fault: Fault): Promise<string> {
  const parts = await currentPartitions();
  // The leader of a random partition, or a random broker (the fault log makes a run traceable).
  const leaderOf = parts[Math.floor(Math.random() * PARTITIONS)]!.leader;
  const victim = fault === 'terminate' || fault === 'pause-short' ? BROKERS[Math.floor(Math.random() * BROKERS.length)]! : leaderOf;
  switch (fault) {
    case 'kill-leader':
      await cluster.kill(victim, 'SIGKILL');
      await sleep(500 + Math.random() * 1500);
      await cluster.restart(victim);
      break;
    case 'pause-leader':
      // Longer than the session: the broker is fenced and its leaderships move while it sleeps.
      paused.add(victim);
      await cluster.kill(victim, 'SIGSTOP');
      await sleep(SESSION_TIMEOUT_MS + 1000 + Math.random() * 2000);
      await cluster.kill(victim, 'SIGCONT');
      paused.delete(victim);
      break;
    case 'pause-short':
      // Shorter than the session: nothing is fenced, requests just wait.
      paused.add(victim);
      await cluster.kill(victim, 'SIGSTOP');
      await sleep(500 + Math.random() * 1500);
      await cluster.kill(victim, 'SIGCONT');
      paused.delete(victim);
      break;
    case 'terminate':
      await cluster.restart(victim);
      break;
    case 'isolate-leader':
    case 'isolate-leader-from-etcd': {
      // Past the session: the leader is fenced and replaced while it still runs and, cut off
      // from etcd only, while clients still reach it and it still thinks it leads.
      const proxied = cluster as ProxiedCluster;
      // The checker asks it nothing meanwhile: what it says is what it last knew.
      paused.add(victim);
      proxied.isolate(victim, fault === 'isolate-leader-from-etcd');
      await sleep(SESSION_TIMEOUT_MS + 1000 + Math.random() * 3000);
      proxied.heal(victim);
      paused.delete(victim);
      break;
    }
  }
  return `${fault} ${victim}`;
}

/** On failure, the brokers' logs go to files named on the console (to tell which fault broke what). */
function keepLogsOnFailure(): void {
  onTestFailed(() => {
    const dir = mkdtempSync(join(tmpdir(), 'samsa-jepsen-'));
    for (const id of BROKERS) writeFileSync(join(dir, `broker-${id}.log`), cluster.broker(id).output);
    console.log(`broker logs in ${dir}`);
  });
}

async function createTopic(name: string, configs: Record<string, string>, assignments: { partitionIndex: number; brokerIds: number[] }[] | number): Promise<void> {
  const created = await withConnection(0, (c) =>
    c.send(createTopicsApi, 7, {
      topics: [
        {
          name,
          numPartitions: typeof assignments === 'number' ? assignments : -1,
          replicationFactor: typeof assignments === 'number' ? 3 : -1,
          assignments: typeof assignments === 'number' ? [] : assignments,
          configs: Object.entries(configs).map(([k, value]) => ({ name: k, value })),
        },
      ],
      timeoutMs: 5000,
      validateOnly: false,
    }),
  );
  expect(created.topics[0]!.errorCode, created.topics[0]!.errorMessage ?? '').toBe(ErrorCode.NONE);
  await whole(name);
}

/**
 * Producers write while `faults` are injected in turn for `faultPhaseMs`; then the topic is
 * read from every leader, from other leaders after further leader changes, and by a kafkajs
 * consumer, and the ledger is checked against what was read. Prints the counts.
 */
async function runJepsen(faults: Fault[], faultPhaseMs: number, minCycles: number): Promise<void> {
  await createTopic(TOPIC, { 'min.insync.replicas': '2' }, PARTITIONS);
  const ledger = new Ledger();
  let stopping = false;
  let stopJava!: () => void;
  const javaStop = new Promise<void>((resolveStop) => (stopJava = resolveStop));
  const producers = [...Array.from({ length: PRODUCERS }, (_, i) => produceUntil(`p${i}`, (i * PARTITIONS) / PRODUCERS, ledger, () => stopping)), produceWithJava('java', ledger, javaStop)];

  const faultLog: string[] = [];
  const started = Date.now();
  let cycle = 0;
  try {
    while (Date.now() - started < faultPhaseMs) {
      await writable();
      await sleep(500 + Math.random() * 1500);
      faultLog.push(await injectFault(faults[cycle % faults.length]!));
      cycle++;
    }
    await writable();
    // Some writes after the last fault, so the final leaders have taken records too.
    await sleep(2000);
  } finally {
    stopping = true;
    stopJava();
    await Promise.all(producers);
  }
  const faultMs = Date.now() - started;
  await whole();

  // Read 1: every partition from its leader.
  const first = new Map<number, Map<number, string>>();
  const firstLeader = new Map<number, number>();
  for (const p of await partitions(0)) {
    first.set(p.partition, await readPartition(p.leader, p.partition));
    firstLeader.set(p.partition, p.leader);
  }

  // Further leader changes: each broker in turn shuts down (its leaderships move to the other
  // replicas) and every partition is read again from whoever leads it now.
  let offsetsCompared = 0;
  let offsetsReused = 0;
  const readBy = new Map<number, Set<number>>(Array.from({ length: PARTITIONS }, (_, p) => [p, new Set([firstLeader.get(p)!])]));
  const compare = (partition: number, again: Map<number, string>) => {
    const before = first.get(partition)!;
    expect(again.size).toBe(before.size);
    for (const [offset, value] of before) {
      offsetsCompared++;
      if (again.get(offset) !== value) offsetsReused++;
    }
  };
  for (const down of BROKERS) {
    await cluster.broker(down).stop();
    const others = BROKERS.filter((id) => id !== down);
    await until(`leaderships to leave broker ${down}`, async () => {
      for (const p of await partitions(others[0]!)) expect(others).toContain(p.leader);
    });
    for (const p of await partitions(others[0]!)) {
      compare(p.partition, await readPartition(p.leader, p.partition));
      readBy.get(p.partition)!.add(p.leader);
    }
    await cluster.restart(down);
    await whole();
  }
  for (const brokers of readBy.values()) expect(brokers.size).toBeGreaterThanOrEqual(2);

  // And once more by a kafkajs consumer from the beginning, as an application reads.
  const total = [...first.values()].reduce((n, m) => n + m.size, 0);
  const consumed = new Map<number, Map<number, string>>(Array.from({ length: PARTITIONS }, (_, p) => [p, new Map()]));
  let consumedCount = 0;
  const consumer = kafka('jepsen-reader').consumer({ groupId: `jepsen-reader-${Date.now()}` });
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      consumed.get(partition)!.set(Number(message.offset), message.value!.toString());
      consumedCount++;
    },
  });
  await until('the kafkajs consumer to read every record', () => expect(consumedCount).toBeGreaterThanOrEqual(total), 120_000);
  await consumer.disconnect();
  for (const [partition, records] of consumed) compare(partition, records);

  // The verdict, from read 1.
  const readAt = new Map<string, Ack[]>();
  for (const [partition, records] of first) {
    for (const [offset, value] of records) readAt.set(value, [...(readAt.get(value) ?? []), { partition, offset }]);
  }
  let lost = 0;
  let movedOffset = 0;
  for (const [id, ack] of ledger.acked) {
    const found = readAt.get(id);
    if (!found) lost++;
    else if (!found.some((f) => f.partition === ack.partition && f.offset === ack.offset)) movedOffset++;
  }
  const duplicates = [...readAt.values()].filter((at) => at.length > 1).length;
  const neverSent = [...readAt.keys()].filter((id) => !ledger.attempted.has(id)).length;
  const indeterminateWritten = [...ledger.indeterminate].filter((id) => readAt.has(id)).length;
  // Offsets missing below the highest one read (the maps hold up to a few hundred thousand keys: no spreading).
  let gaps = 0;
  for (const m of first.values()) {
    let max = -1;
    for (const offset of m.keys()) if (offset > max) max = offset;
    gaps += max + 1 - m.size;
  }
  // What the brokers did meanwhile, from their logs: leaders elected, diverged tails cut.
  const logs = BROKERS.map((id) => cluster.broker(id).output).join('');
  const elections = logs.split('"msg":"elected leader"').length - 1;
  const truncations = logs.split('"msg":"follower truncated its diverged tail"').length - 1;
  const javaAcked = [...ledger.acked.keys()].filter((id) => id.startsWith('java-')).length;
  const faultCounts = Object.fromEntries([...new Set(faults)].map((f) => [f, faultLog.filter((l) => l.startsWith(`${f} `)).length]));

  console.log(
    `jepsen: ${cycle} fault cycles in ${Math.round(faultMs / 1000)} s ${JSON.stringify(faultCounts)}; ` +
      `acknowledged ${ledger.acked.size} (Java ${javaAcked}), read ${total}, acknowledged-but-lost ${lost}, acknowledged-at-another-offset ${movedOffset}, ` +
      `duplicates ${duplicates}, never-sent ${neverSent}, offset gaps ${gaps}; ` +
      `failed sends ${ledger.sendFailures} (${ledger.indeterminate.size} records, ${indeterminateWritten} of them written), producers replaced ${ledger.producersReplaced}; ` +
      `offsets compared across brokers and the kafkajs consumer ${offsetsCompared}, reused ${offsetsReused}; ` +
      `leaders elected ${elections}, diverged tails truncated ${truncations}`,
  );
  console.log(`jepsen faults: ${faultLog.join(', ')}`);

  // The faults did happen and did move leaderships (killing, pausing or cutting off a leader always does).
  expect(cycle).toBeGreaterThanOrEqual(minCycles);
  expect(elections).toBeGreaterThanOrEqual(Math.ceil(cycle / 2));
  expect(ledger.acked.size - javaAcked).toBeGreaterThan(1000);
  expect(javaAcked).toBeGreaterThan(1000);
  expect(lost).toBe(0);
  expect(movedOffset).toBe(0);
  expect(duplicates).toBe(0);
  expect(neverSent).toBe(0);
  expect(gaps).toBe(0);
  expect(offsetsReused).toBe(0);
}

const SETTINGS = {
  'broker.session.timeout.ms': String(SESSION_TIMEOUT_MS),
  'replica.lag.time.max.ms': '3000',
  'replica.fetch.backoff.ms': '200',
};

beforeAll(() => {
  execFileSync('sh', [join(ROOT, 'scripts/maven-deps.sh'), 'scripts/java/pom.xml', '.cache/java/lib'], { stdio: 'inherit' });
  javaClasses = mkdtempSync(join(tmpdir(), 'samsa-jepsen-java-'));
  execFileSync('javac', ['-d', javaClasses, '-cp', `${JAVA_LIB}/*`, join(ROOT, 'broker/test/java/JepsenProducer.java')], { stdio: 'inherit' });
}, 180_000);

afterAll(() => {
  if (javaClasses) rmSync(javaClasses, { recursive: true, force: true });
});

describe('faults by signal', () => {
  beforeAll(async () => {
    cluster = await SamsaCluster.start({ brokers: BROKERS.length, config: SETTINGS });
  }, 180_000);

  afterAll(async () => {
    for (const id of paused) cluster.broker(id).signal('SIGCONT');
    await cluster?.stop();
  });

  describe('a restarted broker', () => {
    it('serves the log it replicates into: leading again, it appends after what it fetched as a follower', async () => {
      keepLogsOnFailure();
      // Broker 0 is the preferred leader. Restarted, it comes back as a follower and replicates;
      // when the leader then shuts down, broker 0 leads again and takes writes after those records.
      await createTopic('rejoin', { 'min.insync.replicas': '2' }, [{ partitionIndex: 0, brokerIds: [0, 1, 2] }]);
      const producer = kafka('rejoin-writer').producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      const written: string[] = [];
      const write = async (phase: string) => {
        for (let i = 0; i < 50; i++) {
          const values = [`${phase}-${i}-a`, `${phase}-${i}-b`];
          await producer.send({ topic: 'rejoin', acks: -1, messages: values.map((value) => ({ partition: 0, value })) });
          written.push(...values);
        }
      };
      await write('before');
      await cluster.restart(0);
      await whole('rejoin');
      await write('following');
      await cluster.broker(1).stop();
      await until('broker 0 to lead again', async () => expect((await partitions(2, 'rejoin'))[0]!.leader).toBe(0));
      await write('leading');
      await producer.disconnect();
      const records = await readPartition(0, 0, 'rejoin');
      expect([...records.keys()]).toEqual(written.map((_, i) => i));
      expect([...records.values()]).toEqual(written);
      await cluster.restart(1);
      await whole('rejoin');
    }, 120_000);
  });

  describe('the cluster under SIGKILL, SIGSTOP and SIGTERM', () => {
    it('loses no acknowledged record, duplicates none and never reuses an offset', async () => {
      keepLogsOnFailure();
      await runJepsen(SIGNAL_FAULTS, FAULT_PHASE_MS, 8);
    }, 600_000);
  });
});

describe('network partitions', () => {
  beforeAll(async () => {
    cluster = await ProxiedCluster.start(SETTINGS);
  }, 180_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('a leader cut off from everyone, or from etcd only, loses no acknowledged record and duplicates none', async () => {
    keepLogsOnFailure();
    await runJepsen(PARTITION_FAULTS, PARTITION_PHASE_MS, 4);
  }, 600_000);
});
