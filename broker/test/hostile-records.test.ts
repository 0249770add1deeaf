// Hostile record batches against a real broker process, each under a valid CRC so that only
// record-level validation can catch it: lying record counts, garbage records, wrong offset
// deltas, payloads that are not what their codec flag says, and decompression bombs. Each is
// refused with Kafka's code and a message, the broker keeps serving, and what was acknowledged
// before and after reads back intact with kcat.
import { readFileSync } from 'node:fs';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { crc32c } from '@node-rs/crc32';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../protocol/client.js';
import { ErrorCode } from '../protocol/errors.js';
import { apiVersionsApi, produceApi } from '../protocol/messages/index.js';
import { Writer } from '../protocol/writer.js';
import { buildRecordBatch } from '../records/batch-builder.js';
import { Compression } from '../records/compression.js';
import { BatchOffset, BATCH_HEADER_SIZE, LOG_OVERHEAD } from '../records/record-batch.js';
import { BrokerProcess } from './broker-process.js';
import { kcatConsume, kcatProduce } from './kcat.js';
import { mustCreateTopic } from './topics.js';

let broker: BrokerProcess;

beforeAll(async () => {
  broker = await BrokerProcess.start();
});

afterAll(async () => {
  await broker?.destroy();
});

const open = () => KafkaConnection.open('127.0.0.1', broker.port, 'hostile-test');

async function createTopic(name: string, configs: Record<string, string> = {}): Promise<void> {
  const c = await open();
  try {
    await mustCreateTopic(c, name, { configs });
  } finally {
    await c.close();
  }
}

/** A v2 batch around `payload` exactly as given, claiming `recordCount` records, with a valid CRC. */
function rawBatch(payload: Buffer, recordCount: number, codec: number = Compression.none): Buffer {
  const batch = Buffer.alloc(BATCH_HEADER_SIZE + payload.length);
  batch.writeInt32BE(batch.length - LOG_OVERHEAD, BatchOffset.batchLength);
  batch.writeInt32BE(-1, BatchOffset.partitionLeaderEpoch);
  batch.writeInt8(2, BatchOffset.magic);
  batch.writeInt16BE(codec, BatchOffset.attributes);
  batch.writeInt32BE(recordCount - 1, BatchOffset.lastOffsetDelta);
  batch.writeBigInt64BE(BigInt(Date.now()), BatchOffset.baseTimestamp);
  batch.writeBigInt64BE(BigInt(Date.now()), BatchOffset.maxTimestamp);
  batch.writeBigInt64BE(-1n, BatchOffset.producerId);
  batch.writeInt16BE(-1, BatchOffset.producerEpoch);
  batch.writeInt32BE(-1, BatchOffset.baseSequence);
  batch.writeInt32BE(recordCount, BatchOffset.recordCount);
  payload.copy(batch, BATCH_HEADER_SIZE);
  batch.writeUInt32BE(crc32c(batch.subarray(BatchOffset.attributes)), BatchOffset.crc);
  return batch;
}

/** The record payload (no batch header) that buildRecordBatch would write for these values. */
const payloadOf = (values: string[]) => {
  const batch = buildRecordBatch(values.map((v) => ({ value: Buffer.from(v) })));
  return Buffer.from(batch.subarray(BATCH_HEADER_SIZE));
};

/** One record written field by field, so that each field can be made wrong. */
function record(fields: { offsetDelta?: number; keyLength?: number; headers?: Array<[number, number]>; headerCount?: number; extra?: number }): Buffer {
  const body = new Writer(32);
  body.int8(0);
  body.varlong(0);
  body.varint(fields.offsetDelta ?? 0);
  body.varint(fields.keyLength ?? -1);
  body.varint(1);
  body.raw(Buffer.from('v'));
  const headers = fields.headers ?? [];
  body.varint(fields.headerCount ?? headers.length);
  for (const [keyLength, valueLength] of headers) {
    body.varint(keyLength);
    if (keyLength > 0) body.raw(Buffer.alloc(keyLength, 'k'));
    body.varint(valueLength);
    if (valueLength > 0) body.raw(Buffer.alloc(valueLength, 'h'));
  }
  const out = new Writer(40);
  out.varint(body.length + (fields.extra ?? 0));
  out.append(body);
  return out.toBuffer();
}

async function produce(c: KafkaConnection, topic: string, records: Buffer) {
  const res = await c.send(produceApi, 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] });
  return res.responses[0]!.partitionResponses[0]!;
}

async function stillServes(): Promise<void> {
  const c = await open();
  expect((await c.send(apiVersionsApi, 3, { clientSoftwareName: 'hostile', clientSoftwareVersion: '1' })).errorCode).toBe(0);
  await c.close();
}

describe('record validation', () => {
  it('refuses batches whose records do not match their header, burning no offsets', async () => {
    await createTopic('lies');
    const c = await open();
    expect(await produce(c, 'lies', buildRecordBatch([{ value: Buffer.from('before') }]))).toMatchObject({ errorCode: 0, baseOffset: 0 });

    // A million records claimed, one inside: the valid CRC covers the lie.
    expect(await produce(c, 'lies', rawBatch(payloadOf(['one']), 1_000_000))).toMatchObject({
      errorCode: ErrorCode.INVALID_RECORD,
      errorMessage: expect.stringContaining('declares 1000000 records and holds 1'),
    });
    // Two records inside, one claimed.
    expect(await produce(c, 'lies', rawBatch(payloadOf(['a', 'b']), 1))).toMatchObject({
      errorCode: ErrorCode.INVALID_RECORD,
      errorMessage: expect.stringContaining('records still remaining'),
    });
    // Garbage under a valid CRC: the record length runs past the batch.
    const garbage = await produce(c, 'lies', rawBatch(Buffer.from('this is not a record at all, only bytes'), 1));
    expect(garbage).toMatchObject({ errorCode: ErrorCode.INVALID_RECORD, recordErrors: [{ batchIndex: 0, batchIndexErrorMessage: expect.stringContaining('Invalid record size') }] });
    // Record 1 claiming offset delta 5.
    expect(await produce(c, 'lies', rawBatch(Buffer.concat([record({}), record({ offsetDelta: 5 })]), 2))).toMatchObject({
      errorCode: ErrorCode.INVALID_RECORD,
      recordErrors: [{ batchIndex: 1, batchIndexErrorMessage: expect.stringContaining('offset delta 5') }],
    });
    // A header key of negative length, a header count larger than the record, a length with bytes left over.
    expect(await produce(c, 'lies', rawBatch(record({ headers: [[-3, 1]] }), 1))).toMatchObject({
      errorCode: ErrorCode.INVALID_RECORD,
      recordErrors: [{ batchIndex: 0, batchIndexErrorMessage: 'Invalid negative header key size -3' }],
    });
    expect(await produce(c, 'lies', rawBatch(record({ headerCount: 60 }), 1))).toMatchObject({
      errorCode: ErrorCode.INVALID_RECORD,
      recordErrors: [{ batchIndex: 0, batchIndexErrorMessage: expect.stringContaining('invalid number of record headers') }],
    });
    expect(await produce(c, 'lies', rawBatch(Buffer.concat([record({ extra: 2 }), Buffer.from([0, 0])]), 1))).toMatchObject({
      errorCode: ErrorCode.INVALID_RECORD,
      recordErrors: [{ batchIndex: 0, batchIndexErrorMessage: expect.stringContaining('expected to read') }],
    });
    // A varint that never ends.
    expect(await produce(c, 'lies', rawBatch(Buffer.alloc(12, 0xff), 1))).toMatchObject({ errorCode: ErrorCode.INVALID_RECORD });
    // A well-formed batch built by hand passes the same walk.
    expect(await produce(c, 'lies', rawBatch(Buffer.concat([record({ headers: [[2, -1]] }), record({ offsetDelta: 1, keyLength: 0 })]), 2))).toMatchObject({ errorCode: 0, baseOffset: 1 });

    expect(await produce(c, 'lies', buildRecordBatch([{ value: Buffer.from('after') }]))).toMatchObject({ errorCode: 0, baseOffset: 3 });
    await c.close();
    expect((await kcatConsume(broker.bootstrap, 'lies')).map((r) => [r.offset, r.value])).toEqual([
      [0, 'before'],
      [1, 'v'],
      [2, 'v'],
      [3, 'after'],
    ]);
  });

  it('refuses a codec flag over a payload that is not of that codec as CORRUPT_MESSAGE', async () => {
    await createTopic('codecs');
    const c = await open();
    const plain = payloadOf(['x']);
    for (const codec of [Compression.gzip, Compression.snappy, Compression.lz4, Compression.zstd]) {
      expect(await produce(c, 'codecs', rawBatch(plain, 1, codec))).toMatchObject({ errorCode: ErrorCode.CORRUPT_MESSAGE, errorMessage: expect.stringMatching(/gzip|snappy|lz4|zstd/) });
    }
    // Compressed, but what it inflates to is not the records the header claims.
    expect(await produce(c, 'codecs', rawBatch(gzipSync(plain), 2, Compression.gzip))).toMatchObject({ errorCode: ErrorCode.INVALID_RECORD });
    // Each codec with real records is stored and read back, from this broker's encoder and from librdkafka's.
    let offset = 0;
    for (const codec of [Compression.gzip, Compression.snappy, Compression.lz4, Compression.zstd]) {
      const batch = buildRecordBatch([{ value: Buffer.from(`c${codec}-0`) }, { value: Buffer.from(`c${codec}-1`) }], { compression: codec });
      expect(await produce(c, 'codecs', batch)).toMatchObject({ errorCode: 0, baseOffset: offset });
      offset += 2;
    }
    await c.close();
    for (const codec of ['gzip', 'snappy', 'lz4', 'zstd']) await kcatProduce(broker.bootstrap, 'codecs', [`kcat-${codec}-a`, `kcat-${codec}-b`], ['-z', codec]);
    await stillServes();
    expect((await kcatConsume(broker.bootstrap, 'codecs')).map((r) => r.value)).toEqual([
      ...[1, 2, 3, 4].flatMap((codec) => [`c${codec}-0`, `c${codec}-1`]),
      ...['gzip', 'snappy', 'lz4', 'zstd'].flatMap((codec) => [`kcat-${codec}-a`, `kcat-${codec}-b`]),
    ]);
  });

  it('refuses records without a key on a compacted topic, compressed or not, naming the record', async () => {
    await createTopic('keyed', { 'cleanup.policy': 'compact' });
    const c = await open();
    const records = [{ key: Buffer.from('k'), value: Buffer.from('1') }, { value: Buffer.from('no key') }];
    for (const compression of [Compression.none, Compression.zstd]) {
      expect(await produce(c, 'keyed', buildRecordBatch(records, { compression }))).toMatchObject({
        errorCode: ErrorCode.INVALID_RECORD,
        recordErrors: [{ batchIndex: 1, batchIndexErrorMessage: expect.stringContaining('without a key') }],
      });
    }
    expect(await produce(c, 'keyed', buildRecordBatch([records[0]!], { compression: Compression.zstd }))).toMatchObject({ errorCode: 0, baseOffset: 0 });
    await c.close();
    expect((await kcatConsume(broker.bootstrap, 'keyed')).map((r) => [r.key, r.value])).toEqual([['k', '1']]);
  });
});

/** Peak resident set of a process (VmHWM), in bytes. */
function peakRss(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmHWM:'))!;
  return Number(line.split(/\s+/)[1]) * 1024;
}

/** `copies` concatenated frames or members of one compressed block of zeros: a bomb built cheaply. */
function bomb(compressBlock: (b: Buffer) => Buffer, blockBytes: number, copies: number): Buffer {
  const frame = compressBlock(Buffer.alloc(blockBytes));
  return Buffer.concat(Array.from({ length: copies }, () => frame));
}

describe('decompression bombs', () => {
  it('are refused after a bounded inflation while other connections are served', async () => {
    await createTopic('bombs', { 'cleanup.policy': 'compact' });
    const c = await open();
    expect(await produce(c, 'bombs', buildRecordBatch([{ key: Buffer.from('k'), value: Buffer.from('before') }]))).toMatchObject({ errorCode: 0, baseOffset: 0 });
    const bombs = [
      // 1 GiB of zeros in about 1 MB of gzip, and 2 GiB in about 130 KB of zstd.
      { name: 'gzip', batch: rawBatch(bomb(gzipSync, 16 << 20, 64), 1, Compression.gzip) },
      { name: 'zstd', batch: rawBatch(bomb(zstdCompressSync, 64 << 20, 32), 1, Compression.zstd) },
    ];
    const bystander = await open();
    for (const { name, batch } of bombs) {
      expect(batch.length, name).toBeLessThan(1_048_588);
      let settled = false;
      const refused = produce(c, 'bombs', batch).finally(() => (settled = true));
      // While the bomb is inflated, another connection keeps being answered.
      let answeredMeanwhile = 0;
      while (!settled) {
        const res = await bystander.send(apiVersionsApi, 3, { clientSoftwareName: 'bystander', clientSoftwareVersion: '1' });
        expect(res.errorCode).toBe(0);
        if (!settled) answeredMeanwhile++;
      }
      expect(await refused, name).toMatchObject({ errorCode: ErrorCode.MESSAGE_TOO_LARGE, errorMessage: expect.stringContaining(`${name} payload inflates to more than`) });
      expect(answeredMeanwhile, name).toBeGreaterThan(0);
    }
    // A record count no payload within the limit could hold is refused before inflating anything.
    expect(await produce(c, 'bombs', rawBatch(gzipSync(payloadOf(['x'])), 2_000_000_000, Compression.gzip))).toMatchObject({ errorCode: ErrorCode.MESSAGE_TOO_LARGE });
    // A memory bound, generous against the limit (64 MiB of output at a time) yet far below the gigabytes a bomb used to take.
    expect(peakRss(broker.pid)).toBeLessThan(768 << 20);
    expect(await produce(c, 'bombs', buildRecordBatch([{ key: Buffer.from('k2'), value: Buffer.from('after') }], { compression: Compression.gzip }))).toMatchObject({ errorCode: 0, baseOffset: 1 });
    await c.close();
    await bystander.close();
    expect((await kcatConsume(broker.bootstrap, 'bombs')).map((r) => r.value)).toEqual(['before', 'after']);
  });
});
