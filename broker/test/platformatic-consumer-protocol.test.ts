// @platformatic/kafka's consumer with the consumer group protocol of Kafka 4 (KIP-848,
// groupProtocol: 'consumer'): the broker assigns the partitions over ConsumerGroupHeartbeat, a
// second member joining and leaving moves them, each record is read once and its offset committed.
// The client commits asynchronously and, on gaining partitions, sets the fetch position of every
// partition it holds to the committed offset; so the test lets commits land before the group
// changes and lets the member's positions be refreshed before sending more, as it would read
// records twice otherwise (on Apache Kafka too).
// SAMSA_TEST_BROKER=kafka runs it against Apache Kafka 4.0 (broker-under-test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Consumer, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka';
import { type BrokerUnderTest, startBrokerUnderTest } from './broker-under-test.js';
import { eventuallyPasses } from './eventually.js';

let broker: BrokerUnderTest;
let admin: Admin;
let producer: Producer<string, string, string, string>;
const closing: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  // Members heartbeat every half second, so that a rebalance takes a few of them; both brokers hold
  // the interval to group.consumer.min.heartbeat.interval.ms (5 s by default).
  broker = await startBrokerUnderTest(
    { 'group.consumer.heartbeat.interval.ms': '500', 'group.consumer.min.heartbeat.interval.ms': '500' },
    { 'group.consumer.heartbeat.interval.ms': '500', 'group.consumer.min.heartbeat.interval.ms': '500' },
  );
  admin = new Admin({ clientId: 'pk-cgp-admin', bootstrapBrokers: [broker.bootstrap] });
  producer = new Producer({ clientId: 'pk-cgp-producer', bootstrapBrokers: [broker.bootstrap], serializers: stringSerializers });
}, 180_000);

afterAll(async () => {
  for (const close of closing.reverse()) await close().catch(() => {});
  await producer?.close();
  await admin?.close();
  await broker?.destroy();
});

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const sent = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}-${i}`);

/** `count` records round-robin over the partitions, acknowledged by all replicas. */
async function produce(topic: string, prefix: string, count: number, partitions: number): Promise<void> {
  await producer.send({ messages: sent(prefix, count).map((value, i) => ({ topic, value, partition: i % partitions })), acks: -1 });
}

interface Member {
  consumer: Consumer<string, string, string, string>;
  /** Values in the order this member read them. */
  read: string[];
  /** How many times the stream has set its fetch positions (from the committed offsets). */
  refreshes: number;
}

/** A member that reads from the committed offsets (the earliest without one) and commits each record. */
async function member(topic: string, group: string, name: string): Promise<Member> {
  const consumer = new Consumer({
    clientId: name,
    groupId: group,
    groupProtocol: 'consumer',
    bootstrapBrokers: [broker.bootstrap],
    deserializers: stringDeserializers,
    autocommit: false,
  });
  closing.push(() => consumer.close(true));
  const stream = await consumer.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest', maxWaitTime: 100 });
  const m: Member = { consumer, read: [], refreshes: 0 };
  stream.on('data', (message) => {
    m.read.push(message.value);
    void message.commit();
  });
  stream.on('offsets', () => void m.refreshes++);
  return m;
}

/** The partitions of `topic` the member holds, as the client sees its assignment. */
function partitions(m: Member, topic: string): number[] {
  return [...(m.consumer.assignments?.find((a) => a.topic === topic)?.partitions ?? [])].sort((x, y) => x - y);
}

async function committed(group: string, topic: string): Promise<number> {
  const [offsets] = await admin.listConsumerGroupOffsets({ groups: [{ groupId: group, topics: [{ name: topic, partitionIndexes: range(6) }] }] });
  return offsets!.topics.flatMap((t) => t.partitions).reduce((sum, p) => sum + Math.max(0, Number(p.committedOffset)), 0);
}

describe('@platformatic/kafka consumer with the consumer group protocol (groupProtocol: consumer)', () => {
  it('a second member joining and leaving moves the partitions; each record is read once and committed', async () => {
    const topic = 'pk-kip848';
    const group = 'pk-kip848-group';
    await admin.createTopics({ topics: [topic], partitions: 6, replicas: 1 });
    await produce(topic, 'first', 30, 6);

    const a = await member(topic, group, 'a');
    await eventuallyPasses('a holds every partition and has read the first records', () => {
      expect(partitions(a, topic)).toEqual(range(6));
      expect([...a.read].sort()).toEqual(sent('first', 30).sort());
    }, 60_000);
    await eventuallyPasses('a has committed the first records', async () => expect(await committed(group, topic)).toBe(30), 30_000);

    const b = await member(topic, group, 'b');
    await eventuallyPasses('the partitions are split between a and b', () => {
      const [pa, pb] = [partitions(a, topic), partitions(b, topic)];
      expect(pa).toHaveLength(3);
      expect(pb).toHaveLength(3);
      expect([...pa, ...pb].sort()).toEqual(range(6));
    }, 60_000);

    // A group of the consumer protocol, not a classic one.
    const listed = await admin.listGroups({ types: ['consumer'] });
    expect(listed.get(group)).toMatchObject({ groupType: 'consumer', state: 'Stable' });

    await produce(topic, 'second', 30, 6);
    await eventuallyPasses('a and b read the second records', () => {
      expect([...a.read, ...b.read].filter((v) => v.startsWith('second-')).sort()).toEqual(sent('second', 30).sort());
    }, 60_000);
    // Round-robin over six partitions: b's three partitions got 15 of the 30.
    expect(b.read.filter((v) => v.startsWith('second-'))).toHaveLength(15);
    await eventuallyPasses('a and b have committed the second records', async () => expect(await committed(group, topic)).toBe(60), 30_000);

    const refreshes = a.refreshes;
    await b.consumer.close(true);
    await eventuallyPasses('a holds every partition again after b left, from the committed offsets', () => {
      expect(partitions(a, topic)).toEqual(range(6));
      expect(a.refreshes).toBeGreaterThan(refreshes);
    }, 60_000);
    await produce(topic, 'third', 30, 6);
    await eventuallyPasses('a reads the third records', () => {
      expect(a.read.filter((v) => v.startsWith('third-')).sort()).toEqual(sent('third', 30).sort());
    }, 60_000);

    // Nothing read twice, and the offsets of all 90 records committed.
    expect([...a.read, ...b.read].sort()).toEqual([...sent('first', 30), ...sent('second', 30), ...sent('third', 30)].sort());
    await eventuallyPasses('every offset is committed', async () => expect(await committed(group, topic)).toBe(90), 30_000);
    await a.consumer.close(true);
  }, 240_000);
});
