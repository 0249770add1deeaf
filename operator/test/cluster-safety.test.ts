// What keeps a KafkaCluster safe to change, on a real control plane with the operator installed
// from the chart and brokers run as local processes: a spec that cannot work is refused at
// admission or reported before anything is touched; dynamic broker settings reach the running
// brokers without a restart; a scale-down moves partitions off the brokers it removes first, and is
// refused while a topic needs more brokers; storage grows in place.
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../../broker/protocol/client.js';
import { describeConfigsApi } from '../../broker/protocol/messages/index.js';
import { consumeValues } from '../../broker/test/kafkajs-consume.js';
import { API_VERSION } from '../crds/types.js';
import { type Kube, KubeError, type KubernetesObject } from '../kube.js';
import { type Condition, type Obj, OperatorHarness, type OperatorProcess } from './operator-harness.js';

const NS = 'safety';
const CLUSTER = 'safe';
const DYNAMIC_DEFAULT = 3;

let harness: OperatorHarness;
let admin: Kube;
let operator: OperatorProcess;

const cluster = () => harness.get('KafkaCluster', NS, CLUSTER);
const condition = (o: Obj, type: string): Condition | undefined => o.status?.conditions?.find((c) => c.type === type);
const waitFor = <T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs?: number) => harness.waitFor(what, probe, timeoutMs);
const pods = async () => (await admin.list<Obj & { status: { podIP: string } }>('v1', 'Pod', NS)).filter((p) => p.metadata!.labels?.['app.kubernetes.io/instance'] === CLUSTER);
const podUids = async () => Object.fromEntries((await pods()).map((p) => [p.metadata!.name!, p.metadata!.uid]));
const events = async (reason: string) => (await admin.list<Obj & { reason: string; type: string; message: string; involvedObject: { name: string } }>('v1', 'Event', NS)).filter((e) => e.involvedObject.name === CLUSTER && e.reason === reason);
// The config version the pod template mounts.
const serverProperties = async () => {
  const sts = await admin.get<Obj & { spec: { template: { spec: { volumes: Array<{ configMap?: { name: string } }> } } } }>('apps/v1', 'StatefulSet', NS, CLUSTER);
  const name = sts.spec.template.spec.volumes.find((v) => v.configMap)!.configMap!.name;
  return (await admin.get<Obj & { data: Record<string, string> }>('v1', 'ConfigMap', NS, name)).data['server.properties'];
};

/** The cluster-wide default broker settings one broker reports. */
async function brokerDefaults(podIP: string): Promise<Record<string, string>> {
  const conn = await KafkaConnection.open(podIP, 9092, 'cluster-safety-test');
  try {
    const res = await conn.send(describeConfigsApi, 4, { resources: [{ resourceType: 4, resourceName: '', configurationKeys: null }], includeSynonyms: false, includeDocumentation: false });
    expect(res.results[0]!.configs.every((c) => c.configSource === DYNAMIC_DEFAULT)).toBe(true);
    return Object.fromEntries(res.results[0]!.configs.map((c) => [c.name, c.value!]));
  } finally {
    await conn.close();
  }
}

/** Waits until every broker pod reports exactly `expected` as its cluster-wide default. */
async function waitForDefaults(expected: Record<string, string>): Promise<void> {
  await waitFor(`every broker reports ${JSON.stringify(expected)}`, async () => {
    const all = await pods();
    const canonical = (o: Record<string, string>) => JSON.stringify(Object.entries(o).sort());
    for (const p of all) if (canonical(await brokerDefaults(p.status.podIP)) !== canonical(expected)) return false;
    return all.length > 0;
  });
}

async function refusal(spec: Record<string, unknown>): Promise<string> {
  try {
    await admin.create({ apiVersion: API_VERSION, kind: 'KafkaCluster', metadata: { name: 'refused', namespace: NS }, spec } as KubernetesObject);
    return 'accepted';
  } catch (err) {
    if (!(err instanceof KubeError)) throw err;
    return err.message;
  }
}

beforeAll(async () => {
  harness = await OperatorHarness.start([NS]);
  admin = harness.admin;
  operator = await harness.startOperator(['resyncSeconds=5']);
}, 600_000);

afterAll(async () => {
  await harness?.stop();
});

describe('changing a KafkaCluster safely', () => {
  it('refuses at admission what cannot work, with a message that names it', async () => {
    expect(await refusal({ replicas: 1, listeners: [{ name: 'plain', port: 9644 }] })).toContain('a listener cannot use the HTTP port (http.port)');
    expect(await refusal({ replicas: 1, listeners: [{ name: 'plain', port: 9091 }] })).toContain('port 9091 is reserved for the internal replication listener');
    expect(await refusal({ replicas: 1, listeners: [{ name: 'plain', port: 9092 }, { name: 'plain', port: 9093 }] })).toContain('listener names must be unique');
    expect(await refusal({ replicas: 1, listeners: [{ name: 'replication', port: 9093, tls: true }] })).toContain('listener names replication and http are reserved');
    expect(await refusal({ replicas: 1, listeners: [{ name: 'mtls', port: 9093, authentication: 'tls' }] })).toContain('authentication tls (client certificates) needs tls: true');
    expect(await refusal({ replicas: 1, config: { 'ssl.client.auth': 'none' } })).toContain('broker config ssl.client.auth is set by the operator');
    expect(await refusal({ replicas: 1, image: 'Samsa::latest' })).toMatch(/spec\.image.*should match/);
    expect(await refusal({ replicas: 1, image: 'samsa:1.0 ' })).toMatch(/spec\.image.*should match/);
    expect(await refusal({ replicas: 1, config: { 'log.retention.msx': '1', 'num.partitions': '2' } })).toContain('unknown broker config: log.retention.msx');
    expect(await refusal({ replicas: 1, config: { 'node.id': '7' } })).toContain('node.id cannot be set');
    expect(await admin.getOrNull(API_VERSION, 'KafkaCluster', NS, 'refused')).toBeNull();
  });

  it('applies dynamic broker settings to every running broker without a restart, removes dropped ones, and gives a new broker them', async () => {
    await admin.create({
      apiVersion: API_VERSION,
      kind: 'KafkaCluster',
      metadata: { name: CLUSTER, namespace: NS },
      spec: { replicas: 3, config: { 'log.retention.ms': '3600000', 'num.partitions': '2' } },
    } as KubernetesObject);
    await waitFor('cluster ready', async () => condition(await cluster(), 'Ready')?.status === 'True', 180_000);
    // Read-only settings go to server.properties; dynamic ones to the brokers.
    const properties = await serverProperties();
    expect(properties).toContain('num.partitions=2');
    expect(properties).not.toContain('log.retention.ms');
    await waitForDefaults({ 'log.retention.ms': '3600000' });

    const before = await podUids();
    expect(Object.keys(before)).toHaveLength(3);
    await admin.mergePatch(await cluster(), { spec: { config: { 'log.retention.ms': '7200000', 'log.segment.bytes': '2000000' } } });
    await waitForDefaults({ 'log.retention.ms': '7200000', 'log.segment.bytes': '2000000' });
    // The brokers may follow the stored default before the operator has recorded its Event.
    await waitFor('ConfigApplied event for the new defaults', async () =>
      (await events('ConfigApplied')).some((e) => e.message.includes('log.retention.ms=7200000, log.segment.bytes=2000000 live to broker(s)')),
    );
    await admin.mergePatch(await cluster(), { spec: { config: { 'log.segment.bytes': null } } });
    await waitForDefaults({ 'log.retention.ms': '7200000' });
    await waitFor('status caught up', async () => {
      const c = await cluster();
      return c.status?.observedGeneration === c.metadata!.generation && condition(c, 'Ready')?.status === 'True';
    });
    // No broker was restarted and the pod template did not change.
    expect(await podUids()).toEqual(before);
    expect(await serverProperties()).toBe(properties);
    expect(await events('RollingRestart')).toEqual([]);

    // A new broker starts without the default and gets it once it is ready.
    await admin.mergePatch(await cluster(), { spec: { replicas: 4 } });
    await waitFor('fourth broker', async () => (await pods()).length === 4);
    await waitForDefaults({ 'log.retention.ms': '7200000' });
  }, 300_000);

  it('reports an ill-typed setting before touching anything, and proceeds once it is fixed', async () => {
    const before = await podUids();
    const properties = await serverProperties();
    await admin.mergePatch(await cluster(), { spec: { config: { 'log.retention.ms': 'a week', 'num.partitions': '3' } } });
    const degraded = await waitFor('InvalidConfig', async () => {
      const c = await cluster();
      const d = condition(c, 'Degraded');
      return d?.status === 'True' && d.reason === 'InvalidConfig' && d.observedGeneration === c.metadata!.generation ? d : null;
    });
    expect(degraded.message).toContain('log.retention.ms must be a whole number, got "a week"');
    expect(condition(await cluster(), 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidConfig' });
    // Reconciles that find the same problem again (an unrelated change, a resync) say nothing new.
    const reconciled = await operator.reconciles('kafkacluster');
    await admin.mergePatch(await cluster(), { metadata: { annotations: { 'example.com/note': 'poke' } } });
    await waitFor('two more reconciles', async () => (await operator.reconciles('kafkacluster')) >= reconciled + 2);
    const warnings = await events('InvalidConfig');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ type: 'Warning' });
    // Nothing was applied: not the read-only num.partitions, not the dynamic default.
    expect(await serverProperties()).toBe(properties);
    await waitForDefaults({ 'log.retention.ms': '7200000' });
    expect(await podUids()).toEqual(before);

    await admin.mergePatch(await cluster(), { spec: { config: { 'log.retention.ms': '1800000', 'num.partitions': '2' } } });
    await waitForDefaults({ 'log.retention.ms': '1800000' });
    await waitFor('ready again', async () => {
      const c = await cluster();
      return c.status?.observedGeneration === c.metadata!.generation && condition(c, 'Ready')?.status === 'True' && condition(c, 'Degraded')?.status === 'False';
    });
    // Still one warning: a problem is announced once, not on every reconcile.
    expect(await events('InvalidConfig')).toHaveLength(1);
  }, 180_000);

  it('moves partitions off the brokers a scale-down removes, refuses one that leaves a topic too few brokers, and skips the moves when told', async () => {
    const address = (await pods()).map((p) => `${p.status.podIP}:9092`);
    const kafka = new kafkajs.Kafka({ clientId: 'cluster-safety', brokers: address, logLevel: kafkajs.logLevel.NOTHING });
    const kadmin = kafka.admin();
    await kadmin.connect();
    await kadmin.createTopics({ topics: [{ topic: 'stranded', numPartitions: 8, replicationFactor: 1 }, { topic: 'triple', numPartitions: 1, replicationFactor: 3 }], waitForLeaders: true });
    const producer = kafka.producer();
    await producer.connect();
    const values = Array.from({ length: 64 }, (_, i) => `record-${i}`);
    await producer.send({ topic: 'stranded', acks: -1, messages: values.map((value, i) => ({ value, partition: i % 8 })) });
    await producer.disconnect();
    const holders = async (topic: string) => (await kadmin.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions.flatMap((p) => p.replicas);
    expect(new Set(await holders('stranded'))).toEqual(new Set([0, 1, 2, 3]));

    await admin.mergePatch(await cluster(), { spec: { replicas: 2 } });
    const blocked = await waitFor('ScaleDownBlocked', async () => {
      const d = condition(await cluster(), 'Degraded');
      return d?.status === 'True' && d.reason === 'ScaleDownBlocked' ? d : null;
    });
    expect(blocked.message).toContain('topic triple has replication factor 3');
    expect((await events('ScaleDownBlocked')).map((e) => e.type)).toEqual(['Warning']);
    expect((await admin.get<Obj & { spec: { replicas: number } }>('apps/v1', 'StatefulSet', NS, CLUSTER)).spec.replicas).toBe(4);

    // Without the topic that needs three brokers, the partitions move to brokers 0 and 1 first.
    await kadmin.deleteTopics({ topics: ['triple'] });
    await waitFor('scaled down to 2', async () => {
      const c = await cluster();
      return c.status?.replicas === 2 && condition(c, 'Ready')?.status === 'True' && Object.keys(await podUids()).length === 2;
    }, 180_000);
    expect(new Set(await holders('stranded'))).toEqual(new Set([0, 1]));
    expect((await events('DrainingBrokers')).length).toBe(1);
    expect((await events('PartitionsMoved')).length).toBeGreaterThanOrEqual(1);
    const reader = new kafkajs.Kafka({ clientId: 'cluster-safety', brokers: (await pods()).map((p) => `${p.status.podIP}:9092`), logLevel: kafkajs.logLevel.NOTHING });
    expect((await consumeValues(reader, 'stranded', values.length)).sort()).toEqual([...values].sort());
    await kadmin.disconnect();

    // The override removes a broker without moving what it holds.
    await admin.mergePatch(await cluster(), { metadata: { annotations: { 'samsa.dev/skip-broker-scaledown-check': 'true' } }, spec: { replicas: 1 } });
    await waitFor('scaled down to 1 without moves', async () => (await admin.get<Obj & { spec: { replicas: number } }>('apps/v1', 'StatefulSet', NS, CLUSTER)).spec.replicas === 1, 120_000);
    expect((await events('DrainingBrokers')).length).toBe(1);
  }, 400_000);
});

describe('growing spec.storage.size', () => {
  const claimSizes = async (cluster: string) =>
    (await admin.list<Obj & { spec: { resources: { requests: { storage: string } } }; status: { capacity?: { storage: string } } }>('v1', 'PersistentVolumeClaim', NS))
      .filter((c) => c.metadata!.name!.startsWith(`data-${cluster}-`))
      .map((c) => `${c.spec.resources.requests.storage}/${c.status.capacity?.storage}`);

  it('expands the claims in place and replaces the StatefulSet without restarting a broker', async () => {
    await admin.create({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'expandable' }, provisioner: 'samsa.dev/test-local', allowVolumeExpansion: true } as KubernetesObject);
    await admin.create({ apiVersion: API_VERSION, kind: 'KafkaCluster', metadata: { name: 'grow', namespace: NS }, spec: { replicas: 2, storage: { size: '1Gi', storageClassName: 'expandable' } } } as KubernetesObject);
    const ready = async () => {
      const c = await harness.get('KafkaCluster', NS, 'grow');
      return c.status?.observedGeneration === c.metadata!.generation && condition(c, 'Ready')?.status === 'True' ? c : null;
    };
    await waitFor('grow ready', ready, 120_000);
    await waitFor('claims bound at 1Gi', async () => (await claimSizes('grow')).join() === '1Gi/1Gi,1Gi/1Gi');
    const uids = (await admin.list<Obj>('v1', 'Pod', NS)).filter((p) => p.metadata!.name!.startsWith('grow-')).map((p) => p.metadata!.uid).sort();
    const stsUid = (await admin.get<Obj>('apps/v1', 'StatefulSet', NS, 'grow')).metadata!.uid;

    await admin.mergePatch(await harness.get('KafkaCluster', NS, 'grow'), { spec: { storage: { size: '2Gi' } } });
    await waitFor('claims grown to 2Gi', async () => (await claimSizes('grow')).join() === '2Gi/2Gi,2Gi/2Gi', 120_000);
    await waitFor('grow ready at 2Gi', ready, 120_000);
    const sts = await admin.get<Obj & { spec: { volumeClaimTemplates: Array<{ spec: { resources: { requests: { storage: string } } } }> } }>('apps/v1', 'StatefulSet', NS, 'grow');
    expect(sts.metadata!.uid).not.toBe(stsUid);
    expect(sts.spec.volumeClaimTemplates[0]!.spec.resources.requests.storage).toBe('2Gi');
    expect((await admin.list<Obj>('v1', 'Pod', NS)).filter((p) => p.metadata!.name!.startsWith('grow-')).map((p) => p.metadata!.uid).sort()).toEqual(uids);
    const announced = (await admin.list<Obj & { reason: string; involvedObject: { name: string } }>('v1', 'Event', NS)).filter((e) => e.involvedObject.name === 'grow' && e.reason === 'VolumesExpanding');
    expect(announced).toHaveLength(1);
    // Shrinking is refused at admission.
    await expect(admin.mergePatch(await harness.get('KafkaCluster', NS, 'grow'), { spec: { storage: { size: '1Gi' } } })).rejects.toThrow('storage.size cannot shrink');
  }, 300_000);

  it('says why when the StorageClass does not allow expansion, and keeps the claims as they are', async () => {
    await admin.create({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'fixed' }, provisioner: 'samsa.dev/test-local' } as KubernetesObject);
    await admin.create({ apiVersion: API_VERSION, kind: 'KafkaCluster', metadata: { name: 'fixed', namespace: NS }, spec: { replicas: 1, storage: { size: '1Gi', storageClassName: 'fixed' } } } as KubernetesObject);
    await waitFor('fixed ready', async () => condition(await harness.get('KafkaCluster', NS, 'fixed'), 'Ready')?.status === 'True', 120_000);
    await waitFor('claim bound', async () => (await claimSizes('fixed')).join() === '1Gi/1Gi');
    await admin.mergePatch(await harness.get('KafkaCluster', NS, 'fixed'), { spec: { storage: { size: '5Gi' } } });
    const degraded = await waitFor('VolumeExpansionFailed', async () => {
      const d = condition(await harness.get('KafkaCluster', NS, 'fixed'), 'Degraded');
      return d?.status === 'True' && d.reason === 'VolumeExpansionFailed' ? d : null;
    });
    expect(degraded.message).toBe('the broker volumes cannot grow to 5Gi: data-fixed-0: StorageClass fixed does not allow volume expansion');
    expect(await claimSizes('fixed')).toEqual(['1Gi/1Gi']);
  }, 240_000);
});
