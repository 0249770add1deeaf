// Internal topics and topic names against a real broker process: clients cannot write to,
// delete or resize __consumer_offsets; a record in it that the coordinator cannot read is
// skipped (logged and counted) at start instead of keeping the broker down; and topic names that
// collide on '.'/'_' are refused as Kafka refuses them, also when auto-created.
import { appendFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionForGroup } from '../groups/offsets-records.js';
import { KafkaConnection } from '../protocol/client.js';
import { ErrorCode } from '../protocol/errors.js';
import { createPartitionsApi, createTopicsApi, deleteTopicsApi, listOffsetsApi, metadataApi, offsetCommitApi, produceApi } from '../protocol/messages/index.js';
import { buildRecordBatch } from '../records/batch-builder.js';
import { BrokerProcess } from './broker-process.js';
import { kcatConsume, kcatProduce } from './kcat.js';
import { notGzip } from './undecodable-batch.js';

const { Kafka, logLevel } = kafkajs;
const OFFSETS_PARTITIONS = 3;

let broker: BrokerProcess;

beforeAll(async () => {
  broker = await BrokerProcess.start({ 'offsets.topic.num.partitions': String(OFFSETS_PARTITIONS) });
});

afterAll(async () => {
  await broker?.destroy();
});

const open = () => KafkaConnection.open('127.0.0.1', broker.port, 'internal-test');
const admin = () => new Kafka({ clientId: 'internal-admin', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 2 } }).admin();

/** A group whose offsets live in the given partition of __consumer_offsets. */
function groupOnPartition(partition: number, tag: string): string {
  for (let i = 0; ; i++) if (partitionForGroup(`${tag}-${i}`, OFFSETS_PARTITIONS) === partition) return `${tag}-${i}`;
}

/** A standalone OffsetCommit (no membership), as admin tools send it. */
async function commit(groupId: string, topic: string, offset: number): Promise<void> {
  const c = await open();
  const res = await c.send(offsetCommitApi, 8, {
    groupId,
    generationIdOrMemberEpoch: -1,
    memberId: '',
    groupInstanceId: null,
    retentionTimeMs: -1,
    topics: [{ name: topic, partitions: [{ partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, commitTimestamp: -1, committedMetadata: null }] }],
  });
  await c.close();
  expect(res.topics[0]!.partitions[0]!.errorCode).toBe(0);
}

async function committed(groupId: string, topic: string): Promise<string | undefined> {
  const a = admin();
  await a.connect();
  const [result] = await a.fetchOffsets({ groupId, topics: [topic] });
  await a.disconnect();
  return result?.partitions.find((p) => p.partition === 0)?.offset;
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${broker.httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : NaN;
}

async function nextOffset(c: KafkaConnection, topic: string, partition: number): Promise<number> {
  const res = await c.send(listOffsetsApi, 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: topic, partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp: -1, maxNumOffsets: 1 }] }], timeoutMs: 0 });
  return res.topics[0]!.partitions[0]!.offset;
}

describe('__consumer_offsets', () => {
  it('cannot be written, deleted or resized by clients, and its offsets survive the attempts', async () => {
    await kcatProduce(broker.bootstrap, 'orders', ['o1', 'o2', 'o3']);
    const group = groupOnPartition(0, 'guarded');
    await commit(group, 'orders', 2);

    const c = await open();
    const end = await nextOffset(c, '__consumer_offsets', 0);
    const produced = await c.send(produceApi, 9, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 5000,
      topicData: [{ name: '__consumer_offsets', partitionData: [{ index: 0, records: buildRecordBatch([{ key: Buffer.from([0, 1, 0x7f, 0xff]), value: Buffer.from('x') }]) }] }],
    });
    expect(produced.responses[0]!.partitionResponses[0]).toMatchObject({ errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, errorMessage: 'Cannot append to internal topic __consumer_offsets' });
    const deleted = await c.send(deleteTopicsApi, 6, { topics: [{ name: '__consumer_offsets', topicId: 'AAAAAAAAAAAAAAAAAAAAAA' }], topicNames: [], timeoutMs: 5000 });
    expect(deleted.responses[0]).toMatchObject({ errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, errorMessage: 'Cannot delete internal topic __consumer_offsets' });
    const grown = await c.send(createPartitionsApi, 3, { topics: [{ name: '__consumer_offsets', count: 10, assignments: null }], timeoutMs: 5000, validateOnly: false });
    expect(grown.results[0]).toMatchObject({ errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, errorMessage: expect.stringContaining('internal topic __consumer_offsets') });
    expect(await nextOffset(c, '__consumer_offsets', 0)).toBe(end);
    await c.close();

    // A real client's admin gets the same answer.
    const a = admin();
    await a.connect();
    await expect(a.deleteTopics({ topics: ['__consumer_offsets'] })).rejects.toMatchObject({ type: 'INVALID_TOPIC_EXCEPTION' });
    await a.disconnect();
    expect(await committed(group, 'orders')).toBe('2');
    expect((await kcatConsume(broker.bootstrap, 'orders')).map((r) => r.value)).toEqual(['o1', 'o2', 'o3']);
  });

  it('is created with its own settings when a client asks for it by name', async () => {
    const fresh = await BrokerProcess.start({ 'offsets.topic.num.partitions': '4', 'num.partitions': '1' });
    try {
      const c = await KafkaConnection.open('127.0.0.1', fresh.port, 'internal-test');
      const res = await c.send(metadataApi, 12, { topics: [{ name: '__consumer_offsets', topicId: 'AAAAAAAAAAAAAAAAAAAAAA' }], allowAutoTopicCreation: true, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
      expect(res.topics[0]).toMatchObject({ errorCode: 0, isInternal: true });
      expect(res.topics[0]!.partitions).toHaveLength(4);
      await c.close();
    } finally {
      await fresh.destroy();
    }
  });

  it('start-up replay skips records it cannot read, counts them, and keeps every offset', async () => {
    await kcatProduce(broker.bootstrap, 'payments', ['p1', 'p2', 'p3', 'p4']);
    const before = groupOnPartition(0, 'before');
    await commit(before, 'payments', 3);
    const c = await open();
    const base = await nextOffset(c, '__consumer_offsets', 0);
    await c.close();
    await broker.stop();

    // Written straight into the partition's active segment, each with a valid CRC: a key that
    // claims a 32767-byte group name in 2 bytes, then a gzip flag over bytes that are not gzip.
    const dir = join(broker.dataDir, '__consumer_offsets-0');
    const segment = readdirSync(dir).filter((f) => f.endsWith('.log')).sort().at(-1)!;
    const poison = buildRecordBatch([{ key: Buffer.from([0, 1, 0x7f, 0xff]), value: Buffer.from('x') }], { baseOffset: base });
    const undecodable = notGzip(buildRecordBatch([{ key: Buffer.from('k'), value: Buffer.from('v') }], { baseOffset: base + 1 }));
    appendFileSync(join(dir, segment), Buffer.concat([poison, undecodable]));
    rmSync(join(broker.dataDir, '.clean-shutdown'), { force: true });

    await broker.launch();
    expect(broker.output).toContain('skipped an unreadable offsets-topic record');
    expect(await metric('samsa_offsets_load_skipped_records_total')).toBe(2);
    expect(await committed(before, 'payments')).toBe('3');

    // Commits after the poison land behind it and survive another restart.
    const after = groupOnPartition(0, 'after');
    await commit(after, 'payments', 4);
    await broker.restart();
    expect(await committed(before, 'payments')).toBe('3');
    expect(await committed(after, 'payments')).toBe('4');
    expect(await metric('samsa_offsets_load_skipped_records_total')).toBe(2);
  });
});

describe('topic names colliding on . and _', () => {
  it('are refused with INVALID_TOPIC_EXCEPTION, by CreateTopics and by auto-creation', async () => {
    const c = await open();
    const create = async (name: string) =>
      (await c.send(createTopicsApi, 7, { topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false })).topics[0]!;
    expect(await create('metrics.daily')).toMatchObject({ errorCode: 0 });
    expect(await create('metrics_daily')).toMatchObject({ errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, errorMessage: "Topic 'metrics_daily' collides with existing topic: metrics.daily" });
    expect(await create('metrics.daily')).toMatchObject({ errorCode: ErrorCode.TOPIC_ALREADY_EXISTS });
    expect(await create('metrics-daily')).toMatchObject({ errorCode: 0 });

    const auto = await c.send(metadataApi, 12, { topics: [{ name: 'metrics_daily', topicId: 'AAAAAAAAAAAAAAAAAAAAAA' }], allowAutoTopicCreation: true, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
    expect(auto.topics[0]).toMatchObject({ name: 'metrics_daily', errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION });
    await c.close();

    // A real client producing to the colliding name gets the error; the existing topic is untouched.
    await expect(kcatProduce(broker.bootstrap, 'metrics_daily', ['lost'], ['-X', 'message.timeout.ms=3000'])).rejects.toThrow();
    await kcatProduce(broker.bootstrap, 'metrics.daily', ['kept']);
    const a = admin();
    await a.connect();
    expect((await a.listTopics()).filter((t) => t.startsWith('metrics'))).toEqual(expect.arrayContaining(['metrics.daily', 'metrics-daily']));
    expect(await a.listTopics()).not.toContain('metrics_daily');
    await a.disconnect();
    expect((await kcatConsume(broker.bootstrap, 'metrics.daily')).map((r) => r.value)).toEqual(['kept']);
  });
});
