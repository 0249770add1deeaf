// Partition moves by the operator on a real control plane (the chart-rendered operator, brokers as
// local processes of the test kubelet, one replicated cluster on the Kubernetes metadata store),
// with a kafkajs producer sending acks=all throughout: a scale-up moves partitions onto the new
// broker until replicas and leaders are balanced; a throttled scale-down drains the broker it
// removes, survives the operator being killed mid-way (the plan is in a ConfigMap, and carried on,
// not made again) and shows its progress in status; a KafkaTopic's replication factor is raised by
// reassignment; automatic mode rebalances a cluster pushed out of balance. Every acknowledged
// record is read back at the end.
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../../broker/protocol/client.js';
import { alterPartitionReassignmentsApi } from '../../broker/protocol/messages/index.js';
import { type AcksAllLoad, produceThroughout } from '../../broker/test/acks-all-load.js';
import { consumeValues } from '../../broker/test/kafkajs-consume.js';
import { API_VERSION } from '../crds/types.js';
import type { Kube, KubernetesObject } from '../kube.js';
import { type Condition, type Obj, OperatorHarness } from './operator-harness.js';

const NS = 'moves';
const CLUSTER = 'fleet';
const LOAD_TOPIC = 'events';

let harness: OperatorHarness;
let admin: Kube;
let load: AcksAllLoad;
let kafka: kafkajs.Kafka;

type Pod = Obj & { status: { podIP?: string } };
const condition = (o: Obj, type: string): Condition | undefined => o.status?.conditions?.find((c) => c.type === type);
const cluster = () => harness.get('KafkaCluster', NS, CLUSTER);
const waitFor = <T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 180_000) => harness.waitFor(what, probe, timeoutMs);
const podIps = async () => (await admin.list<Pod>('v1', 'Pod', NS)).flatMap((p) => (p.status.podIP ? [`${p.status.podIP}:9092`] : []));
const events = async (reason: string) => (await admin.list<Obj & { reason: string; message: string; involvedObject: { name: string } }>('v1', 'Event', NS)).filter((e) => e.reason === reason);

/** Every partition's replicas, as Metadata gives them. */
async function assignment(): Promise<Array<{ topic: string; partition: number; replicas: number[]; leader: number }>> {
  const client = new kafkajs.Kafka({ clientId: 'moves-test', brokers: await podIps(), logLevel: kafkajs.logLevel.NOTHING }).admin();
  await client.connect();
  try {
    const { topics } = await client.fetchTopicMetadata();
    return topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partitionId, replicas: p.replicas, leader: p.leader })));
  } finally {
    await client.disconnect();
  }
}

/** Replicas per broker id. */
async function replicaCounts(): Promise<Map<number, number>> {
  const counts = new Map<number, number>();
  for (const p of await assignment()) for (const id of p.replicas) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

/** Ready for the current spec with no operation in flight. */
async function settled(): Promise<Obj | null> {
  const kc = await cluster();
  return condition(kc, 'Ready')?.status === 'True' && kc.status?.observedGeneration === kc.metadata!.generation && !kc.status?.operation ? kc : null;
}

beforeAll(async () => {
  harness = await OperatorHarness.start([NS]);
  admin = harness.admin;
  await harness.startOperator(['resyncSeconds=5']);
  await admin.create({
    apiVersion: API_VERSION,
    kind: 'KafkaCluster',
    metadata: { name: CLUSTER, namespace: NS },
    spec: { replicas: 3, config: { 'default.replication.factor': '3', 'min.insync.replicas': '2' }, rebalance: { maxPartitionMovesInFlight: 2 } },
  } as KubernetesObject);
  await waitFor('cluster ready', settled, 240_000);
  kafka = new kafkajs.Kafka({ clientId: 'moves-test', brokers: await podIps(), logLevel: kafkajs.logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 } });
  const client = kafka.admin();
  await client.connect();
  await client.createTopics({
    topics: [
      { topic: LOAD_TOPIC, numPartitions: 6, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] },
      { topic: 'bulk', numPartitions: 8, replicationFactor: 2 },
    ],
    waitForLeaders: true,
  });
  await client.disconnect();
  // Some data for the moves to carry: 8 MiB in 'bulk'.
  const filler = kafka.producer();
  await filler.connect();
  const value = Buffer.alloc(1024, 'b');
  for (let i = 0; i < 16; i++) await filler.send({ topic: 'bulk', acks: -1, messages: Array.from({ length: 512 }, (_, n) => ({ value, partition: n % 8 })) });
  await filler.disconnect();
  load = produceThroughout(kafka, LOAD_TOPIC);
}, 600_000);

afterAll(async () => {
  await load?.stop().catch(() => {});
  await harness?.stop();
});

describe('partition moves on a live cluster', () => {
  it('moves partitions onto a new broker after a scale-up until replicas and leaders are balanced', async () => {
    await admin.mergePatch(await cluster(), { spec: { replicas: 4 } });
    const seen = new Set<string>();
    await waitFor('broker 3 holds replicas and the moves are done', async () => {
      const kc = await cluster();
      if (kc.status?.operation) seen.add(kc.status.operation.type);
      return (await settled()) && ((await replicaCounts()).get(3) ?? 0) > 0;
    }, 300_000);
    expect(seen.has('ScaleUp')).toBe(true);
    const counts = await replicaCounts();
    const mean = [...counts.values()].reduce((a, b) => a + b, 0) / 4;
    for (const id of [0, 1, 2, 3]) expect(Math.abs((counts.get(id) ?? 0) - mean), `broker ${id}: ${counts.get(id)} replicas, mean ${mean}`).toBeLessThanOrEqual(1.5);
    expect((await events('ScalingUp')).length).toBe(1);
    expect((await events('PartitionsMoved')).length).toBe(1);
    // The throttle is gone with the moves.
    expect((await cluster()).status?.rebalance?.imbalance?.replicas).toBeLessThanOrEqual(1.5);
  }, 400_000);

  it('drains the broker a scale-down removes, throttled, and carries the plan on across an operator restart', async () => {
    await admin.mergePatch(await cluster(), { spec: { replicas: 3, rebalance: { maxPartitionMovesInFlight: 1, throttleBytesPerSecond: 400_000 } } });
    const inFlight = await waitFor('the drain under way', async () => {
      const op = (await cluster()).status?.operation;
      return op?.type === 'ScaleDown' && op.partitionsLeft + op.partitionsInFlight > 0 ? op : null;
    });
    expect(inFlight.progress).toMatch(/^\d+\/\d+ partitions, /);
    expect(condition(await cluster(), 'Ready')?.reason).toBe('ScalingDown');
    const planBefore = await admin.get<Obj & { data: Record<string, string> }>('v1', 'ConfigMap', NS, `${CLUSTER}-partition-moves`);

    // The operator dies mid-drain; another takes over and carries on the same plan.
    await harness.operators[0]!.process.kill('SIGKILL');
    await harness.startOperator(['resyncSeconds=5']);
    await waitFor('the drain finished', async () => (await settled()) && (await admin.list<Pod>('v1', 'Pod', NS)).length === 3, 400_000);
    expect(((await replicaCounts()).get(3) ?? 0)).toBe(0);
    const moved = await events('PartitionsMoved');
    const plan = JSON.parse(planBefore.data['plan.json']!) as { moves: unknown[]; startedAt: string };
    // One drain, planned once: the new operator did not plan again.
    expect((await events('DrainingBrokers')).length).toBe(1);
    expect(moved.some((e) => e.message.startsWith(`ScaleDown: moved ${plan.moves.length} partition(s)`))).toBe(true);
    expect(await admin.getOrNull('v1', 'ConfigMap', NS, `${CLUSTER}-partition-moves`)).toBeNull();
  }, 600_000);

  it('raises a KafkaTopic\'s replication factor by reassignment', async () => {
    await admin.mergePatch(await cluster(), { spec: { rebalance: { throttleBytesPerSecond: null, maxPartitionMovesInFlight: 2 } } });
    await admin.create({ apiVersion: API_VERSION, kind: 'KafkaTopic', metadata: { name: 'ledger', namespace: NS }, spec: { clusterRef: { name: CLUSTER }, partitions: 3, replicationFactor: 1 } } as KubernetesObject);
    await waitFor('ledger ready', async () => condition(await harness.get('KafkaTopic', NS, 'ledger'), 'Ready')?.status === 'True');
    await admin.mergePatch(await harness.get('KafkaTopic', NS, 'ledger'), { spec: { replicationFactor: 3 } });
    const ready = await waitFor('ledger at replication factor 3', async () => {
      const t = await harness.get('KafkaTopic', NS, 'ledger');
      return condition(t, 'Ready')?.status === 'True' && t.status?.replicationFactor === 3 && t.status?.observedGeneration === t.metadata!.generation ? t : null;
    });
    expect(ready.status?.reassignment).toBeUndefined();
    for (const p of (await assignment()).filter((a) => a.topic === 'ledger')) expect(p.replicas.sort()).toEqual([0, 1, 2]);
    expect((await events('ReplicationFactorChanged')).length).toBe(1);
  }, 300_000);

  it('in automatic mode, rebalances a cluster pushed out of balance', async () => {
    // Pile every replica of 'bulk' onto brokers 0 and 1 by hand, as an outside tool could.
    const bulk = (await assignment()).filter((a) => a.topic === 'bulk');
    const [host, port] = (await podIps())[0]!.split(':') as [string, string];
    const conn = await KafkaConnection.open(host, Number(port), 'moves-test');
    try {
      await conn.send(alterPartitionReassignmentsApi, 0, { timeoutMs: 30_000, topics: [{ name: 'bulk', partitions: bulk.map((p) => ({ partitionIndex: p.partition, replicas: [0, 1] })) }] });
    } finally {
      await conn.close();
    }
    await waitFor('bulk piled on 0 and 1', async () => (await assignment()).filter((a) => a.topic === 'bulk').every((p) => p.replicas.length === 2 && !p.replicas.includes(2)));
    await admin.mergePatch(await cluster(), { spec: { rebalance: { mode: 'automatic' } } });
    await waitFor('rebalanced', async () => {
      const counts = await replicaCounts();
      const mean = [...counts.values()].reduce((a, b) => a + b, 0) / 3;
      return (await settled()) && [0, 1, 2].every((id) => Math.abs((counts.get(id) ?? 0) - mean) <= 1);
    }, 300_000);
    expect((await events('Rebalancing')).length).toBeGreaterThanOrEqual(1);
  }, 400_000);

  it('lost no acknowledged record and failed no acks=all send throughout', async () => {
    await load.stop();
    expect(load.failed).toEqual([]);
    expect(load.acked.length).toBeGreaterThan(100);
    const values = await consumeValues(kafka, LOAD_TOPIC, load.acked.length, 120_000);
    expect(new Set(values)).toEqual(new Set(load.acked));
  }, 200_000);
});
