// The leader-epoch cache on real files: where epochs end (KIP-279), truncation from either end,
// and the checkpoint file it keeps (Kafka's layout), refused when it is not one it wrote.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LeaderEpochCache } from './leader-epoch-cache.js';

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'samsa-epochs-'));
  path = join(dir, 'leader-epoch-checkpoint');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Epoch 0 from 0, epoch 2 from 10, epoch 4 from 20 (epochs 1 and 3 led and wrote nothing). */
function cacheWithGaps(): LeaderEpochCache {
  const cache = new LeaderEpochCache(path);
  cache.assign(0, 0);
  cache.assign(2, 10);
  cache.assign(4, 20);
  return cache;
}

describe('LeaderEpochCache', () => {
  it('answers where an epoch ends as KIP-279 says: the largest epoch at or below it, up to the next one', () => {
    const cache = cacheWithGaps();
    const leo = 35;
    expect(cache.endOffsetFor(0, leo)).toEqual({ epoch: 0, endOffset: 10 });
    // An epoch that wrote nothing ends where the previous one does: the follower learns the epoch it must truncate in.
    expect(cache.endOffsetFor(1, leo)).toEqual({ epoch: 0, endOffset: 10 });
    expect(cache.endOffsetFor(2, leo)).toEqual({ epoch: 2, endOffset: 20 });
    expect(cache.endOffsetFor(3, leo)).toEqual({ epoch: 2, endOffset: 20 });
    expect(cache.endOffsetFor(4, leo)).toEqual({ epoch: 4, endOffset: leo });
    expect(cache.endOffsetFor(9, leo)).toEqual({ epoch: 4, endOffset: leo });
    expect(cache.latestEpoch).toBe(4);
  });

  it('answers below the first epoch with the first epoch\'s start and for an empty log with its end (Kafka), and nothing for -1', () => {
    const empty = new LeaderEpochCache(path);
    expect(empty.latestEpoch).toBe(-1);
    // Kafka's leader holds its current epoch from where its leadership began: with no batch, that is the log end.
    expect(empty.endOffsetFor(0, 0)).toEqual({ epoch: 0, endOffset: 0 });
    expect(empty.endOffsetFor(4, 12)).toEqual({ epoch: 4, endOffset: 12 });
    expect(empty.endOffsetFor(-1, 12)).toEqual({ epoch: -1, endOffset: -1 });
    const cache = new LeaderEpochCache(path);
    cache.assign(3, 100);
    expect(cache.endOffsetFor(2, 150)).toEqual({ epoch: 2, endOffset: 100 });
    expect(cache.endOffsetFor(-1, 150)).toEqual({ epoch: -1, endOffset: -1 });
  });

  it('adds only epochs later than the latest', () => {
    const cache = cacheWithGaps();
    cache.assign(4, 25);
    cache.assign(1, 30);
    expect(cache.all).toEqual([
      { epoch: 0, startOffset: 0 },
      { epoch: 2, startOffset: 10 },
      { epoch: 4, startOffset: 20 },
    ]);
  });

  it('persists every change in Kafka\'s checkpoint layout and reads it back', () => {
    const cache = cacheWithGaps();
    expect(readFileSync(path, 'utf8')).toBe('0\n3\n0 0\n2 10\n4 20\n');
    expect(LeaderEpochCache.read(path)).toEqual(cache.all);
    cache.truncateFromEnd(20);
    expect(LeaderEpochCache.read(path)).toEqual([
      { epoch: 0, startOffset: 0 },
      { epoch: 2, startOffset: 10 },
    ]);
    cache.clear();
    expect(existsSync(path)).toBe(false);
    expect(cache.all).toEqual([]);
  });

  it('refuses a file it did not write: missing, another version, a wrong count, epochs out of order, garbage', () => {
    expect(LeaderEpochCache.read(path)).toBeNull();
    for (const text of ['1\n1\n0 0\n', '0\n2\n0 0\n', '0\n2\n3 0\n2 10\n', '0\n2\n1 10\n2 5\n', '0\n1\nzero 0\n', '', '0\n']) {
      writeFileSync(path, text);
      expect(LeaderEpochCache.read(path), JSON.stringify(text)).toBeNull();
    }
    writeFileSync(path, '0\n0\n');
    expect(LeaderEpochCache.read(path)).toEqual([]);
  });

  it('cuts epochs that start at or past a truncation offset', () => {
    const cache = cacheWithGaps();
    cache.truncateFromEnd(21);
    expect(cache.latestEpoch).toBe(4);
    cache.truncateFromEnd(20);
    expect(cache.all.map((e) => e.epoch)).toEqual([0, 2]);
    cache.truncateFromEnd(0);
    expect(cache.all).toEqual([]);
    expect(LeaderEpochCache.read(path)).toEqual([]);
  });

  it('cuts epochs wholly below the log start and moves the one that holds it to the log start', () => {
    const cache = cacheWithGaps();
    cache.truncateFromStart(0);
    expect(cache.all[0]).toEqual({ epoch: 0, startOffset: 0 });
    cache.truncateFromStart(5);
    expect(cache.all[0]).toEqual({ epoch: 0, startOffset: 5 });
    cache.truncateFromStart(20);
    expect(cache.all).toEqual([{ epoch: 4, startOffset: 20 }]);
    cache.truncateFromStart(27);
    expect(cache.all).toEqual([{ epoch: 4, startOffset: 27 }]);
    expect(LeaderEpochCache.read(path)).toEqual([{ epoch: 4, startOffset: 27 }]);
    expect(cache.endOffsetFor(2, 30)).toEqual({ epoch: 2, endOffset: 27 });
  });
});
