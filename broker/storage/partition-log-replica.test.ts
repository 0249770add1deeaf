// PartitionLog as a replica, on real files: the leader-epoch cache (kept, persisted, rebuilt),
// a high watermark apart from the log end, a follower taking a leader's batches verbatim, and
// truncation of what diverged, each across a close and reopen.
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildRecordBatch } from '../records/batch-builder.js';
import { BatchOffset, LOG_OVERHEAD, decodeRecords, readBatchInfo, validateClientBatches } from '../records/record-batch.js';
import { testLogConfig as config } from '../test/log-config.js';
import { usePartitionLogs } from '../test/partition-logs.js';
import type { LogConfig } from '../config.js';
import type { PartitionLog } from './partition-log.js';

const logs = usePartitionLogs('samsa-replica-');
const { open, shut, reopen } = logs;

function append(log: PartitionLog, values: string[], epoch: number, producer?: { id: number; epoch: number; seq: number }) {
  const records = buildRecordBatch(
    values.map((v) => ({ value: Buffer.from(v) })),
    producer ? { producerId: producer.id, producerEpoch: producer.epoch, baseSequence: producer.seq } : {},
  );
  return log.append(records, validateClientBatches(records, { maxMessageBytes: 1 << 20 }), epoch);
}

/** Everything a follower would fetch from `log` starting at `offset` (up to its log end). */
function fetchAsFollower(log: PartitionLog, offset: number): Buffer {
  const parts: Buffer[] = [];
  let next = offset;
  for (;;) {
    const read = log.read(next, 1 << 20, log.logEndOffset);
    if (read.outOfRange) throw new Error(`offset ${next} out of range`);
    if (!read.records) return Buffer.concat(parts);
    parts.push(read.records);
    next = endOf(read.records);
  }
}

/** The offset after the last whole batch in `records`. */
function endOf(records: Buffer): number {
  let pos = 0;
  let end = -1;
  while (pos < records.length) {
    const info = readBatchInfo(records, pos);
    end = info.baseOffset + info.lastOffsetDelta + 1;
    pos += info.size;
  }
  return end;
}

/** [offset, value, leader epoch] of every record from `offset`, read up to `maxOffset`. */
function records(log: PartitionLog, offset = log.logStartOffset, maxOffset = log.logEndOffset): Array<[number, string, number]> {
  const out: Array<[number, string, number]> = [];
  let next = offset;
  for (;;) {
    const read = log.read(next, 1 << 20, maxOffset);
    if (read.outOfRange) throw new Error(`offset ${next} out of range`);
    if (!read.records) return out;
    let pos = 0;
    while (pos < read.records.length) {
      const size = read.records.readInt32BE(pos + BatchOffset.batchLength) + LOG_OVERHEAD;
      const batch = read.records.subarray(pos, pos + size);
      const epoch = batch.readInt32BE(BatchOffset.partitionLeaderEpoch);
      for (const r of decodeRecords(batch)) if (r.offset >= offset) out.push([r.offset, r.value!.toString(), epoch]);
      pos += size;
    }
    next = endOf(read.records);
  }
}

describe('leader-epoch cache of a partition log', () => {
  it('records the first offset of every new epoch, answers where epochs end, and keeps it across a reopen', () => {
    let log = open();
    append(log, ['a', 'b'], 0);
    append(log, ['c'], 0);
    append(log, ['d', 'e'], 2);
    append(log, ['f'], 5);
    expect(log.epochEntries).toEqual([
      { epoch: 0, startOffset: 0 },
      { epoch: 2, startOffset: 3 },
      { epoch: 5, startOffset: 5 },
    ]);
    expect(log.latestEpoch).toBe(5);
    expect(log.endOffsetForEpoch(0)).toEqual({ epoch: 0, endOffset: 3 });
    expect(log.endOffsetForEpoch(1)).toEqual({ epoch: 0, endOffset: 3 });
    expect(log.endOffsetForEpoch(3)).toEqual({ epoch: 2, endOffset: 5 });
    expect(log.endOffsetForEpoch(5)).toEqual({ epoch: 5, endOffset: 6 });
    expect(log.endOffsetForEpoch(-1)).toEqual({ epoch: -1, endOffset: -1 });
    expect(readFileSync(join(logs.dir, 'leader-epoch-checkpoint'), 'utf8')).toBe('0\n3\n0 0\n2 3\n5 5\n');
    log = reopen(log);
    expect(log.epochEntries).toEqual([
      { epoch: 0, startOffset: 0 },
      { epoch: 2, startOffset: 3 },
      { epoch: 5, startOffset: 5 },
    ]);
    expect(open(logs.leaderDir).latestEpoch).toBe(-1);
  });

  it('rebuilds the cache from the batch headers when the file is missing or unreadable, across segments', () => {
    let log = open(logs.dir, { segmentBytes: 400 });
    // Epoch changes fall inside segments and on their boundaries.
    for (let i = 0; i < 40; i++) append(log, [`v${i}-${'p'.repeat(30)}`], [1, 1, 1, 4, 4, 7, 9, 9][Math.floor(i / 5)]!);
    expect(log.segmentCount).toBeGreaterThan(4);
    const entries = [...log.epochEntries];
    expect(entries.map((e) => e.epoch)).toEqual([1, 4, 7, 9]);
    shut(log);
    rmSync(join(logs.dir, 'leader-epoch-checkpoint'));
    log = open(logs.dir, { segmentBytes: 400 });
    expect(log.epochEntries).toEqual(entries);
    expect(existsSync(join(logs.dir, 'leader-epoch-checkpoint'))).toBe(true);
    shut(log);
    writeFileSync(join(logs.dir, 'leader-epoch-checkpoint'), '0\n2\n9 0\n1 3\n');
    log = open(logs.dir, { segmentBytes: 400 }, false);
    expect(log.epochEntries).toEqual(entries);
  });

  it('drops an entry past the log end at open (a crash between the checkpoint and the batch)', () => {
    let log = open();
    append(log, ['a'], 3);
    shut(log, false);
    writeFileSync(join(logs.dir, 'leader-epoch-checkpoint'), '0\n2\n3 0\n4 1\n');
    log = open(logs.dir, {}, false);
    expect(log.epochEntries).toEqual([{ epoch: 3, startOffset: 0 }]);
    append(log, ['b'], 4);
    expect(log.epochEntries).toEqual([
      { epoch: 3, startOffset: 0 },
      { epoch: 4, startOffset: 1 },
    ]);
  });

  it('cuts epochs that retention removed, keeping the one that holds the new log start', () => {
    const log = open(logs.dir, { segmentBytes: 300 });
    for (let i = 0; i < 12; i++) append(log, [`old-${i}-${'o'.repeat(40)}`], i < 6 ? 1 : 2);
    log.config = config({ segmentBytes: 300, retentionBytes: 400 });
    expect(log.applyRetention()).toBeGreaterThan(0);
    expect(log.logStartOffset).toBeGreaterThan(6);
    expect(log.epochEntries).toEqual([{ epoch: 2, startOffset: log.logStartOffset }]);
    expect(log.endOffsetForEpoch(1)).toEqual({ epoch: 1, endOffset: log.logStartOffset });
  });
});

describe('high watermark', () => {
  it('follows every append while autoCommit is on (the single-node broker), waking both kinds of waiters', () => {
    const log = open();
    const woken: string[] = [];
    log.appendListeners.add(() => woken.push(`hw ${log.highWatermark}`));
    log.leoListeners.add(() => woken.push(`leo ${log.logEndOffset}`));
    expect(log.autoCommit).toBe(true);
    append(log, ['a', 'b'], 0);
    expect(log.highWatermark).toBe(2);
    expect(woken).toEqual(['leo 2', 'hw 2']);
    expect(records(log, 0, log.highWatermark).map(([o]) => o)).toEqual([0, 1]);
    shut(log);
    expect(existsSync(join(logs.dir, 'high-watermark'))).toBe(false);
  });

  it('stays put with autoCommit off until setHighWatermark moves it forward, and reads stop at it', () => {
    const log = open();
    log.autoCommit = false;
    const hwMoves: number[] = [];
    const leoMoves: number[] = [];
    log.appendListeners.add(() => hwMoves.push(log.highWatermark));
    log.leoListeners.add(() => leoMoves.push(log.logEndOffset));
    append(log, ['a', 'b'], 0);
    append(log, ['c'], 0);
    append(log, ['d', 'e', 'f'], 0);
    expect(log.highWatermark).toBe(0);
    expect(leoMoves).toEqual([2, 3, 6]);
    expect(hwMoves).toEqual([]);
    // A consumer sees nothing yet; a follower reads up to the log end.
    expect(log.read(0, 1 << 20)).toEqual({ outOfRange: false, records: null });
    expect(records(log, 0, log.logEndOffset)).toHaveLength(6);

    expect(log.setHighWatermark(3)).toBe(true);
    expect(hwMoves).toEqual([3]);
    expect(records(log, 0, log.highWatermark).map(([o]) => o)).toEqual([0, 1, 2]);
    expect(log.read(0, 1 << 20).outOfRange === false && endOf((log.read(0, 1 << 20) as { records: Buffer }).records)).toBe(3);
    // Between the HW and the log end: nothing to read, but not out of range (as Kafka).
    expect(log.read(4, 1 << 20)).toEqual({ outOfRange: false, records: null });
    expect(log.read(6, 1 << 20)).toEqual({ outOfRange: false, records: null });
    expect(log.read(7, 1 << 20)).toEqual({ outOfRange: true });

    expect(log.setHighWatermark(2)).toBe(false);
    expect(log.setHighWatermark(3)).toBe(false);
    expect(log.setHighWatermark(100)).toBe(true);
    expect(log.highWatermark).toBe(6);
    expect(hwMoves).toEqual([3, 6]);
  });

  it('commits the whole log when autoCommit is turned back on', () => {
    const log = open();
    log.autoCommit = false;
    append(log, ['a', 'b'], 0);
    let woken = 0;
    log.appendListeners.add(() => woken++);
    log.autoCommit = true;
    expect(log.highWatermark).toBe(2);
    expect(woken).toBe(1);
  });

  it('is saved at close and at most every few seconds, and reopens as min(saved, log end)', () => {
    let log = open();
    log.autoCommit = false;
    append(log, ['a', 'b'], 0);
    append(log, ['c', 'd'], 0);
    const path = join(logs.dir, 'high-watermark');
    // Written as soon as autoCommit goes off: a crash before the HW first moves must not reopen
    // with HW = LEO, as a log without the file does.
    expect(readFileSync(path, 'utf8')).toBe('0');
    shut(log, false);
    log = open(logs.dir, {}, false);
    expect(log.highWatermark).toBe(0);
    log.autoCommit = false;
    log.setHighWatermark(2, 10_000);
    expect(readFileSync(path, 'utf8')).toBe('2');
    log.setHighWatermark(4, 12_000);
    expect(readFileSync(path, 'utf8')).toBe('2');
    append(log, ['e'], 0);
    log.setHighWatermark(5, 15_000);
    expect(readFileSync(path, 'utf8')).toBe('5');

    // A crash: the file says 5, as last saved; the test sets it back to 4 as if the last save had not happened.
    shut(log, false);
    writeFileSync(path, '4');
    log = open(logs.dir, {}, false);
    expect(log.highWatermark).toBe(4);
    log.autoCommit = false;
    expect(log.read(4, 1 << 20)).toEqual({ outOfRange: false, records: null });
    shut(log);
    expect(readFileSync(path, 'utf8')).toBe('4');

    // Saved past the log end (the tail was lost in a crash): the log end.
    writeFileSync(path, '99');
    log = open();
    expect(log.highWatermark).toBe(5);
    log.autoCommit = false;
    shut(log);
    // No file: a log from before replication, where everything appended was committed.
    rmSync(path);
    log = open();
    expect(log.highWatermark).toBe(5);
    shut(log);
    // A file that does not parse commits nothing beyond the log start.
    writeFileSync(path, 'garbage');
    log = open();
    expect(log.highWatermark).toBe(0);
    // Closed with autoCommit on, the file goes: the HW is the log end again at the next open.
    shut(log);
    expect(existsSync(path)).toBe(false);
  });

  it('keeps retention and compaction below the high watermark', () => {
    const log = open(logs.dir, { segmentBytes: 300, compact: true, deleteRetentionMs: 0, minCleanableDirtyRatio: 0 });
    log.autoCommit = false;
    const put = (key: string, value: string) => {
      const batch = buildRecordBatch([{ key: Buffer.from(key), value: Buffer.from(value), timestamp: 1_000 }]);
      log.append(batch, validateClientBatches(batch, { maxMessageBytes: 1 << 20 }), 0);
    };
    for (let i = 0; i < 20; i++) put('k', `v${i}-${'c'.repeat(40)}`);
    expect(log.segmentCount).toBeGreaterThan(3);
    expect(log.compact()).toBeNull();
    expect(records(log)).toHaveLength(20);
    log.config = config({ segmentBytes: 300, retentionMs: 1 });
    expect(log.applyRetention(1_000_000)).toBe(0);
    expect(log.logStartOffset).toBe(0);

    log.setHighWatermark(10);
    log.config = config({ segmentBytes: 300, compact: true, deleteRetentionMs: 0, minCleanableDirtyRatio: 0 });
    const cleaned = log.compact();
    expect(cleaned!.recordsRemoved).toBeGreaterThan(0);
    // Every record at or past the HW is still there, whatever its key.
    expect(records(log).filter(([o]) => o >= 10)).toHaveLength(10);
    log.config = config({ segmentBytes: 300, retentionMs: 1 });
    log.applyRetention(1_000_000);
    expect(log.logStartOffset).toBeLessThanOrEqual(10);
    expect(log.logStartOffset).toBeGreaterThan(0);
  });
});

describe('appendAsFollower', () => {
  /** A leader log with batches in epochs 1 and 3, some from an idempotent producer. */
  function leaderLog(): PartitionLog {
    const leader = open(logs.leaderDir);
    append(leader, ['a', 'b'], 1);
    append(leader, ['c'], 1, { id: 7, epoch: 0, seq: 0 });
    append(leader, ['d', 'e', 'f'], 3, { id: 7, epoch: 0, seq: 1 });
    append(leader, ['g'], 3);
    return leader;
  }

  it('writes the leader\'s batches byte for byte, with their offsets and epochs', () => {
    const leader = leaderLog();
    const follower = open();
    follower.autoCommit = false;
    let leoWakes = 0;
    follower.leoListeners.add(() => leoWakes++);
    const fetched = fetchAsFollower(leader, 0);
    expect(follower.appendAsFollower(fetched)).toEqual({ firstOffset: 0, lastOffset: 6 });
    expect(follower.logEndOffset).toBe(7);
    expect(follower.highWatermark).toBe(0);
    expect(leoWakes).toBe(1);
    expect(fetchAsFollower(follower, 0).equals(fetched)).toBe(true);
    expect(follower.epochEntries).toEqual(leader.epochEntries);
    expect(follower.epochEntries).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 3, startOffset: 3 },
    ]);
    // The follower's HW is what the leader says, never past its own end.
    follower.setHighWatermark(leader.highWatermark);
    expect(records(follower, 0, follower.highWatermark)).toEqual(records(leader));
    const reopened = reopen(follower);
    expect(fetchAsFollower(reopened, 0).equals(fetched)).toBe(true);
    expect(reopened.epochEntries).toEqual(leader.epochEntries);
  });

  it('takes batches one fetch at a time, ignores a partial batch at the end, and returns null without a whole one', () => {
    const leader = leaderLog();
    const follower = open();
    const all = fetchAsFollower(leader, 0);
    const first = readBatchInfo(all, 0).size;
    const second = readBatchInfo(all, first).size;
    // One whole batch and part of the next: only the whole one is written.
    expect(follower.appendAsFollower(all.subarray(0, first + second - 5))).toEqual({ firstOffset: 0, lastOffset: 1 });
    expect(follower.logEndOffset).toBe(2);
    expect(follower.appendAsFollower(all.subarray(first, first + 20))).toBeNull();
    expect(follower.appendAsFollower(all.subarray(first, first + 10))).toBeNull();
    expect(follower.appendAsFollower(Buffer.alloc(0))).toBeNull();
    expect(follower.appendAsFollower(fetchAsFollower(leader, 2))).toEqual({ firstOffset: 2, lastOffset: 6 });
    expect(fetchAsFollower(follower, 0).equals(all)).toBe(true);
  });

  it('refuses batches below its log end, a bad CRC, another magic or a bad length, writing nothing', () => {
    const leader = leaderLog();
    const follower = open();
    const all = fetchAsFollower(leader, 0);
    follower.appendAsFollower(fetchAsFollower(leader, 0).subarray(0, readBatchInfo(all, 0).size));
    expect(() => follower.appendAsFollower(all)).toThrow(/starts at offset 0, below the log end offset 2/);
    const rest = fetchAsFollower(leader, 2);
    const corrupt = Buffer.from(rest);
    corrupt[corrupt.length - 1]! ^= 0xff;
    expect(() => follower.appendAsFollower(corrupt)).toThrow(/CRC-32C/);
    const magic = Buffer.from(rest);
    magic.writeInt8(1, BatchOffset.magic);
    expect(() => follower.appendAsFollower(magic)).toThrow(/magic 1, not 2/);
    const short = Buffer.from(rest);
    short.writeInt32BE(10, BatchOffset.batchLength);
    expect(() => follower.appendAsFollower(short)).toThrow(/less than a batch header/);
    // Offsets that go backwards inside one response.
    const backwards = Buffer.concat([rest, buildRecordBatch([{ value: Buffer.from('x') }], { baseOffset: 3, partitionLeaderEpoch: 3 })]);
    expect(() => follower.appendAsFollower(backwards)).toThrow(/before the end of the previous batch \(7\)/);
    expect(follower.logEndOffset).toBe(2);
    expect(follower.appendAsFollower(rest)).toEqual({ firstOffset: 2, lastOffset: 6 });
  });

  it('accepts a gap a compacted leader log leaves between batches', () => {
    const follower = open();
    follower.appendAsFollower(buildRecordBatch([{ value: Buffer.from('a') }], { baseOffset: 0, partitionLeaderEpoch: 0 }));
    expect(follower.appendAsFollower(buildRecordBatch([{ value: Buffer.from('z') }], { baseOffset: 9, partitionLeaderEpoch: 0 }))).toEqual({ firstOffset: 9, lastOffset: 9 });
    expect(follower.logEndOffset).toBe(10);
    expect(records(follower).map(([o, v]) => [o, v])).toEqual([
      [0, 'a'],
      [9, 'z'],
    ]);
  });

  it('keeps producer state, so a follower that becomes leader answers retries with their offsets', () => {
    const leader = leaderLog();
    let follower = open();
    follower.appendAsFollower(fetchAsFollower(leader, 0));
    expect(append(follower, ['d', 'e', 'f'], 4, { id: 7, epoch: 0, seq: 1 })).toMatchObject({ baseOffset: 3, lastOffset: 5, duplicate: true });
    expect(() => append(follower, ['x'], 4, { id: 7, epoch: 0, seq: 9 })).toThrow(/expected 4/);
    // From the log alone too (no snapshot).
    shut(follower);
    rmSync(join(logs.dir, 'producer-state.json'));
    follower = open(logs.dir, {}, false);
    expect(append(follower, ['c'], 4, { id: 7, epoch: 0, seq: 0 })).toMatchObject({ baseOffset: 2, duplicate: true });
    expect(append(follower, ['h'], 4, { id: 7, epoch: 0, seq: 4 })).toMatchObject({ baseOffset: 7, duplicate: false });
    expect(follower.latestEpoch).toBe(4);
  });

  it('rolls segments as appends do and reads across them after a reopen', () => {
    const leader = open(logs.leaderDir);
    for (let i = 0; i < 30; i++) append(leader, [`v${i}-${'r'.repeat(60)}`], 1 + Math.floor(i / 10));
    let follower = open(logs.dir, { segmentBytes: 500 });
    // In several fetches, as a fetcher would send them.
    for (let next = 0; next < leader.logEndOffset; ) {
      const read = leader.read(next, 700, leader.logEndOffset);
      const result = follower.appendAsFollower((read as { records: Buffer }).records);
      next = result!.lastOffset + 1;
    }
    expect(follower.segmentCount).toBeGreaterThan(3);
    follower = reopen(follower, { segmentBytes: 500 });
    expect(records(follower)).toEqual(records(leader));
    expect(follower.epochEntries).toEqual(leader.epochEntries);
  });
});

describe('truncation', () => {
  /** 10 batches of 2 records (offsets 0..19); epochs 1 (0..7), 2 (8..13), 3 (14..19). */
  function filled(overrides: Partial<LogConfig> = {}, autoCommit = true): PartitionLog {
    const log = open(logs.dir, overrides);
    log.autoCommit = autoCommit;
    for (let i = 0; i < 10; i++) append(log, [`r${2 * i}`, `r${2 * i + 1}`], i < 4 ? 1 : i < 7 ? 2 : 3);
    return log;
  }

  it('cuts at a batch boundary inside a segment, then takes appends at the new end', () => {
    let log = filled();
    log.truncateTo(10);
    expect(log.logEndOffset).toBe(10);
    expect(log.highWatermark).toBe(10);
    expect(records(log).map(([o]) => o)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(log.epochEntries).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 2, startOffset: 8 },
    ]);
    expect(log.read(11, 1000)).toEqual({ outOfRange: true });
    expect(append(log, ['new'], 5)).toMatchObject({ baseOffset: 10 });
    expect(log.endOffsetForEpoch(2)).toEqual({ epoch: 2, endOffset: 10 });
    expect(log.endOffsetForEpoch(3)).toEqual({ epoch: 2, endOffset: 10 });
    log = reopen(log, {}, false);
    expect(log.logEndOffset).toBe(11);
    expect(records(log, 9)).toEqual([
      [9, 'r9', 2],
      [10, 'new', 5],
    ]);
    expect(log.epochEntries.map((e) => e.epoch)).toEqual([1, 2, 5]);
  });

  it('removes the whole batch that holds the offset', () => {
    const log = filled();
    log.truncateTo(17);
    expect(log.logEndOffset).toBe(16);
    expect(log.epochEntries.map((e) => e.epoch)).toEqual([1, 2, 3]);
    // The batch 14..15 opened epoch 3: with it goes the epoch.
    log.truncateTo(15);
    expect(log.logEndOffset).toBe(14);
    expect(log.epochEntries.map((e) => e.epoch)).toEqual([1, 2]);
    log.truncateTo(14);
    expect(log.logEndOffset).toBe(14);
    log.truncateTo(20);
    expect(log.logEndOffset).toBe(14);
  });

  it('deletes later segments and cuts at a segment boundary, rebuilding the indexes', () => {
    let log = open(logs.dir, { segmentBytes: 500 });
    for (let i = 0; i < 40; i++) append(log, [`v${i}-${'s'.repeat(50)}`], i < 20 ? 1 : 2);
    const segments = readdirSync(logs.dir).filter((f) => f.endsWith('.log')).sort();
    expect(segments.length).toBeGreaterThan(4);
    const boundary = Number(segments[2]!.slice(0, 20));
    log.truncateTo(boundary);
    expect(log.logEndOffset).toBe(boundary);
    expect(readdirSync(logs.dir).filter((f) => f.endsWith('.log')).sort()).toEqual(segments.slice(0, 3));
    expect(records(log).map(([o]) => o)).toEqual(Array.from({ length: boundary }, (_, i) => i));
    const after = append(log, ['again'], 3);
    expect(after.baseOffset).toBe(boundary);
    for (let i = 0; i < 20; i++) append(log, [`w${i}-${'t'.repeat(50)}`], 3);
    expect(log.segmentCount).toBeGreaterThan(3);
    // Reads through the rebuilt index of the cut segment, and the same after a clean reopen.
    const before = records(log);
    expect(records(log, boundary - 1)[1]).toEqual([boundary, 'again', 3]);
    log = reopen(log, { segmentBytes: 500 });
    expect(records(log)).toEqual(before);
    expect(log.epochEntries).toEqual([
      { epoch: 1, startOffset: 0 },
      ...(boundary > 20 ? [{ epoch: 2, startOffset: 20 }] : []),
      { epoch: 3, startOffset: boundary },
    ]);
  });

  it('cuts inside a segment that was sealed, which takes appends again', () => {
    let log = open(logs.dir, { segmentBytes: 500 });
    for (let i = 0; i < 20; i++) append(log, [`v${i}-${'s'.repeat(50)}`], 1);
    const first = log.read(0, 1 << 20, log.logEndOffset);
    const inFirstSegment = endOf((first as { records: Buffer }).records);
    log.truncateTo(inFirstSegment - 1);
    expect(log.segmentCount).toBe(1);
    expect(log.logEndOffset).toBe(inFirstSegment - 1);
    append(log, ['tail'], 2);
    log = reopen(log, { segmentBytes: 500 }, false);
    expect(records(log).at(-1)).toEqual([inFirstSegment - 1, 'tail', 2]);
    log = reopen(log, { segmentBytes: 500 });
    expect(records(log).at(-1)).toEqual([inFirstSegment - 1, 'tail', 2]);
  });

  it('lowers the high watermark to the new end and never raises it', () => {
    let log = filled({}, false);
    log.setHighWatermark(16);
    log.truncateTo(18);
    expect(log.highWatermark).toBe(16);
    log.truncateTo(12);
    expect(log.highWatermark).toBe(12);
    expect(readFileSync(join(logs.dir, 'high-watermark'), 'utf8')).toBe('12');
    log = reopen(log);
    expect(log.highWatermark).toBe(12);
  });

  it('rebuilds producer state: a retry of a truncated batch is appended anew, an earlier one is still a duplicate', () => {
    const log = open();
    append(log, ['a'], 1, { id: 9, epoch: 0, seq: 0 });
    append(log, ['b'], 1, { id: 9, epoch: 0, seq: 1 });
    const reopened = reopen(log);
    append(reopened, ['c'], 2, { id: 9, epoch: 0, seq: 2 });
    // The snapshot from the close is at offset 2, at or below the new end: it is used.
    reopened.truncateTo(2);
    expect(append(reopened, ['c'], 3, { id: 9, epoch: 0, seq: 2 })).toMatchObject({ baseOffset: 2, duplicate: false });
    // The snapshot is past the new end: replayed from the log start.
    reopened.truncateTo(1);
    expect(append(reopened, ['b'], 3, { id: 9, epoch: 0, seq: 1 })).toMatchObject({ baseOffset: 1, duplicate: false });
    expect(append(reopened, ['a'], 3, { id: 9, epoch: 0, seq: 0 })).toMatchObject({ baseOffset: 0, duplicate: true });
    // The snapshot written at the truncation cannot bring back state from the divergent log.
    const again = reopen(reopened, {}, false);
    expect(append(again, ['b'], 3, { id: 9, epoch: 0, seq: 1 })).toMatchObject({ baseOffset: 1, duplicate: true });
    expect(append(again, ['c'], 3, { id: 9, epoch: 0, seq: 2 })).toMatchObject({ baseOffset: 2, duplicate: false });
  });

  it('empties the log and starts it at an offset (truncateFullyAndStartAt), also across a reopen', () => {
    let log = filled({ segmentBytes: 200 });
    log.truncateFullyAndStartAt(100);
    expect(log.logStartOffset).toBe(100);
    expect(log.logEndOffset).toBe(100);
    expect(log.highWatermark).toBe(100);
    expect(log.latestEpoch).toBe(-1);
    expect(log.epochEntries).toEqual([]);
    expect(log.segmentCount).toBe(1);
    expect(log.read(0, 1000)).toEqual({ outOfRange: true });
    expect(log.read(100, 1000)).toEqual({ outOfRange: false, records: null });
    expect(readdirSync(logs.dir).filter((f) => f.endsWith('.log'))).toEqual(['00000000000000000100.log']);
    expect(log.appendAsFollower(buildRecordBatch([{ value: Buffer.from('x') }, { value: Buffer.from('y') }], { baseOffset: 100, partitionLeaderEpoch: 6 }))).toEqual({ firstOffset: 100, lastOffset: 101 });
    expect(log.epochEntries).toEqual([{ epoch: 6, startOffset: 100 }]);
    log = reopen(log, { segmentBytes: 200 }, false);
    expect(log.logStartOffset).toBe(100);
    expect(records(log)).toEqual([
      [100, 'x', 6],
      [101, 'y', 6],
    ]);
    expect(log.epochEntries).toEqual([{ epoch: 6, startOffset: 100 }]);
    // Truncating below the log start empties the log the same way.
    log.truncateTo(50);
    expect(log.logStartOffset).toBe(50);
    expect(log.logEndOffset).toBe(50);
    expect(log.latestEpoch).toBe(-1);
    log = reopen(log);
    expect(log.logStartOffset).toBe(50);
    expect(log.logEndOffset).toBe(50);
  });
});

/** A small seeded generator (mulberry32), so that a failing sequence can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('random sequences of appends, follower appends, truncations and reopens', () => {
  it('keep the log end, the epoch cache and what reads return equal to a model', () => {
    for (let seed = 1; seed <= 12; seed++) {
      const next = random(seed);
      const pick = (n: number) => Math.floor(next() * n);
      const overrides = { segmentBytes: 300 + pick(400), indexIntervalBytes: 64 };
      let log = open(join(logs.dir, `model-${seed}`), overrides, false);
      // The model: every record as [offset, value, epoch], and the last offset of its batch.
      let model: Array<[number, string, number]> = [];
      let batchLast: number[] = [];
      let epoch = 0;
      const steps: string[] = [];
      try {
        for (let step = 0; step < 60; step++) {
          const end = model.length === 0 ? log.logStartOffset : model[model.length - 1]![0] + 1;
          const op = pick(10);
          if (next() < 0.2) epoch += 1 + pick(2);
          const values = Array.from({ length: 1 + pick(3) }, (_, i) => `s${seed}-${step}-${i}`);
          if (op < 4) {
            steps.push(`append ${values.length} @${epoch}`);
            append(log, values, epoch);
            values.forEach((v, i) => {
              model.push([end + i, v, epoch]);
              batchLast.push(end + values.length - 1);
            });
          } else if (op < 7) {
            steps.push(`follower ${values.length} @${epoch}`);
            log.appendAsFollower(buildRecordBatch(values.map((v) => ({ value: Buffer.from(v) })), { baseOffset: end, partitionLeaderEpoch: epoch }));
            values.forEach((v, i) => {
              model.push([end + i, v, epoch]);
              batchLast.push(end + values.length - 1);
            });
          } else if (op < 9) {
            const to = log.logStartOffset + pick(end - log.logStartOffset + 2);
            steps.push(`truncateTo ${to}`);
            log.truncateTo(to);
            // Whole batches go: every record of a batch that reaches `to`.
            const keep = batchLast.map((last) => last < to);
            model = model.filter((_, i) => keep[i]);
            batchLast = batchLast.filter((_, i) => keep[i]);
          } else {
            const clean = next() < 0.5;
            steps.push(`reopen ${clean ? 'clean' : 'crash'}`);
            log = reopen(log, overrides, clean);
          }
          const expectedEnd = model.length === 0 ? log.logStartOffset : model[model.length - 1]![0] + 1;
          const context = `seed ${seed}: ${steps.join(', ')}`;
          expect(log.logEndOffset, context).toBe(expectedEnd);
          expect(log.highWatermark, context).toBe(expectedEnd);
          expect(records(log), context).toEqual(model);
          const entries = modelEpochs(model);
          expect(log.epochEntries, context).toEqual(entries);
          for (let e = -1; e <= epoch + 1; e++) expect(log.endOffsetForEpoch(e), `${context}; epoch ${e}`).toEqual(modelEndOffset(entries, e, expectedEnd));
        }
      } finally {
        shut(log);
      }
    }
  });
});

function modelEpochs(model: Array<[number, string, number]>): Array<{ epoch: number; startOffset: number }> {
  const entries: Array<{ epoch: number; startOffset: number }> = [];
  for (const [offset, , epoch] of model) if (epoch > (entries.at(-1)?.epoch ?? -1)) entries.push({ epoch, startOffset: offset });
  return entries;
}

function modelEndOffset(entries: Array<{ epoch: number; startOffset: number }>, epoch: number, logEnd: number): { epoch: number; endOffset: number } {
  if (epoch < 0) return { epoch: -1, endOffset: -1 };
  const floor = entries.filter((e) => e.epoch <= epoch).at(-1);
  // Below the first epoch (or with none), the asked epoch ends where the first starts (or at the log end).
  if (!floor) return { epoch, endOffset: entries[0]?.startOffset ?? logEnd };
  const after = entries.find((e) => e.epoch > floor.epoch);
  return { epoch: floor.epoch, endOffset: after ? after.startOffset : logEnd };
}
