// Partition limits against real broker processes: requests past max.broker.partitions, Kafka's
// per-request cap or the open-file limit (the broker run under `prlimit --nofile`) are refused
// with POLICY_VIOLATION and a message naming the limit, nothing of them is recorded, and the
// broker keeps serving. A data directory holding more partitions than the open-file limit
// allows starts with the excess offline (KAFKA_STORAGE_ERROR) instead of crash-looping.
import { afterEach, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { KafkaConnection } from '../protocol/client.js';
import { ErrorCode } from '../protocol/errors.js';
import { createPartitionsApi, deleteTopicsApi, metadataApi, produceApi } from '../protocol/messages/index.js';
import { buildRecordBatch } from '../records/batch-builder.js';
import { BrokerProcess } from './broker-process.js';
import { createTopic } from './topics.js';

const NOFILE = 256;
let broker: BrokerProcess | undefined;

afterEach(async () => {
  await broker?.destroy();
  broker = undefined;
});

async function produce(c: KafkaConnection, topic: string, partition: number, value: string) {
  const res = await c.send(produceApi, 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: partition, records: buildRecordBatch([{ value: Buffer.from(value) }]) }] }] });
  return res.responses[0]!.partitionResponses[0]!;
}

async function topicNames(c: KafkaConnection): Promise<string[]> {
  const res = await c.send(metadataApi, 12, { topics: null, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
  return res.topics.map((t) => t.name!).sort();
}

describe('partition limits', () => {
  it('refuses a CreateTopics past the open-file limit and keeps serving', async () => {
    broker = await BrokerProcess.start({}, [], [], { launcher: ['prlimit', `--nofile=${NOFILE}:${NOFILE}`] });
    const c = await KafkaConnection.open('127.0.0.1', broker.port);
    const refused = await createTopic(c, 'too-wide', { partitions: 600 });
    expect(refused.errorCode).toBe(ErrorCode.POLICY_VIOLATION);
    expect(refused.errorMessage).toMatch(new RegExp(`RLIMIT_NOFILE ${NOFILE}`));
    expect(await topicNames(c)).toEqual([]);
    expect(readdirSync(broker.dataDir).filter((f) => f.startsWith('too-wide'))).toEqual([]);

    // Growing a topic past the budget is refused the same way.
    expect((await createTopic(c, 'fits', { partitions: 10 })).errorCode).toBe(ErrorCode.NONE);
    const grown = await c.send(createPartitionsApi, 3, { topics: [{ name: 'fits', count: 700, assignments: null }], timeoutMs: 5000, validateOnly: false });
    expect(grown.results[0]).toMatchObject({ errorCode: ErrorCode.POLICY_VIOLATION, errorMessage: expect.stringMatching(/RLIMIT_NOFILE/) });

    // Everything else goes on: the topic that fits takes writes, new connections are accepted.
    expect((await produce(c, 'fits', 9, 'still serving')).errorCode).toBe(ErrorCode.NONE);
    const other = await KafkaConnection.open('127.0.0.1', broker.port);
    expect(await topicNames(other)).toEqual(['fits']);
    await other.close();
    await c.close();
    expect(await broker.stop()).toBe(0);
  });

  it('refuses partitions past max.broker.partitions, max.partitions and the per-request cap', async () => {
    broker = await BrokerProcess.start({ 'max.broker.partitions': '20', 'max.partitions': '25' });
    const c = await KafkaConnection.open('127.0.0.1', broker.port);
    expect((await createTopic(c, 'first', { partitions: 15 })).errorCode).toBe(ErrorCode.NONE);
    const overBroker = await createTopic(c, 'second', { partitions: 6 });
    expect(overBroker).toMatchObject({ errorCode: ErrorCode.POLICY_VIOLATION, errorMessage: expect.stringMatching(/max\.broker\.partitions=20/) });
    expect((await createTopic(c, 'second', { partitions: 5 })).errorCode).toBe(ErrorCode.NONE);
    const grown = await c.send(createPartitionsApi, 3, { topics: [{ name: 'second', count: 6, assignments: null }], timeoutMs: 5000, validateOnly: false });
    expect(grown.results[0]).toMatchObject({ errorCode: ErrorCode.POLICY_VIOLATION, errorMessage: expect.stringMatching(/max\.broker\.partitions=20/) });
    expect(await topicNames(c)).toEqual(['first', 'second']);
    await c.close();

    await broker.destroy();
    broker = await BrokerProcess.start({ 'max.partitions': '4' });
    const d = await KafkaConnection.open('127.0.0.1', broker.port);
    expect(await createTopic(d, 'wide', { partitions: 5 })).toMatchObject({ errorCode: ErrorCode.POLICY_VIOLATION, errorMessage: expect.stringMatching(/max\.partitions=4/) });
    // Kafka's cap on one request holds whatever the other limits say.
    const huge = await createTopic(d, 'huge', { partitions: 2_000_000_000 });
    expect(huge).toMatchObject({ errorCode: ErrorCode.POLICY_VIOLATION, errorMessage: expect.stringMatching(/at most 10000/) });
    expect(await topicNames(d)).toEqual([]);
    await d.close();
  });

  it('starts with partitions it cannot open offline instead of crash-looping', async () => {
    broker = await BrokerProcess.start();
    const c = await KafkaConnection.open('127.0.0.1', broker.port);
    expect((await createTopic(c, 'many', { partitions: 300 })).errorCode).toBe(ErrorCode.NONE);
    expect((await produce(c, 'many', 0, 'first')).errorCode).toBe(ErrorCode.NONE);
    expect((await produce(c, 'many', 299, 'last')).errorCode).toBe(ErrorCode.NONE);
    await c.close();
    expect(await broker.stop()).toBe(0);

    broker.launcher = ['prlimit', `--nofile=${NOFILE}:${NOFILE}`];
    await broker.launch();
    const limited = await KafkaConnection.open('127.0.0.1', broker.port);
    const meta = await limited.send(metadataApi, 12, { topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: 'many' }], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
    const partitions = meta.topics[0]!.partitions;
    const offline = partitions.filter((p) => p.leaderId === -1);
    expect(offline.length).toBeGreaterThan(0);
    expect(offline.length).toBeLessThan(300);
    for (const p of offline) expect(p).toMatchObject({ errorCode: ErrorCode.LEADER_NOT_AVAILABLE, offlineReplicas: [1] });
    expect((await produce(limited, 'many', 299, 'refused')).errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect((await produce(limited, 'many', 0, 'second')).errorCode).toBe(ErrorCode.NONE);
    expect(broker.output).toMatch(/partitions left offline at start/);
    const metrics = await (await fetch(`${broker.httpUrl}/metrics`)).text();
    expect(Number(metrics.match(/^samsa_offline_partitions (\d+)$/m)?.[1])).toBe(offline.length);
    await limited.close();
    expect(await broker.stop()).toBe(0);

    // With the limit raised every partition is back, with its records.
    broker.launcher = [];
    await broker.launch();
    const full = await KafkaConnection.open('127.0.0.1', broker.port);
    const next = await produce(full, 'many', 299, 'after');
    expect(next).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 1 });
    expect(await produce(full, 'many', 0, 'third')).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 2 });
    await full.close();
    expect(await broker.stop()).toBe(0);

    // Deleting the topic while some of its partitions are offline removes them from disk too.
    broker.launcher = ['prlimit', `--nofile=${NOFILE}:${NOFILE}`];
    await broker.launch();
    const again = await KafkaConnection.open('127.0.0.1', broker.port);
    const deleted = await again.send(deleteTopicsApi, 6, { topics: [{ name: 'many', topicId: 'AAAAAAAAAAAAAAAAAAAAAA' }], topicNames: [], timeoutMs: 5000 });
    expect(deleted.responses[0]!.errorCode).toBe(ErrorCode.NONE);
    expect(readdirSync(broker.dataDir).filter((f) => f.startsWith('many-'))).toEqual([]);
    await again.close();
  });
});
