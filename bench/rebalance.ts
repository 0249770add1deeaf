// What a consumer-group rebalance costs, Samsa beside Apache Kafka 4.0 on this machine in the
// same run, for both group protocols: the classic one (JoinGroup/SyncGroup, the client's
// assignor) and the consumer protocol of KIP-848 (ConsumerGroupHeartbeat, the broker assigns).
// One client for both, @platformatic/kafka (groupProtocol 'classic' or 'consumer'). A producer
// sends steadily to a 6-partition topic while two members consume; a third joins (2→3), then
// leaves (3→2). Measured: the time from the member starting (or closing) until every member holds
// its share (2 or 3 partitions, together all 6, as the clients see their assignments), and the
// records the group consumed in between. Each round starts a fresh Samsa broker and a fresh
// single-node KRaft Kafka, one after the other. Prints a table (medians, min–max, Samsa/Kafka)
// and writes bench/results/rebalance-<time>.json and .svg.
//   npm run bench:rebalance -- [--rounds 5] [--heartbeat 500] [--rate 1000]
import { parseArgs } from 'node:util';
import { Admin, Consumer, Producer } from '@platformatic/kafka';
import { BrokerProcess } from '../broker/test/broker-process.ts';
import { KafkaProcess, ensureKafka } from '../broker/test/kafka-process.ts';
import { Comparison, type System } from './comparison.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    // Both brokers' group.consumer.heartbeat.interval.ms and the classic members' heartbeat interval.
    heartbeat: { type: 'string', default: '500' },
    // Records per second the producer sends, round-robin over the partitions.
    rate: { type: 'string', default: '1000' },
  },
});
const ROUNDS = Number(values.rounds);
const HEARTBEAT_MS = Number(values.heartbeat);
const RATE = Number(values.rate);
const PARTITIONS = 6;
/** A group that is not balanced by then fails the run. */
const LIMIT_MS = 60_000;

type Protocol = 'classic' | 'consumer';
const comparison = new Comparison();

interface Running {
  bootstrap: string;
  stop(): Promise<void>;
}

async function start(system: System): Promise<Running> {
  // Both refuse a heartbeat interval below group.consumer.min.heartbeat.interval.ms (5000 by default).
  const group = { 'group.initial.rebalance.delay.ms': '0', 'group.consumer.heartbeat.interval.ms': String(HEARTBEAT_MS), 'group.consumer.min.heartbeat.interval.ms': String(HEARTBEAT_MS) };
  if (system === 'samsa') {
    const b = await BrokerProcess.start(group);
    return { bootstrap: b.bootstrap, stop: () => b.destroy() };
  }
  const k = await KafkaProcess.start(group);
  return { bootstrap: k.bootstrap, stop: () => k.destroy() };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The first error a member's stream or the producer met: it fails the wait under way. */
let clientError: unknown;

async function waitFor(what: string, check: () => boolean): Promise<void> {
  const deadline = performance.now() + LIMIT_MS;
  while (!check()) {
    if (clientError) throw new Error(`while waiting for ${what}`, { cause: clientError });
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/** Sends RATE records per second in batches every 10 ms until stopped. */
function steadyLoad(bootstrap: string, topic: string): { stop(): Promise<void> } {
  const producer = new Producer({ clientId: 'rebalance-load', bootstrapBrokers: [bootstrap] });
  const perBatch = Math.max(1, Math.round(RATE / 100));
  const value = Buffer.alloc(100, 'v');
  let running = true;
  let sent = 0;
  const loop = (async () => {
    while (running) {
      const next = performance.now() + 10;
      await producer.send({ messages: Array.from({ length: perBatch }, () => ({ topic, value, partition: sent++ % PARTITIONS })), acks: 1 });
      await sleep(Math.max(0, next - performance.now()));
    }
  })().catch((err: unknown) => void (clientError ??= err));
  return {
    async stop() {
      running = false;
      await loop;
      await producer.close();
    },
  };
}

/**
 * Closes a member, which leaves the group. The client's last commit on close can be refused with
 * STALE_MEMBER_EPOCH while a heartbeat with its new epoch is under way (seen on Kafka), which
 * fails the close before it leaves: a second close leaves.
 */
async function close(consumer: Consumer): Promise<void> {
  await consumer.close(true).catch(() => consumer.close(true));
}

/** True when every member holds `share` partitions of the topic and together they hold each once. */
function balanced(members: Consumer[], topic: string, share: number, partitions = PARTITIONS): boolean {
  const held = members.map((m) => m.assignments?.find((a) => a.topic === topic)?.partitions ?? []);
  return held.every((p) => p.length === share) && new Set(held.flat()).size === partitions;
}

/** Creates the topic and waits until the broker's metadata gives each partition a leader. */
async function createTopic(bootstrap: string, topic: string, partitions: number): Promise<void> {
  const admin = new Admin({ clientId: 'rebalance-admin', bootstrapBrokers: [bootstrap] });
  try {
    await admin.createTopics({ topics: [topic], partitions, replicas: 1 });
    const deadline = performance.now() + LIMIT_MS;
    for (;;) {
      const metadata = await admin.metadata({ topics: [topic], forceUpdate: true });
      if (metadata.topics.get(topic)?.partitions.every((p) => p.leader >= 0)) return;
      if (performance.now() > deadline) throw new Error(`topic ${topic} has no leaders`);
      await sleep(50);
    }
  } finally {
    await admin.close();
  }
}

/**
 * Joins a throwaway group, so that the group coordinator is ready before anything is timed: a
 * fresh Kafka answers NOT_COORDINATOR for seconds while it creates __consumer_offsets.
 */
async function warmUp(bootstrap: string): Promise<void> {
  await createTopic(bootstrap, 'warm-up', 1);
  const consumer = new Consumer({ clientId: 'warm-up', groupId: 'warm-up', bootstrapBrokers: [bootstrap], retries: 60, retryDelay: 500 });
  await consumer.consume({ topics: ['warm-up'] });
  await waitFor('the warm-up member holding its partition', () => balanced([consumer], 'warm-up', 1, 1));
  await consumer.close(true);
}

async function scenario(system: System, bootstrap: string, protocol: Protocol, round: number): Promise<void> {
  const topic = `rebalance-${protocol}-${round}`;
  const group = `rebalance-${protocol}-${round}`;
  await createTopic(bootstrap, topic, PARTITIONS);
  const load = steadyLoad(bootstrap, topic);
  let consumed = 0;
  const members: Consumer[] = [];
  const join = async (name: string): Promise<Consumer> => {
    const groupOptions =
      protocol === 'consumer'
        ? { groupProtocol: 'consumer' as const }
        : { groupProtocol: 'classic' as const, heartbeatInterval: HEARTBEAT_MS, sessionTimeout: 10_000, rebalanceTimeout: 10_000 };
    const consumer = new Consumer({ clientId: name, groupId: group, bootstrapBrokers: [bootstrap], ...groupOptions });
    const stream = await consumer.consume({ topics: [topic], mode: 'committed', fallbackMode: 'latest', maxWaitTime: 100 });
    stream.on('data', () => void consumed++);
    stream.on('error', (err) => void (clientError ??= err));
    members.push(consumer);
    return consumer;
  };
  try {
    await join('a');
    await join('b');
    await waitFor('two members holding 3 partitions each', () => balanced(members, topic, 3));
    await waitFor('records consumed', () => consumed > 0);

    // A change comes at a random point of the members' heartbeat cycle (they heartbeat in step
    // once a rebalance ends, and members learn of a change at their next heartbeat).
    await sleep(Math.random() * HEARTBEAT_MS);
    let t0 = performance.now();
    let before = consumed;
    const c = await join('c');
    await waitFor('three members holding 2 partitions each', () => balanced(members, topic, 2));
    record(protocol, 'a member joins (2→3)', system, performance.now() - t0, consumed - before);

    await sleep(Math.random() * HEARTBEAT_MS);
    t0 = performance.now();
    before = consumed;
    members.splice(members.indexOf(c), 1);
    await close(c);
    await waitFor('two members holding 3 partitions each again', () => balanced(members, topic, 3));
    record(protocol, 'a member leaves (3→2)', system, performance.now() - t0, consumed - before);
  } finally {
    await load.stop();
    for (const m of members) await close(m);
  }
}

function record(protocol: Protocol, change: string, system: System, ms: number, records: number): void {
  const scenario = `${protocol} protocol, ${change}`;
  comparison.record({ scenario: `${scenario}: until balanced`, unit: 'ms', higherIsBetter: false }, system, ms);
  comparison.record({ scenario: `${scenario}: records consumed meanwhile`, unit: 'records', higherIsBetter: true }, system, records);
}

async function main(): Promise<void> {
  ensureKafka();
  for (let r = 0; r < ROUNDS; r++) {
    for (const system of r % 2 === 0 ? (['samsa', 'kafka'] as const) : (['kafka', 'samsa'] as const)) {
      process.stderr.write(`round ${r + 1}/${ROUNDS}: ${system}\n`);
      const broker = await start(system);
      try {
        await warmUp(broker.bootstrap);
        for (const protocol of ['classic', 'consumer'] as const) await scenario(system, broker.bootstrap, protocol, r);
      } finally {
        await broker.stop();
      }
    }
  }
  comparison.report(
    'rebalance',
    `Rebalance of a @platformatic/kafka group on ${PARTITIONS} partitions under ${RATE} records/s, Samsa vs Apache Kafka 4.0.0 (KRaft, single node), ${ROUNDS} rounds, heartbeat ${HEARTBEAT_MS} ms, node ${process.version}`,
    { rounds: ROUNDS, heartbeatMs: HEARTBEAT_MS, rate: RATE, partitions: PARTITIONS, node: process.version, kafka: '4.0.0' },
  );
}

await main();
