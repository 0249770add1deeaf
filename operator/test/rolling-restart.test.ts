// Rolling restarts by the operator on a real control plane (the chart-rendered operator, brokers
// as local processes of the test kubelet, one replicated cluster on the Kubernetes metadata
// store), with a kafkajs producer sending acks=all throughout: a read-only setting rolls every
// broker once, the controller last, without a failed send, and waits while a broker is
// SIGSTOPped; an operator killed mid-roll is replaced and the roll finishes without restarting a
// broker twice (the pods' revisions are the roll's state); samsa.dev/restart rolls everything
// once; 'disjoint' parallel rolling restarts brokers that share no partition together.
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { produceThroughout } from '../../broker/test/acks-all-load.js';
import { API_VERSION } from '../crds/types.js';
import type { Kube } from '../kube.js';
import { clusterShape } from '../roll/oracle.js';
import { RESTART_ANNOTATION } from '../cluster/resources.js';
import { type Condition, type Obj, OperatorHarness, type OperatorProcess } from './operator-harness.js';

const NS = 'rolling';

let harness: OperatorHarness;
let admin: Kube;
let operator: OperatorProcess;

type Pod = Obj & { status: { podIP?: string; conditions?: Condition[] }; metadata: { name: string; uid: string; labels?: Record<string, string>; deletionTimestamp?: string } };
const condition = (o: Obj, type: string): Condition | undefined => o.status?.conditions?.find((c) => c.type === type);
const waitFor = <T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs?: number) => harness.waitFor(what, probe, timeoutMs);
const podsOf = async (cluster: string) => (await admin.list<Pod>('v1', 'Pod', NS)).filter((p) => p.metadata.labels?.['app.kubernetes.io/instance'] === cluster);
const events = async (cluster: string, reason: string) =>
  (await admin.list<Obj & { reason: string; message: string; involvedObject: { name: string } }>('v1', 'Event', NS)).filter((e) => e.involvedObject.name === cluster && e.reason === reason);

async function waitReady(cluster: string, timeoutMs = 240_000): Promise<Obj> {
  let last: Obj | undefined;
  try {
    return await waitFor(`${cluster} ready`, async () => {
      const kc = (last = await harness.get('KafkaCluster', NS, cluster));
      return condition(kc, 'Ready')?.status === 'True' && kc.metadata!.generation === kc.status?.observedGeneration && !kc.status?.roll ? kc : null;
    }, timeoutMs);
  } catch (err) {
    throw new Error(`${(err as Error).message.slice(0, 2000)}\nlast status: ${JSON.stringify(last?.status)}`);
  }
}

/**
 * Records, every 200 ms, which pod (by name) got a new uid: a restart. `order` lists the broker
 * ids in the order they were restarted.
 */
function watchRestarts(cluster: string) {
  const uids = new Map<string, string>();
  const order: number[] = [];
  const seen = { maxTerminating: 0 };
  let running = true;
  const done = (async () => {
    for (const p of await podsOf(cluster)) uids.set(p.metadata.name, p.metadata.uid);
    while (running) {
      const pods = await podsOf(cluster).catch(() => []);
      seen.maxTerminating = Math.max(seen.maxTerminating, pods.filter((p) => p.metadata.deletionTimestamp).length);
      for (const p of pods) {
        const before = uids.get(p.metadata.name);
        if (before !== p.metadata.uid) {
          uids.set(p.metadata.name, p.metadata.uid);
          if (before) order.push(Number(p.metadata.name.slice(p.metadata.name.lastIndexOf('-') + 1)));
        }
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return {
    order,
    /** The most pods seen being deleted at once. */
    get maxTerminating() {
      return seen.maxTerminating;
    },
    stop: async () => {
      running = false;
      await done;
      return order;
    },
  };
}

async function readBack(kafka: kafkajs.Kafka, topic: string, expected: number): Promise<Set<string>> {
  const consumer = kafka.consumer({ groupId: `reader-${topic}-${Date.now()}` });
  const values = new Set<string>();
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void values.add(message.value!.toString()) });
  await waitFor(`${expected} records of ${topic} read back`, async () => values.size >= expected, 120_000);
  await consumer.disconnect();
  return values;
}

const clientFor = async (cluster: string) => {
  const brokers = (await podsOf(cluster)).map((p) => `${p.status.podIP}:9092`);
  return new kafkajs.Kafka({ clientId: 'rolling-test', brokers, logLevel: kafkajs.logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 } });
};

async function createCluster(name: string, replicas: number, extra: Record<string, unknown> = {}): Promise<void> {
  await admin.create({
    apiVersion: API_VERSION,
    kind: 'KafkaCluster',
    metadata: { name, namespace: NS },
    spec: {
      replicas,
      // Short timeouts so that a stopped broker leaves the ISRs within the test.
      config: { 'broker.session.timeout.ms': '6000', 'replica.lag.time.max.ms': '5000', 'controlled.shutdown.timeout.ms': '15000', 'offsets.topic.replication.factor': String(Math.min(3, replicas)) },
      ...extra,
    },
  } as Obj);
  await waitReady(name);
}

const setConfig = async (cluster: string, name: string, value: string) => {
  const kc = await harness.get('KafkaCluster', NS, cluster);
  await admin.mergePatch(kc, { spec: { config: { ...kc.spec.config, [name]: value } } });
};

beforeAll(async () => {
  harness = await OperatorHarness.start([NS]);
  admin = harness.admin;
  operator = await harness.startOperator(['resyncSeconds=5']);
}, 600_000);

afterAll(async () => {
  await harness?.stop();
});

describe('rolling restarts', () => {
  it('rolls every broker once on a read-only setting, controller last, no failed acks=all send; waits while a broker is SIGSTOPped', async () => {
    await createCluster('orders', 3);
    const kafka = await clientFor('orders');
    const client = kafka.admin();
    await client.connect();
    await client.createTopics({ topics: [{ topic: 'orders', numPartitions: 3, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }], waitForLeaders: true });
    await client.disconnect();
    const pods = await podsOf('orders');
    const { controllerId } = await clusterShape({ host: pods[0]!.status.podIP!, port: 9092 });
    expect(controllerId).not.toBeNull();
    const producer = produceThroughout(kafka, 'orders');
    await waitFor('the producer to get acks', async () => producer.acked.length > 20);
    const restarts = watchRestarts('orders');

    // A read-only setting changes; once the first broker (the highest that is not the controller)
    // has been restarted, the other one that is not the controller stops (SIGSTOP).
    await setConfig('orders', 'log.retention.check.interval.ms', '120000');
    await waitFor('the first restart', async () => restarts.order.length > 0, 120_000);
    const first = restarts.order[0]!;
    expect(first).toBe(Math.max(...[0, 1, 2].filter((id) => id !== controllerId)));
    const stopped = [0, 1, 2].find((id) => id !== controllerId && id !== first)!;
    expect(harness.kubelet.kill(`orders-${stopped}`, 'SIGSTOP')).toBe(true);
    try {
      const waiting = await waitFor('the roll to wait', async () => {
        const kc = await harness.get('KafkaCluster', NS, 'orders');
        return condition(kc, 'Ready')?.reason === 'RollWaiting' && new RegExp(`\\b${stopped}\\b`).test(kc.status?.roll?.waiting ?? '') ? kc : null;
      }, 120_000);
      expect(waiting.status!.roll).toMatchObject({ done: [first], left: [0, 1, 2].filter((id) => id !== first) });
      // As the kubelet sees it (not ready), or as the broker's own endpoint does (no answer).
      expect(waiting.status!.roll.waiting).toMatch(new RegExp(`^broker ${stopped}(, ${first})? not ready yet|^broker ${stopped} cannot tell whether it may stop`));
      // The oracle: with the stopped broker out of the ISRs, stopping the controller would take them below min.insync.replicas.
      await waitFor('the controller to be unsafe to stop', async () => {
        const controllerPod = (await podsOf('orders')).find((p) => p.metadata.name === `orders-${controllerId}`)!;
        const res = await fetch(`http://${controllerPod.status.podIP}:9644/v1/shutdown-safety`);
        const body = (await res.json()) as { blocking: Array<{ reason: string; minInsyncReplicas: number }> };
        return res.status === 409 && body.blocking.length > 0 && body.blocking.every((b) => b.minInsyncReplicas === 2);
      }, 60_000);
      expect(restarts.order).toEqual([first]);
    } finally {
      harness.kubelet.kill(`orders-${stopped}`, 'SIGCONT');
    }

    await waitReady('orders', 300_000);
    const order = await restarts.stop();
    expect(order).toEqual([first, stopped, controllerId]);
    expect(restarts.maxTerminating).toBe(1);
    await producer.stop();
    expect(producer.failed).toEqual([]);
    expect(await readBack(kafka, 'orders', producer.acked.length)).toEqual(new Set(producer.acked));
    expect((await events('orders', 'RollingRestart')).length).toBeGreaterThanOrEqual(3);
  }, 900_000);

  it('finishes a roll begun by an operator killed mid-roll without restarting a broker twice; samsa.dev/restart rolls every broker once', async () => {
    const restarts = watchRestarts('orders');
    const kc = await harness.get('KafkaCluster', NS, 'orders');
    await admin.mergePatch(kc, { metadata: { annotations: { [RESTART_ANNOTATION]: 'first' } } });
    await waitFor('the first broker restarted', async () => restarts.order.length >= 1, 120_000);
    operator.process.kill('SIGKILL');
    await waitFor('the operator gone', async () => operator.exited);
    const during = restarts.order.length;
    operator = await harness.startOperator(['resyncSeconds=5']);
    await waitReady('orders', 300_000);
    const order = await restarts.stop();
    expect(during).toBeLessThan(3);
    expect(order.slice().sort()).toEqual([0, 1, 2]);
  }, 600_000);

  it("restarts brokers that share no partition together with parallelism 'disjoint', the controller last and alone", async () => {
    // The first cluster is done with: its brokers would only slow this one down.
    await admin.delete(await harness.get('KafkaCluster', NS, 'orders'));
    await createCluster('pairs', 4, { rollingUpdate: { parallelism: 'disjoint', maxParallel: 2 } });
    const pdb = await admin.get<Obj>('policy/v1', 'PodDisruptionBudget', NS, 'pairs');
    expect(pdb.spec.maxUnavailable).toBe(2);
    const kafka = await clientFor('pairs');
    const client = kafka.admin();
    await client.connect();
    // Partitions on brokers {0,1} and {2,3}.
    const replicaAssignment = [[0, 1], [2, 3], [1, 0], [3, 2]].map((replicas, partition) => ({ partition, replicas }));
    await client.createTopics({ topics: [{ topic: 'pairs', replicaAssignment, configEntries: [{ name: 'min.insync.replicas', value: '1' }] }], waitForLeaders: true });
    await client.disconnect();
    const { controllerId } = await clusterShape({ host: (await podsOf('pairs'))[0]!.status.podIP!, port: 9092 });
    const producer = produceThroughout(kafka, 'pairs');
    await waitFor('the producer to get acks', async () => producer.acked.length > 20);

    const restarts = watchRestarts('pairs');
    await setConfig('pairs', 'log.retention.check.interval.ms', '120000');
    await waitReady('pairs', 300_000);
    const order = await restarts.stop();
    expect(order.slice().sort()).toEqual([0, 1, 2, 3]);
    expect(order.at(-1)).toBe(controllerId);
    // Two brokers of different pairs were evicted together; never more than maxParallel.
    expect(restarts.maxTerminating).toBe(2);
    expect(order.length).toBe(4);
    await producer.stop();
    expect(producer.failed).toEqual([]);
    expect(await readBack(kafka, 'pairs', producer.acked.length)).toEqual(new Set(producer.acked));
  }, 900_000);
});

