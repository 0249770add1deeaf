// kafkajs against a real broker process: topic administration, produce with every codec,
// configs, and the data read back by a different client (kcat).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import { BrokerProcess } from './broker-process.js';
import { kcatConsume, kcatMetadata } from './kcat.js';
import { registerKafkajsCodecs } from './kafkajs-codecs.js';

const { Kafka, CompressionTypes, logLevel } = kafkajs;

/** The Kafka error type kafkajs reports (it replaces the broker's message with its own text). */
async function kafkaErrorType(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    const e = err as { type?: string; errors?: Array<{ type?: string }> };
    return e.type ?? e.errors?.[0]?.type ?? String(err);
  }
  throw new Error('expected the request to fail');
}

let broker: BrokerProcess;
let kafka: InstanceType<typeof Kafka>;

beforeAll(async () => {
  registerKafkajsCodecs();
  broker = await BrokerProcess.start();
  kafka = new Kafka({ clientId: 'samsa-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 3 } });
});

afterAll(async () => {
  await broker?.destroy();
});

describe('kafkajs admin', () => {
  it('creates, grows, lists and deletes topics', async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      expect(await admin.createTopics({ topics: [{ topic: 'admin-a', numPartitions: 3 }, { topic: 'admin-b' }] })).toBe(true);
      expect(await admin.listTopics()).toEqual(expect.arrayContaining(['admin-a', 'admin-b']));
      const meta = await admin.fetchTopicMetadata({ topics: ['admin-a', 'admin-b'] });
      expect(meta.topics.find((t) => t.name === 'admin-a')!.partitions).toHaveLength(3);
      expect(meta.topics.find((t) => t.name === 'admin-b')!.partitions).toHaveLength(1);

      // Creating an existing topic is reported, not an error, by kafkajs.
      expect(await admin.createTopics({ topics: [{ topic: 'admin-a' }] })).toBe(false);

      await admin.createPartitions({ topicPartitions: [{ topic: 'admin-a', count: 5 }] });
      const grown = await admin.fetchTopicMetadata({ topics: ['admin-a'] });
      expect(grown.topics[0]!.partitions).toHaveLength(5);
      expect(await kafkaErrorType(admin.createPartitions({ topicPartitions: [{ topic: 'admin-a', count: 2 }] }))).toBe('INVALID_PARTITIONS');

      await admin.deleteTopics({ topics: ['admin-b'] });
      expect(await admin.listTopics()).not.toContain('admin-b');
      expect(await kcatMetadata(broker.bootstrap)).not.toContain('"admin-b"');
    } finally {
      await admin.disconnect();
    }
  });

  it('refuses bad topic requests with Kafka errors and clear messages', async () => {
    const admin = kafka.admin({ retry: { retries: 0 } });
    await admin.connect();
    try {
      expect(await kafkaErrorType(admin.createTopics({ topics: [{ topic: 'bad-config', configEntries: [{ name: 'retention.ms', value: 'soon' }] }] }))).toBe(
        'INVALID_CONFIG',
      );
      expect(await kafkaErrorType(admin.createTopics({ topics: [{ topic: 'bad/name' }] }))).toBe('INVALID_TOPIC_EXCEPTION');
      expect(await kafkaErrorType(admin.createTopics({ topics: [{ topic: 'too-replicated', replicationFactor: 3 }] }))).toBe('INVALID_REPLICATION_FACTOR');
      expect(await kafkaErrorType(admin.createTopics({ topics: [{ topic: 'no-partitions', numPartitions: 0 }] }))).toBe('INVALID_PARTITIONS');
      const topics = await admin.listTopics();
      for (const refused of ['bad-config', 'too-replicated', 'no-partitions']) expect(topics).not.toContain(refused);
    } finally {
      await admin.disconnect();
    }
  });

  it('describes and alters topic configs at runtime', async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic: 'configured', configEntries: [{ name: 'retention.ms', value: '3600000' }] }] });
      const described = await admin.describeConfigs({ resources: [{ type: 2, name: 'configured' }], includeSynonyms: false });
      const entries = described.resources[0]!.configEntries;
      expect(entries.find((e) => e.configName === 'retention.ms')).toMatchObject({ configValue: '3600000', isDefault: false });
      expect(entries.find((e) => e.configName === 'segment.bytes')).toMatchObject({ configValue: '1073741824', isDefault: true });

      await admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: 'configured', configEntries: [{ name: 'retention.bytes', value: '1048576' }] }] });
      const after = await admin.describeConfigs({ resources: [{ type: 2, name: 'configured', configNames: ['retention.bytes', 'retention.ms'] }], includeSynonyms: false });
      const byName = Object.fromEntries(after.resources[0]!.configEntries.map((e) => [e.configName, e.configValue]));
      // Legacy AlterConfigs replaces the whole set of overrides, so retention.ms is back to its default.
      expect(byName).toEqual({ 'retention.bytes': '1048576', 'retention.ms': '604800000' });

      expect(
        await kafkaErrorType(admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: 'configured', configEntries: [{ name: 'no.such.config', value: '1' }] }] })),
      ).toBe('INVALID_CONFIG');
    } finally {
      await admin.disconnect();
    }
  });
});

describe('kafkajs producer', () => {
  const codecs = [
    ['none', CompressionTypes.None],
    ['gzip', CompressionTypes.GZIP],
    ['snappy', CompressionTypes.Snappy],
    ['lz4', CompressionTypes.LZ4],
    ['zstd', CompressionTypes.ZSTD],
  ] as const;

  it.each(codecs)('produces keyed and unkeyed messages with %s that kcat reads back', async (name, compression) => {
    const topic = `kafkajs-${name}`;
    const producer = kafka.producer({ allowAutoTopicCreation: true });
    await producer.connect();
    const base = Date.now() - 60_000;
    const messages = Array.from({ length: 20 }, (_, i) => ({
      key: i % 2 === 0 ? `key-${i}` : null,
      value: `${name}-value-${i}-${'x'.repeat(i * 10)}`,
      timestamp: String(base + i * 1000),
    }));
    try {
      // Two sends: two batches, so reads from an offset and a timestamp cross a batch boundary.
      const first = await producer.send({ topic, compression, acks: -1, messages: messages.slice(0, 10) });
      const second = await producer.send({ topic, compression, acks: 1, messages: messages.slice(10) });
      expect(first[0]!.baseOffset).toBe('0');
      expect(second[0]!.baseOffset).toBe('10');
    } finally {
      await producer.disconnect();
    }

    const all = await kcatConsume(broker.bootstrap, topic);
    expect(all.map((r) => r.value)).toEqual(messages.map((m) => m.value));
    expect(all.map((r) => r.key)).toEqual(messages.map((m) => m.key ?? ''));
    expect(all.map((r) => r.offset)).toEqual(messages.map((_, i) => i));
    expect(all.map((r) => r.timestamp)).toEqual(messages.map((m) => Number(m.timestamp)));

    const fromOffset = await kcatConsume(broker.bootstrap, topic, '7');
    expect(fromOffset.map((r) => r.offset)).toEqual(Array.from({ length: 13 }, (_, i) => 7 + i));

    const fromTime = await kcatConsume(broker.bootstrap, topic, `s@${base + 12_500}`);
    expect(fromTime[0]).toMatchObject({ offset: 13, value: messages[13]!.value });
    expect(fromTime).toHaveLength(7);
  });

  it('is refused a batch larger than max.message.bytes, and the topic stays usable', async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'small-messages', configEntries: [{ name: 'max.message.bytes', value: '2000' }] }] });
    await admin.disconnect();
    const producer = kafka.producer({ retry: { retries: 0 } });
    await producer.connect();
    try {
      expect(await kafkaErrorType(producer.send({ topic: 'small-messages', messages: [{ value: 'y'.repeat(5000) }] }))).toBe('MESSAGE_TOO_LARGE');
      await producer.send({ topic: 'small-messages', messages: [{ value: 'fits' }] });
    } finally {
      await producer.disconnect();
    }
    expect((await kcatConsume(broker.bootstrap, 'small-messages')).map((r) => r.value)).toEqual(['fits']);
  });
});
