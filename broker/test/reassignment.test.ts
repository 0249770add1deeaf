// Partition reassignment on three real brokers sharing a real etcd, driven by Kafka's own
// kafka-reassign-partitions.sh (generate, execute with a throttle, verify, cancel) and
// kafka-log-dirs.sh: a topic with data moves from brokers {0,1} to {1,2} while a producer keeps
// writing with acks=all, and every acknowledged record is readable afterwards; the old replica's
// log directory is deleted; a cancel goes back to the original replicas; bad targets are refused
// with Kafka's codes and change nothing; a throttle slows a catch-up to about its rate; broker
// and topic configs changed through one broker are in force on the others.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import { KafkaConnection } from '../protocol/client.js';
import {
  alterPartitionReassignmentsApi,
  createTopicsApi,
  describeConfigsApi,
  incrementalAlterConfigsApi,
  listPartitionReassignmentsApi,
  metadataApi,
} from '../protocol/messages/index.js';
import { ErrorCode } from '../protocol/errors.js';
import { SamsaCluster } from './samsa-cluster.js';
import { eventuallyPasses } from './eventually.js';
import { consumeValues } from './kafkajs-consume.js';
import { KAFKA_LIB, ensureKafka } from './kafka-process.js';

const { Kafka, logLevel } = kafkajs;
const REASSIGN = 'org.apache.kafka.tools.reassign.ReassignPartitionsCommand';
const BROKER_RESOURCE = 4;
const TOPIC_RESOURCE = 2;

let cluster: SamsaCluster;
let scratch: string;


beforeAll(async () => {
  ensureKafka();
  scratch = mkdtempSync(join(tmpdir(), 'samsa-reassign-'));
  cluster = await SamsaCluster.start({
    brokers: 3,
    // Smaller follower fetches than the default 1 MiB, so that a throttled catch-up overshoots its rate by little.
    config: { 'broker.session.timeout.ms': '3000', 'replica.lag.time.max.ms': '5000', 'replica.fetch.backoff.ms': '200', 'replica.fetch.max.bytes': '262144', 'auto.leader.rebalance.enable': 'false' },
  });
}, 120_000);

afterAll(async () => {
  for (const b of cluster?.brokers ?? []) if (!b.running) console.log(`broker exited during the tests; its last output:\n${b.output.slice(-6000)}`);
  await cluster?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** Runs one of Kafka's tools without blocking the event loop (producers in this process keep going). */
function tool(mainClass: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('java', ['-Dorg.slf4j.simpleLogger.defaultLogLevel=warn', '-Xmx256M', '-cp', `${KAFKA_LIB}/*`, mainClass, ...args], { timeout: 120_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${mainClass} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

function jsonFile(name: string, value: unknown): string {
  const path = join(scratch, name);
  writeFileSync(path, JSON.stringify(value));
  return path;
}

async function withConnection<T>(nodeId: number, use: (c: KafkaConnection) => Promise<T>): Promise<T> {
  const c = await KafkaConnection.open('127.0.0.1', cluster.broker(nodeId).port);
  try {
    return await use(c);
  } finally {
    await c.close();
  }
}

async function partitionsOf(topic: string, nodeId = 0) {
  const md = await withConnection(nodeId, (c) =>
    c.send(metadataApi, 12, { topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: topic }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false, includeClusterAuthorizedOperations: false }),
  );
  return md.topics[0]!.partitions.sort((a, b) => a.partitionIndex - b.partitionIndex);
}

async function createTopic(name: string, assignments: number[][]): Promise<void> {
  const res = await withConnection(0, (c) =>
    c.send(createTopicsApi, 7, {
      topics: [{ name, numPartitions: -1, replicationFactor: -1, assignments: assignments.map((brokerIds, partitionIndex) => ({ partitionIndex, brokerIds })), configs: [] }],
      timeoutMs: 5000,
      validateOnly: false,
    }),
  );
  expect(res.topics[0]!.errorCode).toBe(ErrorCode.NONE);
  await eventuallyPasses(`${name} to be led on every partition`, async () => {
    for (const p of await partitionsOf(name)) expect(p.leaderId).toBeGreaterThanOrEqual(0);
  });
}

async function alterReassignments(nodeId: number, topic: string, partitions: { partitionIndex: number; replicas: number[] | null }[]) {
  const res = await withConnection(nodeId, (c) => c.send(alterPartitionReassignmentsApi, 0, { timeoutMs: 5000, topics: [{ name: topic, partitions }] }));
  return res.responses[0]!.partitions;
}

async function listReassignments(nodeId: number) {
  const res = await withConnection(nodeId, (c) => c.send(listPartitionReassignmentsApi, 0, { timeoutMs: 5000, topics: null }));
  return res.topics;
}

async function describeBroker(nodeId: number, keys: string[]) {
  const res = await withConnection(nodeId, (c) => c.send(describeConfigsApi, 4, { resources: [{ resourceType: BROKER_RESOURCE, resourceName: String(nodeId), configurationKeys: keys }], includeSynonyms: false, includeDocumentation: false }));
  return Object.fromEntries(res.results[0]!.configs.map((c) => [c.name, c.value]));
}

function client(id: string) {
  return new Kafka({ clientId: id, brokers: cluster.bootstrap.split(','), logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 } });
}

/** Writes `count` records of `size` bytes to every partition of `topic` (acks=all). */
async function fill(topic: string, partitions: number, count: number, size: number): Promise<void> {
  const producer = client(`fill-${topic}`).producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const value = Buffer.alloc(size, 'x');
  for (let sent = 0; sent < count; sent += 100) {
    const messages = Array.from({ length: Math.min(100, count - sent) }, () => ({ value }));
    for (let partition = 0; partition < partitions; partition++) await producer.send({ topic, acks: -1, messages: messages.map((m) => ({ ...m, partition })) });
  }
  await producer.disconnect();
}

const consumeAll = (topic: string, expected: number) => consumeValues(client('reader'), topic, expected);

/** Runs --verify until it reports every partition complete; returns its last output. */
async function verifyUntilDone(file: string, timeoutMs = 90_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out = await tool(REASSIGN, ['--bootstrap-server', cluster.bootstrap, '--reassignment-json-file', file, '--verify']);
    if (!out.includes('still in progress')) return out;
    if (Date.now() > deadline) throw new Error(`reassignment did not complete:\n${out}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

const partitionDirs = (nodeId: number, topic: string) => readdirSync(cluster.broker(nodeId).dataDir).filter((d) => d.startsWith(`${topic}-`));

describe('partition reassignment', () => {
  it('moves a topic with data from {0,1} to {1,2} with kafka-reassign-partitions (generate, execute --throttle, verify) while acks=all produces continue', async () => {
    await createTopic('moving', [
      [0, 1],
      [1, 0],
    ]);
    await fill('moving', 2, 1000, 1000);

    // A producer keeps writing through the whole move; every acknowledged value must survive it.
    const acknowledged: string[] = [];
    let producing = true;
    let failures = 0;
    const producer = client('during-move').producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const writer = (async () => {
      for (let i = 0; producing; i++) {
        const value = `live-${i}`;
        try {
          await producer.send({ topic: 'moving', acks: -1, messages: [{ value, partition: i % 2 }] });
          acknowledged.push(value);
        } catch {
          failures++;
        }
      }
    })();

    const topicsFile = jsonFile('topics.json', { version: 1, topics: [{ topic: 'moving' }] });
    const generated = await tool(REASSIGN, ['--bootstrap-server', cluster.bootstrap, '--topics-to-move-json-file', topicsFile, '--broker-list', '1,2', '--generate']);
    const proposal = JSON.parse(generated.split('Proposed partition reassignment configuration')[1]!.trim().split('\n')[0]!) as { partitions: { topic: string; partition: number; replicas: number[] }[] };
    expect(proposal.partitions).toHaveLength(2);
    for (const p of proposal.partitions) expect([...p.replicas].sort()).toEqual([1, 2]);
    const current = JSON.parse(generated.split('Current partition replica assignment')[1]!.trim().split('\n')[0]!) as { partitions: { partition: number; replicas: number[] }[] };
    expect(current.partitions.map((p) => p.replicas)).toEqual([
      [0, 1],
      [1, 0],
    ]);

    const planFile = jsonFile('plan.json', proposal);
    const executed = await tool(REASSIGN, ['--bootstrap-server', cluster.bootstrap, '--reassignment-json-file', planFile, '--execute', '--throttle', '50000000']);
    expect(executed).toContain('Successfully started partition reassignment');
    // The throttle is set on broker 2 (through whichever broker the tool reached) and in force there.
    expect(await describeBroker(2, ['leader.replication.throttled.rate', 'follower.replication.throttled.rate'])).toEqual({ 'leader.replication.throttled.rate': '50000000', 'follower.replication.throttled.rate': '50000000' });

    const verified = await verifyUntilDone(planFile);
    expect(verified).toContain('Reassignment of partition moving-0 is completed');
    expect(verified).toContain('Reassignment of partition moving-1 is completed');
    expect(verified).toContain('Clearing broker-level throttles');
    expect(verified).toContain('Clearing topic-level throttles on topic moving');

    // Keep producing a little on the new replicas, then stop.
    const before = acknowledged.length;
    await eventuallyPasses('records acknowledged after the move', () => expect(acknowledged.length).toBeGreaterThan(before + 20));
    producing = false;
    await writer;
    await producer.disconnect();

    for (const id of [0, 1, 2]) {
      await eventuallyPasses(`broker ${id} to show the new replicas`, async () => {
        const partitions = await partitionsOf('moving', id);
        for (const p of partitions) {
          expect(p.replicaNodes).toEqual(proposal.partitions.find((q) => q.partition === p.partitionIndex)!.replicas);
          expect([...p.isrNodes].sort()).toEqual([1, 2]);
          expect([1, 2]).toContain(p.leaderId);
        }
      });
    }
    expect(await listReassignments(1)).toEqual([]);
    // The throttles are gone again.
    expect(await describeBroker(2, ['leader.replication.throttled.rate'])).toEqual({ 'leader.replication.throttled.rate': '9223372036854775807' });
    await eventuallyPasses("broker 0 to delete its replicas' logs", () => expect(partitionDirs(0, 'moving')).toEqual([]));
    expect(partitionDirs(2, 'moving').sort()).toEqual(['moving-0', 'moving-1']);

    const values = await consumeAll('moving', 2000 + acknowledged.length);
    const read = new Set(values);
    const lost = acknowledged.filter((v) => !read.has(v));
    console.log(`reassignment under load: ${acknowledged.length} records acknowledged during the move (${failures} sends failed and were not acknowledged), ${lost.length} lost, ${values.length} read`);
    expect(lost).toEqual([]);
    expect(values.filter((v) => !v.startsWith('live-'))).toHaveLength(2000);
  }, 240_000);

  it('reports partition sizes through kafka-log-dirs', async () => {
    const out = await tool('org.apache.kafka.tools.LogDirsCommand', ['--bootstrap-server', cluster.bootstrap, '--describe', '--broker-list', '0,1,2', '--topic-list', 'moving']);
    const json = JSON.parse(out.split('\n').find((l) => l.startsWith('{'))!) as { brokers: { broker: number; logDirs: { logDir: string; error: string | null; partitions: { partition: string; size: number; offsetLag: number }[] }[] }[] };
    const byBroker = new Map(json.brokers.map((b) => [b.broker, b.logDirs]));
    expect(byBroker.get(0)![0]!.partitions).toEqual([]);
    for (const id of [1, 2]) {
      const [dir] = byBroker.get(id)!;
      expect(dir!.logDir).toBe(cluster.broker(id).dataDir);
      expect(dir!.error).toBeNull();
      expect(dir!.partitions.map((p) => p.partition).sort()).toEqual(['moving-0', 'moving-1']);
      // 1000 records of 1000 bytes each at least.
      for (const p of dir!.partitions) expect(p.size).toBeGreaterThan(1_000_000);
    }
    const sizes = (id: number) => Object.fromEntries(byBroker.get(id)![0]!.partitions.map((p) => [p.partition, p.size]));
    expect(sizes(1)).toEqual(sizes(2));
  }, 60_000);

  it('refuses an unknown broker, a duplicate, an empty list, an unknown partition and a cancel with nothing in flight, changing nothing', async () => {
    await createTopic('strict', [[0, 1]]);
    const before = await partitionsOf('strict');
    expect(await alterReassignments(1, 'strict', [{ partitionIndex: 0, replicas: [0, 9] }])).toEqual([
      { partitionIndex: 0, errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, errorMessage: 'The manual partition assignment includes broker 9, but no such broker is registered.' },
    ]);
    expect(await alterReassignments(2, 'strict', [{ partitionIndex: 0, replicas: [1, 1] }])).toEqual([
      { partitionIndex: 0, errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, errorMessage: 'The manual partition assignment includes the replica 1 more than once.' },
    ]);
    expect(await alterReassignments(0, 'strict', [{ partitionIndex: 0, replicas: [] }])).toEqual([
      { partitionIndex: 0, errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, errorMessage: 'The manual partition assignment includes an empty replica list.' },
    ]);
    expect(await alterReassignments(0, 'strict', [{ partitionIndex: 5, replicas: [1, 2] }])).toEqual([{ partitionIndex: 5, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: 'Unable to find partition strict-5.' }]);
    expect(await alterReassignments(0, 'no-such-topic', [{ partitionIndex: 0, replicas: [1, 2] }])).toMatchObject([{ errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }]);
    expect(await alterReassignments(0, 'strict', [{ partitionIndex: 0, replicas: null }])).toEqual([{ partitionIndex: 0, errorCode: ErrorCode.NO_REASSIGNMENT_IN_PROGRESS, errorMessage: 'No partition reassignment is in progress.' }]);
    expect(await partitionsOf('strict')).toEqual(before);
    expect(await listReassignments(0)).toEqual([]);

    // Kafka's tool refuses an unknown broker too, and nothing changes.
    const plan = jsonFile('bad.json', { version: 1, partitions: [{ topic: 'strict', partition: 0, replicas: [0, 7] }] });
    await expect(tool(REASSIGN, ['--bootstrap-server', cluster.bootstrap, '--reassignment-json-file', plan, '--execute'])).rejects.toThrow(/7/);
    expect(await partitionsOf('strict')).toEqual(before);
  }, 60_000);

  it('cancels a reassignment in flight (--cancel): back to the original replicas, the added replicas dropped', async () => {
    await createTopic('cancelled', [[0]]);
    await fill('cancelled', 1, 3000, 1000);
    const plan = jsonFile('cancel.json', { version: 1, partitions: [{ topic: 'cancelled', partition: 0, replicas: [1, 2] }] });
    // 10 kB/s: three megabytes take minutes to copy, so the move is still in flight when cancelled.
    await tool(REASSIGN, ['--bootstrap-server', cluster.bootstrap, '--reassignment-json-file', plan, '--execute', '--throttle', '10000']);
    const listed = await tool(REASSIGN, ['--bootstrap-server', cluster.bootstrap, '--list']);
    expect(listed).toContain('cancelled-0');
    expect(await listReassignments(2)).toEqual([{ name: 'cancelled', partitions: [{ partitionIndex: 0, replicas: [1, 2, 0], addingReplicas: [1, 2], removingReplicas: [0] }] }]);
    await eventuallyPasses('the new replicas to open their logs', () => {
      expect(partitionDirs(1, 'cancelled')).toEqual(['cancelled-0']);
      expect(partitionDirs(2, 'cancelled')).toEqual(['cancelled-0']);
    });

    const cancelled = await tool(REASSIGN, ['--bootstrap-server', cluster.bootstrap, '--reassignment-json-file', plan, '--cancel']);
    expect(cancelled).toContain('Successfully cancelled partition reassignment');
    expect(await listReassignments(0)).toEqual([]);
    await eventuallyPasses('every broker to show the original replica', async () => {
      for (const id of [0, 1, 2]) expect(await partitionsOf('cancelled', id)).toMatchObject([{ replicaNodes: [0], isrNodes: [0], leaderId: 0 }]);
    });
    await eventuallyPasses('the added replicas to delete their logs', () => {
      expect(partitionDirs(1, 'cancelled')).toEqual([]);
      expect(partitionDirs(2, 'cancelled')).toEqual([]);
    });
    expect(await consumeAll('cancelled', 3000)).toHaveLength(3000);
  }, 120_000);

  it('holds a catch-up to the throttle rate; an unthrottled one is not slowed', async () => {
    const bytes = 6_000_000;
    const rate = 1_000_000;
    await createTopic('throttled', [[0]]);
    await createTopic('unthrottled', [[0]]);
    await fill('throttled', 1, bytes / 10_000, 10_000);
    await fill('unthrottled', 1, bytes / 10_000, 10_000);

    const timeMove = async (topic: string, throttle: string[]): Promise<number> => {
      const plan = jsonFile(`${topic}.json`, { version: 1, partitions: [{ topic, partition: 0, replicas: [0, 2] }] });
      const started = Date.now();
      await tool(REASSIGN, ['--bootstrap-server', cluster.bootstrap, '--reassignment-json-file', plan, '--execute', ...throttle]);
      await eventuallyPasses(`${topic} to be in sync on broker 2`, async () => expect((await partitionsOf(topic))[0]!.isrNodes).toContain(2), 120_000);
      const ms = Date.now() - started;
      await verifyUntilDone(plan);
      return ms;
    };
    const unthrottledMs = await timeMove('unthrottled', []);
    const throttledMs = await timeMove('throttled', ['--throttle', String(rate)]);
    console.log(
      `catch-up of ${(bytes / 1e6).toFixed(1)} MB: throttled at ${(rate / 1e6).toFixed(1)} MB/s took ${(throttledMs / 1000).toFixed(1)} s (${(bytes / 1e6 / (throttledMs / 1000)).toFixed(2)} MB/s); unthrottled took ${(unthrottledMs / 1000).toFixed(1)} s (${(bytes / 1e6 / (unthrottledMs / 1000)).toFixed(2)} MB/s, including the tool's start)`,
    );
    expect(throttledMs).toBeGreaterThanOrEqual((bytes / rate) * 1000 * 0.5);
  }, 300_000);

  it('a restarted broker takes up its replicas on the logs it opened at start: what it leads is produced to and read back', async () => {
    await createTopic('restarted', [[1]]);
    await fill('restarted', 1, 10, 100);
    await cluster.restart(1);
    await eventuallyPasses('broker 1 to lead its partition again', async () => expect((await partitionsOf('restarted'))[0]!.leaderId).toBe(1));
    await fill('restarted', 1, 10, 100);
    expect(await consumeAll('restarted', 20)).toHaveLength(20);
  }, 120_000);

  it('puts configs changed through one broker in force on the others: a broker throttle rate and a topic setting', async () => {
    const res = await withConnection(0, (c) =>
      c.send(incrementalAlterConfigsApi, 1, { resources: [{ resourceType: BROKER_RESOURCE, resourceName: '1', configs: [{ name: 'follower.replication.throttled.rate', configOperation: 0, value: '123456' }] }], validateOnly: false }),
    );
    expect(res.responses[0]!.errorCode).toBe(ErrorCode.NONE);
    await eventuallyPasses('broker 1 to have the rate set through broker 0', async () => expect(await describeBroker(1, ['follower.replication.throttled.rate'])).toEqual({ 'follower.replication.throttled.rate': '123456' }));
    expect(await describeBroker(2, ['follower.replication.throttled.rate'])).toEqual({ 'follower.replication.throttled.rate': '9223372036854775807' });

    // A topic's segment size changed through broker 0 rolls the segments of broker 1's replica too.
    await createTopic('rolling', [[0, 1]]);
    const alter = await withConnection(0, (c) =>
      c.send(incrementalAlterConfigsApi, 1, { resources: [{ resourceType: TOPIC_RESOURCE, resourceName: 'rolling', configs: [{ name: 'segment.bytes', configOperation: 0, value: '20000' }] }], validateOnly: false }),
    );
    expect(alter.responses[0]!.errorCode).toBe(ErrorCode.NONE);
    // One 5 kB record per batch: about four batches per 20 kB segment.
    const producer = client('rolling').producer({ allowAutoTopicCreation: false });
    await producer.connect();
    for (let i = 0; i < 40; i++) await producer.send({ topic: 'rolling', acks: -1, messages: [{ value: Buffer.alloc(5000, 'r') }] });
    await producer.disconnect();
    const segments = (id: number) => readdirSync(join(cluster.broker(id).dataDir, 'rolling-0')).filter((f) => f.endsWith('.log')).length;
    await eventuallyPasses("broker 1's replica to roll segments at the new size", () => expect(segments(1)).toBeGreaterThanOrEqual(8));
    expect(segments(0)).toBeGreaterThanOrEqual(8);
  }, 60_000);
});
