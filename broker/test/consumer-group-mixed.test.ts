// Real clients of both protocols in one group (KIP-848's online upgrade and downgrade): a Java
// 4.0 consumer with group.protocol=classic, or a kafkajs consumer, shares a group with a Java
// consumer with group.protocol=consumer; the group converts when the consumer-protocol member
// joins, every record is read once, it is classic again when that member leaves, and a broker
// killed in the middle resumes the mixed group from __consumer_offsets.
// SAMSA_TEST_BROKER=kafka runs it against Apache Kafka 4.0 (broker-under-test.ts).
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrokerUnderTest } from './broker-under-test.js';
import { eventuallyPasses } from './eventually.js';
import { assignment, consumed, ConsumerProtocolCheck, range, sent, stop } from './consumer-protocol-check.js';
import { cli } from './kafka-tools.js';

const { Kafka, logLevel } = kafkajs;

interface Described {
  type: string;
  state: string;
  committed: number;
  members: Array<{ memberId: string; clientId: string; upgraded: boolean | null; partitions: number[] }>;
}

let client: ConsumerProtocolCheck;
let broker: BrokerUnderTest;

beforeAll(async () => {
  client = await ConsumerProtocolCheck.start();
  broker = client.broker;
}, 180_000);

afterAll(() => client?.destroy());

const java = (mode: string, ...args: string[]) => client.run(mode, ...args);
/** A Java consumer of the given group protocol. */
const consumer = (topic: string, group: string, name: string, protocol: 'classic' | 'consumer') => client.member(topic, group, name, { protocol });
const describeGroup = (group: string) => client.describe<Described>(group);

/** Each member's protocol as the admin client reports it (ConsumerGroupDescribe v1's MemberType). */
const upgradedByClient = (d: Described) => Object.fromEntries(d.members.map((m) => [m.clientId, m.upgraded]));

describe('classic and consumer-protocol members in one group', () => {
  it('Java: a classic member and a consumer-protocol member share the partitions, each record is read once, and the group is classic again when the consumer member leaves', async () => {
    const topic = 'mixed-java';
    const group = 'mixed-java-group';
    await java('create-topic', topic, '6');
    await java('produce', topic, 'first', '30');

    const a = consumer(topic, group, 'a', 'classic');
    await eventuallyPasses('classic member a has every partition and has read the first records', () => {
      expect(assignment(a)).toEqual(range(6));
      expect(consumed(a).sort()).toEqual(sent('first', 30).sort());
    }, 60_000);
    expect((await describeGroup(group)).type).toBe('Classic');

    const b = consumer(topic, group, 'b', 'consumer');
    await eventuallyPasses('the partitions are split between a (classic) and b (consumer protocol)', () => {
      const [pa, pb] = [assignment(a) ?? [], assignment(b) ?? []];
      expect(pa).toHaveLength(3);
      expect(pb).toHaveLength(3);
      expect([...pa, ...pb].sort()).toEqual(range(6));
    }, 90_000);
    await java('produce', topic, 'second', '30');
    await eventuallyPasses('a and b read the second records', () => {
      expect(consumed(a, b).filter((v) => v.startsWith('second-')).sort()).toEqual(sent('second', 30).sort());
    }, 60_000);
    expect(consumed(a).filter((v) => v.startsWith('second-')).length).toBeGreaterThan(0);
    expect(consumed(b).filter((v) => v.startsWith('second-')).length).toBeGreaterThan(0);

    const mixed = await describeGroup(group);
    expect(mixed).toMatchObject({ type: 'Consumer', state: 'Stable' });
    expect(upgradedByClient(mixed)).toEqual({ a: false, b: true });
    expect(mixed.members.flatMap((m) => m.partitions).sort()).toEqual(range(6));
    // kafka-consumer-groups.sh --describe: a row per partition, owned by a or b.
    const described = await cli('org.apache.kafka.tools.consumer.group.ConsumerGroupCommand', ['--bootstrap-server', broker.bootstrap, '--describe', '--group', group]);
    expect(described.code).toBe(0);
    const rows = range(6).map((p) => new RegExp(`^${group}\\s+${topic}\\s+${p}\\s+\\d+\\s+\\d+\\s+\\d+\\s+\\S+\\s+\\S+\\s+(a|b)$`, 'm').exec(described.out));
    expect(rows.every((r) => r !== null), described.out).toBe(true);
    expect(new Set(rows.map((r) => r![1]))).toEqual(new Set(['a', 'b']));
    const members = await cli('org.apache.kafka.tools.consumer.group.ConsumerGroupCommand', ['--bootstrap-server', broker.bootstrap, '--describe', '--group', group, '--members']);
    expect(members.code).toBe(0);
    expect(members.out).toMatch(/\s+a\s+3\s*$/m);
    expect(members.out).toMatch(/\s+b\s+3\s*$/m);

    // b leaves: the group is classic again, and a (its leader now) takes every partition.
    await stop(b);
    await eventuallyPasses('a has every partition again, in a classic group', async () => {
      expect(assignment(a)).toEqual(range(6));
      expect(await describeGroup(group)).toMatchObject({ type: 'Classic', state: 'Stable' });
    }, 90_000);
    await java('produce', topic, 'third', '30');
    await eventuallyPasses('a reads the third records', () => expect(consumed(a).filter((v) => v.startsWith('third-')).sort()).toEqual(sent('third', 30).sort()), 60_000);

    expect(consumed(a, b).sort()).toEqual([...sent('first', 30), ...sent('second', 30), ...sent('third', 30)].sort());
    await eventuallyPasses('every offset committed', async () => expect((await describeGroup(group)).committed).toBe(90), 30_000);
    await stop(a);
  }, 300_000);

  it('kafkajs (classic) and a Java consumer-protocol member share a group', async () => {
    const topic = 'mixed-kafkajs';
    const group = 'mixed-kafkajs-group';
    await java('create-topic', topic, '4');
    await java('produce', topic, 'first', '20');
    const kafka = new Kafka({ clientId: 'k', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100 } });
    const k = kafka.consumer({ groupId: group, sessionTimeout: 10_000, rebalanceTimeout: 10_000, heartbeatInterval: 500, maxWaitTimeInMs: 100 });
    let kPartitions: number[] = [];
    const kValues: string[] = [];
    k.on(k.events.GROUP_JOIN, (e) => (kPartitions = [...(e.payload.memberAssignment[topic] ?? [])].sort()));
    await k.connect();
    try {
      await k.subscribe({ topic, fromBeginning: true });
      await k.run({ autoCommitThreshold: 1, eachMessage: async ({ message }) => void kValues.push(message.value!.toString()) });
      await eventuallyPasses('kafkajs has every partition and the first records', () => {
        expect(kPartitions).toEqual(range(4));
        expect([...kValues].sort()).toEqual(sent('first', 20).sort());
      }, 60_000);

      const b = consumer(topic, group, 'b', 'consumer');
      await eventuallyPasses('kafkajs and b have two partitions each', () => {
        expect(kPartitions).toHaveLength(2);
        expect([...kPartitions, ...(assignment(b) ?? [])].sort()).toEqual(range(4));
      }, 90_000);
      expect(upgradedByClient(await describeGroup(group))).toEqual({ k: false, b: true });
      await java('produce', topic, 'second', '20');
      await eventuallyPasses('kafkajs and b read the second records', () => {
        expect([...kValues, ...consumed(b)].filter((v) => v.startsWith('second-')).sort()).toEqual(sent('second', 20).sort());
      }, 60_000);
      expect(kValues.some((v) => v.startsWith('second-'))).toBe(true);
      expect(consumed(b).some((v) => v.startsWith('second-'))).toBe(true);

      await stop(b);
      await eventuallyPasses('kafkajs has every partition in a classic group again', async () => {
        expect(kPartitions).toEqual(range(4));
        expect((await describeGroup(group)).type).toBe('Classic');
      }, 90_000);
      await java('produce', topic, 'third', '20');
      await eventuallyPasses('kafkajs reads the third records', () => expect(kValues.filter((v) => v.startsWith('third-')).sort()).toEqual(sent('third', 20).sort()), 60_000);
      expect([...kValues, ...consumed(b)].sort()).toEqual([...sent('first', 20), ...sent('second', 20), ...sent('third', 20)].sort());
    } finally {
      await k.disconnect();
    }
  }, 300_000);

  it('a broker killed in the middle of a mixed group resumes it: both members carry on, and the group is classic again when the consumer member leaves', async () => {
    const topic = 'mixed-restart';
    const group = 'mixed-restart-group';
    await java('create-topic', topic, '4');
    await java('produce', topic, 'before', '20');
    const a = consumer(topic, group, 'a', 'classic');
    await eventuallyPasses('a has every partition', () => expect(assignment(a)).toEqual(range(4)), 60_000);
    const b = consumer(topic, group, 'b', 'consumer');
    await eventuallyPasses('a and b have two partitions each, and every record is read', () => {
      expect(assignment(a)).toHaveLength(2);
      expect(assignment(b)).toHaveLength(2);
      expect(consumed(a, b).sort()).toEqual(sent('before', 20).sort());
    }, 90_000);

    const before = await describeGroup(group);
    expect(upgradedByClient(before)).toEqual({ a: false, b: true });
    await broker.kill();
    await broker.launch();

    await java('produce', topic, 'after', '20');
    await eventuallyPasses('a and b read the records produced after the restart', () => {
      expect(consumed(a, b).filter((v) => v.startsWith('after-')).sort()).toEqual(sent('after', 20).sort());
    }, 120_000);
    const resumed = await describeGroup(group);
    expect(resumed.type).toBe('Consumer');
    // The same two members carried on (none had to join again as a new one), and the classic
    // member is still known as one: its metadata came back from __consumer_offsets.
    const byMember = (d: Described) => d.members.map((m) => `${m.memberId} ${m.clientId} ${m.upgraded}`).sort();
    expect(byMember(resumed)).toEqual(byMember(before));

    // The downgrade needs a's classic metadata (its protocols), read back at the restart.
    await stop(b);
    await eventuallyPasses('a has every partition in a classic group', async () => {
      expect(assignment(a)).toEqual(range(4));
      expect((await describeGroup(group)).type).toBe('Classic');
    }, 90_000);
    expect(consumed(a, b).sort()).toEqual([...sent('before', 20), ...sent('after', 20)].sort());
    await stop(a);
  }, 300_000);
});
