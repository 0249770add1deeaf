// The wire edges of a real broker process, spoken to byte by byte: bad frames close only their
// own connection, bad batches get Kafka's error codes and write nothing, version negotiation,
// pipelining, long-poll fetches, and admin errors with messages a user can act on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../protocol/client.js';
import { ErrorCode } from '../protocol/errors.js';
import { encodeRequest } from '../protocol/frame.js';
import {
  apiVersionsApi,
  createPartitionsApi,
  fetchApi,
  listOffsetsApi,
  metadataApi,
  produceApi,
} from '../protocol/messages/index.js';
import { readApiVersionsResponse } from '../protocol/messages/api-versions-response.js';
import { Reader } from '../protocol/reader.js';
import { Writer } from '../protocol/writer.js';
import { buildRecordBatch } from '../records/batch-builder.js';
import { BatchOffset } from '../records/record-batch.js';
import { BrokerProcess } from './broker-process.js';
import { consumerFetch } from './fetch-request.js';
import { kcatConsume } from './kcat.js';
import { createTopic as createTopicOn } from './topics.js';

let broker: BrokerProcess;

beforeAll(async () => {
  broker = await BrokerProcess.start({ 'socket.request.max.bytes': '65536' });
});

afterAll(async () => {
  await broker?.destroy();
});

const open = () => KafkaConnection.open('127.0.0.1', broker.port, 'edge-test');

async function createTopic(name: string, partitions = 1, configs: Record<string, string> = {}) {
  const c = await open();
  try {
    return await createTopicOn(c, name, { partitions, configs });
  } finally {
    await c.close();
  }
}

function produceBody(topic: string, records: Buffer, acks = -1) {
  return { transactionalId: null, acks, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] };
}

/** A request frame written by hand: header (v1, or v2 with tagged fields) and `body` bytes. */
function rawFrame(apiKey: number, apiVersion: number, correlationId: number, flexible: boolean, body: (w: Writer) => void = () => {}): Buffer {
  const w = new Writer();
  w.int32(0);
  w.int16(apiKey);
  w.int16(apiVersion);
  w.int32(correlationId);
  w.int16(-1);
  if (flexible) w.unsignedVarint(0);
  body(w);
  const frame = w.toBuffer();
  frame.writeInt32BE(frame.length - 4, 0);
  return frame;
}

/** Waits for the broker to log `text` (its output arrives through a pipe, a moment later). */
async function logged(text: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!broker.output.includes(text)) {
    if (Date.now() > deadline) throw new Error(`broker never logged "${text}"`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function stillServes(): Promise<void> {
  const c = await open();
  const res = await c.send(apiVersionsApi, 3, { clientSoftwareName: 'edge', clientSoftwareVersion: '1' });
  expect(res.errorCode).toBe(0);
  await c.close();
}

describe('bad frames close only their connection', () => {
  it('a frame too small to be a request', async () => {
    const c = await open();
    const bystander = await open();
    await c.sendRaw(Buffer.from([0, 0, 0, 2, 1, 2]), 0).catch(() => {});
    await c.closed;
    expect((await bystander.send(metadataApi, 12, { topics: [], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false })).brokers).toHaveLength(1);
    await bystander.close();
    expect(broker.output).toContain('request frame too small');
  });

  it('a frame larger than socket.request.max.bytes', async () => {
    const c = await open();
    const header = Buffer.alloc(4);
    header.writeInt32BE(10_000_000);
    await c.sendRaw(header, 0).catch(() => {});
    await c.closed;
    await logged('request larger than socket.request.max.bytes');
    await stillServes();
  });

  it('an API the broker does not serve, and a version below the advertised range', async () => {
    const unknown = await open();
    await unknown.sendRaw(rawFrame(999, 0, 7, false), 7).catch(() => {});
    await unknown.closed;

    const old = await open();
    await expect(old.send(fetchApi, 1, { clusterId: null, replicaId: -1, replicaState: { replicaId: -1, replicaEpoch: -1 }, maxWaitMs: 0, minBytes: 0, maxBytes: 1, isolationLevel: 0, sessionId: 0, sessionEpoch: -1, topics: [], forgottenTopicsData: [], rackId: '' })).rejects.toThrow(/closed/);
    await logged('request for an API this broker does not serve');
    await logged('request version outside the advertised range');
    await stillServes();
  });

  it('a request body that does not decode', async () => {
    const c = await open();
    // Metadata v12 promising 999 topics and holding none.
    await c.sendRaw(rawFrame(3, 12, 9, true, (w) => w.unsignedVarint(1000)), 9).catch(() => {});
    await c.closed;
    await logged('request could not be decoded');
    await stillServes();
  });
});

describe('version negotiation', () => {
  it('answers an ApiVersions version from the future with UNSUPPORTED_VERSION in the v0 layout', async () => {
    const c = await open();
    const response = await c.sendRaw(rawFrame(18, 99, 42, true), 42);
    const decoded = readApiVersionsResponse(new Reader(response, 4), 0);
    expect(decoded.errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION);
    expect(decoded.apiKeys.find((k) => k.apiKey === 18)).toMatchObject({ minVersion: 0, maxVersion: 4 });
    expect(decoded.apiKeys.find((k) => k.apiKey === 1)).toMatchObject({ minVersion: 4, maxVersion: 17 });
    await c.close();
  });
});

describe('produce validation', () => {
  it('refuses a batch with a bad CRC as CORRUPT_MESSAGE and writes nothing of the request', async () => {
    await createTopic('crc');
    const c = await open();
    const good = buildRecordBatch([{ value: Buffer.from('good') }]);
    const bad = buildRecordBatch([{ value: Buffer.from('flipped') }]);
    bad.writeUInt8(bad.readUInt8(bad.length - 1) ^ 0xff, bad.length - 1);
    const res = await c.send(produceApi, 9, produceBody('crc', Buffer.concat([good, bad])));
    expect(res.responses[0]!.partitionResponses[0]).toMatchObject({ errorCode: ErrorCode.CORRUPT_MESSAGE, errorMessage: expect.stringContaining('CRC') });
    const ok = await c.send(produceApi, 9, produceBody('crc', good));
    expect(ok.responses[0]!.partitionResponses[0]).toMatchObject({ errorCode: 0, baseOffset: 0 });
    await c.close();
    expect((await kcatConsume(broker.bootstrap, 'crc')).map((r) => r.value)).toEqual(['good']);
  });

  it('maps other bad input to Kafka error codes', async () => {
    await createTopic('checks', 1, { 'max.message.bytes': '1000' });
    const c = await open();
    const batch = buildRecordBatch([{ value: Buffer.from('x') }]);
    const code = async (records: Buffer, acks = 1, topic = 'checks') => (await c.send(produceApi, 9, produceBody(topic, records, acks))).responses[0]!.partitionResponses[0]!.errorCode;

    expect(await code(batch, 2)).toBe(ErrorCode.INVALID_REQUIRED_ACKS);
    expect(await code(batch, 1, 'no-such-topic')).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect(await code(buildRecordBatch([{ value: Buffer.alloc(2000) }]))).toBe(ErrorCode.MESSAGE_TOO_LARGE);

    const oldFormat = Buffer.from(batch);
    oldFormat.writeInt8(1, BatchOffset.magic);
    expect(await code(oldFormat)).toBe(ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT);

    expect(await code(buildRecordBatch([{ value: Buffer.from('x') }], { baseOffset: 5 }))).toBe(ErrorCode.INVALID_RECORD);
    expect(await code(buildRecordBatch([{ value: Buffer.from('x') }], { producerId: 7, baseSequence: -1 }))).toBe(ErrorCode.INVALID_RECORD);
    expect(await code(batch.subarray(0, batch.length - 3))).toBe(ErrorCode.CORRUPT_MESSAGE);

    // acks=0 gets no response at all, yet the record is written; the next request is answered.
    let answered = false;
    const silent = encodeRequest(produceApi, 9, 5000, 'edge-test', produceBody('checks', buildRecordBatch([{ value: Buffer.from('fire-and-forget') }]), 0));
    c.sendRaw(silent, 5000).then(() => (answered = true), () => {});
    expect(await code(buildRecordBatch([{ value: Buffer.from('acknowledged') }]))).toBe(0);
    expect(answered).toBe(false);
    await c.close();
    expect((await kcatConsume(broker.bootstrap, 'checks')).map((r) => r.value)).toEqual(['fire-and-forget', 'acknowledged']);
  });
});

describe('connection behaviour', () => {
  it('answers pipelined requests in order', async () => {
    await createTopic('pipelined');
    const c = await open();
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => c.send(produceApi, 7, produceBody('pipelined', buildRecordBatch([{ value: Buffer.from(`m${i}`) }])))),
    );
    expect(results.map((r) => r.responses[0]!.partitionResponses[0]!.baseOffset)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    await c.close();
    expect((await kcatConsume(broker.bootstrap, 'pipelined')).map((r) => r.value)).toEqual(Array.from({ length: 30 }, (_, i) => `m${i}`));
  });

  it('holds a fetch at the end of the log until a produce arrives', async () => {
    await createTopic('long-poll');
    const consumer = await open();
    const producer = await open();
    const started = Date.now();
    const fetched = consumer.send(fetchApi, 12, consumerFetch('long-poll', { maxWaitMs: 20_000, minBytes: 1 }));
    await new Promise((r) => setTimeout(r, 300));
    await producer.send(produceApi, 9, produceBody('long-poll', buildRecordBatch([{ value: Buffer.from('wake') }])));
    const res = await fetched;
    // Woken by the append, long before maxWaitMs.
    expect(Date.now() - started).toBeLessThan(20_000);
    const partition = res.responses[0]!.partitions[0]!;
    expect(partition).toMatchObject({ errorCode: 0, highWatermark: 1 });
    expect(partition.records!.length).toBeGreaterThan(0);
    await consumer.close();
    await producer.close();
  });

  it('lists offsets: earliest, latest, by timestamp, and none past the last record', async () => {
    await createTopic('offsets');
    const c = await open();
    for (let i = 0; i < 3; i++) {
      await c.send(produceApi, 9, produceBody('offsets', buildRecordBatch([{ value: Buffer.from(`a${i}`), timestamp: 1_000_000 + i * 10 }, { value: Buffer.from(`b${i}`), timestamp: 1_000_005 + i * 10 }])));
    }
    const ask = async (timestamp: number) =>
      (await c.send(listOffsetsApi, 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'offsets', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp, maxNumOffsets: 1 }] }], timeoutMs: 0 })).topics[0]!
        .partitions[0]!;
    expect(await ask(-2)).toMatchObject({ offset: 0 });
    expect(await ask(-1)).toMatchObject({ offset: 6 });
    expect(await ask(-3)).toMatchObject({ offset: 5, timestamp: 1_000_025 });
    expect(await ask(1_000_011)).toMatchObject({ offset: 3, timestamp: 1_000_015 });
    expect(await ask(1_000_000)).toMatchObject({ offset: 0, timestamp: 1_000_000 });
    expect(await ask(2_000_000)).toMatchObject({ offset: -1, timestamp: -1 });
    await c.close();
  });
});

describe('admin errors carry messages a user can act on', () => {
  it('explains refused topic creation and partition changes', async () => {
    expect(await createTopic('bad-retention', 1, { 'retention.ms': 'tomorrow' })).toMatchObject({
      errorCode: ErrorCode.INVALID_CONFIG,
      errorMessage: 'retention.ms must be a whole number, got "tomorrow"',
    });
    expect(await createTopic('bad-policy', 1, { 'cleanup.policy': 'compact,shred' })).toMatchObject({
      errorCode: ErrorCode.INVALID_CONFIG,
      errorMessage: 'cleanup.policy does not support "shred" (supported: delete, compact)',
    });
    expect(await createTopic('x'.repeat(250))).toMatchObject({ errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, errorMessage: expect.stringContaining('249') });
    await createTopic('three', 3);
    const c = await open();
    const res = await c.send(createPartitionsApi, 3, { topics: [{ name: 'three', count: 2, assignments: null }], timeoutMs: 5000, validateOnly: false });
    expect(res.results[0]).toMatchObject({ errorCode: ErrorCode.INVALID_PARTITIONS, errorMessage: 'topic "three" has 3 partitions; the count can only grow, not shrink to 2' });
    await c.close();
  });
});
