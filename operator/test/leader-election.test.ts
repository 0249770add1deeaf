// Two operator replicas on one Lease, against a real kube-apiserver: one leads, the other waits,
// and takes over once the leader stops renewing.
import { KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kube } from '../kube.js';
import { LeaderElector } from '../leader-election.js';
import { ControlPlane } from './control-plane.js';

let cp: ControlPlane;
let kube: Kube;
const logger = pino({ level: 'silent' });

beforeAll(async () => {
  cp = await ControlPlane.start();
  const config = new KubeConfig();
  config.loadFromFile(cp.kubeconfigFor('samsa-test-admin', ['system:masters']));
  kube = new Kube(config);
}, 600_000);

afterAll(async () => {
  await cp?.stop();
});

describe('leader election', () => {
  it('lets exactly one replica lead, and hands over when the leader goes quiet', async () => {
    const options = { namespace: 'default', name: 'samsa-operator-test', leaseDurationSeconds: 2, renewMs: 200 };
    const first = new LeaderElector(kube, { ...options, identity: 'replica-a' }, logger);
    await first.run(() => {});
    const lease = await kube.get<{ spec: { holderIdentity: string } } & { apiVersion: string }>('coordination.k8s.io/v1', 'Lease', 'default', 'samsa-operator-test');
    expect(lease.spec.holderIdentity).toBe('replica-a');

    const second = new LeaderElector(kube, { ...options, identity: 'replica-b' }, logger);
    let secondLeads = false;
    const waiting = second.run(() => {}).then(() => (secondLeads = true));
    await new Promise((r) => setTimeout(r, 1500));
    expect(secondLeads).toBe(false);

    first.stop(); // the leader stops renewing, as a crashed replica would
    await waiting;
    expect(secondLeads).toBe(true);
    const after = await kube.get<{ spec: { holderIdentity: string; leaseTransitions: number } } & { apiVersion: string }>('coordination.k8s.io/v1', 'Lease', 'default', 'samsa-operator-test');
    expect(after.spec).toMatchObject({ holderIdentity: 'replica-b', leaseTransitions: 1 });
    second.stop();
  }, 60_000);
});
