// The operator against a real control plane (etcd, kube-apiserver, kube-controller-manager built
// from Go modules), installed as the Helm chart renders it: the chart's CRDs and RBAC, the
// operator process started from the rendered Deployment's command and args, while a local
// kubelet runs the broker pods as processes: a KafkaCluster becomes ready brokers, a KafkaTopic
// a topic Kafka clients use, spec changes show in status, bad manifests are refused, and
// deletion cleans up.
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kcatConsume } from '../../broker/test/kcat.js';
import { API_VERSION } from '../crds/types.js';
import { type Kube, KubeError, type KubernetesObject } from '../kube.js';
import { type Obj, OperatorHarness, type OperatorProcess } from './operator-harness.js';

const NS = 'kafka';

let harness: OperatorHarness;
let admin: Kube;
let operator: OperatorProcess;

const get = (kind: 'KafkaCluster' | 'KafkaTopic', name: string) => harness.get(kind, NS, name);
const readyCondition = (o: Obj) => o.status?.conditions?.find((c) => c.type === 'Ready');
const waitFor = <T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs?: number) => harness.waitFor(what, probe, timeoutMs);

beforeAll(async () => {
  harness = await OperatorHarness.start([NS]);
  admin = harness.admin;
  operator = await harness.startOperator(['resyncSeconds=10']);
}, 600_000);

afterAll(async () => {
  await harness?.stop();
});

describe('operator on a real control plane', () => {
  let bootstrap = '';

  it('turns a KafkaCluster into a ready broker and every object it needs', async () => {
    await admin.create({ apiVersion: API_VERSION, kind: 'KafkaCluster', metadata: { name: 'demo', namespace: NS }, spec: { replicas: 1, config: { 'log.retention.check.interval.ms': '60000' } } } as KubernetesObject);
    const kc = await waitFor('cluster ready', async () => {
      const c = await get('KafkaCluster', 'demo');
      return readyCondition(c)?.status === 'True' ? c : null;
    }, 120_000);
    expect(kc.status).toMatchObject({ readyReplicas: 1, replicas: 1, bootstrap: 'demo.kafka.svc:9092', brokers: [{ id: 0, pod: 'demo-0', ready: true }], observedGeneration: 1 });
    // Defaults came from the CRD schema.
    expect(kc.spec).toMatchObject({ image: 'samsa:0.1.0', storage: { size: '10Gi', deleteClaimsOnClusterDelete: false }, listeners: [{ name: 'plain', port: 9092, tls: false, authentication: 'none' }], http: { port: 9644 }, tls: { certificateValidityDays: 365, renewalDays: 30 } });

    const sts = await admin.get<Obj & { spec: Record<string, any> }>('apps/v1', 'StatefulSet', NS, 'demo');
    expect(sts.spec.updateStrategy).toEqual({ type: 'OnDelete' });
    expect(sts.spec.serviceName).toBe('demo-brokers');
    expect(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('10Gi');
    expect(sts.spec.template.spec.containers[0].readinessProbe.httpGet.path).toBe('/readyz');
    expect(sts.metadata!.ownerReferences![0]).toMatchObject({ kind: 'KafkaCluster', name: 'demo', controller: true });
    const headless = await admin.get<Obj & { spec: Record<string, any> }>('v1', 'Service', NS, 'demo-brokers');
    expect(headless.spec.clusterIP).toBe('None');
    const configMap = sts.spec.template.spec.volumes.find((v: { configMap?: { name: string } }) => v.configMap).configMap.name as string;
    expect(configMap).toMatch(/^demo-config-[0-9a-f]+$/);
    const cm = await admin.get<Obj & { data: Record<string, string> }>('v1', 'ConfigMap', NS, configMap);
    expect(cm.data['server.properties']).toContain('log.retention.check.interval.ms=60000');
    for (const [apiVersion, kind, name] of [['v1', 'ServiceAccount', 'demo-broker'], ['rbac.authorization.k8s.io/v1', 'Role', 'demo-broker'], ['rbac.authorization.k8s.io/v1', 'RoleBinding', 'demo-broker'], ['policy/v1', 'PodDisruptionBudget', 'demo'], ['v1', 'Service', 'demo']] as const) {
      expect((await admin.get(apiVersion, kind, NS, name)).metadata?.ownerReferences?.[0]?.name).toBe('demo');
    }
    const events = await admin.list<Obj & { reason: string; involvedObject: { name: string } }>('v1', 'Event', NS);
    expect(events.filter((e) => e.involvedObject.name === 'demo').map((e) => e.reason)).toEqual(expect.arrayContaining(['Created', 'Ready']));

    const pod = await admin.get<Obj & { status: { podIP: string } }>('v1', 'Pod', NS, 'demo-0');
    bootstrap = `${pod.status.podIP}:9092`;
  }, 180_000);

  it('turns a KafkaTopic into a topic that Kafka clients use, and grows it', async () => {
    await admin.create({ apiVersion: API_VERSION, kind: 'KafkaTopic', metadata: { name: 'orders', namespace: NS }, spec: { clusterRef: { name: 'demo' }, partitions: 3, config: { 'retention.ms': '3600000' } } } as KubernetesObject);
    await waitFor('topic ready', async () => readyCondition(await get('KafkaTopic', 'orders'))?.status === 'True');
    const kafka = new kafkajs.Kafka({ clientId: 'operator-test', brokers: [bootstrap], logLevel: kafkajs.logLevel.NOTHING });
    const adminClient = kafka.admin();
    await adminClient.connect();
    expect((await adminClient.fetchTopicMetadata({ topics: ['orders'] })).topics[0]!.partitions).toHaveLength(3);
    const configs = await adminClient.describeConfigs({ resources: [{ type: 2, name: 'orders', configNames: ['retention.ms'] }], includeSynonyms: false });
    expect(configs.resources[0]!.configEntries[0]!.configValue).toBe('3600000');
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'orders', messages: [{ key: 'k', value: 'first order', partition: 0 }] });
    await producer.disconnect();
    expect((await kcatConsume(bootstrap, 'orders')).map((r) => r.value)).toEqual(['first order']);

    await admin.mergePatch(await get('KafkaTopic', 'orders'), { spec: { partitions: 5 } });
    await waitFor('five partitions', async () => (await get('KafkaTopic', 'orders')).status?.partitions === 5);
    expect((await adminClient.fetchTopicMetadata({ topics: ['orders'] })).topics[0]!.partitions).toHaveLength(5);
    await adminClient.disconnect();
  }, 120_000);

  it('refuses bad manifests with messages a user understands', async () => {
    const refused = async (obj: Record<string, unknown>, query = '') => {
      try {
        await admin.create(obj as KubernetesObject, query);
      } catch (err) {
        return (err as KubeError).message;
      }
      throw new Error('expected the API server to refuse the manifest');
    };
    expect(await refused({ apiVersion: API_VERSION, kind: 'KafkaCluster', metadata: { name: 'negative', namespace: NS }, spec: { replicas: -1 } })).toContain('spec.replicas in body should be greater than or equal to 1');
    expect(await refused({ apiVersion: API_VERSION, kind: 'KafkaCluster', metadata: { name: 'typo', namespace: NS }, spec: { replicas: 1, replicaz: 3 } }, '?fieldValidation=Strict')).toContain('unknown field "spec.replicaz"');
    try {
      await admin.mergePatch(await get('KafkaTopic', 'orders'), { spec: { partitions: 2 } });
      throw new Error('expected lowering partitions to be refused');
    } catch (err) {
      expect((err as KubeError).message).toContain('partitions cannot be lowered');
    }
    try {
      await admin.mergePatch(await get('KafkaCluster', 'demo'), { spec: { storage: { size: '5Gi' } } });
      throw new Error('expected a smaller storage size to be refused');
    } catch (err) {
      expect((err as KubeError).message).toContain('storage.size cannot shrink');
    }
  });

  it('adopts a topic that exists, reports partitions it cannot remove, and keeps the config equal to the spec', async () => {
    const kafka = new kafkajs.Kafka({ clientId: 'operator-test', brokers: [bootstrap], logLevel: kafkajs.logLevel.NOTHING });
    const adminClient = kafka.admin();
    await adminClient.connect();
    await adminClient.createTopics({ topics: [{ topic: 'legacy', numPartitions: 4, configEntries: [{ name: 'segment.bytes', value: '1048576' }] }] });
    await admin.create({ apiVersion: API_VERSION, kind: 'KafkaTopic', metadata: { name: 'legacy', namespace: NS }, spec: { clusterRef: { name: 'demo' }, partitions: 2 } } as KubernetesObject);
    const refused = await waitFor('shrink reported', async () => {
      const t = await get('KafkaTopic', 'legacy');
      return readyCondition(t)?.reason === 'PartitionsCannotDecrease' ? t : null;
    });
    expect(readyCondition(refused)).toMatchObject({ status: 'False', message: 'the topic has 4 partitions; Kafka cannot lower that to 2' });
    expect(refused.status?.conditions?.find((c) => c.type === 'Degraded')?.status).toBe('True');
    expect((await adminClient.fetchTopicMetadata({ topics: ['legacy'] })).topics[0]!.partitions).toHaveLength(4);

    // Matching the topic makes it Ready; its overrides become exactly spec.config.
    await admin.mergePatch(await get('KafkaTopic', 'legacy'), { spec: { partitions: 4, config: { 'retention.ms': '120000' } } });
    await waitFor('adopted topic ready', async () => readyCondition(await get('KafkaTopic', 'legacy'))?.status === 'True');
    const described = await adminClient.describeConfigs({ resources: [{ type: 2, name: 'legacy', configNames: ['retention.ms', 'segment.bytes'] }], includeSynonyms: false });
    expect(Object.fromEntries(described.resources[0]!.configEntries.map((e) => [e.configName, e.configValue]))).toEqual({ 'retention.ms': '120000', 'segment.bytes': '1073741824' });
    const events = await admin.list<Obj & { reason: string; involvedObject: { name: string } }>('v1', 'Event', NS);
    expect(events.filter((e) => e.involvedObject.name === 'legacy').map((e) => e.reason)).toEqual(expect.arrayContaining(['Adopted', 'PartitionsCannotDecrease', 'ConfigChanged']));
    await adminClient.disconnect();
  });

  it('rolls the broker when a read-only setting changes, keeps its data, and status follows', async () => {
    const before = await admin.get<Obj>('v1', 'Pod', NS, 'demo-0');
    await admin.mergePatch(await get('KafkaCluster', 'demo'), { spec: { config: { 'log.retention.check.interval.ms': '30000' } } });
    const kc = await waitFor('rolled and ready again', async () => {
      const c = await get('KafkaCluster', 'demo');
      const pod = await admin.getOrNull<Obj>('v1', 'Pod', NS, 'demo-0');
      return c.status?.observedGeneration === c.metadata!.generation && readyCondition(c)?.status === 'True' && pod && pod.metadata!.uid !== before.metadata!.uid ? c : null;
    }, 120_000);
    expect(kc.metadata!.generation).toBe(2);
    const events = await admin.list<Obj & { reason: string }>('v1', 'Event', NS);
    expect(events.map((e) => e.reason)).toContain('RollingRestart');
    // Same volume: what was produced before the restart is still there.
    expect((await kcatConsume(bootstrap, 'orders')).map((r) => r.value)).toEqual(['first order']);
  }, 180_000);

  it('deletes the topic in Kafka with its resource, and everything with the cluster', async () => {
    await admin.delete(await get('KafkaTopic', 'orders'));
    await waitFor('topic resource gone', async () => !(await admin.getOrNull(API_VERSION, 'KafkaTopic', NS, 'orders')));
    const kafka = new kafkajs.Kafka({ clientId: 'operator-test', brokers: [bootstrap], logLevel: kafkajs.logLevel.NOTHING });
    const adminClient = kafka.admin();
    await adminClient.connect();
    expect(await adminClient.listTopics()).not.toContain('orders');
    await adminClient.disconnect();

    await admin.delete(await get('KafkaCluster', 'demo'), { propagationPolicy: 'Background' });
    await waitFor('owned objects garbage-collected', async () => !(await admin.getOrNull('apps/v1', 'StatefulSet', NS, 'demo')) && !(await admin.list<Obj>('v1', 'ConfigMap', NS)).some((c) => c.metadata!.name!.startsWith('demo-config-')));
    const metrics = await (await fetch(`${operator.url}/metrics`)).text();
    expect(metrics).toMatch(/samsa_operator_reconciles_total\{controller="kafkacluster",result="success"\} [1-9]/);
    expect(metrics).toContain('samsa_operator_leader 1');
  }, 120_000);
});
