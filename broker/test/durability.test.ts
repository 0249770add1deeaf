// Durability against a real broker process: acknowledged messages survive a clean restart and
// kill -9, a torn tail is cut on recovery, segments roll, and retention deletes old segments.
import { appendFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { eventuallyPasses } from './eventually.js';
import { afterEach, describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import { BrokerProcess } from './broker-process.js';
import { kcatConsume, kcatProduce } from './kcat.js';

const { Kafka, logLevel } = kafkajs;

let broker: BrokerProcess | undefined;

afterEach(async () => {
  await broker?.destroy();
  broker = undefined;
});

function client(b: BrokerProcess) {
  return new Kafka({ clientId: 'durability', brokers: [b.bootstrap], logLevel: logLevel.NOTHING });
}

async function produce(b: BrokerProcess, topic: string, values: string[], acks = -1): Promise<void> {
  const producer = client(b).producer();
  await producer.connect();
  try {
    for (let i = 0; i < values.length; i += 50) {
      await producer.send({ topic, acks, messages: values.slice(i, i + 50).map((value, j) => ({ key: `k${i + j}`, value })) });
    }
  } finally {
    await producer.disconnect();
  }
}

function segmentFiles(b: BrokerProcess, topic: string, partition = 0): string[] {
  return readdirSync(join(b.dataDir, `${topic}-${partition}`)).filter((f) => f.endsWith('.log')).sort();
}

describe('durability', () => {
  it('keeps every acknowledged message across a clean restart and a kill -9', async () => {
    broker = await BrokerProcess.start({ 'log.segment.bytes': '4096' });
    const first = Array.from({ length: 300 }, (_, i) => `before-restart-${i}`);
    await produce(broker, 'durable', first);
    expect(await broker.stop()).toBe(0);
    expect(broker.output).toContain('broker stopped cleanly');
    await broker.launch();
    expect(broker.output).toMatch(/"cleanStart":true/);

    const second = Array.from({ length: 300 }, (_, i) => `before-kill-${i}`);
    await produce(broker, 'durable', second);
    await broker.kill();
    await broker.launch();
    expect(broker.output).toMatch(/"cleanStart":false/);

    const records = await kcatConsume(broker.bootstrap, 'durable');
    expect(records.map((r) => r.value)).toEqual([...first, ...second]);
    expect(records.map((r) => r.offset)).toEqual(Array.from({ length: 600 }, (_, i) => i));
    expect(segmentFiles(broker, 'durable').length).toBeGreaterThan(3);

    // Appends continue at the right offset after recovery.
    await produce(broker, 'durable', ['after-recovery']);
    const tail = await kcatConsume(broker.bootstrap, 'durable', '600');
    expect(tail.map((r) => [r.offset, r.value])).toEqual([[600, 'after-recovery']]);
  });

  it('cuts a torn write at the tail of the log on recovery and keeps everything before it', async () => {
    broker = await BrokerProcess.start();
    await kcatProduce(broker.bootstrap, 'torn', ['a', 'b', 'c']);
    await broker.kill();
    const segment = join(broker.dataDir, 'torn-0', segmentFiles(broker, 'torn')[0]!);
    const goodSize = statSync(segment).size;
    // Half a batch header, as a crash in the middle of a write leaves it.
    appendFileSync(segment, Buffer.from([0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 90, 0, 0, 0, 0, 2, 1, 2, 3]));
    await broker.launch();
    expect(broker.output).toContain('recovery cut a torn or corrupt tail');
    expect(statSync(segment).size).toBe(goodSize);
    await kcatProduce(broker.bootstrap, 'torn', ['d']);
    expect((await kcatConsume(broker.bootstrap, 'torn')).map((r) => [r.offset, r.value])).toEqual([
      [0, 'a'],
      [1, 'b'],
      [2, 'c'],
      [3, 'd'],
    ]);
  });

  it('deletes old segments by retention time set at runtime, advancing the log start offset', async () => {
    broker = await BrokerProcess.start({ 'log.retention.check.interval.ms': '200' });
    const admin = client(broker).admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic: 'expiring', configEntries: [{ name: 'segment.bytes', value: '4096' }] }] });
      await produce(broker, 'expiring', Array.from({ length: 200 }, (_, i) => `old-${i}-${'p'.repeat(50)}`));
      const before = segmentFiles(broker, 'expiring');
      expect(before.length).toBeGreaterThan(3);

      // Like kafka-configs --alter --add-config retention.ms=...
      await admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: 'expiring', configEntries: [{ name: 'retention.ms', value: '1000' }, { name: 'segment.bytes', value: '4096' }] }] });
      // The old segments go first, then the expired active one is rolled and goes too: one segment
      // file is seen on the way (the active one), so wait for the log start offset itself.
      await eventuallyPasses('every record expired', async () => expect((await admin.fetchTopicOffsets('expiring'))[0]).toMatchObject({ low: '200', high: '200' }), 10_000);
      expect(segmentFiles(broker, 'expiring')).toHaveLength(1);
      expect(broker.output).toContain('retention deleted segments');
    } finally {
      await admin.disconnect();
    }
    // The log keeps working after everything expired.
    await produce(broker, 'expiring', ['fresh']);
    expect((await kcatConsume(broker.bootstrap, 'expiring')).map((r) => [r.offset, r.value])).toEqual([[200, 'fresh']]);
  });

  it('deletes the oldest segments beyond retention.bytes', async () => {
    broker = await BrokerProcess.start({ 'log.retention.check.interval.ms': '200', 'log.segment.bytes': '4096', 'log.retention.bytes': '10000' });
    await produce(broker, 'bounded', Array.from({ length: 400 }, (_, i) => `v-${i}-${'q'.repeat(40)}`));
    await waitFor(() => {
      const dir = join(broker!.dataDir, 'bounded-0');
      const total = segmentFiles(broker!, 'bounded').reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
      return total <= 10000 + 4096;
    }, 10_000);
    const records = await kcatConsume(broker.bootstrap, 'bounded');
    expect(records.length).toBeGreaterThan(0);
    expect(records.length).toBeLessThan(400);
    // What is left is the newest data, contiguous up to the end.
    expect(records.at(-1)).toMatchObject({ offset: 399, value: `v-399-${'q'.repeat(40)}` });
    expect(records.map((r) => r.offset)).toEqual(Array.from({ length: records.length }, (_, i) => 400 - records.length + i));
  });
});

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs}ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
