// DeleteRecords end to end on real broker processes: kafkajs' admin.deleteTopicRecords moves the
// log start, consumers from the earliest offset begin there, segments below it leave the disk,
// a restart keeps it; the refusals Kafka gives (past the high watermark, compacted and internal
// topics, unknown partitions, no DELETE permission). On a three-broker cluster the followers
// follow the leader's log start before the request is answered (the low watermark), a stopped
// follower makes it time out, a dead one does not count, and a follower that becomes leader starts
// where the old leader did.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import { KafkaConnection } from '../protocol/client.js';
import { ErrorCode } from '../protocol/errors.js';
import { deleteRecordsApi, metadataApi } from '../protocol/messages/index.js';
import type { DeleteRecordsPartitionResult } from '../protocol/messages/delete-records-response.js';
import { BrokerProcess } from './broker-process.js';
import { SamsaCluster } from './samsa-cluster.js';
import { eventuallyPasses } from './eventually.js';
import { consumeValues } from './kafkajs-consume.js';
import { kafkajsErrorType } from './kafka-tools.js';

const { Kafka, logLevel } = kafkajs;

const range = (from: number, to: number, prefix: string) => Array.from({ length: to - from }, (_, i) => `${prefix}-${from + i}`);

/** DeleteRecords v2 over the raw protocol: the broker's answer for one partition. */
async function deleteRecords(port: number, topic: string, partition: number, offset: number, timeoutMs = 30_000): Promise<DeleteRecordsPartitionResult> {
  const c = await KafkaConnection.open('127.0.0.1', port);
  try {
    const res = await c.send(deleteRecordsApi, 2, { topics: [{ name: topic, partitions: [{ partitionIndex: partition, offset }] }], timeoutMs });
    return res.topics[0]!.partitions[0]!;
  } finally {
    await c.close();
  }
}

const segmentFiles = (b: BrokerProcess, topic: string) =>
  readdirSync(join(b.dataDir, `${topic}-0`))
    .filter((f) => f.endsWith('.log'))
    .sort();

describe('DeleteRecords on one broker', () => {
  let broker: BrokerProcess;
  const client = () => new Kafka({ clientId: 'delete-records', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 3, initialRetryTime: 100 } });

  beforeAll(async () => {
    broker = await BrokerProcess.start({ 'group.initial.rebalance.delay.ms': '0' });
  }, 60_000);
  afterAll(async () => {
    await broker?.destroy();
  });

  it('kafkajs deleteTopicRecords moves the log start: earliest offsets and consumers begin there, old segments leave the disk, a restart keeps it', async () => {
    const kafka = client();
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'trimmed', numPartitions: 1, configEntries: [{ name: 'segment.bytes', value: '1024' }] }] });
    const producer = kafka.producer();
    await producer.connect();
    for (let i = 0; i < 40; i++) await producer.send({ topic: 'trimmed', messages: [{ value: `v-${i}-${'x'.repeat(40)}` }] });
    await producer.disconnect();
    const before = segmentFiles(broker, 'trimmed');
    expect(before.length).toBeGreaterThan(2);
    // kafkajs finds the partition's leader in the metadata of the topics it has looked up.
    expect(await admin.fetchTopicOffsets('trimmed')).toEqual([expect.objectContaining({ low: '0', high: '40' })]);

    await admin.deleteTopicRecords({ topic: 'trimmed', partitions: [{ partition: 0, offset: '25' }] });
    expect(await admin.fetchTopicOffsets('trimmed')).toEqual([expect.objectContaining({ partition: 0, low: '25', high: '40' })]);
    // Segments wholly below 25 are gone; the one holding 25 stays.
    const after = segmentFiles(broker, 'trimmed');
    expect(after.length).toBeLessThan(before.length);
    expect(after.map((f) => Number(f.slice(0, 20))).filter((base) => base <= 25)).toHaveLength(1);
    const values = await consumeValues(kafka, 'trimmed', 15);
    expect(values.map((v) => v.split('-').slice(0, 2).join('-'))).toEqual(range(25, 40, 'v'));

    // -1 deletes up to the high watermark.
    await admin.deleteTopicRecords({ topic: 'trimmed', partitions: [{ partition: 0, offset: '-1' }] });
    expect(await admin.fetchTopicOffsets('trimmed')).toEqual([expect.objectContaining({ low: '40', high: '40' })]);
    await admin.disconnect();

    await broker.restart(true);
    const again = client().admin();
    await again.connect();
    expect(await again.fetchTopicOffsets('trimmed')).toEqual([expect.objectContaining({ low: '40', high: '40' })]);
    await again.disconnect();
  });

  it('refuses an offset past the high watermark with OFFSET_OUT_OF_RANGE and deletes nothing', async () => {
    const kafka = client();
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'short', numPartitions: 1 }] });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'short', messages: range(0, 5, 's').map((value) => ({ value })) });
    await producer.disconnect();
    await admin.fetchTopicOffsets('short');
    const refused = await admin.deleteTopicRecords({ topic: 'short', partitions: [{ partition: 0, offset: '6' }] }).catch((err: unknown) => err);
    // kafkajs wraps the per-partition errors (KafkaJSDeleteTopicRecordsError) in a non-retriable error.
    const partitionErrors = ((refused as { cause?: { partitions?: { error: unknown }[] } }).cause?.partitions ?? []).map((p) => kafkajsErrorType(p.error));
    expect(partitionErrors).toEqual(['OFFSET_OUT_OF_RANGE']);
    expect(await admin.fetchTopicOffsets('short')).toEqual([expect.objectContaining({ low: '0', high: '5' })]);
    await admin.disconnect();
    expect(await consumeValues(kafka, 'short', 5)).toEqual(range(0, 5, 's'));
  });

  it('answers with Kafka\'s codes: POLICY_VIOLATION for a compacted topic, INVALID_TOPIC_EXCEPTION for an internal one, UNKNOWN_TOPIC_OR_PARTITION', async () => {
    const admin = client().admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        { topic: 'compacted', numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
        { topic: 'compacted-and-deleted', numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact,delete' }] },
      ],
    });
    // A group lookup (FindCoordinator) creates __consumer_offsets.
    await admin.describeGroups(['delete-records-probe']);
    await admin.disconnect();
    expect(await deleteRecords(broker.port, 'compacted', 0, 0)).toEqual({ partitionIndex: 0, lowWatermark: -1, errorCode: ErrorCode.POLICY_VIOLATION });
    expect(await deleteRecords(broker.port, 'compacted-and-deleted', 0, 0)).toEqual({ partitionIndex: 0, lowWatermark: 0, errorCode: ErrorCode.NONE });
    expect(await deleteRecords(broker.port, '__consumer_offsets', 0, 0)).toMatchObject({ errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION });
    expect(await deleteRecords(broker.port, 'no-such-topic', 0, 0)).toMatchObject({ errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION });
    expect(await deleteRecords(broker.port, 'compacted-and-deleted', 7, 0)).toMatchObject({ errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION });
    expect(await deleteRecords(broker.port, 'compacted-and-deleted', 0, -2)).toMatchObject({ errorCode: ErrorCode.OFFSET_OUT_OF_RANGE });
  });
});

describe('DeleteRecords under ACLs', () => {
  let broker: BrokerProcess;

  beforeAll(async () => {
    broker = await BrokerProcess.start({
      'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
      'allow.everyone.if.no.acl.found': 'true',
    });
  }, 60_000);
  afterAll(async () => {
    await broker?.destroy();
  });

  it('needs DELETE on the topic: TOPIC_AUTHORIZATION_FAILED without it', async () => {
    const kafka = new Kafka({ clientId: 'acl-delete-records', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 2 } });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'guarded', numPartitions: 1 }, { topic: 'open', numPartitions: 1 }] });
    // ANONYMOUS may do anything but delete records of "guarded".
    await admin.createAcls({
      acl: [{ resourceType: kafkajs.AclResourceTypes.TOPIC, resourceName: 'guarded', resourcePatternType: kafkajs.ResourcePatternTypes.LITERAL, principal: 'User:ANONYMOUS', host: '*', operation: kafkajs.AclOperationTypes.DELETE, permissionType: kafkajs.AclPermissionTypes.DENY }],
    });
    await admin.disconnect();
    expect(await deleteRecords(broker.port, 'guarded', 0, 0)).toEqual({ partitionIndex: 0, lowWatermark: -1, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED });
    expect(await deleteRecords(broker.port, 'open', 0, 0)).toEqual({ partitionIndex: 0, lowWatermark: 0, errorCode: ErrorCode.NONE });
  });
});

describe('DeleteRecords on a three-broker cluster', () => {
  let cluster: SamsaCluster;
  const client = () => new Kafka({ clientId: 'delete-records', brokers: cluster.bootstrap.split(','), logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 } });

  beforeAll(async () => {
    cluster = await SamsaCluster.start({
      brokers: 3,
      // A stopped broker stays alive (its session holds) for longer than the short DeleteRecords timeout below.
      config: { 'broker.session.timeout.ms': '8000', 'replica.lag.time.max.ms': '3000', 'replica.fetch.backoff.ms': '200' },
    });
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  async function leaderOf(topic: string, exclude = -1): Promise<number> {
    const nodeId = [0, 1, 2].find((id) => id !== exclude)!;
    const c = await KafkaConnection.open('127.0.0.1', cluster.broker(nodeId).port);
    try {
      const md = await c.send(metadataApi, 12, { topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: topic }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false, includeClusterAuthorizedOperations: false });
      return md.topics[0]!.partitions[0]!.leaderId;
    } finally {
      await c.close();
    }
  }

  const checkpoint = (nodeId: number, topic: string) => {
    const file = join(cluster.broker(nodeId).dataDir, `${topic}-0`, 'log-start-offset');
    return existsSync(file) ? Number(readFileSync(file, 'utf8')) : 0;
  };

  it('answers once every live replica has the new log start; a stopped follower makes it time out; a new leader starts there', async () => {
    const kafka = client();
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'replicated-trim', numPartitions: 1, replicationFactor: 3 }] });
    await admin.disconnect();
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    for (let i = 0; i < 20; i++) await producer.send({ topic: 'replicated-trim', acks: -1, messages: [{ value: `r-${i}` }] });

    const leader = await leaderOf('replicated-trim');
    const followers = [0, 1, 2].filter((id) => id !== leader);
    // Answered only once both followers report log start 12 in their fetches: the low watermark.
    expect(await deleteRecords(cluster.broker(leader).port, 'replicated-trim', 0, 12)).toEqual({ partitionIndex: 0, lowWatermark: 12, errorCode: ErrorCode.NONE });
    for (const id of [leader, ...followers]) expect(checkpoint(id, 'replicated-trim')).toBe(12);

    // A follower that cannot fetch (stopped, still alive to the cluster) holds the low watermark back.
    const stopped = followers[0]!;
    await cluster.kill(stopped, 'SIGSTOP');
    try {
      expect(await deleteRecords(cluster.broker(leader).port, 'replicated-trim', 0, 15, 1000)).toEqual({ partitionIndex: 0, lowWatermark: 12, errorCode: ErrorCode.REQUEST_TIMED_OUT });
    } finally {
      await cluster.kill(stopped, 'SIGCONT');
    }
    // The records are gone at the leader all the same; once the follower fetches again it follows.
    expect(await deleteRecords(cluster.broker(leader).port, 'replicated-trim', 0, 15)).toEqual({ partitionIndex: 0, lowWatermark: 15, errorCode: ErrorCode.NONE });
    expect(checkpoint(stopped, 'replicated-trim')).toBe(15);
    // A follower refuses it: NOT_LEADER_OR_FOLLOWER.
    expect(await deleteRecords(cluster.broker(followers[1]!).port, 'replicated-trim', 0, 16)).toEqual({ partitionIndex: 0, lowWatermark: -1, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER });

    // The leader dies: the new one, a follower until now, starts at 15 too.
    await cluster.kill(leader, 'SIGKILL');
    await eventuallyPasses(
      'a new leader',
      async () => {
        const now = await leaderOf('replicated-trim', leader);
        expect(now).toBeGreaterThanOrEqual(0);
        expect(now).not.toBe(leader);
      },
      30_000,
    );
    for (let i = 20; i < 25; i++) await producer.send({ topic: 'replicated-trim', acks: -1, messages: [{ value: `r-${i}` }] });
    await producer.disconnect();
    const reader = client().admin();
    await reader.connect();
    expect(await reader.fetchTopicOffsets('replicated-trim')).toEqual([expect.objectContaining({ low: '15', high: '25' })]);
    await reader.disconnect();
    expect(await consumeValues(client(), 'replicated-trim', 10)).toEqual(range(15, 25, 'r'));
    // The dead broker's replica does not hold the low watermark back: only replicas on live brokers count.
    const newLeader = await leaderOf('replicated-trim', leader);
    expect(await deleteRecords(cluster.broker(newLeader).port, 'replicated-trim', 0, 20, 5000)).toEqual({ partitionIndex: 0, lowWatermark: 20, errorCode: ErrorCode.NONE });
  });
});
