// Idempotent producers and compacted topics against a real broker process.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import { KafkaConnection } from '../protocol/client.js';
import { ErrorCode } from '../protocol/errors.js';
import { describeGroupsApi, initProducerIdApi, listGroupsApi, produceApi } from '../protocol/messages/index.js';
import { buildRecordBatch } from '../records/batch-builder.js';
import { BrokerProcess } from './broker-process.js';
import { kcatConsume, kcatProduce } from './kcat.js';
import { mustCreateTopic } from './topics.js';

const { Kafka, logLevel } = kafkajs;

let broker: BrokerProcess;

beforeAll(async () => {
  broker = await BrokerProcess.start({ 'log.cleaner.backoff.ms': '200', 'group.initial.rebalance.delay.ms': '0' });
});

afterAll(async () => {
  await broker?.destroy();
});

const open = () => KafkaConnection.open('127.0.0.1', broker.port, 'idempotence-test');

async function createTopic(name: string, configs: Record<string, string> = {}): Promise<void> {
  const c = await open();
  try {
    await mustCreateTopic(c, name, { configs });
  } finally {
    await c.close();
  }
}

const produceBody = (topic: string, records: Buffer) => ({ transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] });

describe('idempotent producer', () => {
  it('acknowledges a batch retried across a kill -9 with its original offset, writing it once', async () => {
    await createTopic('idempotent');
    let c = await open();
    const { producerId, producerEpoch, errorCode } = await c.send(initProducerIdApi, 4, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
    expect(errorCode).toBe(0);
    expect(producerId).toBeGreaterThanOrEqual(0);
    const batch = (seq: number, value: string) => buildRecordBatch([{ value: Buffer.from(value) }], { producerId, producerEpoch, baseSequence: seq });
    const send = async (records: Buffer) => (await c.send(produceApi, 9, produceBody('idempotent', records))).responses[0]!.partitionResponses[0]!;

    expect(await send(batch(0, 'first'))).toMatchObject({ errorCode: 0, baseOffset: 0 });
    expect(await send(batch(1, 'second'))).toMatchObject({ errorCode: 0, baseOffset: 1 });
    await c.close();
    await broker.kill();
    await broker.launch();

    c = await open();
    // The producer never saw the acknowledgement of "second" and sends it again.
    expect(await send(batch(1, 'second'))).toMatchObject({ errorCode: 0, baseOffset: 1 });
    expect(await send(batch(2, 'third'))).toMatchObject({ errorCode: 0, baseOffset: 2 });
    expect(await send(batch(5, 'gap'))).toMatchObject({ errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER });
    await c.close();
    expect((await kcatConsume(broker.bootstrap, 'idempotent')).map((r) => r.value)).toEqual(['first', 'second', 'third']);

    // Producer ids are never handed out twice, not even after a restart.
    c = await open();
    const next = await c.send(initProducerIdApi, 4, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
    expect(next.producerId).toBeGreaterThan(producerId);
    await c.close();
  });

  it('kafkajs idempotent producer writes every message exactly once across a restart', async () => {
    const kafka = new Kafka({ clientId: 'idem', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100 } });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    for (let i = 0; i < 5; i++) await producer.send({ topic: 'idem-kafkajs', acks: -1, messages: [{ key: `k${i}`, value: `v${i}` }] });
    await broker.restart();
    for (let i = 5; i < 10; i++) await producer.send({ topic: 'idem-kafkajs', acks: -1, messages: [{ key: `k${i}`, value: `v${i}` }] });
    await producer.disconnect();
    expect((await kcatConsume(broker.bootstrap, 'idem-kafkajs')).map((r) => r.value)).toEqual(Array.from({ length: 10 }, (_, i) => `v${i}`));
  });
});

describe('compacted topics', () => {
  it('keep exactly the last value of every key, with offsets unchanged', async () => {
    await createTopic('compacted', { 'cleanup.policy': 'compact', 'segment.bytes': '1024', 'segment.ms': '200', 'min.cleanable.dirty.ratio': '0.01', 'delete.retention.ms': '0' });
    const lines: string[] = [];
    for (let round = 0; round < 20; round++) for (let k = 0; k < 8; k++) lines.push(`key${k}:value-${k}-${round}`);
    await kcatProduce(broker.bootstrap, 'compacted', lines, ['-K:']);
    await kcatProduce(broker.bootstrap, 'compacted', ['key3:'], ['-K:', '-Z']); // a tombstone for key3
    // segment.ms elapses, the next append rolls the active segment, sealing everything before it.
    await new Promise((r) => setTimeout(r, 300));
    await kcatProduce(broker.bootstrap, 'compacted', ['roll:now'], ['-K:']);
    let records = await kcatConsume(broker.bootstrap, 'compacted');
    const deadline = Date.now() + 15_000;
    while (records.length > 8 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      records = await kcatConsume(broker.bootstrap, 'compacted');
    }
    const expected = [0, 1, 2, 4, 5, 6, 7].map((k) => ({ key: `key${k}`, value: `value-${k}-19`, offset: 19 * 8 + k }));
    expect(records.filter((r) => r.key !== 'roll').map((r) => ({ key: r.key, value: r.value, offset: r.offset }))).toEqual(expected);
    expect(records.at(-1)).toMatchObject({ key: 'roll', value: 'now', offset: 161 });
    expect(broker.output).toContain('compaction removed superseded records');
  });

  it('refuse records without a key', async () => {
    await createTopic('compacted-keys', { 'cleanup.policy': 'compact' });
    const c = await open();
    const res = await c.send(produceApi, 9, produceBody('compacted-keys', buildRecordBatch([{ key: Buffer.from('k'), value: Buffer.from('ok') }, { value: Buffer.from('no key') }])));
    expect(res.responses[0]!.partitionResponses[0]).toMatchObject({ errorCode: ErrorCode.INVALID_RECORD, errorMessage: expect.stringContaining('without a key') });
    await c.close();
  });
});

describe('group administration', () => {
  it('lists, describes and deletes groups, and deletes offsets', async () => {
    const kafka = new Kafka({ clientId: 'group-admin', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    await kcatProduce(broker.bootstrap, 'admin-groups', ['a', 'b', 'c']);
    const consumer = kafka.consumer({ groupId: 'described', sessionTimeout: 10_000, heartbeatInterval: 200, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'admin-groups', fromBeginning: true });
    let seen = 0;
    await consumer.run({ autoCommitThreshold: 1, eachMessage: async () => void seen++ });
    while (seen < 3) await new Promise((r) => setTimeout(r, 50));

    const admin = kafka.admin();
    await admin.connect();
    const { groups } = await admin.describeGroups(['described', 'never-existed']);
    expect(groups[0]).toMatchObject({ groupId: 'described', state: 'Stable', protocolType: 'consumer', protocol: 'RoundRobinAssigner' });
    expect(groups[0]!.members).toHaveLength(1);
    expect(groups[1]).toMatchObject({ groupId: 'never-existed', state: 'Dead' });
    expect((await admin.listGroups()).groups).toContainEqual({ groupId: 'described', protocolType: 'consumer' });

    const c = await open();
    const listed = await c.send(listGroupsApi, 4, { statesFilter: ['Stable'], typesFilter: [] });
    expect(listed.groups.map((g) => g.groupId)).toContain('described');
    const described = await c.send(describeGroupsApi, 5, { groups: ['described'], includeAuthorizedOperations: false });
    expect(described.groups[0]!.members[0]!.clientHost).toBe('127.0.0.1');
    await c.close();

    // A group with members may not be deleted; an empty one may.
    await expect(admin.deleteGroups(['described'])).rejects.toThrow();
    await consumer.disconnect();
    await admin.deleteGroups(['described']);
    expect((await admin.describeGroups(['described'])).groups[0]!.state).toBe('Dead');
    await admin.disconnect();
  });
});
