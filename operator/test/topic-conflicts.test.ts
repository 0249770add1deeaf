// KafkaTopics on a two-broker KafkaCluster, operator installed from the chart on a real control
// plane, brokers run as local processes: two KafkaTopics naming one topic (the oldest manages it,
// the other reports ResourceConflict, changes nothing, and its deletion keeps the topic and its
// data), and brokers that stop answering (SIGSTOP) while topics are reconciled: no topic is
// created while a broker that may hold it is down, and none on another broker than its own, also
// when the KafkaCluster is deleted and created again.
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../../broker/protocol/client.js';
import { describeConfigsApi, metadataApi } from '../../broker/protocol/messages/index.js';
import { kcatConsume, kcatProduce } from '../../broker/test/kcat.js';
import { API_VERSION } from '../crds/types.js';
import type { Kube, KubernetesObject } from '../kube.js';
import { type Obj, OperatorHarness, type OperatorProcess } from './operator-harness.js';

const NS = 'topics';
const CLUSTER = 'pair';

let harness: OperatorHarness;
let admin: Kube;
let operator: OperatorProcess;
/** Loopback address of each broker, by id. */
const brokerIp: string[] = [];

const readyCondition = (o: Obj) => o.status?.conditions?.find((c) => c.type === 'Ready');
const topicResource = (name: string) => harness.get('KafkaTopic', NS, name);
const warnings = async (name: string, reason: string) =>
  (await admin.list<Obj & { reason: string; type: string; involvedObject: { name: string } }>('v1', 'Event', NS)).filter((e) => e.involvedObject.name === name && e.reason === reason && e.type === 'Warning');

async function createTopic(name: string, spec: Record<string, unknown>): Promise<void> {
  await admin.create({ apiVersion: API_VERSION, kind: 'KafkaTopic', metadata: { name, namespace: NS }, spec: { clusterRef: { name: CLUSTER }, ...spec } } as KubernetesObject);
}

async function waitForReason(name: string, reason: string): Promise<Obj> {
  return harness.waitFor(`${name}: ${reason}`, async () => {
    const t = await topicResource(name);
    return readyCondition(t)?.reason === reason ? t : null;
  }, 90_000);
}

/** The topics a broker has, asked of that broker alone. */
async function topicsOn(broker: number): Promise<Map<string, number>> {
  const conn = await KafkaConnection.open(brokerIp[broker]!, 9092, 'topic-conflicts-test');
  try {
    const meta = await conn.send(metadataApi, 12, { topics: null, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
    return new Map(meta.topics.map((t) => [t.name!, t.partitions.length]));
  } finally {
    await conn.close();
  }
}

async function topicConfig(broker: number, topic: string, key: string): Promise<string | null | undefined> {
  const conn = await KafkaConnection.open(brokerIp[broker]!, 9092, 'topic-conflicts-test');
  try {
    const res = await conn.send(describeConfigsApi, 4, { resources: [{ resourceType: 2, resourceName: topic, configurationKeys: [key] }], includeSynonyms: false, includeDocumentation: false });
    return res.results[0]!.configs.find((c) => c.name === key)?.value;
  } finally {
    await conn.close();
  }
}

/** The pid of the broker process the local kubelet runs on `ip`. */
function brokerPid(ip: string): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let args: string[];
    try {
      args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const at = args.indexOf('--http-host');
    if (args.some((a) => a.endsWith('dist/broker/main.js')) && at >= 0 && args[at + 1] === ip) return Number(entry);
  }
  throw new Error(`no broker process on ${ip}`);
}

/** Runs `during` while broker `id` is stopped (SIGSTOP: it accepts connections and never answers). */
async function whileStopped<T>(id: number, during: () => Promise<T>): Promise<T> {
  const pid = brokerPid(brokerIp[id]!);
  process.kill(pid, 'SIGSTOP');
  try {
    return await during();
  } finally {
    process.kill(pid, 'SIGCONT');
  }
}

beforeAll(async () => {
  harness = await OperatorHarness.start([NS]);
  admin = harness.admin;
  operator = await harness.startOperator(['leaderElection=false', 'resyncSeconds=5']);
  await admin.create({ apiVersion: API_VERSION, kind: 'KafkaCluster', metadata: { name: CLUSTER, namespace: NS }, spec: { replicas: 2 } } as KubernetesObject);
  await harness.waitFor('cluster ready', async () => readyCondition(await harness.get('KafkaCluster', NS, CLUSTER))?.status === 'True', 120_000);
  for (const id of [0, 1]) brokerIp[id] = (await admin.get<Obj & { status: { podIP: string } }>('v1', 'Pod', NS, `${CLUSTER}-${id}`)).status.podIP;
}, 600_000);

afterAll(async () => {
  await harness?.stop();
});

describe('KafkaTopics naming one topic', () => {
  it('lets the oldest manage it; the other reports the conflict once, changes nothing, and its deletion keeps the topic', async () => {
    await createTopic('first', { topicName: 'shared', partitions: 2, config: { 'retention.ms': '3600000' } });
    const first = await waitForReason('first', 'TopicReady');
    const broker = first.status!.brokerId as number;
    expect([0, 1]).toContain(broker);
    await kcatProduce(`${brokerIp[broker]}:9092`, 'shared', ['kept']);

    await createTopic('second', { topicName: 'shared', partitions: 3, config: { 'retention.ms': '60000' } });
    const second = await waitForReason('second', 'ResourceConflict');
    expect(readyCondition(second)).toMatchObject({ status: 'False', message: expect.stringContaining('KafkaTopic first') });
    expect(second.status?.conditions?.find((c) => c.type === 'Degraded')?.status).toBe('True');
    // Reconciled again and again (resync every 5s): one Warning, and the topic as the first says.
    const seen = await operator.reconciles('kafkatopic');
    await harness.waitFor('more topic reconciles', async () => (await operator.reconciles('kafkatopic')) >= seen + 6);
    expect(await warnings('second', 'ResourceConflict')).toHaveLength(1);
    expect((await topicsOn(broker)).get('shared')).toBe(2);
    expect(await topicConfig(broker, 'shared', 'retention.ms')).toBe('3600000');
    expect(readyCondition(await topicResource('first'))?.status).toBe('True');

    await admin.delete(second);
    await harness.waitFor('second gone', async () => !(await admin.getOrNull(API_VERSION, 'KafkaTopic', NS, 'second')));
    expect((await topicsOn(broker)).get('shared')).toBe(2);
    expect((await kcatConsume(`${brokerIp[broker]}:9092`, 'shared')).map((r) => r.value)).toEqual(['kept']);
    expect(readyCondition(await topicResource('first'))?.status).toBe('True');
  }, 300_000);
});

describe('KafkaTopics while a broker is down', () => {
  it('does not create a new topic while any broker is down, then creates it on one broker', async () => {
    const created = await whileStopped(1, async () => {
      await createTopic('fresh', { partitions: 1 });
      const waiting = await waitForReason('fresh', 'BrokersNotReady');
      expect(readyCondition(waiting)!.message).toContain('waiting for broker(s) 1');
      expect((await topicsOn(0)).has('fresh')).toBe(false);
      return waiting;
    });
    expect(created.status?.brokerId).toBeUndefined();
    const ready = await waitForReason('fresh', 'TopicReady');
    const on = await Promise.all([0, 1].map(async (id) => (await topicsOn(id)).has('fresh')));
    expect(on.filter(Boolean)).toHaveLength(1);
    expect(on[ready.status!.brokerId as number]).toBe(true);
  }, 300_000);

  it('waits for the broker that holds a topic instead of creating it on another', async () => {
    const first = await topicResource('first');
    const broker = first.status!.brokerId as number;
    const other = 1 - broker;
    await whileStopped(broker, async () => {
      // A spec change makes the operator reconcile the topic while its broker does not answer.
      await admin.mergePatch(first, { spec: { config: { 'retention.ms': '7200000' } } });
      const waiting = await waitForReason('first', 'BrokersNotReady');
      expect(readyCondition(waiting)!.message).toContain(`topic shared is on broker ${broker}, which is not ready`);
      expect((await topicsOn(other)).has('shared')).toBe(false);
    });
    await harness.waitFor('first ready again', async () => {
      const t = await topicResource('first');
      return readyCondition(t)?.status === 'True' && t.status?.observedGeneration === t.metadata!.generation;
    }, 90_000);
    expect((await topicResource('first')).status?.brokerId).toBe(broker);
    expect(await topicConfig(broker, 'shared', 'retention.ms')).toBe('7200000');
    expect((await topicsOn(other)).has('shared')).toBe(false);
    expect((await kcatConsume(`${brokerIp[broker]}:9092`, 'shared')).map((r) => r.value)).toEqual(['kept']);
  }, 300_000);

  it('after the KafkaCluster is re-created, brings each topic back on its own broker with its data', async () => {
    const fresh = await topicResource('fresh');
    const broker = fresh.status!.brokerId as number;
    await kcatProduce(`${brokerIp[broker]}:9092`, 'fresh', ['survives']);
    await admin.delete(await harness.get('KafkaCluster', NS, CLUSTER), { propagationPolicy: 'Background' });
    await harness.waitFor('broker pods gone', async () => (await admin.list('v1', 'Pod', NS)).length === 0, 120_000);
    await waitForReason('fresh', 'ClusterNotFound');

    // The volumes were kept (the default): the brokers come back with their topics.
    await admin.create({ apiVersion: API_VERSION, kind: 'KafkaCluster', metadata: { name: CLUSTER, namespace: NS }, spec: { replicas: 2 } } as KubernetesObject);
    await harness.waitFor('fresh ready again', async () => readyCondition(await topicResource('fresh'))?.status === 'True', 120_000);
    expect((await topicResource('fresh')).status?.brokerId).toBe(broker);
    expect((await topicsOn(1 - broker)).has('fresh')).toBe(false);
    expect((await kcatConsume(`${brokerIp[broker]}:9092`, 'fresh')).map((r) => r.value)).toEqual(['survives']);
  }, 300_000);
});
