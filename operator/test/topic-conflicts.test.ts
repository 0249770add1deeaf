// KafkaTopics on a two-broker KafkaCluster, operator installed from the chart on a real control
// plane, brokers run as local processes: two KafkaTopics naming one topic (the oldest manages it,
// the other reports ResourceConflict, changes nothing, and its deletion keeps the topic and its
// data); a broker that stops answering (SIGSTOP) while topics are reconciled, the other answering
// for the cluster; and the KafkaCluster deleted and created again on its kept volumes.
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
    await createTopic('first', { topicName: 'shared', partitions: 2, replicationFactor: 2, config: { 'retention.ms': '3600000' } });
    const first = await waitForReason('first', 'TopicReady');
    expect(first.status).toMatchObject({ partitions: 2, replicationFactor: 2 });
    const broker = 0;
    await kcatProduce(`${brokerIp[broker]}:9092`, 'shared', ['kept'], ['-X', 'acks=all']);

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
  it('creates and changes topics through the broker that answers: they share one cluster', async () => {
    await whileStopped(1, async () => {
      await createTopic('fresh', { partitions: 1 });
      await waitForReason('fresh', 'TopicReady');
      // A spec change is reconciled while broker 1 does not answer.
      await admin.mergePatch(await topicResource('first'), { spec: { config: { 'retention.ms': '7200000' } } });
      await harness.waitFor('first changed', async () => {
        const t = await topicResource('first');
        return readyCondition(t)?.status === 'True' && t.status?.observedGeneration === t.metadata!.generation;
      }, 90_000);
    });
    // Broker 1, back, knows what was done while it was stopped.
    await harness.waitFor('broker 1 sees the topic and the change', async () => (await topicsOn(1)).has('fresh') && (await topicConfig(1, 'shared', 'retention.ms')) === '7200000', 60_000);
    expect((await kcatConsume(`${brokerIp[1]}:9092`, 'shared')).map((r) => r.value)).toEqual(['kept']);
  }, 300_000);

  it('after the KafkaCluster is re-created on its kept volumes, brings the topics back with their data', async () => {
    await kcatProduce(`${brokerIp[0]}:9092`, 'fresh', ['survives'], ['-X', 'acks=all']);
    await admin.delete(await harness.get('KafkaCluster', NS, CLUSTER), { propagationPolicy: 'Background' });
    await harness.waitFor('broker pods gone', async () => (await admin.list('v1', 'Pod', NS)).length === 0, 120_000);
    await waitForReason('fresh', 'ClusterNotFound');

    // The volumes were kept (the default), and the cluster metadata with them.
    await admin.create({ apiVersion: API_VERSION, kind: 'KafkaCluster', metadata: { name: CLUSTER, namespace: NS }, spec: { replicas: 2 } } as KubernetesObject);
    await harness.waitFor('fresh ready again', async () => readyCondition(await topicResource('fresh'))?.status === 'True', 120_000);
    for (const id of [0, 1]) brokerIp[id] = (await admin.get<Obj & { status: { podIP: string } }>('v1', 'Pod', NS, `${CLUSTER}-${id}`)).status.podIP;
    expect((await kcatConsume(`${brokerIp[1]}:9092`, 'fresh')).map((r) => r.value)).toEqual(['survives']);
    expect((await kcatConsume(`${brokerIp[0]}:9092`, 'shared')).map((r) => r.value)).toEqual(['kept']);
  }, 300_000);

  it('deletes the cluster metadata with the cluster once its volumes are deleted too', async () => {
    const storeObjects = async () => {
      const selector = `samsa.dev/store=${CLUSTER}`;
      return (await admin.list('v1', 'ConfigMap', NS, selector)).length + (await admin.list('coordination.k8s.io/v1', 'Lease', NS, selector)).length;
    };
    expect(await storeObjects()).toBeGreaterThan(0);
    await admin.mergePatch(await harness.get('KafkaCluster', NS, CLUSTER), { spec: { storage: { deleteClaimsOnClusterDelete: true } } });
    await harness.waitFor('the StatefulSet deletes claims with it', async () => {
      const sts = await admin.get<Obj & { spec: { persistentVolumeClaimRetentionPolicy: { whenDeleted: string } } }>('apps/v1', 'StatefulSet', NS, CLUSTER);
      return sts.spec.persistentVolumeClaimRetentionPolicy.whenDeleted === 'Delete';
    });
    await admin.delete(await harness.get('KafkaCluster', NS, CLUSTER), { propagationPolicy: 'Background' });
    await harness.waitFor('claims gone', async () => (await admin.list('v1', 'PersistentVolumeClaim', NS)).length === 0, 180_000);
    await harness.waitFor('cluster metadata gone', async () => (await storeObjects()) === 0, 60_000);
  }, 300_000);
});

