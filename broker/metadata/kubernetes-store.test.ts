// What only the Kubernetes backend has to prove, against a real kube-apiserver: how keys look as
// objects, that a Lease's renewals are not changes (watchers see none, the holder's
// compare-and-set survives them), keys moving between durable and ephemeral, a holder cut off
// from the API server losing its session before another takes its key, calls failing by their
// deadline with an error naming the API server, clear refusals without rights, and a watch
// resumed after a broken connection without missing or repeating a change.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlane } from '../../operator/test/control-plane.js';
import { Kube, type KubernetesObject } from '../../operator/kube.js';
import { ErrorCode } from '../protocol/errors.js';
import { eventually } from '../test/eventually.js';
import { TcpProxy } from '../test/tcp-proxy.js';
import { KubernetesMetadataStore } from './kubernetes-store.js';
import { MetadataUnavailableError, type StoredValue, VersionConflictError } from './metadata-store.js';

let cp: ControlPlane;
let adminConfig = '';
let admin: Kube;
let counter = 0;
const closing: { stop(): Promise<void> }[] = [];

beforeAll(async () => {
  cp = await ControlPlane.start();
  adminConfig = cp.kubeconfigFor('samsa-store-test', ['system:masters']);
  const config = new KubeConfig();
  config.loadFromFile(adminConfig);
  admin = new Kube(config);
}, 60_000);

afterAll(async () => {
  for (const item of closing) await item.stop();
  await cp?.stop();
});

/** A kubeconfig file like `path` whose server is `server`. */
function pointedAt(path: string, server: string): string {
  const config = JSON.parse(readFileSync(path, 'utf8')) as { clusters: { cluster: { server: string } }[] };
  config.clusters[0]!.cluster.server = server;
  const out = join(cp.dir, `via-${counter++}.kubeconfig`);
  writeFileSync(out, JSON.stringify(config));
  return out;
}

function store(name: string, options: { kubeconfig?: string; requestTimeoutMs?: number } = {}): KubernetesMetadataStore {
  const config = new KubeConfig();
  config.loadFromFile(options.kubeconfig ?? adminConfig);
  const opened = new KubernetesMetadataStore({ namespace: 'default', name }, { kubeConfig: config, requestTimeoutMs: options.requestTimeoutMs });
  closing.push({ stop: () => opened.close() });
  return opened;
}

const storeName = () => `s${counter++}`;

async function objects(kind: 'Lease' | 'ConfigMap', name: string): Promise<KubernetesObject[]> {
  return admin.list(kind === 'Lease' ? 'coordination.k8s.io/v1' : 'v1', kind, 'default', `samsa.dev/store=${name}`);
}

describe('KubernetesMetadataStore', () => {
  it('keeps a key in an object named for it (DNS-1123), labelled by store and first segment, with the exact key', async () => {
    const name = storeName();
    const s = store(name);
    const key = 'partitions/Ünïcode Topic_x.y/3';
    const version = await s.put(key, 'state');
    const [cm] = await objects('ConfigMap', name);
    expect(cm!.metadata!.name).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
    expect(cm!.metadata!.name!.startsWith(`${name}-partitions-n-code-topic-x-y-3-`)).toBe(true);
    expect(cm!.metadata!.labels).toEqual({ 'samsa.dev/store': name, 'samsa.dev/key-segment': 'partitions' });
    expect(cm!.metadata!.annotations!['samsa.dev/key']).toBe(key);
    expect((cm as unknown as { data: { value: string } }).data.value).toBe('state');
    expect(Number(cm!.metadata!.resourceVersion)).toBe(version);
    expect([...(await s.list('partitions/'))]).toEqual([[key, { value: 'state', version }]]);
    expect(await s.list('topics/')).toEqual(new Map());
    // Another store in the same namespace sees nothing of it.
    expect(await store(storeName()).get(key)).toBeUndefined();
  });

  it("does not report a Lease's renewals as changes, and its holder's compare-and-set holds across them", async () => {
    const name = storeName();
    const holder = store(name);
    const watcher = store(name);
    const changes: [string, StoredValue | undefined][] = [];
    const watch = await watcher.watch('brokers/', (key, value) => changes.push([key, value]));
    const session = await holder.openSession(1000);
    const v1 = await session.put('brokers/1', 'one', 0);
    await eventually('the put', () => (changes.length >= 1 ? true : undefined));
    const [lease] = await objects('Lease', name);
    const firstRv = Number(lease!.metadata!.resourceVersion);
    await eventually('a renewal', async () => {
      const [renewed] = await objects('Lease', name);
      return Number(renewed!.metadata!.resourceVersion) > firstRv && renewed!.metadata!.annotations!['samsa.dev/value-version'] === String(v1) ? true : undefined;
    });
    expect(changes).toEqual([['brokers/1', { value: 'one', version: v1 }]]);
    expect(await watcher.get('brokers/1')).toEqual({ value: 'one', version: v1 });
    const v2 = await session.put('brokers/1', 'two', v1);
    expect(v2).toBeGreaterThan(v1);
    await expect(session.put('brokers/1', 'stale', v1)).rejects.toBeInstanceOf(VersionConflictError);
    await eventually('the second put', () => (changes.length >= 2 ? true : undefined));
    expect(changes).toEqual([
      ['brokers/1', { value: 'one', version: v1 }],
      ['brokers/1', { value: 'two', version: v2 }],
    ]);
    watch.stop();
    await session.close();
  });

  it('turns a durable key ephemeral through a session, and durable again by a plain put', async () => {
    const name = storeName();
    const s = store(name);
    const durable = await s.put('cluster/thing', 'durable', 0);
    const session = await s.openSession(5000);
    const ephemeral = await session.put('cluster/thing', 'ephemeral', durable);
    expect((await objects('ConfigMap', name)).length).toBe(0);
    expect((await objects('Lease', name)).length).toBe(1);
    expect(await s.get('cluster/thing')).toEqual({ value: 'ephemeral', version: ephemeral });
    const again = await s.put('cluster/thing', 'durable again', ephemeral);
    expect((await objects('Lease', name)).length).toBe(0);
    await session.close();
    expect(await s.get('cluster/thing')).toEqual({ value: 'durable again', version: again });
    expect(session.lost).toBe(false);
  });

  it('tells a holder cut off from the API server that its session is lost before another can take its key', async () => {
    const name = storeName();
    const proxy = await TcpProxy.start(cp.apiserverPort);
    closing.push(proxy);
    const holder = store(name, { kubeconfig: pointedAt(adminConfig, `https://${proxy.endpoint}`), requestTimeoutMs: 1000 });
    const rival = store(name);
    const session = await holder.openSession(1000);
    await session.put('controller/active', 'node-1', 0);
    let lostAt = Infinity;
    session.onLost(() => (lostAt = performance.now()));
    const rivalSession = await rival.openSession(5000);
    await expect(rivalSession.put('controller/active', 'node-2', 0)).rejects.toBeInstanceOf(VersionConflictError);

    proxy.cut();
    const mine = await eventually('the rival taking the key', async () => {
      try {
        return await rivalSession.put('controller/active', 'node-2', 0);
      } catch (err) {
        if (err instanceof VersionConflictError) return undefined;
        throw err;
      }
    });
    const takenAt = performance.now();
    console.log(`session lost ${(takenAt - lostAt).toFixed(0)} ms before the rival took the key`);
    expect(session.lost).toBe(true);
    expect(lostAt).toBeLessThan(takenAt);

    // Reconnected, the old holder can neither write nor, by deleting its Lease, delete the new key.
    proxy.heal();
    await expect(session.put('controller/active', 'node-1')).rejects.toMatchObject({ name: 'SessionLostError' });
    await session.close();
    expect(await rival.get('controller/active')).toEqual({ value: 'node-2', version: mine });
    await rivalSession.close();
  });

  it('fails calls to an unreachable API server by their deadline, naming it', async () => {
    const proxy = await TcpProxy.start(cp.apiserverPort);
    closing.push(proxy);
    const cutOff = store(storeName(), { kubeconfig: pointedAt(adminConfig, `https://${proxy.endpoint}`), requestTimeoutMs: 1000 });
    await cutOff.put('k', 'v');
    proxy.cut();
    const failure = await cutOff.get('k').catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(MetadataUnavailableError);
    expect((failure as MetadataUnavailableError).code).toBe(ErrorCode.REQUEST_TIMED_OUT);
    expect((failure as Error).message).toContain(`Kubernetes API server https://${proxy.endpoint}`);
    await expect(cutOff.put('k', 'w')).rejects.toBeInstanceOf(MetadataUnavailableError);
    proxy.heal();
    expect((await eventually('the API server again', () => cutOff.get('k')))?.value).toBe('v');
  });

  it('says which right is missing when the credentials lack it', async () => {
    const nobody = store(storeName(), { kubeconfig: cp.kubeconfigFor('samsa-nobody') });
    await expect(nobody.get('k')).rejects.toThrow(/refused to read (configmap|lease) in namespace default \(403\).*samsa-nobody/);
    await expect(nobody.openSession(1000).then((s) => s.put('brokers/1', 'x', 0))).rejects.toThrow(/\(403\)/);
  });

  it('resumes a broken watch from the last change it delivered, missing and repeating nothing', async () => {
    const name = storeName();
    const proxy = await TcpProxy.start(cp.apiserverPort);
    closing.push(proxy);
    const watching = store(name, { kubeconfig: pointedAt(adminConfig, `https://${proxy.endpoint}`) });
    const writer = store(name);
    const changes: [string, StoredValue | undefined][] = [];
    const watch = await watching.watch('t/', (key, value) => changes.push([key, value]));
    const a = await writer.put('t/a', '1');
    await eventually('the first change', () => (changes.length >= 1 ? true : undefined));
    proxy.reset();
    // Written while the watch reconnects: it resumes from the resourceVersion after "a".
    const b = await writer.put('t/b', '2');
    await writer.delete('t/a');
    const c = await writer.put('t/c', '3');
    await eventually('every change', () => (changes.length >= 4 ? true : undefined));
    expect(changes).toEqual([
      ['t/a', { value: '1', version: a }],
      ['t/b', { value: '2', version: b }],
      ['t/a', undefined],
      ['t/c', { value: '3', version: c }],
    ]);
    watch.stop();
  });
});
