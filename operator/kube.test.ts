// The Kube facade against a real kube-apiserver: objects stay the API server's JSON both ways,
// errors carry the Status, status writes go to the subresource, and discovery is not repeated.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlane } from './test/control-plane.js';
import { kubeFor, renderChart, waitFor, type Obj } from './test/operator-harness.js';
import { type Kube, KubeError, isConflict } from './kube.js';
import { API_VERSION } from './crds/types.js';

const NS = 'kube-facade';
let cp: ControlPlane;
let kube: Kube;

beforeAll(async () => {
  cp = await ControlPlane.start();
  kube = kubeFor(cp.kubeconfigFor('samsa-test-admin', ['system:masters']));
}, 120_000);

afterAll(async () => {
  await cp?.stop();
});

/** The paths of the HTTP requests that fn makes (client-node sends through undici). */
async function requestsOf(fn: () => Promise<unknown>): Promise<string[]> {
  const paths: string[] = [];
  const seen = (message: unknown) => paths.push((message as { request: { path: string } }).request.path);
  subscribe('undici:request:create', seen);
  try {
    await fn();
  } finally {
    unsubscribe('undici:request:create', seen);
  }
  return paths;
}

describe('Kube on client-node', () => {
  it('creates a CRD with its schema as given, and reads timestamps back as strings', async () => {
    // client-node's typed model of a CRD would drop these keys of the schema.
    const crd = renderChart([], ['--include-crds']).find((d) => d.kind === 'CustomResourceDefinition' && d.metadata!.name === 'kafkaclusters.samsa.dev')!;
    await kube.create(crd);
    const got = await waitFor('the CRD established', async () => {
      const c = await kube.get<Obj>('apiextensions.k8s.io/v1', 'CustomResourceDefinition', undefined, crd.metadata!.name!);
      return (c.status?.conditions ?? []).some((x) => x.type === 'Established' && x.status === 'True') && c;
    });
    expect(JSON.stringify(got.spec.versions[0].schema)).toContain('"x-kubernetes-preserve-unknown-fields":true');
    expect(got.spec.versions[0].schema).toEqual(crd.spec.versions[0].schema);
    expect(typeof got.metadata!.creationTimestamp).toBe('string');
    const [listed] = await kube.list<Obj>('apiextensions.k8s.io/v1', 'CustomResourceDefinition');
    expect(listed).toMatchObject({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition' });
    expect(typeof listed!.metadata!.creationTimestamp).toBe('string');
  }, 120_000);

  it('turns the Status of a refusal into a KubeError with its code, reason and message', async () => {
    await kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    const missing = await kube.get('v1', 'ConfigMap', NS, 'absent').catch((err: unknown) => err);
    expect(missing).toBeInstanceOf(KubeError);
    expect(missing).toMatchObject({ status: 404, reason: 'NotFound', message: 'configmaps "absent" not found' });
    expect(await kube.getOrNull('v1', 'ConfigMap', NS, 'absent')).toBeNull();

    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: NS }, data: { a: '1' } };
    const created = await kube.create(cm);
    await expect(kube.create(cm)).rejects.toMatchObject({ status: 409, reason: 'AlreadyExists' });
    await kube.replace({ ...created, data: { a: '2' } });
    const stale = await kube.replace({ ...created, data: { a: '3' } }).catch((err: unknown) => err);
    expect(isConflict(stale)).toBe(true);
    expect((stale as KubeError).message).toContain('the object has been modified');
    expect((await kube.get<typeof cm>('v1', 'ConfigMap', NS, 'settings')).data).toEqual({ a: '2' });

    const invalid = await kube.create({ apiVersion: API_VERSION, kind: 'KafkaCluster', metadata: { name: 'bad', namespace: NS }, spec: { replicas: 0 } } as Obj).catch((err: unknown) => err);
    expect(invalid).toMatchObject({ status: 422, reason: 'Invalid' });
    expect((invalid as KubeError).message).toContain('spec.replicas in body should be greater than or equal to 1');
    expect((invalid as KubeError).causes.join(' ')).toContain('spec.replicas');

    expect(await kube.delete(cm)).toBe(true);
    expect(await kube.delete(cm)).toBe(false);
  }, 60_000);

  it('applies server-side as samsa-operator, and writes status only through the subresource', async () => {
    const kc = { apiVersion: API_VERSION, kind: 'KafkaCluster', metadata: { name: 'demo', namespace: NS }, spec: { replicas: 1 } };
    const applied = await kube.apply<Obj>(kc);
    expect((applied.metadata as { managedFields?: unknown }).managedFields).toEqual([expect.objectContaining({ manager: 'samsa-operator', operation: 'Apply' })]);
    await kube.mergePatch(kc, { status: { replicas: 7 } });
    expect((await kube.get<Obj>(API_VERSION, 'KafkaCluster', NS, 'demo')).status).toBeUndefined();
    await kube.mergePatch(kc, { status: { observedGeneration: 1 } }, 'status');
    expect((await kube.get<Obj>(API_VERSION, 'KafkaCluster', NS, 'demo')).status).toMatchObject({ observedGeneration: 1 });
  }, 60_000);

  it('looks a kind up by discovery once, not on every call', async () => {
    const fresh = kubeFor(cp.kubeconfigFor('samsa-test-admin', ['system:masters']));
    const paths = await requestsOf(async () => {
      for (let i = 0; i < 3; i++) {
        await fresh.list(API_VERSION, 'KafkaCluster', NS);
        await fresh.getOrNull(API_VERSION, 'KafkaCluster', NS, 'demo');
        await fresh.mergePatch({ apiVersion: API_VERSION, kind: 'KafkaCluster', metadata: { name: 'demo', namespace: NS } }, { metadata: { labels: { round: String(i) } } });
      }
    });
    expect(paths.filter((p) => p.split('?')[0] === `/apis/${API_VERSION}`)).toHaveLength(1);
    expect(paths).toHaveLength(10);
  }, 60_000);
});
