// The consumer group protocol of Kafka 4 (KIP-848) with the Java client 4.0 and
// group.protocol=consumer (broker/test/java/ConsumerProtocolCheck.java): the broker assigns the
// partitions, a member joining or leaving moves them (each record read exactly once, offsets
// committed at the member's epoch), the admin client describes the group, and a broker killed
// and restarted resumes the group from __consumer_offsets.
// SAMSA_TEST_BROKER=kafka runs it against Apache Kafka (broker-under-test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrokerUnderTest } from './broker-under-test.js';
import { eventuallyPasses } from './eventually.js';
import { assignment, consumed, ConsumerProtocolCheck, range, sent, stop } from './consumer-protocol-check.js';
import { cli } from './kafka-tools.js';

interface Described {
  type: string;
  state: string;
  assignor: string;
  committed: number;
  members: Array<{ memberId: string; clientId: string; epoch: number; partitions: number[] }>;
}

let client: ConsumerProtocolCheck;
let broker: BrokerUnderTest;

beforeAll(async () => {
  client = await ConsumerProtocolCheck.start();
  broker = client.broker;
}, 180_000);

afterAll(() => client?.destroy());

const java = (mode: string, ...args: string[]) => client.run(mode, ...args);
const consumer = (topic: string, group: string, name: string, instanceId?: string) => client.member(topic, group, name, { instanceId });
const describeGroup = (group: string) => client.describe<Described>(group);

describe('KIP-848 consumer group protocol (Java client, group.protocol=consumer)', () => {
  it('a second member joining and leaving rebalances the partitions; each record is read once and committed', async () => {
    const topic = 'kip848-rebalance';
    const group = 'kip848-rebalance-group';
    await java('create-topic', topic, '6');
    await java('produce', topic, 'first', '30');

    const a = consumer(topic, group, 'a');
    await eventuallyPasses('member a has every partition and has read the first records', () => {
      expect(assignment(a)).toEqual(range(6));
      expect(consumed(a).sort()).toEqual(sent('first', 30).sort());
    }, 60_000);

    const b = consumer(topic, group, 'b');
    await eventuallyPasses('the partitions are split between a and b', () => {
      const [pa, pb] = [assignment(a) ?? [], assignment(b) ?? []];
      expect(pa).toHaveLength(3);
      expect(pb).toHaveLength(3);
      expect([...pa, ...pb].sort()).toEqual(range(6));
    }, 60_000);

    await java('produce', topic, 'second', '30');
    await eventuallyPasses('a and b read the second records, each once', () => {
      expect(consumed(a, b).filter((v) => v.startsWith('second-')).sort()).toEqual(sent('second', 30).sort());
    }, 60_000);
    expect(consumed(b).filter((v) => v.startsWith('second-')).length).toBeGreaterThan(0);

    const both = await describeGroup(group);
    expect(both.type).toBe('Consumer');
    expect(both.state).toBe('Stable');
    expect(both.assignor).toBe('uniform');
    expect(both.members.map((m) => m.clientId).sort()).toEqual(['a', 'b']);
    expect(both.members.flatMap((m) => m.partitions).sort()).toEqual(range(6));
    // kafka-consumer-groups.sh --describe: a row per partition with its offsets, owned by a or b.
    const cliDescribe = await cli('org.apache.kafka.tools.consumer.group.ConsumerGroupCommand', ['--bootstrap-server', broker.bootstrap, '--describe', '--group', group]);
    expect(cliDescribe.code).toBe(0);
    const rows = range(6).map((p) => new RegExp(`^${group}\\s+${topic}\\s+${p}\\s+(\\d+)\\s+(\\d+)\\s+\\d+\\s+\\S+\\s+\\S+\\s+(a|b)$`, 'm').exec(cliDescribe.out));
    expect(rows.every((r) => r !== null), cliDescribe.out).toBe(true);
    expect(new Set(rows.map((r) => r![3]))).toEqual(new Set(['a', 'b']));

    await stop(b);
    await eventuallyPasses('a has every partition again after b left', () => expect(assignment(a)).toEqual(range(6)), 60_000);
    await java('produce', topic, 'third', '30');
    await eventuallyPasses('a reads the third records', () => expect(consumed(a).filter((v) => v.startsWith('third-')).sort()).toEqual(sent('third', 30).sort()), 60_000);

    // Nothing read twice, and the offsets of all 90 records are committed.
    expect(consumed(a, b).sort()).toEqual([...sent('first', 30), ...sent('second', 30), ...sent('third', 30)].sort());
    await eventuallyPasses('the group describes one member and every offset committed', async () => {
      const one = await describeGroup(group);
      expect(one.members.map((m) => m.clientId)).toEqual(['a']);
      expect(one.committed).toBe(90);
    }, 30_000);
    await stop(a);
  }, 240_000);

  it('a broker killed and restarted mid-group resumes the group from __consumer_offsets', async () => {
    const topic = 'kip848-restart';
    const group = 'kip848-restart-group';
    await java('create-topic', topic, '4');
    await java('produce', topic, 'before', '20');
    const a = consumer(topic, group, 'a');
    await eventuallyPasses('a has every partition', () => expect(assignment(a)).toEqual(range(4)), 60_000);
    // b joins and leaves and c joins: the group epoch is past what two members joining a new group would reach.
    const b = consumer(topic, group, 'b');
    await eventuallyPasses('b has partitions', () => expect(assignment(b)?.length).toBe(2), 60_000);
    await stop(b);
    const c = consumer(topic, group, 'c');
    await eventuallyPasses('a and c share the partitions', () => expect([...(assignment(a) ?? []), ...(assignment(c) ?? [])].sort()).toEqual(range(4)), 60_000);
    await eventuallyPasses('the records before the restart are read and committed', async () => {
      expect(consumed(a, b, c).sort()).toEqual(sent('before', 20).sort());
      expect((await describeGroup(group)).committed).toBe(20);
    }, 60_000);
    const before = await describeGroup(group);
    const epochBefore = Math.max(...before.members.map((m) => m.epoch));
    expect(epochBefore).toBeGreaterThanOrEqual(4);

    await broker.kill();
    await broker.launch();

    await java('produce', topic, 'after', '20');
    await eventuallyPasses('a and c read the records sent after the restart, and nothing again', () => {
      expect(consumed(a, b, c).sort()).toEqual([...sent('before', 20), ...sent('after', 20)].sort());
    }, 90_000);
    const after = await describeGroup(group);
    expect(after.members.map((m) => m.clientId).sort()).toEqual(['a', 'c']);
    // The group went on from its stored epochs rather than starting over.
    for (const m of after.members) expect(m.epoch).toBeGreaterThanOrEqual(epochBefore);
    expect(after.members.flatMap((m) => m.partitions).sort()).toEqual(range(4));
    await stop(a);
    await stop(c);
  }, 300_000);

  it('a member subscribed with a SubscriptionPattern reads the matching topics, also one created later', async () => {
    const group = 'kip848-regex-group';
    await java('create-topic', 'kip848-re-one', '2');
    await java('produce', 'kip848-re-one', 'one', '10');
    const r = consumer('regex:kip848-re-.*', group, 'r');
    await eventuallyPasses('r reads the matching topic', () => expect(consumed(r).sort()).toEqual(sent('one', 10).sort()), 60_000);
    await java('create-topic', 'kip848-re-two', '2');
    await java('produce', 'kip848-re-two', 'two', '10');
    await eventuallyPasses('r reads the topic created after it subscribed', () => expect(consumed(r).sort()).toEqual([...sent('one', 10), ...sent('two', 10)].sort()), 90_000);
    await stop(r);
    // Its leave was taken (the Java client leaves with an empty pattern): the group is empty at once, not after the session timeout.
    expect((await describeGroup(group)).members).toEqual([]);
  }, 240_000);

  it('a static member (group.instance.id) that closes and comes back takes its partitions again at the same epoch', async () => {
    const topic = 'kip848-static';
    const group = 'kip848-static-group';
    await java('create-topic', topic, '3');
    const first = consumer(topic, group, 'first', 'instance-1');
    await eventuallyPasses('the static member has every partition', () => expect(assignment(first)).toEqual(range(3)), 60_000);
    const before = (await describeGroup(group)).members;
    expect(before).toHaveLength(1);
    await stop(first);
    const second = consumer(topic, group, 'second', 'instance-1');
    await eventuallyPasses('the returning static member has every partition', () => expect(assignment(second)).toEqual(range(3)), 60_000);
    const after = (await describeGroup(group)).members;
    expect(after.map((m) => m.clientId)).toEqual(['second']);
    // No rebalance: a member leaving for good and another joining would have bumped the epoch twice.
    expect(after[0]!.epoch).toBe(before[0]!.epoch);
    await stop(second);
  }, 180_000);
});
