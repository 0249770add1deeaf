// What only the etcd backend has to prove, against a real etcd: a holder cut off from etcd
// stops acting before etcd lets another take its key (fencing), calls to an unreachable etcd
// fail by their deadline instead of hanging, and a watch misses nothing across an etcd restart
// or a stream broken while it catches up.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdProcess } from '../test/etcd-process.js';
import { eventually } from '../test/eventually.js';
import { TcpProxy } from '../test/tcp-proxy.js';
import { EtcdMetadataStore } from './etcd-store.js';
import { type StoredValue, VersionConflictError } from './metadata-store.js';

let etcd: EtcdProcess;
const closing: { stop(): Promise<void> }[] = [];

beforeAll(async () => {
  etcd = await EtcdProcess.start();
}, 60_000);

afterAll(async () => {
  for (const item of closing) await item.stop();
  await etcd?.stop();
});

function prefix(): string {
  return `samsa-test/${randomBytes(4).toString('hex')}`;
}

function store(url: string, requestTimeoutMs?: number): EtcdMetadataStore {
  const opened = EtcdMetadataStore.fromUrl(url, { requestTimeoutMs });
  closing.push({ stop: () => opened.close() });
  return opened;
}

describe('EtcdMetadataStore', () => {
  it('tells a holder cut off from etcd that its session is lost before another can take its key', async () => {
    const keys = prefix();
    const proxy = await TcpProxy.start(etcd.clientPort);
    closing.push(proxy);
    const holder = store(`etcd://${proxy.endpoint}/${keys}`);
    const rival = store(etcd.url(keys));
    const session = await holder.openSession(1000);
    await session.put('controller', 'node-1', 0);
    let lostAt = Infinity;
    session.onLost(() => (lostAt = performance.now()));

    proxy.cut();
    const rivalSession = await rival.openSession(5000);
    const mine = await eventually('the rival taking the key', async () => {
      try {
        return await rivalSession.put('controller', 'node-2', 0);
      } catch (err) {
        if (err instanceof VersionConflictError) return undefined;
        throw err;
      }
    });
    const takenAt = performance.now();
    console.log(`session lost ${(takenAt - lostAt).toFixed(0)} ms before the rival took the key`);
    expect(session.lost).toBe(true);
    expect(lostAt).toBeLessThan(takenAt);

    // Reconnected, the old holder can neither write nor, by revoking its lease, delete the new key.
    proxy.heal();
    await expect(session.put('controller', 'node-1')).rejects.toMatchObject({ name: 'SessionLostError' });
    await session.close();
    expect(await rival.get('controller')).toEqual({ value: 'node-2', version: mine });
    await rivalSession.close();
  });

  it('fails calls to an unreachable etcd by their deadline', async () => {
    const proxy = await TcpProxy.start(etcd.clientPort);
    closing.push(proxy);
    const cutOff = store(`etcd://${proxy.endpoint}/${prefix()}`, 1000);
    await cutOff.put('k', 'v');
    proxy.cut();
    await expect(cutOff.put('k', 'w')).rejects.toThrow();
    await expect(cutOff.get('k')).rejects.toThrow();
    proxy.heal();
    expect((await eventually('etcd again', () => cutOff.get('k')))?.value).toBe('v');
  });

  it('keeps a watch across an etcd restart without missing or repeating a change', async () => {
    const url = etcd.url(prefix());
    const watching = store(url);
    const writer = store(url);
    const changes: [string, StoredValue | undefined][] = [];
    const watch = await watching.watch('t/', (key, value) => changes.push([key, value]));
    const a = await writer.put('t/a', '1');
    await etcd.restart();
    // Written before the watch has reconnected: it must resume from the revision after "a".
    const b = await eventually('a write after the restart', () => writer.put('t/b', '2'));
    await writer.delete('t/a');
    const c = await writer.put('t/c', '3');
    await eventually('every change', async () => (changes.length >= 4 ? true : undefined));
    expect(changes).toEqual([
      ['t/a', { value: '1', version: a }],
      ['t/b', { value: '2', version: b }],
      ['t/a', undefined],
      ['t/c', { value: '3', version: c }],
    ]);
    watch.stop();
  });

  it('resumes a reconnected watch after the last change it delivered, even mid catch-up', async () => {
    const keys = prefix();
    const proxy = await TcpProxy.start(etcd.clientPort);
    closing.push(proxy);
    const watching = store(`etcd://${proxy.endpoint}/${keys}`);
    const writer = store(etcd.url(keys));
    const delivered: string[] = [];
    let resetMidCatchUp = false;
    const watch = await watching.watch('n/', (key) => {
      delivered.push(key);
      // etcd sends a lagging watch what it missed 1000 revisions at a time, each batch
      // headed by the current revision: break the stream right after the first batch.
      if (resetMidCatchUp) {
        resetMidCatchUp = false;
        proxy.reset();
      }
    });
    // The watch falls behind: its stream silently drops what etcd sends.
    proxy.cut();
    const count = 2500;
    for (let i = 0; i < count; i += 100) {
      await Promise.all(Array.from({ length: Math.min(100, count - i) }, (_, j) => writer.put(`n/${String(i + j).padStart(5, '0')}`, 'x')));
    }
    const expected = [...(await writer.list('n/')).entries()].sort((a, b) => a[1].version - b[1].version).map(([key]) => key);
    resetMidCatchUp = true;
    proxy.heal();
    proxy.reset();
    await eventually('every change', async () => (delivered.length >= count ? true : undefined), 30_000).catch((err: Error) => {
      throw new Error(`${err.message}: ${delivered.length} of ${count} delivered`);
    });
    expect(resetMidCatchUp).toBe(false);
    expect(delivered).toEqual(expected);
    watch.stop();
  });
});
