// @platformatic/kafka (flexible protocol versions only) against a real broker process: topic
// administration, incremental config changes, DeleteRecords, produce with every codec, read back with kcat.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Producer, stringSerializers } from '@platformatic/kafka';
import { BrokerProcess } from './broker-process.js';
import { kcatConsume } from './kcat.js';

let broker: BrokerProcess;
let admin: Admin;

beforeAll(async () => {
  broker = await BrokerProcess.start();
  admin = new Admin({ clientId: 'samsa-test-admin', bootstrapBrokers: [broker.bootstrap] });
});

afterAll(async () => {
  await admin?.close();
  await broker?.destroy();
});

describe('@platformatic/kafka admin', () => {
  it('creates, grows, lists and deletes topics', async () => {
    const created = await admin.createTopics({ topics: ['pk-a', 'pk-b'], partitions: 4, replicas: 1 });
    expect(created.map((t) => [t.name, t.partitions, t.replicas])).toEqual([
      ['pk-a', 4, 1],
      ['pk-b', 4, 1],
    ]);
    expect(await admin.listTopics()).toEqual(expect.arrayContaining(['pk-a', 'pk-b']));
    await admin.createPartitions({ topics: [{ name: 'pk-a', count: 6 }] });
    const metadata = await admin.metadata({ topics: ['pk-a'] });
    expect(metadata.topics.get('pk-a')!.partitionsCount).toBe(6);
    await admin.deleteTopics({ topics: ['pk-b'] });
    expect(await admin.listTopics()).not.toContain('pk-b');
    await expect(admin.createTopics({ topics: ['pk-a'], partitions: 1, replicas: 1 })).rejects.toThrow();
  });

  it('changes topic configs incrementally and describes them', async () => {
    await admin.createTopics({ topics: ['pk-configs'], partitions: 1, replicas: 1 });
    await admin.incrementalAlterConfigs({
      resources: [
        {
          resourceType: 2,
          resourceName: 'pk-configs',
          configs: [
            { name: 'retention.ms', configOperation: 0, value: '120000' },
            { name: 'message.timestamp.type', configOperation: 0, value: 'LogAppendTime' },
          ],
        },
      ],
    });
    const [description] = await admin.describeConfigs({ resources: [{ resourceType: 2, resourceName: 'pk-configs', configurationKeys: ['retention.ms', 'message.timestamp.type'] }] });
    const values = Object.fromEntries(description!.configs.map((c) => [c.name, c.value]));
    expect(values).toEqual({ 'retention.ms': '120000', 'message.timestamp.type': 'LogAppendTime' });

    await admin.incrementalAlterConfigs({ resources: [{ resourceType: 2, resourceName: 'pk-configs', configs: [{ name: 'retention.ms', configOperation: 1 }] }] });
    const [reset] = await admin.describeConfigs({ resources: [{ resourceType: 2, resourceName: 'pk-configs', configurationKeys: ['retention.ms'] }] });
    expect(reset!.configs[0]!.value).toBe('604800000');
  });

  it('deletes records below an offset (DeleteRecords) and gets the low watermark; past the high watermark it is refused', async () => {
    await admin.createTopics({ topics: ['pk-trim'], partitions: 1, replicas: 1 });
    const producer = new Producer({ clientId: 'samsa-test-producer', bootstrapBrokers: [broker.bootstrap], serializers: stringSerializers });
    try {
      await producer.send({ messages: ['a', 'b', 'c', 'd', 'e', 'f'].map((value) => ({ topic: 'pk-trim', value })), acks: -1 });
    } finally {
      await producer.close();
    }
    const deleted = await admin.deleteRecords({ topics: [{ name: 'pk-trim', partitions: [{ partition: 0, offset: 4n }] }] });
    expect(deleted).toEqual([{ name: 'pk-trim', partitions: [{ partition: 0, lowWatermark: 4n }] }]);
    expect((await kcatConsume(broker.bootstrap, 'pk-trim')).map((r) => [r.offset, r.value])).toEqual([
      [4, 'e'],
      [5, 'f'],
    ]);
    const refused = await admin.deleteRecords({ topics: [{ name: 'pk-trim', partitions: [{ partition: 0, offset: 7n }] }] }).catch((err: unknown) => String(err));
    expect(refused).toContain('The requested offset is not within the range of offsets maintained by the server');
    expect((await kcatConsume(broker.bootstrap, 'pk-trim')).map((r) => r.offset)).toEqual([4, 5]);
  });
});

describe('@platformatic/kafka producer', () => {
  it.each(['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const)('produces keyed and unkeyed messages with %s that kcat reads back', async (compression) => {
    const topic = `pk-${compression}`;
    await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 });
    const producer = new Producer({ clientId: 'samsa-test-producer', bootstrapBrokers: [broker.bootstrap], serializers: stringSerializers });
    const base = BigInt(Date.now() - 30_000);
    const messages = Array.from({ length: 12 }, (_, i) => ({
      topic,
      key: i % 3 === 0 ? undefined : `k${i}`,
      value: `${compression}-${i}`,
      timestamp: base + BigInt(i * 1000),
    }));
    try {
      const result = await producer.send({ messages, compression, acks: -1 });
      expect(result.offsets?.[0]).toMatchObject({ topic, partition: 0 });
    } finally {
      await producer.close();
    }
    const records = await kcatConsume(broker.bootstrap, topic);
    expect(records.map((r) => r.value)).toEqual(messages.map((m) => m.value));
    expect(records.map((r) => r.key)).toEqual(messages.map((m) => m.key ?? ''));
    expect(records.map((r) => r.timestamp)).toEqual(messages.map((m) => Number(m.timestamp)));
    const fromTime = await kcatConsume(broker.bootstrap, topic, `s@${Number(base) + 4000}`);
    expect(fromTime.map((r) => r.offset)).toEqual([4, 5, 6, 7, 8, 9, 10, 11]);
  });

  it('gets broker time stamped on a LogAppendTime topic', async () => {
    await admin.createTopics({ topics: ['pk-append-time'], partitions: 1, replicas: 1, configs: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }] });
    const producer = new Producer({ clientId: 'samsa-test-producer', bootstrapBrokers: [broker.bootstrap], serializers: stringSerializers });
    const before = Date.now();
    try {
      await producer.send({ messages: [{ topic: 'pk-append-time', value: 'stamped', timestamp: 1000n }], acks: 1 });
    } finally {
      await producer.close();
    }
    const [record] = await kcatConsume(broker.bootstrap, 'pk-append-time');
    expect(record!.value).toBe('stamped');
    expect(record!.timestamp).toBeGreaterThanOrEqual(before);
    expect(record!.timestamp).toBeLessThanOrEqual(Date.now());
  });
});
