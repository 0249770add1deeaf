import { describe, expect, it } from 'vitest';
import { WorkQueue } from './workqueue.js';

describe('WorkQueue', () => {
  it('holds a key once and never hands it to two workers at a time', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('a');
    q.add('b');
    expect(q.depth).toBe(2);
    const first = await q.get();
    expect(first).toBe('a');
    q.add('a'); // changed while being worked on
    expect(await q.get()).toBe('b');
    let third: string | null | undefined;
    void q.get().then((k) => (third = k));
    await new Promise((r) => setTimeout(r, 10));
    expect(third).toBeUndefined();
    q.done('a');
    await new Promise((r) => setTimeout(r, 0));
    expect(third).toBe('a');
  });

  it('backs off failures exponentially and forgets them on success', () => {
    const q = new WorkQueue({ baseDelayMs: 100, maxDelayMs: 1000 });
    expect([q.addRateLimited('k'), q.addRateLimited('k'), q.addRateLimited('k'), q.addRateLimited('k'), q.addRateLimited('k')]).toEqual([100, 200, 400, 800, 1000]);
    q.forget('k');
    expect(q.addRateLimited('k')).toBe(100);
    q.shutDown();
  });

  it('wakes waiting workers with null on shutdown', async () => {
    const q = new WorkQueue();
    const waiting = q.get();
    q.shutDown();
    expect(await waiting).toBeNull();
  });
});
