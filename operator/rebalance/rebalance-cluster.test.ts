// The planner and the executor on a real cluster (broker processes sharing a real etcd) while a
// kafkajs producer sends with acks=all the whole time: a fourth broker joins and the cluster is
// rebalanced onto it; that broker is drained again; a topic's replication factor goes 1 → 3 and
// another's 3 → 2; an executor dropped mid-plan is replaced by a new one that finishes the plan
// without sending again what was in flight. At the end no send failed and every acknowledged
// record reads back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import { SamsaCluster } from '../../broker/test/samsa-cluster.js';
import { eventuallyPasses } from '../../broker/test/eventually.js';
import { consumeValues } from '../../broker/test/kafkajs-consume.js';
import { describeConfigsApi, listPartitionReassignmentsApi } from '../../broker/protocol/messages/index.js';
import { plannerInput, readClusterState, withConnection, type Address, type ClusterState } from './cluster-state.js';
import { ReassignmentExecutor, type ExecutorOptions, type StepResult } from './executor.js';
import { imbalance, plan, type Move, type PlannerInput } from './planner.js';

const { Kafka, logLevel } = kafkajs;
const BROKER_RESOURCE = 4;
const TOPIC_RESOURCE = 2;
const THROTTLE_SETTINGS = ['leader.replication.throttled.rate', 'follower.replication.throttled.rate'];

let cluster: SamsaCluster;
let kafka: kafkajs.Kafka;
const bootstrap = (): Address[] => cluster.brokers.map((b) => ({ host: '127.0.0.1', port: b.port }));

// The producer that runs through every test.
const acknowledged = new Map<string, string[]>();
let failures: string[] = [];
let producing = true;
let writer: Promise<void> | undefined;
let producer: kafkajs.Producer | undefined;
const LIVE_TOPICS = ['rf2', 'rf3'];

beforeAll(async () => {
  cluster = await SamsaCluster.start({
    brokers: 3,
    config: { 'broker.session.timeout.ms': '3000', 'replica.lag.time.max.ms': '5000', 'replica.fetch.backoff.ms': '200', 'replica.fetch.max.bytes': '262144', 'auto.leader.rebalance.enable': 'false' },
  });
  kafka = new Kafka({ clientId: 'rebalance-test', brokers: cluster.bootstrap.split(','), logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 } });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic: 'rf2', numPartitions: 6, replicationFactor: 2 },
      { topic: 'rf3', numPartitions: 4, replicationFactor: 3 },
      { topic: 'grow', numPartitions: 2, replicationFactor: 1 },
    ],
  });
  await admin.disconnect();
  // Data to move: about 1 MB per partition.
  const filler = kafka.producer({ allowAutoTopicCreation: false });
  await filler.connect();
  const value = Buffer.alloc(1000, 'x');
  for (const [topic, partitions] of [['rf2', 6], ['rf3', 4], ['grow', 2]] as const) {
    for (let batch = 0; batch < 10; batch++) {
      await filler.send({ topic, acks: -1, messages: Array.from({ length: partitions * 100 }, (_, i) => ({ value, partition: i % partitions })) });
    }
  }
  await filler.disconnect();

  producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  for (const t of LIVE_TOPICS) acknowledged.set(t, []);
  writer = (async () => {
    for (let i = 0; producing; i++) {
      const topic = LIVE_TOPICS[i % LIVE_TOPICS.length]!;
      const value = `live-${i}`;
      try {
        await producer!.send({ topic, acks: -1, messages: [{ value }] });
        acknowledged.get(topic)!.push(value);
      } catch (err) {
        failures.push(`${value}: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
}, 180_000);

afterAll(async () => {
  producing = false;
  await writer;
  await producer?.disconnect();
  for (const b of cluster?.brokers ?? []) if (!b.running) console.log(`broker exited during the tests; its last output:\n${b.output.slice(-6000)}`);
  await cluster?.stop();
});

const options: ExecutorOptions = { maxInFlight: 4, throttleBytesPerSecond: 10_000_000 };

function mustPlan(input: PlannerInput): Move[] {
  const result = plan(input);
  if (!result.ok) throw new Error(result.reason);
  return result.moves;
}

/** Runs a plan to the end; the steps' refusals are collected. */
async function execute(moves: Move[], opts = options): Promise<{ steps: StepResult[]; errors: string[] }> {
  const steps: StepResult[] = [];
  await new ReassignmentExecutor(moves, bootstrap(), opts).run(300, (s) => steps.push(s));
  return { steps, errors: steps.flatMap((s) => s.errors) };
}

const ofTopic = (state: ClusterState, topic: string) => state.partitions.filter((p) => p.topic === topic);

/** A topic's or broker's settings (a broker describes only its own, so it is asked itself). */
async function configs(resourceType: number, resourceName: string, keys: string[]): Promise<Record<string, string | null>> {
  const address = resourceType === BROKER_RESOURCE ? bootstrap()[Number(resourceName)]! : bootstrap()[0]!;
  const res = await withConnection(address, (c) => c.send(describeConfigsApi, 4, { resources: [{ resourceType, resourceName, configurationKeys: keys }], includeSynonyms: false, includeDocumentation: false }));
  return Object.fromEntries(res.results[0]!.configs.map((c) => [c.name, c.value]));
}

/** How often each broker logged that it started a reassignment of `topic`-`partition`. */
function reassignmentsStarted(topic: string, partition: number): number {
  let n = 0;
  for (const b of cluster.brokers) {
    for (const line of b.output.split('\n')) {
      if (!line.includes('reassignment started')) continue;
      try {
        const entry = JSON.parse(line) as { topic?: string; partition?: number };
        if (entry.topic === topic && entry.partition === partition) n++;
      } catch {
        // Not a log line of its own (output split mid-line).
      }
    }
  }
  return n;
}

describe('rebalancing a live cluster', () => {
  it('balances replicas and leaders onto a fourth broker that joins', async () => {
    const throttleBefore = await configs(BROKER_RESOURCE, '0', THROTTLE_SETTINGS);
    expect(throttleBefore).toEqual({ 'leader.replication.throttled.rate': '9223372036854775807', 'follower.replication.throttled.rate': '9223372036854775807' });
    await cluster.addBroker();
    await eventuallyPasses('broker 3 to be registered', async () => expect((await readClusterState(bootstrap())).brokers.map((b) => b.id)).toEqual([0, 1, 2, 3]));
    const before = await readClusterState(bootstrap());
    expect(imbalance(plannerInput(before)).replicas).toBeGreaterThan(1);

    const moves = mustPlan(plannerInput(before));
    expect(moves.length).toBeGreaterThan(0);
    const { steps, errors } = await execute(moves);
    expect(errors).toEqual([]);
    // Batches of at most maxInFlight.
    for (const s of steps) expect(s.progress.partitionsInFlight).toBeLessThanOrEqual(options.maxInFlight);
    const last = steps.at(-1)!.progress;
    expect(last).toMatchObject({ partitionsDone: moves.length, partitionsLeft: 0, bytesLeft: 0, finished: true });
    expect(last.bytesMoved).toBe(moves.reduce((s, m) => s + m.bytes, 0));
    expect(last.bytesMoved).toBeGreaterThan(1_000_000);

    const after = await readClusterState(bootstrap());
    const figures = imbalance(plannerInput(after));
    console.log(`scale 3 → 4: ${moves.length} partitions moved, ${last.bytesMoved} bytes, in ${steps.length} steps; imbalance before ${JSON.stringify(imbalance(plannerInput(before)).brokers)} after ${JSON.stringify(figures.brokers)}`);
    expect(figures.replicas).toBeLessThanOrEqual(1);
    expect(figures.leaders).toBeLessThanOrEqual(1);
    expect(figures.brokers.find((b) => b.id === 3)!.replicas).toBeGreaterThan(0);
    // Every partition is led by its preferred leader, so the leader counts are the real ones.
    for (const p of after.partitions) expect(p.leader).toBe(p.replicas[0]);
    // The throttle is gone from brokers and topics; a new plan for the same cluster is empty.
    expect(await configs(BROKER_RESOURCE, '0', THROTTLE_SETTINGS)).toEqual(throttleBefore);
    expect(await configs(TOPIC_RESOURCE, 'rf2', ['leader.replication.throttled.replicas', 'follower.replication.throttled.replicas'])).toEqual({ 'leader.replication.throttled.replicas': '', 'follower.replication.throttled.replicas': '' });
    expect(mustPlan(plannerInput(after))).toEqual([]);
  }, 300_000);

  it('drains broker 3: it holds nothing afterwards', async () => {
    const moves = mustPlan(plannerInput(await readClusterState(bootstrap()), { remove: [3] }));
    expect(moves.length).toBeGreaterThan(0);
    const { errors } = await execute(moves);
    expect(errors).toEqual([]);
    const after = await readClusterState(bootstrap());
    for (const p of after.partitions) expect(p.replicas).not.toContain(3);
    expect(imbalance(plannerInput(after, { remove: [3] })).replicas).toBeLessThanOrEqual(1);
    // Its logs are deleted too.
    await eventuallyPasses('broker 3 to hold no replica', async () => expect([...(await readClusterState(bootstrap())).partitions].filter((p) => p.sizes.has(3))).toEqual([]));
  }, 300_000);

  it('refuses to drain a broker when a topic would have fewer brokers than its replication factor', async () => {
    const refused = plan(plannerInput(await readClusterState(bootstrap()), { remove: [1, 3] }));
    expect(refused).toEqual({ ok: false, reason: 'topic rf3 has replication factor 3 but only 2 broker(s) would remain once broker(s) 1, 3 are removed' });
  });

  it('changes replication factors: grow 1 → 3 and rf3 3 → 2', async () => {
    const moves = mustPlan(plannerInput(await readClusterState(bootstrap()), { remove: [3], replicationFactors: new Map([['grow', 3], ['rf3', 2]]) }));
    const { errors } = await execute(moves);
    expect(errors).toEqual([]);
    const after = await readClusterState(bootstrap());
    for (const p of ofTopic(after, 'grow')) {
      expect([...p.replicas].sort()).toEqual([0, 1, 2]);
      expect([...p.isr].sort()).toEqual([0, 1, 2]);
      // The new replicas hold the data: about 1 MB each.
      for (const id of [0, 1, 2]) expect(p.sizes.get(id)).toBeGreaterThan(1_000_000);
    }
    for (const p of ofTopic(after, 'rf3')) expect(p.replicas).toHaveLength(2);
    for (const p of ofTopic(after, 'rf2')) expect(p.replicas).toHaveLength(2);
  }, 300_000);

  it('an executor dropped mid-plan is replaced by a new one that finishes without sending again what is in flight', async () => {
    // Move four rf2 partitions onto broker 3, slowly (a low throttle), two at a time.
    const state = await readClusterState(bootstrap());
    const moves = ofTopic(state, 'rf2')
      .slice(0, 4)
      .map((p): Move => {
        const to = [3, ...p.replicas.slice(1)];
        return { topic: p.topic, partition: p.partition, from: p.replicas, to, bytes: Math.max(...p.sizes.values()) };
      });
    const slow: ExecutorOptions = { maxInFlight: 2, throttleBytesPerSecond: 200_000 };
    const first = new ReassignmentExecutor(moves, bootstrap(), slow);
    const started = await first.step();
    expect(started.errors).toEqual([]);
    const sent = started.actions.flatMap((a) => (a.kind === 'reassign' ? a.partitions.map((p) => p.partition) : []));
    expect(sent).toEqual([moves[0]!.partition, moves[1]!.partition]);
    // Both are in flight and throttled.
    const ongoing = await withConnection(bootstrap()[0]!, (c) => c.send(listPartitionReassignmentsApi, 0, { timeoutMs: 5000, topics: null }));
    expect(ongoing.topics.flatMap((t) => t.partitions.map((p) => p.partitionIndex)).sort()).toEqual([...sent].sort());
    expect((await configs(TOPIC_RESOURCE, 'rf2', ['follower.replication.throttled.replicas']))['follower.replication.throttled.replicas']).toBe(sent.map((p) => `${p}:3`).join(','));
    const startsBefore = sent.map((p) => reassignmentsStarted('rf2', p));
    expect(startsBefore.every((n) => n >= 1)).toBe(true);

    // The first executor is gone (the operator was killed); a new one gets the same plan.
    const second = new ReassignmentExecutor(moves, bootstrap(), slow);
    const resumed = await second.step();
    expect(resumed.errors).toEqual([]);
    expect(resumed.actions.flatMap((a) => (a.kind === 'reassign' ? a.partitions.map((p) => p.partition) : []))).not.toContain(sent[0]);
    expect(resumed.actions.flatMap((a) => (a.kind === 'reassign' ? a.partitions.map((p) => p.partition) : []))).not.toContain(sent[1]);
    let progress = resumed.progress;
    const rates: number[] = [];
    while (!progress.finished) {
      await new Promise((r) => setTimeout(r, 300));
      const s = await second.step();
      expect(s.errors).toEqual([]);
      progress = s.progress;
      if (progress.bytesPerSecond !== null) rates.push(progress.bytesPerSecond);
    }
    expect(sent.map((p) => reassignmentsStarted('rf2', p))).toEqual(startsBefore);
    const after = await readClusterState(bootstrap());
    for (const m of moves) expect(ofTopic(after, 'rf2').find((p) => p.partition === m.partition)!.replicas).toEqual(m.to);
    console.log(`resumed plan: ${moves.length} partitions, ${progress.bytesMoved} bytes; measured rates ${rates.map((r) => Math.round(r)).join(', ')} B/s`);
    expect(rates.length).toBeGreaterThan(0);
  }, 300_000);

  it('cancelling a plan mid-way puts the moving partitions back and removes the throttle', async () => {
    const state = await readClusterState(bootstrap());
    // rf3 partitions onto broker 3, slowly.
    const moves = ofTopic(state, 'rf3').map((p): Move => ({ topic: p.topic, partition: p.partition, from: p.replicas, to: [p.replicas[0]!, 3], bytes: Math.max(...p.sizes.values()) }));
    const executor = new ReassignmentExecutor(moves, bootstrap(), { maxInFlight: 2, throttleBytesPerSecond: 100_000 });
    const started = await executor.step();
    expect(started.errors).toEqual([]);
    expect(started.progress).toMatchObject({ partitionsInFlight: 2, partitionsLeft: moves.length - 2 });
    expect(await executor.cancel()).toEqual([]);
    const ongoing = await withConnection(bootstrap()[0]!, (c) => c.send(listPartitionReassignmentsApi, 0, { timeoutMs: 5000, topics: null }));
    expect(ongoing.topics).toEqual([]);
    const after = await readClusterState(bootstrap());
    for (const m of moves) expect(ofTopic(after, 'rf3').find((p) => p.partition === m.partition)!.replicas).toEqual(m.from);
    expect(await configs(TOPIC_RESOURCE, 'rf3', ['leader.replication.throttled.replicas', 'follower.replication.throttled.replicas'])).toEqual({ 'leader.replication.throttled.replicas': '', 'follower.replication.throttled.replicas': '' });
    expect(await configs(BROKER_RESOURCE, '3', ['follower.replication.throttled.rate'])).toEqual({ 'follower.replication.throttled.rate': '9223372036854775807' });
    // Nothing is left to cancel.
    expect(await executor.cancel()).toEqual([]);
  }, 120_000);

  it('lost no acknowledged record and failed no send', async () => {
    producing = false;
    await writer;
    expect(failures).toEqual([]);
    for (const topic of LIVE_TOPICS) {
      const sent = acknowledged.get(topic)!;
      expect(sent.length).toBeGreaterThan(100);
      const read = new Set(await consumeValues(kafka, topic, sent.length + (topic === 'rf2' ? 6000 : 4000), 120_000));
      expect(sent.filter((v) => !read.has(v))).toEqual([]);
    }
    console.log(`acks=all throughout: ${[...acknowledged].map(([t, v]) => `${t} ${v.length}`).join(', ')} records acknowledged, ${failures.length} sends failed`);
  }, 180_000);
});
