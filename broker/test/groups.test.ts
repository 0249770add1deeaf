// Consumer groups against a real broker process: kafkajs, kcat (librdkafka) and
// @platformatic/kafka members split partitions evenly, rebalance when members join and leave,
// and resume from committed offsets after the broker restarts.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import { Consumer, stringDeserializers } from '@platformatic/kafka';
import { BrokerProcess } from './broker-process.js';
import { kcatProduce } from './kcat.js';

const { Kafka, logLevel } = kafkajs;

let broker: BrokerProcess;

beforeAll(async () => {
  broker = await BrokerProcess.start({ 'group.initial.rebalance.delay.ms': '300', 'num.partitions': '6' });
});

afterAll(async () => {
  await broker?.destroy();
});

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 30_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs}ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function createTopic(name: string, partitions: number): Promise<void> {
  const admin = new Kafka({ clientId: 'groups-admin', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: name, numPartitions: partitions }] });
  await admin.disconnect();
}

async function produceSpread(topic: string, perPartition: number, partitions: number, tag: string): Promise<string[]> {
  const producer = new Kafka({ clientId: 'groups-producer', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  const values: string[] = [];
  for (let p = 0; p < partitions; p++) {
    const messages = Array.from({ length: perPartition }, (_, i) => ({ partition: p, value: `${tag}-p${p}-${i}` }));
    values.push(...messages.map((m) => m.value));
    await producer.send({ topic, messages });
  }
  await producer.disconnect();
  return values;
}

describe('kafkajs consumer group', () => {
  it('splits six partitions evenly over three members, rebalances on join and leave, and resumes after a restart', async () => {
    const topic = 'group-six';
    await createTopic(topic, 6);
    const kafka = new Kafka({ clientId: 'group-member', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100 } });
    const assignments = new Map<string, number[]>();
    const received: string[] = [];
    const members = new Map<string, kafkajs.Consumer>();

    async function join(name: string): Promise<void> {
      const consumer = kafka.consumer({ groupId: 'six-way', sessionTimeout: 10_000, rebalanceTimeout: 10_000, heartbeatInterval: 200, maxWaitTimeInMs: 100 });
      consumer.on(consumer.events.GROUP_JOIN, (e) => assignments.set(name, [...(e.payload.memberAssignment[topic] ?? [])].sort()));
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({ autoCommitThreshold: 1, eachMessage: async ({ message }) => void received.push(message.value!.toString()) });
      members.set(name, consumer);
    }
    async function leave(name: string): Promise<void> {
      await members.get(name)!.disconnect();
      members.delete(name);
      assignments.delete(name);
    }
    const balanced = (sizes: number[]) => () => {
      const current = [...members.keys()].map((n) => assignments.get(n) ?? []);
      const all = current.flat().sort();
      return current.length === sizes.length && current.map((a) => a.length).sort().join() === sizes.join() && all.join() === '0,1,2,3,4,5';
    };

    await join('a');
    await waitFor(balanced([6]), 30_000, 'one member owns all six partitions');
    await join('b');
    await waitFor(balanced([3, 3]), 30_000, 'two members own three each');
    await join('c');
    await waitFor(balanced([2, 2, 2]), 30_000, 'three members own two each');

    const first = await produceSpread(topic, 5, 6, 'before');
    await waitFor(() => received.length >= first.length, 30_000, 'all messages consumed');
    expect([...received].sort()).toEqual([...first].sort());

    await leave('c');
    await waitFor(balanced([3, 3]), 30_000, 'two members again after one left');

    // Offsets are committed; stop everything and restart the broker.
    await leave('a');
    await leave('b');
    const admin = kafka.admin();
    await admin.connect();
    const committed = await admin.fetchOffsets({ groupId: 'six-way', topics: [topic] });
    expect(committed[0]!.partitions.map((p) => p.offset).sort()).toEqual(['5', '5', '5', '5', '5', '5']);
    await admin.disconnect();
    await broker.restart();

    received.length = 0;
    const second = await produceSpread(topic, 2, 6, 'after');
    await join('d');
    await waitFor(() => received.length >= second.length, 30_000, 'new messages consumed after restart');
    await new Promise((r) => setTimeout(r, 500));
    expect([...received].sort()).toEqual([...second].sort());
    await leave('d');
  });
});

describe('kcat balanced consumer (librdkafka)', () => {
  function kcatMember(group: string, topic: string): { child: ChildProcess; out: string[]; assigned: () => number[] } {
    const child = spawn('kcat', ['-b', broker.bootstrap, '-u', '-G', group, '-X', 'auto.offset.reset=earliest', '-X', 'session.timeout.ms=10000', '-f', '%p %s\\n', topic]);
    const out: string[] = [];
    let err = '';
    let partial = '';
    // A line may straddle two chunks of output: keep the unfinished end for the next one.
    child.stdout.on('data', (d: Buffer) => {
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop()!;
      out.push(...lines.filter(Boolean));
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const assigned = () => {
      const lines = err.split('\n').filter((l) => l.includes('rebalanced'));
      const last = lines.at(-1);
      if (!last || !last.includes('assigned:')) return [];
      return [...last.matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1])).sort();
    };
    return { child, out, assigned };
  }

  const stop = (child: ChildProcess) => new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });

  it('splits partitions between two members, and a new member resumes from the group offsets', async () => {
    const topic = 'group-kcat';
    await createTopic(topic, 4);
    const values = Array.from({ length: 40 }, (_, i) => `kv${i}`);
    await kcatProduce(broker.bootstrap, topic, values);
    const a = kcatMember('kcat-group', topic);
    const b = kcatMember('kcat-group', topic);
    await waitFor(() => a.assigned().length === 2 && b.assigned().length === 2, 30_000, 'kcat members split four partitions');
    expect([...a.assigned(), ...b.assigned()].sort()).toEqual([0, 1, 2, 3]);
    const seen = () => new Set([...a.out, ...b.out].map((l) => l.split(' ')[1]));
    await waitFor(() => seen().size >= 40, 30_000, 'kcat members consume everything');
    // At least once: records read before a rebalance moved their partition may be read again
    // by the new owner until an auto-commit catches up.
    expect([...seen()].sort()).toEqual([...values].sort());
    await stop(a.child);
    await waitFor(() => b.assigned().length === 4, 30_000, 'the remaining member takes all partitions');
    await stop(b.child);

    await kcatProduce(broker.bootstrap, topic, ['later-1', 'later-2']);
    const c = kcatMember('kcat-group', topic);
    await waitFor(() => c.out.length >= 2, 30_000, 'the new member reads only what came after the commits');
    await new Promise((r) => setTimeout(r, 300));
    expect(c.out.map((l) => l.split(' ')[1]).sort()).toEqual(['later-1', 'later-2']);
    await stop(c.child);
  });
});

describe('@platformatic/kafka consumer', () => {
  it('shares partitions with another member, takes them all when it leaves, and resumes after a restart', async () => {
    const topic = 'group-platformatic';
    await createTopic(topic, 4);
    const values = await produceSpread(topic, 3, 4, 'pk');
    const make = () =>
      new Consumer({ clientId: 'pk-member', groupId: 'pk-group', bootstrapBrokers: [broker.bootstrap], deserializers: stringDeserializers, sessionTimeout: 10_000, heartbeatInterval: 200, rebalanceTimeout: 10_000 });
    const received: string[] = [];
    const start = async () => {
      const consumer = make();
      const stream = await consumer.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest', autocommit: 100, maxWaitTime: 100 });
      stream.on('data', (m) => received.push(m.value as string));
      return { consumer, stream };
    };
    const owned = (c: ReturnType<typeof make>) => (c.assignments ?? []).flatMap((a) => a.partitions).sort();

    const first = await start();
    await waitFor(() => received.length >= values.length, 30_000, 'first member consumes everything');
    await new Promise((r) => setTimeout(r, 300)); // past one autocommit interval
    const second = await start();
    await waitFor(() => owned(first.consumer).length === 2 && owned(second.consumer).length === 2, 30_000, 'two platformatic members own two partitions each');
    expect([...owned(first.consumer), ...owned(second.consumer)].sort()).toEqual([0, 1, 2, 3]);
    expect([...new Set(received)].sort()).toEqual([...values].sort());

    await second.stream.close();
    await second.consumer.close();
    await waitFor(() => owned(first.consumer).length === 4, 30_000, 'the remaining member takes all four partitions');
    await new Promise((r) => setTimeout(r, 300)); // one more autocommit interval
    await first.stream.close();
    await first.consumer.close();

    await broker.restart();
    received.length = 0;
    const later = await produceSpread(topic, 1, 4, 'pk-later');
    const third = await start();
    await waitFor(() => received.length >= later.length, 30_000, 'a new member reads what came after the commits');
    await new Promise((r) => setTimeout(r, 300));
    expect([...received].sort()).toEqual([...later].sort());
    await third.stream.close();
    await third.consumer.close();
  });
});
