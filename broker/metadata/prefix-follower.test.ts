// PrefixFollower over the memory store, with a watch the test breaks: what changed while the
// watch was broken is found by the new listing. (Real watches break in the etcd and Kubernetes
// stores' own tests and in cluster-etcd-outage.test.ts.)
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { MemoryMetadataStore } from './memory-store.js';
import type { MetadataStore, StoredValue } from './metadata-store.js';
import { PrefixFollower } from './prefix-follower.js';

/** The memory store, whose watches the test can break: a broken one delivers nothing more. */
function breakableStore(): { store: MetadataStore; inner: MemoryMetadataStore; breakWatches(meanwhile: () => Promise<void>): Promise<void> } {
  const inner = new MemoryMetadataStore();
  const breakers: ((meanwhile: () => Promise<void>) => Promise<void>) [] = [];
  const store = Object.create(inner) as MetadataStore;
  store.watch = async (prefix, listener, onBroken) => {
    let broken = false;
    const watch = await inner.watch(prefix, (key, value) => {
      if (!broken) listener(key, value);
    });
    breakers.push(async (meanwhile) => {
      broken = true;
      await meanwhile();
      onBroken?.(new Error('watch lost'));
    });
    return watch;
  };
  return { store, inner, breakWatches: async (meanwhile) => { for (const b of breakers.splice(0)) await b(meanwhile); } };
}

describe('PrefixFollower', () => {
  it('lists, follows changes, and lists again after a broken watch', async () => {
    const { store, inner, breakWatches } = breakableStore();
    await inner.put('p/a', '1');
    await inner.put('other/x', 'no');
    const seen = new Map<string, string>();
    const listings: boolean[] = [];
    const follower = new PrefixFollower(store, 'p/', 'test', {
      listed: (snapshot: ReadonlyMap<string, StoredValue>, relisted: boolean) => {
        listings.push(relisted);
        seen.clear();
        for (const [key, value] of snapshot) seen.set(key, value.value);
      },
      changed: (key: string, value: StoredValue | undefined) => {
        if (value) seen.set(key, value.value);
        else seen.delete(key);
      },
    }, pino({ level: 'silent' }));
    await follower.start();
    expect(Object.fromEntries(seen)).toEqual({ 'p/a': '1' });
    await inner.put('p/b', '2');
    expect(Object.fromEntries(seen)).toEqual({ 'p/a': '1', 'p/b': '2' });

    // Changes the broken watch does not deliver; the listing after it finds them.
    await breakWatches(async () => {
      await inner.delete('p/a');
      await inner.put('p/c', '3');
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(listings).toEqual([false, true]);
    expect(Object.fromEntries(seen)).toEqual({ 'p/b': '2', 'p/c': '3' });

    follower.stop();
    await inner.put('p/d', '4');
    expect(seen.has('p/d')).toBe(false);
  });
});
