// The MetadataStore contract, run against every backend: memory, file, a real etcd process and a
// real kube-apiserver (with session holders in child processes that the test SIGSTOPs or
// SIGKILLs, and the etcd or kube-apiserver itself paused). The broker build is needed: holders
// run dist/broker/metadata/etcd-store.js and kubernetes-store.js.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokerKubeconfig } from '../../operator/test/broker-credentials.js';
import { ControlPlane } from '../../operator/test/control-plane.js';
import { EtcdProcess } from '../test/etcd-process.js';
import { eventually } from '../test/eventually.js';
import { EtcdMetadataStore, parseEtcdUrl } from './etcd-store.js';
import { FileMetadataStore } from './file-store.js';
import { KubernetesMetadataStore, parseKubernetesUrl } from './kubernetes-store.js';
import { MemoryMetadataStore, type MemorySession } from './memory-store.js';
import { type MetadataStore, type Session, SessionLostError, type StoredValue, VersionConflictError } from './metadata-store.js';

const ETCD_STORE = resolve(import.meta.dirname, '../../dist/broker/metadata/etcd-store.js');
const KUBERNETES_STORE = resolve(import.meta.dirname, '../../dist/broker/metadata/kubernetes-store.js');
const TTL_MS = 1000;

/** Someone else holding an ephemeral key, who can then hang (stop renewing) or die. */
interface Holder {
  version: number;
  hang(): void;
  kill(): void;
}

interface Backend {
  name: string;
  setup(): Promise<void>;
  teardown(): Promise<void>;
  /** A fresh store (a fresh key space); `second` is another client of the same store. */
  open(): Promise<{ store: MetadataStore; second: MetadataStore; holder(key: string, value: string): Promise<Holder> }>;
  /** Makes renewals of `session` stop reaching the store; `restore` undoes it. */
  cutOff(session: Session): void;
  restore(): void;
}

/** In one process a holder that hangs and one that dies look the same: renewals stop. */
function memoryHolder(store: MetadataStore) {
  return async (key: string, value: string): Promise<Holder> => {
    const session = (await store.openSession(TTL_MS)) as MemorySession;
    const version = await session.put(key, value, 0);
    return { version, hang: () => session.stopKeepAlive(), kill: () => session.stopKeepAlive() };
  };
}

function inProcess(name: string, make: (dir: string) => MetadataStore): Backend {
  let dir = '';
  return {
    name,
    async setup() {
      dir = mkdtempSync(join(tmpdir(), 'samsa-metadata-'));
    },
    async teardown() {
      rmSync(dir, { recursive: true, force: true });
    },
    async open() {
      const store = make(join(dir, randomBytes(4).toString('hex')));
      return { store, second: store, holder: memoryHolder(store) };
    },
    cutOff: (session) => (session as MemorySession).stopKeepAlive(),
    restore() {},
  };
}

const holders: ChildProcess[] = [];

/**
 * A child process that holds `key` in a session of the store `open` makes (an expression over
 * the imported `module`, with the URL in process.argv[1]) and prints its version.
 */
async function childHolder(modulePath: string, open: string, url: string, key: string, value: string, env: NodeJS.ProcessEnv = process.env): Promise<Holder> {
  const script = `
    const module = await import(${JSON.stringify(modulePath)});
    const store = ${open};
    const session = await store.openSession(${TTL_MS});
    const version = await session.put(process.argv[2], process.argv[3], 0);
    process.stdout.write(JSON.stringify({ version }) + '\\n');`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, url, key, value], { stdio: ['ignore', 'pipe', 'pipe'], env });
  holders.push(child);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const version = await new Promise<number>((resolveVersion, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolveVersion((JSON.parse(out) as { version: number }).version);
    });
    child.once('exit', (code) => reject(new Error(`session holder exited with ${code}: ${stderr}`)));
  });
  return { version, hang: () => child.kill('SIGSTOP'), kill: () => child.kill('SIGKILL') };
}

const etcdHolder = (url: string, key: string, value: string) => childHolder(ETCD_STORE, 'module.EtcdMetadataStore.fromUrl(process.argv[1])', url, key, value);

function etcdBackend(): Backend {
  let etcd: EtcdProcess;
  const stores: MetadataStore[] = [];
  return {
    name: 'etcd',
    async setup() {
      etcd = await EtcdProcess.start();
    },
    async teardown() {
      for (const child of holders) child.kill('SIGKILL');
      for (const store of stores) await store.close();
      await etcd?.stop();
    },
    async open() {
      const url = etcd.url(`samsa-test/${randomBytes(4).toString('hex')}`);
      const store = EtcdMetadataStore.fromUrl(url);
      const second = EtcdMetadataStore.fromUrl(url);
      stores.push(store, second);
      return { store, second, holder: (key, value) => etcdHolder(url, key, value) };
    },
    cutOff: () => etcd.pause(),
    restore: () => etcd.resume(),
  };
}

/**
 * A real kube-apiserver (and its etcd); each open() is a fresh store name in one namespace. Holders
 * find the API server through KUBECONFIG, as a broker does; cutOff pauses the kube-apiserver.
 * `brokerRole`: every client has only the rights the operator gives a cluster's brokers.
 */
function kubernetesBackend(brokerRole: boolean): Backend {
  let cp: ControlPlane;
  let kubeconfig = '';
  const stores: MetadataStore[] = [];
  return {
    name: brokerRole ? "kubernetes, with the brokers' Role" : 'kubernetes',
    async setup() {
      cp = await ControlPlane.start();
      kubeconfig = brokerRole ? await brokerKubeconfig(cp, 'default', 'contract') : cp.kubeconfigFor('samsa-store-test', ['system:masters']);
    },
    async teardown() {
      for (const child of holders) child.kill('SIGKILL');
      for (const store of stores) await store.close();
      await cp?.stop();
    },
    async open() {
      const url = `kubernetes://default/t${randomBytes(4).toString('hex')}`;
      const make = () => {
        const config = new KubeConfig();
        config.loadFromFile(kubeconfig);
        return new KubernetesMetadataStore(parseKubernetesUrl(url), { kubeConfig: config });
      };
      const store = make();
      const second = make();
      stores.push(store, second);
      const holder = (key: string, value: string) =>
        childHolder(KUBERNETES_STORE, 'module.KubernetesMetadataStore.fromUrl(process.argv[1])', url, key, value, { ...process.env, KUBECONFIG: kubeconfig });
      return { store, second, holder };
    },
    cutOff: () => cp.pauseApiServer(),
    restore: () => cp.resumeApiServer(),
  };
}

type Change = [string, StoredValue | undefined];

const backends = [
  inProcess('memory', () => new MemoryMetadataStore()),
  inProcess('file', (path) => new FileMetadataStore(path)),
  etcdBackend(),
  kubernetesBackend(false),
  kubernetesBackend(true),
];

for (const backend of backends) {
  describe(`MetadataStore contract: ${backend.name}`, () => {
    beforeAll(() => backend.setup(), 60_000);
    afterAll(() => backend.teardown());

    it('gets, puts, lists and deletes; a version is never reused', async () => {
      const { store } = await backend.open();
      expect(await store.get('topics/a')).toBeUndefined();
      const v1 = await store.put('topics/a', 'one');
      expect(v1).toBeGreaterThan(0);
      const v2 = await store.put('topics/b', 'two');
      await store.put('other/c', 'three');
      expect(v2).toBeGreaterThan(v1);
      expect(await store.get('topics/a')).toEqual({ value: 'one', version: v1 });
      expect([...(await store.list('topics/')).entries()]).toEqual([
        ['topics/a', { value: 'one', version: v1 }],
        ['topics/b', { value: 'two', version: v2 }],
      ]);
      expect(await store.delete('topics/a')).toBe(true);
      expect(await store.delete('topics/a')).toBe(false);
      expect(await store.get('topics/a')).toBeUndefined();
      const v3 = await store.put('topics/a', 'again', 0);
      expect(v3).toBeGreaterThan(v2);
    });

    it('refuses stale compare-and-set writes with the expected and actual versions', async () => {
      const { store } = await backend.open();
      const v1 = await store.put('k', 'one', 0);
      await expect(store.put('k', 'dup', 0)).rejects.toMatchObject({ name: 'VersionConflictError', key: 'k', expected: 0, actual: v1 });
      const v2 = await store.put('k', 'two', v1);
      await expect(store.put('k', 'stale', v1)).rejects.toMatchObject({ expected: v1, actual: v2 });
      await expect(store.delete('k', v1)).rejects.toBeInstanceOf(VersionConflictError);
      await expect(store.put('absent', 'x', 5)).rejects.toMatchObject({ expected: 5, actual: 0 });
      expect(await store.get('k')).toEqual({ value: 'two', version: v2 });
      expect(await store.delete('k', v2)).toBe(true);
    });

    it('lets exactly one of two clients win each concurrent compare-and-set', async () => {
      const { store, second } = await backend.open();
      await store.put('counter', '0', 0);
      for (let round = 1; round <= 10; round++) {
        const [seenA, seenB] = await Promise.all([store.get('counter'), second.get('counter')]);
        expect(seenA!.version).toBe(seenB!.version);
        const results = await Promise.allSettled([
          store.put('counter', `${round}a`, seenA!.version),
          second.put('counter', `${round}b`, seenB!.version),
        ]);
        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.filter((r) => r.status === 'rejected');
        expect(won).toHaveLength(1);
        expect((lost[0] as PromiseRejectedResult).reason).toBeInstanceOf(VersionConflictError);
        expect((await store.get('counter'))!.version).toBe((won[0] as PromiseFulfilledResult<number>).value);
      }
    });

    it('watches from a snapshot: later puts and deletes in order, nothing from before', async () => {
      const { store, second } = await backend.open();
      const before = await store.put('w/a', 'old');
      await store.put('w/a', 'a1');
      await store.put('elsewhere', 'x');
      const changes: Change[] = [];
      const watch = await second.watch('w/', (key, value) => changes.push([key, value]));
      expect([...watch.snapshot.keys()]).toEqual(['w/a']);
      expect(watch.snapshot.get('w/a')!.value).toBe('a1');
      expect(watch.snapshot.get('w/a')!.version).toBeGreaterThan(before);
      const vb = await store.put('w/b', 'b1');
      expect(await store.delete('w/a')).toBe(true);
      await store.put('elsewhere', 'y');
      const vb2 = await store.put('w/b', 'b2', vb);
      await eventually('three changes', () => (changes.length >= 3 ? true : undefined));
      expect(changes).toEqual([
        ['w/b', { value: 'b1', version: vb }],
        ['w/a', undefined],
        ['w/b', { value: 'b2', version: vb2 }],
      ]);
      watch.stop();
    });

    it('deletes a session\'s keys when it is closed; a closed session writes nothing', async () => {
      const { store, second } = await backend.open();
      const changes: Change[] = [];
      const watch = await second.watch('brokers/', (key, value) => changes.push([key, value]));
      const session = await store.openSession(TTL_MS);
      const version = await session.put('brokers/1', 'host-1', 0);
      await session.close();
      await eventually('the delete', () => (changes.length >= 2 ? true : undefined));
      expect(changes).toEqual([
        ['brokers/1', { value: 'host-1', version }],
        ['brokers/1', undefined],
      ]);
      expect(await second.get('brokers/1')).toBeUndefined();
      expect(session.lost).toBe(false);
      await expect(session.put('brokers/1', 'again')).rejects.toBeInstanceOf(SessionLostError);
      watch.stop();
    });

    it('expires the keys of a holder that hangs or dies; watchers see the delete', async () => {
      const { store, holder } = await backend.open();
      for (const stop of ['hang', 'kill'] as const) {
        const key = `brokers/${stop}`;
        const changes: Change[] = [];
        const watch = await store.watch(key, (k, value) => changes.push([k, value]));
        const held = await holder(key, stop);
        await eventually("the holder's put", () => (changes.length >= 1 ? true : undefined));
        expect(changes[0]).toEqual([key, { value: stop, version: held.version }]);
        held[stop]();
        await eventually('the expiry', () => (changes.length >= 2 ? true : undefined));
        expect(changes[1]).toEqual([key, undefined]);
        // A renewal sent just before the hang may land after the watch judged the expiry and make
        // the key read as live once more; a stopped holder renews no further, so it goes for good.
        await eventually('the key gone for readers', async () => ((await store.get(key)) === undefined ? true : undefined));
        watch.stop();
      }
    });

    it('lets a second holder take an ephemeral key only once the first expired (controller election)', async () => {
      const { store, second, holder } = await backend.open();
      const first = await holder('controller', 'node-1');
      const epoch1 = await store.put('controller_epoch', '1', 0);

      const session = await second.openSession(TTL_MS);
      await expect(session.put('controller', 'node-2', 0)).rejects.toMatchObject({ actual: first.version });
      let gone = false;
      const watch = await second.watch('controller', (_key, value) => (gone ||= value === undefined));
      first.hang();
      await eventually("the first holder's expiry", () => (gone ? true : undefined));
      watch.stop();
      // A renewal sent just before the hang can land after the watch judged the expiry (it then
      // reads as live again until it too expires): a candidate tries again, as in an election.
      const mine = await eventually('the free key taken', () => session.put('controller', 'node-2', 0));
      const epoch = await second.get('controller_epoch');
      const epoch2 = await second.put('controller_epoch', String(Number(epoch!.value) + 1), epoch!.version);
      // The old controller's late epoch bump, from what it read before, is fenced off.
      await expect(store.put('controller_epoch', '2', epoch1)).rejects.toBeInstanceOf(VersionConflictError);
      expect(await store.get('controller')).toEqual({ value: 'node-2', version: mine });
      expect(await store.get('controller_epoch')).toEqual({ value: '2', version: epoch2 });
      await session.close();
    });

    it('reports a session lost when renewals stop reaching the store, and refuses its writes', async () => {
      const { store, second } = await backend.open();
      const changes: Change[] = [];
      const watch = await second.watch('brokers/', (key, value) => changes.push([key, value]));
      const session = await store.openSession(TTL_MS);
      await session.put('brokers/7', 'host-7', 0);
      const lost = new Promise<Error>((resolveLost) => session.onLost(resolveLost));
      backend.cutOff(session);
      try {
        expect(await lost).toBeInstanceOf(Error);
        expect(session.lost).toBe(true);
        await expect(session.put('brokers/7', 'late')).rejects.toBeInstanceOf(SessionLostError);
      } finally {
        backend.restore();
      }
      await eventually('the delete of the lost session\'s key', () => (changes.length >= 2 ? true : undefined));
      expect(changes[1]).toEqual(['brokers/7', undefined]);
      expect(await eventually('a readable store', () => store.get('brokers/7').then((v) => v ?? null))).toBeNull();
      watch.stop();
    });
  });
}

describe('FileMetadataStore sessions', () => {
  it('never writes ephemeral keys to the file: a restart has no session', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'samsa-metadata-'));
    try {
      const path = join(dir, 'metadata.json');
      const store = new FileMetadataStore(path);
      await store.put('cluster/id', 'abc', 0);
      await store.put('brokers/1', 'durable', 0);
      const session = await store.openSession(60_000);
      await session.put('brokers/1', 'ephemeral');
      await session.put('controller', '1', 0);
      expect(JSON.parse(readFileSync(path, 'utf8')).entries).toEqual({ 'cluster/id': { value: 'abc', version: 1 } });
      const restarted = new FileMetadataStore(path);
      expect([...(await restarted.list('')).keys()]).toEqual(['cluster/id']);
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('parseKubernetesUrl', () => {
  it('reads the namespace and the store name', () => {
    expect(parseKubernetesUrl('kubernetes://data/prod')).toEqual({ namespace: 'data', name: 'prod' });
    expect(parseKubernetesUrl('kubernetes://data/prod/')).toEqual({ namespace: 'data', name: 'prod' });
  });

  it.each([
    ['etcd://data/prod', 'must start with kubernetes://'],
    ['kubernetes:///prod', 'no namespace'],
    ['kubernetes://data', 'no store name'],
    ['kubernetes://data/', 'no store name'],
    ['kubernetes://Data/prod', 'namespace "Data" is not a DNS-1123 label'],
    ['kubernetes://data/prod/x', 'store name "prod/x" is not a DNS-1123 label'],
    [`kubernetes://data/${'a'.repeat(64)}`, 'is not a DNS-1123 label'],
    ['kubernetes://data/-prod', 'is not a DNS-1123 label'],
  ])('refuses %s', (url, why) => {
    expect(() => parseKubernetesUrl(url)).toThrow(why);
  });
});

describe('parseEtcdUrl', () => {
  it('reads endpoints and the key prefix', () => {
    expect(parseEtcdUrl('etcd://127.0.0.1:2379/samsa/dev')).toEqual({ endpoints: ['127.0.0.1:2379'], prefix: 'samsa/dev' });
    expect(parseEtcdUrl('etcd://a.example:2379,b:2380,[::1]:2381/samsa/')).toEqual({
      endpoints: ['a.example:2379', 'b:2380', '[::1]:2381'],
      prefix: 'samsa',
    });
  });

  it.each([
    ['http://127.0.0.1:2379/samsa', 'must start with etcd://'],
    ['etcd:///samsa', 'no endpoint'],
    ['etcd://127.0.0.1/samsa', 'endpoint "127.0.0.1" is not host:port'],
    ['etcd://127.0.0.1:99999/samsa', 'is not host:port'],
    ['etcd://127.0.0.1:2379,/samsa', 'endpoint "" is not host:port'],
    ['etcd://127.0.0.1:2379', 'no key prefix'],
    ['etcd://127.0.0.1:2379/', 'no key prefix'],
    ['etcd://127.0.0.1:2379/a//b', 'empty segment'],
  ])('refuses %s', (url, why) => {
    expect(() => parseEtcdUrl(url)).toThrow(why);
  });
});
