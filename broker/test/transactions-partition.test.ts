// Transactions at the partition, against a real broker process over the protocol: an open
// transaction holds the last stable offset, so read_committed Fetch and ListOffsets stop at it
// while read_uncommitted reads on; DescribeProducers (and Kafka's kafka-transactions.sh) shows
// it; a kill -9 and restart keep it; clients may not write control batches.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../protocol/client.js';
import { ErrorCode } from '../protocol/errors.js';
import { describeProducersApi, fetchApi, initProducerIdApi, listOffsetsApi, produceApi } from '../protocol/messages/index.js';
import { buildControlBatch, buildRecordBatch } from '../records/batch-builder.js';
import { decodeRecords, readBatchInfo } from '../records/record-batch.js';
import { BrokerProcess } from './broker-process.js';
import { consumerFetch } from './fetch-request.js';
import { cli } from './kafka-tools.js';
import { mustCreateTopic } from './topics.js';

let broker: BrokerProcess;
let c: KafkaConnection;

beforeAll(async () => {
  broker = await BrokerProcess.start();
  c = await KafkaConnection.open('127.0.0.1', broker.port, 'txn-partition-test');
});

afterAll(async () => {
  await c?.close();
  await broker?.destroy();
});

const TXN_ID = 'txn-partition-test';

async function produce(topic: string, records: Buffer, transactionalId: string | null = null) {
  const res = await c.send(produceApi, 9, { transactionalId, acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] });
  return res.responses[0]!.partitionResponses[0]!;
}

async function consume(topic: string, isolationLevel: number) {
  const res = await c.send(fetchApi, 12, consumerFetch(topic, { isolationLevel }));
  const p = res.responses[0]!.partitions[0]!;
  const offsets: number[] = [];
  const records = p.records ?? Buffer.alloc(0);
  for (let at = 0; at < records.length; ) {
    const info = readBatchInfo(records, at);
    for (const r of decodeRecords(records.subarray(at, at + info.size))) offsets.push(r.offset);
    at += info.size;
  }
  return { errorCode: p.errorCode, highWatermark: p.highWatermark, lastStableOffset: p.lastStableOffset, abortedTransactions: p.abortedTransactions, offsets };
}

/** ListOffsets: LATEST by default, else the first offset at or after `timestamp`. */
async function listOffset(topic: string, isolationLevel: number, timestamp = -1): Promise<number> {
  const res = await c.send(listOffsetsApi, 7, { replicaId: -1, isolationLevel, topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp, maxNumOffsets: 1 }] }], timeoutMs: 5000 });
  const p = res.topics[0]!.partitions[0]!;
  expect(p.errorCode).toBe(ErrorCode.NONE);
  return p.offset;
}

/** The value of an unlabelled metric on the broker's /metrics. */
async function gauge(name: string): Promise<number | undefined> {
  const text = await (await fetch(`${broker.httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

async function describeProducers(topic: string, partition = 0) {
  const res = await c.send(describeProducersApi, 0, { topics: [{ name: topic, partitionIndexes: [partition] }] });
  return res.topics[0]!.partitions[0]!;
}

describe('an open transaction in a partition', () => {
  it('holds read_committed Fetch and ListOffsets at its first offset, shows in DescribeProducers, and survives a kill -9', async () => {
    const topic = 'txn-open';
    await mustCreateTopic(c, topic);
    const init = await c.send(initProducerIdApi, 4, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
    expect(init.errorCode).toBe(ErrorCode.NONE);
    const { producerId, producerEpoch } = init;

    const t = Date.now();
    expect(await produce(topic, buildRecordBatch([{ value: Buffer.from('before'), timestamp: t }]))).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0 });
    const txnBatch = buildRecordBatch([{ value: Buffer.from('t1'), timestamp: t + 1000 }, { value: Buffer.from('t2'), timestamp: t + 1000 }], { producerId, producerEpoch, baseSequence: 0, transactional: true });
    expect(await produce(topic, txnBatch, TXN_ID)).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 1 });
    expect(await produce(topic, buildRecordBatch([{ value: Buffer.from('after'), timestamp: t + 2000 }]))).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 3 });

    const check = async () => {
      expect(await consume(topic, 0)).toMatchObject({ errorCode: ErrorCode.NONE, highWatermark: 4, lastStableOffset: 1, offsets: [0, 1, 2, 3] });
      expect(await consume(topic, 1)).toMatchObject({ errorCode: ErrorCode.NONE, highWatermark: 4, lastStableOffset: 1, abortedTransactions: [], offsets: [0] });
      expect(await listOffset(topic, 0)).toBe(4);
      expect(await listOffset(topic, 1)).toBe(1);
      // A timestamp lookup never finds an offset at or past the LSO for read_committed.
      expect(await listOffset(topic, 0, t + 500)).toBe(1);
      expect(await listOffset(topic, 1, t + 500)).toBe(-1);
      expect(await listOffset(topic, 1, t)).toBe(0);
      const described = await describeProducers(topic);
      expect(described.errorCode).toBe(ErrorCode.NONE);
      expect(described.activeProducers).toEqual([
        { producerId, producerEpoch, lastSequence: 1, lastTimestamp: expect.any(Number), coordinatorEpoch: -1, currentTxnStartOffset: 1 },
      ]);
      expect(await gauge('samsa_open_transactions')).toBe(1);
    };
    await check();
    // A crash: no clean shutdown, so the open transaction comes back from the log and the snapshot.
    await c.close();
    await broker.kill();
    await broker.launch();
    c = await KafkaConnection.open('127.0.0.1', broker.port, 'txn-partition-test');
    await check();

    // Kafka's own tool reads the same answer.
    const tool = await cli('org.apache.kafka.tools.TransactionsCommand', ['--bootstrap-server', broker.bootstrap, 'describe-producers', '--topic', topic, '--partition', '0']);
    expect(tool.code, tool.out).toBe(0);
    const row = tool.out.split('\n').find((line) => line.trim().startsWith(String(producerId)));
    expect(row, tool.out).toBeDefined();
    expect(row!.trim().split(/\s+/).at(-1)).toBe('1'); // CurrentTransactionStartOffset
  });

  it('DescribeProducers answers UNKNOWN_TOPIC_OR_PARTITION for a partition that does not exist', async () => {
    expect(await describeProducers('txn-no-such-topic')).toMatchObject({ errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, activeProducers: [] });
  });
});

describe('produce refusals', () => {
  it('refuses control batches from a client (INVALID_RECORD), transactional records without a transactional id or a producer id, writing nothing', async () => {
    const topic = 'txn-refusals';
    await mustCreateTopic(c, topic);
    const init = await c.send(initProducerIdApi, 4, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
    const { producerId, producerEpoch } = init;

    const marker = buildControlBatch({ producerId, producerEpoch, commit: true, coordinatorEpoch: 0 }, Date.now());
    const refused = await produce(topic, marker, TXN_ID);
    expect(refused.errorCode).toBe(ErrorCode.INVALID_RECORD);
    expect(refused.errorMessage).toMatch(/control batches/);

    const txnBatch = buildRecordBatch([{ value: Buffer.from('t') }], { producerId, producerEpoch, baseSequence: 0, transactional: true });
    const noId = await produce(topic, txnBatch, null);
    expect(noId.errorCode).toBe(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);

    const noProducer = await produce(topic, buildRecordBatch([{ value: Buffer.from('t') }], { transactional: true }), TXN_ID);
    expect(noProducer).toMatchObject({ errorCode: ErrorCode.INVALID_RECORD, errorMessage: expect.stringMatching(/producer id/) });

    expect(await consume(topic, 0)).toMatchObject({ highWatermark: 0, lastStableOffset: 0, offsets: [] });
    expect((await describeProducers(topic)).activeProducers).toEqual([]);
  });
});
