// Leader election of operator processes started from the rendered chart, on a real API server:
// the chart's --leader-elect values work (and a bad one is refused), a standby is Ready and takes
// over the lease the leader releases on SIGTERM, a crashed leader's lease expires, and a leader
// whose renewals the API server refuses, or whose lease another holder took, stops acting.
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION } from '../crds/types.js';
import type { Kube, KubernetesObject } from '../kube.js';
import { type Obj, OPERATOR_NS, OperatorHarness, type OperatorProcess, renderChart } from './operator-harness.js';

const ROOT = resolve(import.meta.dirname, '../..');
const NS = 'le';
const LEASE = String(renderChart().find((d) => d.kind === 'Deployment')!.spec.template.spec.containers[0].args.find((a: string) => a.startsWith('--lease-name=')).split('=')[1]);
// Short timings for the tests that wait on expiry or on the renew deadline.
const FAST = ['leaderElectionLeaseDuration=4s', 'leaderElectionRenewDeadline=3s', 'leaderElectionRetryPeriod=1s'];

interface Lease extends KubernetesObject {
  spec: { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number; leaseTransitions?: number };
}

let harness: OperatorHarness;
let admin: Kube;

const lease = () => admin.getOrNull<Lease>('coordination.k8s.io/v1', 'Lease', OPERATOR_NS, LEASE);
const leads = async (op: OperatorProcess) => /^samsa_operator_leader 1$/m.test(await (await fetch(`${op.url}/metrics`)).text());
const exitCode = (op: OperatorProcess) => new Promise<number | null>((r) => (op.exited ? r(op.process.exitCode) : op.process.once('exit', (code) => r(code))));

async function reconciledCluster(name: string): Promise<Obj> {
  await admin.create({ apiVersion: API_VERSION, kind: 'KafkaCluster', metadata: { name, namespace: NS }, spec: { replicas: 1 } } as KubernetesObject);
  return harness.waitFor(`cluster ${name} ready`, async () => {
    const kc = await harness.get('KafkaCluster', NS, name);
    return kc.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? kc : null;
  }, 120_000);
}

/** The leader among `ops`, once exactly one leads. */
async function leaderOf(ops: OperatorProcess[]): Promise<OperatorProcess> {
  return harness.waitFor('one leader', async () => {
    const leading = [];
    for (const op of ops) if (!op.exited && (await leads(op))) leading.push(op);
    return leading.length === 1 ? leading[0] : null;
  });
}

beforeAll(async () => {
  harness = await OperatorHarness.start([NS]);
  admin = harness.admin;
}, 600_000);

afterAll(async () => {
  await harness?.stop();
});

describe('operator leader election', () => {
  it('runs from the chart with leaderElection=false and with the default, and reconciles either way', async () => {
    const unelected = await harness.startOperator(['leaderElection=false']);
    expect(await leads(unelected)).toBe(true);
    expect(await reconciledCluster('without-election')).toBeTruthy();
    expect(await lease()).toBeNull();
    await unelected.stop();
    expect(unelected.process.exitCode).toBe(0);

    const elected = await harness.startOperator();
    await harness.waitFor('leads', () => leads(elected));
    expect(await reconciledCluster('with-election')).toBeTruthy();
    expect((await lease())?.spec.holderIdentity).toBeTruthy();
  }, 300_000);

  it('refuses bad flag values with a clear message and a non-zero exit code', () => {
    const run = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'dist/operator/main.js'), ...args], { cwd: ROOT, env: { ...process.env, KUBECONFIG: '/nonexistent' }, timeout: 30_000 });
    const yes = run('--leader-elect=yes');
    expect(yes.status).toBe(2);
    expect(yes.stderr.toString()).toContain('--leader-elect must be true or false, got "yes"');
    const badDuration = run('--leader-elect-renew-deadline=10');
    expect(badDuration.status).toBe(2);
    expect(badDuration.stderr.toString()).toContain('--leader-elect-renew-deadline must be a duration such as 15s or 500ms, got "10"');
    const badTimings = run('--leader-elect-lease-duration=5s', '--leader-elect-renew-deadline=10s');
    expect(badTimings.status).toBe(2);
    expect(badTimings.stderr.toString()).toContain('the lease duration must be longer than the renew deadline');
  });

  it('keeps a standby Ready, and hands the lease over on SIGTERM by releasing it', async () => {
    const leader = await leaderOf(harness.operators.filter((o) => !o.exited));
    // startOperator waits for /readyz: a standby that is not Ready would block a rolling update.
    const standby = await harness.startOperator();
    expect(await standby.status('/readyz')).toBe(200);
    expect(await standby.status('/healthz')).toBe(200);
    expect(await leads(standby)).toBe(false);
    const leaderIdentity = (await lease())!.spec.holderIdentity!;

    // The standby is held still (SIGSTOP) so that the lease can be seen as the old leader left it.
    standby.process.kill('SIGSTOP');
    try {
      await leader.stop();
      expect(leader.process.exitCode).toBe(0);
      expect(leader.output).toContain('released the leader lease');
      expect((await lease())!.spec.holderIdentity ?? '').toBe('');
    } finally {
      standby.process.kill('SIGCONT');
    }
    await harness.waitFor('the standby leads', () => leads(standby));
    const after = (await lease())!;
    expect(after.spec.holderIdentity).toBeTruthy();
    expect(after.spec.holderIdentity).not.toBe(leaderIdentity);
    // The new leader acts.
    expect(await reconciledCluster('after-handover')).toBeTruthy();
  }, 300_000);

  it('takes over the lease of a leader that died without releasing it, once it expires', async () => {
    await Promise.all(harness.operators.filter((o) => !o.exited).map((o) => o.stop()));
    const first = await harness.startOperator(FAST);
    await harness.waitFor('first leads', () => leads(first));
    const second = await harness.startOperator(FAST);
    const firstIdentity = (await lease())!.spec.holderIdentity!;
    first.process.kill('SIGKILL');
    await exitCode(first);
    // Nothing released it: the standby waits out the lease duration, then takes it.
    expect((await lease())!.spec.holderIdentity).toBe(firstIdentity);
    await harness.waitFor('second leads', () => leads(second));
    const now = (await lease())!.spec.holderIdentity;
    expect(now).toBeTruthy();
    expect(now).not.toBe(firstIdentity);
  }, 120_000);

  it('stops acting when the API server refuses its renewals past the renew deadline', async () => {
    const leader = await leaderOf(harness.operators.filter((o) => !o.exited));
    const binding = renderChart().find((d) => d.kind === 'ClusterRoleBinding')!;
    await admin.delete(binding);
    try {
      expect(await exitCode(leader)).toBe(1);
      expect(leader.output).toContain('no renewal succeeded within the renew deadline (3000ms)');
      expect(leader.output).toContain('stopping: no longer the leader');
    } finally {
      await admin.create(binding);
    }
  }, 60_000);

  it('stops acting when another holder takes its lease', async () => {
    const leader = await harness.startOperator(FAST);
    await harness.waitFor('leads', () => leads(leader));
    const current = (await lease())!;
    const now = new Date().toISOString().replace('Z', '000Z');
    await admin.replace({
      ...current,
      spec: { ...current.spec, holderIdentity: 'someone-else', acquireTime: now, renewTime: now, leaseDurationSeconds: 60 },
    });
    expect(await exitCode(leader)).toBe(1);
    expect(leader.output).toContain('another replica holds the leader lease');
  }, 60_000);
});
