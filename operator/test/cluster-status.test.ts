// The KafkaCluster reconciler in the first hour of a user, on a real control plane with the
// operator started from the rendered chart and brokers run by the LocalKubelet: the shipped
// example works end to end with consumer groups, and failures — a refused apply, an image that
// cannot be pulled, a broker that crash-loops — show in status with their cause, Degraded=True
// and one Warning Event each; reverting heals without a human; a pending bad config reaches
// only the brokers the roll replaced (versioned ConfigMaps), and status shows broker versions.
import { execFile } from 'node:child_process';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { KafkaConnection } from '../../broker/protocol/client.js';
import { metadataApi } from '../../broker/protocol/messages/index.js';
import { kcatProduce } from '../../broker/test/kcat.js';
import { API_VERSION } from '../crds/types.js';
import type { Kube, KubernetesObject } from '../kube.js';
import { NODE_ZONE } from './kubelet.js';
import { type Obj, OperatorHarness, type OperatorProcess } from './operator-harness.js';

const NS = 'first-hour';
const ROOT = resolve(import.meta.dirname, '../..');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const run = promisify(execFile);

let harness: OperatorHarness;
let admin: Kube;
let operator: OperatorProcess;

type Pod = Obj & { status: { podIP: string; containerStatuses?: Array<{ restartCount: number; ready: boolean }> }; spec: { containers: Array<{ image: string }>; volumes: Array<{ configMap?: { name: string } }> } };
type Event = Obj & { type: string; reason: string; message: string; involvedObject: { name: string } };

const cluster = (name: string) => harness.get('KafkaCluster', NS, name);
const condition = (o: Obj, type: string) => o.status?.conditions?.find((c) => c.type === type);
const pod = (name: string) => admin.get<Pod>('v1', 'Pod', NS, name);
const waitFor = <T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 120_000) => harness.waitFor(what, probe, timeoutMs);

async function create(name: string, spec: Record<string, unknown>): Promise<void> {
  await admin.create({ apiVersion: API_VERSION, kind: 'KafkaCluster', metadata: { name, namespace: NS }, spec } as KubernetesObject);
}

/** Ready for the current spec, with the version of each broker read from it. */
async function waitReady(name: string): Promise<Obj> {
  return waitFor(`${name} ready`, async () => {
    const kc = await cluster(name);
    const versions = (kc.status?.brokers ?? []).every((b: { version?: string }) => b.version);
    return condition(kc, 'Ready')?.status === 'True' && kc.status?.observedGeneration === kc.metadata!.generation && versions ? kc : null;
  }, 180_000);
}

async function waitDegraded(name: string, reason: string): Promise<Obj> {
  return waitFor(`${name} Degraded with ${reason}`, async () => {
    const kc = await cluster(name);
    const degraded = condition(kc, 'Degraded');
    return degraded?.status === 'True' && degraded.reason === reason ? kc : null;
  });
}

async function warnings(name: string, reason: string): Promise<Event[]> {
  const events = await admin.list<Event>('v1', 'Event', NS);
  return events.filter((e) => e.involvedObject.name === name && e.type === 'Warning' && e.reason === reason);
}

/** Waits until the operator has reconciled `name` `n` more times (touching it so that it does). */
async function afterReconciles(name: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const before = await operator.reconciles('kafkacluster');
    await admin.mergePatch(await cluster(name), { metadata: { annotations: { 'test.samsa.dev/touch': String(Date.now()) } } });
    await waitFor('another reconcile', async () => (await operator.reconciles('kafkacluster')) > before);
  }
}

/** The rack of each broker, by id, as Metadata gives it. */
async function racks(address: string): Promise<Array<string | null>> {
  const [host, port] = address.split(':') as [string, string];
  const conn = await KafkaConnection.open(host, Number(port), 'first-hour');
  try {
    const meta = await conn.send(metadataApi, 12, { topics: [], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
    return [...meta.brokers].sort((a, b) => a.nodeId - b.nodeId).map((b) => b.rack);
  } finally {
    await conn.close();
  }
}

const kafkaAt = (address: string) => new kafkajs.Kafka({ clientId: 'first-hour', brokers: [address], logLevel: kafkajs.logLevel.NOTHING });

beforeAll(async () => {
  harness = await OperatorHarness.start([NS]);
  admin = harness.admin;
  operator = await harness.startOperator(['resyncSeconds=10']);
}, 600_000);

afterAll(async () => {
  await harness?.stop();
});

describe('the KafkaCluster reconciler in the first hour', () => {
  it('runs examples/kafka-cluster.yaml and kafka-topic.yaml as shipped, with consumer groups on a broker of it, and shows the brokers\' version', async () => {
    const example = parse(readFileSync(join(ROOT, 'examples/kafka-cluster.yaml'), 'utf8')) as Obj;
    await admin.create({ ...example, metadata: { ...example.metadata, namespace: NS } });
    const name = example.metadata!.name!;
    const kc = await waitReady(name);
    expect(kc.status).toMatchObject({ replicas: 3, readyReplicas: 3, version: VERSION });
    expect(kc.status!.brokers).toEqual([0, 1, 2].map((id) => ({ id, pod: `${name}-${id}`, ready: true, version: VERSION })));
    // Nothing is added to the spec's settings.
    const configMap = (await pod(`${name}-0`)).spec.volumes.find((v) => v.configMap)!.configMap!.name;
    const properties = (await admin.get<Obj & { data: Record<string, string> }>('v1', 'ConfigMap', NS, configMap)).data['server.properties'];
    // log.retention.ms is a dynamic setting: applied live, not through server.properties.
    expect(properties).toBe('default.replication.factor=3\nnum.partitions=3\n');

    // One cluster: any broker's address bootstraps a client that sees all three brokers.
    const address = `${(await pod(`${name}-1`)).status.podIP}:9092`;
    const kafka = kafkaAt(address);
    const client = kafka.admin();
    await client.connect();
    expect((await client.describeCluster()).brokers.map((b) => b.nodeId).sort()).toEqual([0, 1, 2]);
    // spec.rack: each broker's rack is its node's zone.
    expect(await racks(address)).toEqual([NODE_ZONE, NODE_ZONE, NODE_ZONE]);
    // CreateTopics without a replication factor or partition count takes the cluster's defaults.
    await client.createTopics({ topics: [{ topic: 'payments' }], waitForLeaders: true });
    const payments = (await client.fetchTopicMetadata({ topics: ['payments'] })).topics[0]!.partitions;
    expect(payments).toHaveLength(3);
    for (const p of payments) expect(p.replicas.sort()).toEqual([0, 1, 2]);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'payments', messages: ['a', 'b', 'c', 'd'].map((value) => ({ key: value, value })) });
    // An auto-created topic.
    await producer.send({ topic: 'clicks', messages: [{ value: 'first click' }] });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: 'billing', sessionTimeout: 10_000 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'payments', fromBeginning: true });
    const seen: string[] = [];
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(message.value!.toString()) });
    await waitFor('the group consumed every payment', async () => seen.length === 4);
    await consumer.disconnect();
    expect(seen.sort()).toEqual(['a', 'b', 'c', 'd']);
    const committed = await client.fetchOffsets({ groupId: 'billing', topics: ['payments'] });
    // Partitions that got no payment have no committed offset (-1).
    expect(committed[0]!.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0)).toBe(4);
    await client.disconnect();

    // kcat's balanced consumer (a group through __consumer_offsets) reads the auto-created topic to its end.
    const { stdout } = await run('kcat', ['-b', address, '-G', 'clickers', 'clicks', '-o', 'beginning', '-e', '-q', '-f', '%s\n'], { timeout: 60_000 });
    expect(stdout.trim()).toBe('first click');

    // examples/kafka-topic.yaml as shipped: six partitions, three replicas each, on the cluster.
    const topicExample = parse(readFileSync(join(ROOT, 'examples/kafka-topic.yaml'), 'utf8')) as Obj;
    await admin.create({ ...topicExample, metadata: { ...topicExample.metadata, namespace: NS } });
    const topic = await waitFor('the example topic ready', async () => {
      const t = await harness.get('KafkaTopic', NS, topicExample.metadata!.name!);
      return condition(t, 'Ready')?.status === 'True' ? t : null;
    });
    expect(topic.status).toMatchObject({ partitions: 6, replicationFactor: 3 });
    const other = `${(await pod(`${name}-2`)).status.podIP}:9092`;
    const otherAdmin = kafkaAt(other).admin();
    await otherAdmin.connect();
    const orderPartitions = (await otherAdmin.fetchTopicMetadata({ topics: ['orders'] })).topics[0]!.partitions;
    expect(orderPartitions).toHaveLength(topicExample.spec.partitions);
    for (const p of orderPartitions) expect(p.replicas).toHaveLength(3);
    await otherAdmin.disconnect();
    // Written through one broker's address, read as a group through another's.
    await kcatProduce(address, 'orders', ['order-1:paid'], ['-K:', '-X', 'acks=all']);
    const orders = await run('kcat', ['-b', other, '-G', 'shipping', 'orders', '-o', 'beginning', '-e', '-q', '-f', '%k=%s\n'], { timeout: 60_000 });
    expect(orders.stdout.trim()).toBe('order-1=paid');
  }, 300_000);

  it('puts an object the API server refuses into status and one Warning Event, and recovers when the spec is fixed', async () => {
    // A toleration Kubernetes does not know: the KafkaCluster schema passes it on, the StatefulSet is refused.
    await create('refused', { replicas: 1, podTemplate: { tolerations: [{ key: 'dedicated', operator: 'Sometimes', value: 'kafka' }] } });
    const kc = await waitDegraded('refused', 'ApplyFailed');
    expect(condition(kc, 'Degraded')!.message).toContain('Unsupported value: "Sometimes"');
    expect(condition(kc, 'Ready')).toMatchObject({ status: 'False', reason: 'ApplyFailed' });
    await afterReconciles('refused', 3);
    const events = await warnings('refused', 'ApplyFailed');
    expect(events).toHaveLength(1);
    expect(events[0]!.message).toBe(condition(kc, 'Degraded')!.message);

    await admin.mergePatch(await cluster('refused'), { spec: { podTemplate: { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'kafka' }] } } });
    const healed = await waitReady('refused');
    expect(condition(healed, 'Degraded')).toMatchObject({ status: 'False', reason: 'BrokersReady' });
  }, 240_000);

  it('names an image that cannot be pulled, stops the roll there, and heals when the image is reverted', async () => {
    await create('imgs', { replicas: 3 });
    await waitReady('imgs');
    const before = await Promise.all([0, 1].map((i) => pod(`imgs-${i}`)));

    await admin.mergePatch(await cluster('imgs'), { spec: { image: 'samsa:9.9.9-missing' } });
    const kc = await waitDegraded('imgs', 'ImagePullFailed');
    expect(kc.status!.brokers[2]).toMatchObject({ pod: 'imgs-2', ready: false, reason: 'ImagePullFailed' });
    expect(condition(kc, 'Degraded')!.message).toMatch(/^imgs-2: (ErrImagePull|ImagePullBackOff): .*"samsa:9\.9\.9-missing"/);
    await afterReconciles('imgs', 3);
    expect(await warnings('imgs', 'ImagePullFailed')).toHaveLength(1);
    // The roll stopped at the broken broker: the others still run, untouched.
    for (const [i, old] of before.entries()) expect((await pod(`imgs-${i}`)).metadata!.uid).toBe(old.metadata!.uid);
    expect((await cluster('imgs')).status!.readyReplicas).toBe(2);

    // Reverting the spec replaces the broken broker although not all brokers are ready.
    await admin.mergePatch(await cluster('imgs'), { spec: { image: 'samsa:0.1.0' } });
    const healed = await waitReady('imgs');
    expect(healed.status).toMatchObject({ readyReplicas: 3, version: VERSION });
    expect(condition(healed, 'Degraded')!.status).toBe('False');
    expect((await pod('imgs-2')).spec.containers[0]!.image).toBe('samsa:0.1.0');
    for (const [i, old] of before.entries()) expect((await pod(`imgs-${i}`)).metadata!.uid).toBe(old.metadata!.uid);
  }, 300_000);

  it('names a crash-looping broker with its exit code and last log line, once, and clears when it runs again', async () => {
    // A broker whose data directory is not a directory cannot start: it exits at once, every time the kubelet restarts it.
    const dataDir = join(harness.kubelet.volumeOf(NS, 'data-imgs-1'), 'data');
    renameSync(dataDir, `${dataDir}.aside`);
    writeFileSync(dataDir, 'not a directory');
    expect(harness.kubelet.kill('imgs-1', 'SIGKILL', NS)).toBe(true);
    await waitDegraded('imgs', 'CrashLoopBackOff');
    // The first restart (after the kill, exit code 137) fails too: from then on status names that failure.
    const kc = await waitFor('the crash named', async () => {
      const c = await cluster('imgs');
      return /^exited with code 1: /.test(c.status?.brokers?.[1]?.message ?? '') ? c : null;
    });
    expect(kc.status!.brokers[1]).toMatchObject({ pod: 'imgs-1', ready: false, reason: 'CrashLoopBackOff' });
    expect(kc.status!.brokers[1].message).toBe(`exited with code 1: broker failed to start: EEXIST: file already exists, mkdir '${dataDir}'`);
    expect(condition(kc, 'Degraded')!.message).toBe(`imgs-1: ${kc.status!.brokers[1].message}`);
    // Several crashes, several reconciles: still one Warning.
    await waitFor('three restarts', async () => ((await pod('imgs-1')).status.containerStatuses?.[0]?.restartCount ?? 0) >= 3);
    await afterReconciles('imgs', 2);
    expect(await warnings('imgs', 'CrashLoopBackOff')).toHaveLength(1);

    rmSync(dataDir);
    renameSync(`${dataDir}.aside`, dataDir);
    const healed = await waitReady('imgs');
    expect(condition(healed, 'Degraded')!.status).toBe('False');
    expect(healed.status!.brokers[1]).toEqual({ id: 1, pod: 'imgs-1', ready: true, version: VERSION });
  }, 240_000);

  it('keeps a pending config off brokers that restart for another reason, and collects config versions no pod uses', async () => {
    const configMaps = async () => (await admin.list<Obj>('v1', 'ConfigMap', NS)).map((c) => c.metadata!.name!).filter((n) => n.startsWith('cfg-config-')).sort();
    const retentionCheckOf = async (id: number) => {
      const client = kafkaAt(`${(await pod(`cfg-${id}`)).status.podIP}:9092`).admin();
      await client.connect();
      try {
        const described = await client.describeConfigs({ resources: [{ type: 4, name: String(id), configNames: ['log.retention.check.interval.ms'] }], includeSynonyms: false });
        return described.resources[0]!.configEntries[0]!.configValue;
      } finally {
        await client.disconnect();
      }
    };
    await create('cfg', { replicas: 3, config: { 'log.retention.check.interval.ms': '60000' } });
    await waitReady('cfg');
    const [good] = await configMaps();

    // A new config together with an image that cannot run: the roll stops at the first broker it replaces.
    await admin.mergePatch(await cluster('cfg'), { spec: { image: 'samsa:0.0.0-broken', config: { 'log.retention.check.interval.ms': '120000' } } });
    await waitDegraded('cfg', 'ImagePullFailed');
    expect(await configMaps()).toHaveLength(2);
    // Broker 0 crashes and the kubelet restarts it: it comes back with its own revision's settings.
    expect(harness.kubelet.kill('cfg-0', 'SIGKILL', NS)).toBe(true);
    await waitFor('cfg-0 restarted and ready', async () => {
      const status = (await pod('cfg-0')).status.containerStatuses?.[0];
      return status?.restartCount === 1 && status.ready;
    });
    expect(await retentionCheckOf(0)).toBe('60000');

    // Reverting heals the broken broker; the pending version goes once no pod mounts it.
    await admin.mergePatch(await cluster('cfg'), { spec: { image: 'samsa:0.1.0', config: { 'log.retention.check.interval.ms': '60000' } } });
    await waitReady('cfg');
    await waitFor('only the config version in use is left', async () => (await configMaps()).join() === good);
    expect(await retentionCheckOf(2)).toBe('60000');
  }, 300_000);
});
