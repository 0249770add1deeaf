// Consumer group offsets in transactions, end to end with kafkajs against a real broker process:
// offsets sent in a transaction (sendOffsets: AddOffsetsToTxn, then TxnOffsetCommit) are visible
// to the group only once the transaction commits, never after an abort, and survive a kill -9;
// a consume-transform-produce application that is killed after an aborted transaction resumes
// from the offsets its committed transactions stored, so a read_committed reader of its output
// sees every input exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import { BrokerProcess } from './broker-process.js';
import { eventuallyPasses } from './eventually.js';

const { Kafka, logLevel } = kafkajs;

let broker: BrokerProcess;
let kafka: InstanceType<typeof Kafka>;

beforeAll(async () => {
  broker = await BrokerProcess.start({ 'group.initial.rebalance.delay.ms': '0' });
  kafka = new Kafka({ clientId: 'txn-offsets', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 8 } });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      { topic: 'txo-in', numPartitions: 2 },
      { topic: 'txo-out', numPartitions: 1 },
      { topic: 'txo-manual-out', numPartitions: 1 },
    ],
  });
  await admin.disconnect();
}, 60_000);

afterAll(async () => {
  await broker?.destroy();
});

/** The group's committed offset of each partition of `topic` (-1: none), as an admin sees it. */
async function committedOffsets(groupId: string, topic: string): Promise<Record<number, string>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [found] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return Object.fromEntries(found!.partitions.map((p) => [p.partition, p.offset]));
  } finally {
    await admin.disconnect();
  }
}

/**
 * Every value a read_committed consumer reads from `topic`, up to an END record written after the
 * transactions under test ended: what it has not seen by then (a duplicate, an aborted record
 * shown) it never will.
 */
async function readCommittedToEnd(topic: string): Promise<string[]> {
  const plain = kafka.producer();
  await plain.connect();
  await plain.send({ topic, messages: [{ value: 'END' }] });
  await plain.disconnect();
  const consumer = kafka.consumer({ groupId: `reader-${topic}-${Date.now()}`, readUncommitted: false });
  const values: string[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void values.push(message.value!.toString()) });
  await eventuallyPasses(`a read_committed consumer to read ${topic} to its END`, () => expect(values).toContain('END'), 60_000);
  await consumer.disconnect();
  return values.filter((v) => v !== 'END');
}

describe('offsets in transactions with kafkajs', () => {
  it('are visible to the group only after the transaction commits, never after an abort, and survive a kill -9', async () => {
    const groupId = 'txo-manual-group';
    const producer = kafka.producer({ transactionalId: 'txo-manual', idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const sendOffsets = async (offset: string, value: string) => {
      const txn = await producer.transaction();
      await txn.send({ topic: 'txo-manual-out', messages: [{ value }] });
      await txn.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: 'txo-in', partitions: [{ partition: 0, offset }] }] });
      return txn;
    };

    const aborted = await sendOffsets('3', 'aborted');
    expect((await committedOffsets(groupId, 'txo-in'))[0]).toBe('-1');
    await aborted.abort();
    expect((await committedOffsets(groupId, 'txo-in'))[0]).toBe('-1');

    const committed = await sendOffsets('5', 'committed');
    expect((await committedOffsets(groupId, 'txo-in'))[0]).toBe('-1');
    await committed.commit();
    // EndTxn answers once the outcome is decided; the markers follow.
    await eventuallyPasses('the committed offset to become visible', async () => expect((await committedOffsets(groupId, 'txo-in'))[0]).toBe('5'));
    await producer.disconnect();

    expect(await readCommittedToEnd('txo-manual-out')).toEqual(['committed']);

    // Replayed from the offsets log (transactional batches and their markers) after a kill -9.
    await broker.restart(true);
    await eventuallyPasses('the offset to be replayed', async () => expect((await committedOffsets(groupId, 'txo-in'))[0]).toBe('5'), 60_000);
  });

  it('let a consume-transform-produce application killed after an aborted transaction resume so each input is output exactly once', async () => {
    const inputs = Array.from({ length: 20 }, (_, i) => `v${i}`);
    const plain = kafka.producer();
    await plain.connect();
    await plain.send({ topic: 'txo-in', messages: inputs.map((value, i) => ({ key: String(i), value, partition: i % 2 })) });
    await plain.disconnect();

    let done = 0;
    /** One instance of the application: each input record in its own transaction, its offset sent with the output; returns how many it took. */
    async function runApp(shouldAbort: (processed: number) => boolean) {
      const consumer = kafka.consumer({ groupId: 'txo-app', readUncommitted: false });
      const producer = kafka.producer({ transactionalId: 'txo-app-tx', idempotent: true, maxInFlightRequests: 1 });
      await Promise.all([consumer.connect(), producer.connect()]);
      await consumer.subscribe({ topic: 'txo-in', fromBeginning: true });
      let processed = 0;
      let stopped = false;
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ topic, partition, message }) => {
          if (stopped) return;
          processed++;
          const txn = await producer.transaction();
          await txn.send({ topic: 'txo-out', messages: [{ value: `out-${message.value!.toString()}` }] });
          await txn.sendOffsets({ consumerGroupId: 'txo-app', topics: [{ topic, partitions: [{ partition, offset: String(Number(message.offset) + 1) }] }] });
          if (shouldAbort(processed)) {
            await txn.abort();
            // The instance dies here: nothing after the aborted transaction is processed by it.
            stopped = true;
            return;
          }
          await txn.commit();
          done++;
        },
      });
      await eventuallyPasses('the application instance to finish its part', () => expect(stopped || done === inputs.length).toBe(true), 60_000);
      await Promise.all([consumer.disconnect(), producer.disconnect()]);
      return processed;
    }

    // The first instance commits 7 transactions and aborts the 8th, then stops.
    expect(await runApp((n) => n === 8)).toBe(8);
    // The second resumes from the offsets the committed transactions stored, the aborted input included.
    expect(await runApp(() => false)).toBe(inputs.length - 7);

    const outputs = await readCommittedToEnd('txo-out');
    expect(outputs.toSorted()).toEqual(inputs.map((v) => `out-${v}`).toSorted());
    // Every input has been consumed: the group's offsets are at the end of each input partition.
    expect(await committedOffsets('txo-app', 'txo-in')).toEqual({ 0: '10', 1: '10' });
  });
});
