// Rolls restart brokers through the Eviction API, on a real control plane with the disruption
// controller: while a PodDisruptionBudget forbids it the broker is not restarted and the cluster
// says why (once); when the budget allows it the roll goes on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION } from '../crds/types.js';
import type { Kube, KubernetesObject } from '../kube.js';
import { type Obj, OperatorHarness, type OperatorProcess } from './operator-harness.js';

const NS = 'evict';

let harness: OperatorHarness;
let admin: Kube;
let operator: OperatorProcess;

const readyCondition = (o: Obj) => o.status?.conditions?.find((c) => c.type === 'Ready');

beforeAll(async () => {
  harness = await OperatorHarness.start([NS]);
  admin = harness.admin;
  operator = await harness.startOperator(['leaderElection=false']);
}, 600_000);

afterAll(async () => {
  await harness?.stop();
});

describe('rolls through the Eviction API', () => {
  it('does not restart a broker while a disruption budget forbids it, says so, and goes on once it allows it', async () => {
    await admin.create({ apiVersion: API_VERSION, kind: 'KafkaCluster', metadata: { name: 'held', namespace: NS }, spec: { replicas: 1 } } as KubernetesObject);
    await harness.waitFor('cluster ready', async () => readyCondition(await harness.get('KafkaCluster', NS, 'held'))?.status === 'True', 120_000);
    const before = await admin.get<Obj>('v1', 'Pod', NS, 'held-0');

    // A budget of the user's that keeps every broker up, beside the operator's own.
    const budget = {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'keep-all-brokers', namespace: NS },
      spec: { minAvailable: 1, selector: { matchLabels: { 'app.kubernetes.io/instance': 'held' } } },
    };
    await admin.create(budget);
    await harness.waitFor('budget computed', async () => {
      const pdb = await admin.get<Obj>('policy/v1', 'PodDisruptionBudget', NS, 'keep-all-brokers');
      return pdb.status?.observedGeneration === pdb.metadata!.generation && pdb.status?.currentHealthy === 1;
    });

    await admin.mergePatch(await harness.get('KafkaCluster', NS, 'held'), { spec: { config: { 'log.retention.check.interval.ms': '120000' } } });
    const blocked = await harness.waitFor('eviction blocked', async () => {
      const kc = await harness.get('KafkaCluster', NS, 'held');
      return readyCondition(kc)?.reason === 'EvictionBlocked' ? kc : null;
    });
    expect(readyCondition(blocked)).toMatchObject({ status: 'False', message: expect.stringContaining('cannot restart held-0 yet') });
    // With the operator's own budget, this one makes two: the API server refuses to evict such a pod.
    expect(readyCondition(blocked)!.message).toContain('more than one PodDisruptionBudget');
    // Several reconciles later: the broker still runs, and the Warning was given once.
    const seen = await operator.reconciles('kafkacluster');
    await harness.waitFor('more reconciles', async () => (await operator.reconciles('kafkacluster')) >= seen + 3);
    expect((await admin.get<Obj>('v1', 'Pod', NS, 'held-0')).metadata!.uid).toBe(before.metadata!.uid);
    const warnings = (await admin.list<Obj & { reason: string; type: string; involvedObject: { name: string } }>('v1', 'Event', NS)).filter((e) => e.involvedObject.name === 'held' && e.reason === 'EvictionBlocked');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.type).toBe('Warning');

    await admin.delete(budget);
    await harness.waitFor('rolled and ready', async () => {
      const kc = await harness.get('KafkaCluster', NS, 'held');
      const pod = await admin.getOrNull<Obj>('v1', 'Pod', NS, 'held-0');
      return readyCondition(kc)?.status === 'True' && pod && pod.metadata!.uid !== before.metadata!.uid;
    }, 120_000);
    const events = await admin.list<Obj & { reason: string; involvedObject: { name: string } }>('v1', 'Event', NS);
    expect(events.filter((e) => e.involvedObject.name === 'held').map((e) => e.reason)).toContain('RollingRestart');
  }, 300_000);
});
