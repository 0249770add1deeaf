// PartitionLog on real files: appends, reads of whole batches, rolls, indexes that survive a
// restart or get rebuilt, timestamp lookups and retention.
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildRecordBatch } from '../records/batch-builder.js';
import { decodeRecords, readBatchInfo, validateClientBatches, LOG_OVERHEAD } from '../records/record-batch.js';
import { testLogConfig as config } from '../test/log-config.js';
import { usePartitionLogs } from '../test/partition-logs.js';
import type { PartitionLog } from './partition-log.js';


const logs = usePartitionLogs('samsa-log-');
const { open, shut, reopen } = logs;

function append(log: PartitionLog, values: string[], timestamp = Date.now()) {
  const records = buildRecordBatch(values.map((v, i) => ({ value: Buffer.from(v), timestamp: timestamp + i })));
  return log.append(records, validateClientBatches(records, { maxMessageBytes: 1 << 20 }), 0);
}

/** Every record value from `offset` to the end, read the way a consumer would. */
function readAll(log: PartitionLog, offset: number, maxBytes = 1 << 20): Array<[number, string | null]> {
  const out: Array<[number, string | null]> = [];
  let next = offset;
  for (;;) {
    const result = log.read(next, maxBytes);
    if (result.outOfRange) throw new Error(`offset ${next} out of range`);
    if (!result.records || result.records.length === 0) return out;
    let pos = 0;
    while (pos < result.records.length) {
      const size = result.records.readInt32BE(pos + 8) + LOG_OVERHEAD;
      for (const r of decodeRecords(result.records.subarray(pos, pos + size))) if (r.offset >= offset) out.push([r.offset, r.value === null ? null : r.value.toString()]);
      next = readBatchInfo(result.records, pos).baseOffset + readBatchInfo(result.records, pos).lastOffsetDelta + 1;
      pos += size;
    }
  }
}

describe('PartitionLog', () => {
  it('assigns consecutive offsets and reads from any offset, inside batches too', () => {
    const log = open(logs.dir, {}, false);
    expect(append(log, ['a', 'b', 'c'])).toMatchObject({ baseOffset: 0, lastOffset: 2 });
    expect(append(log, ['d'])).toMatchObject({ baseOffset: 3, lastOffset: 3 });
    expect(log.logEndOffset).toBe(4);
    expect(readAll(log, 0).map(([, v]) => v)).toEqual(['a', 'b', 'c', 'd']);
    expect(readAll(log, 1)).toEqual([
      [1, 'b'],
      [2, 'c'],
      [3, 'd'],
    ]);
    expect(log.read(4, 1000)).toEqual({ outOfRange: false, records: null });
    expect(log.read(5, 1000)).toEqual({ outOfRange: true });
    shut(log);
  });

  it('returns whole batches only, and at least one even past maxBytes', () => {
    const log = open(logs.dir, {}, false);
    append(log, ['x'.repeat(500)]);
    append(log, ['y'.repeat(500)]);
    const small = log.read(0, 10);
    expect(small.outOfRange === false && small.records!.length).toBeGreaterThan(500);
    const oneAndAHalf = log.read(0, 800);
    expect(oneAndAHalf.outOfRange === false && decodeRecords(oneAndAHalf.records!).map((r) => r.offset)).toEqual([0]);
    shut(log);
  });

  it('rolls segments by size and reads across them, before and after a restart', () => {
    let log = open(logs.dir, { segmentBytes: 1000 }, false);
    for (let i = 0; i < 50; i++) append(log, [`value-${i}-${'z'.repeat(60)}`]);
    expect(log.segmentCount).toBeGreaterThan(3);
    const before = readAll(log, 0);
    expect(before).toHaveLength(50);
    shut(log);

    log = open(logs.dir, { segmentBytes: 1000 }, true);
    expect(log.logEndOffset).toBe(50);
    expect(readAll(log, 0)).toEqual(before);
    expect(readAll(log, 37)[0]).toEqual([37, `value-37-${'z'.repeat(60)}`]);
    append(log, ['after']);
    expect(readAll(log, 50)).toEqual([[50, 'after']]);
    shut(log);
  });

  it('rebuilds an index that is corrupt or missing', () => {
    let log = open(logs.dir, { segmentBytes: 2000 }, false);
    for (let i = 0; i < 40; i++) append(log, [`v${i}-${'w'.repeat(80)}`]);
    shut(log);
    const indexes = readdirSync(logs.dir).filter((f) => f.endsWith('.index'));
    writeFileSync(join(logs.dir, indexes[0]!), Buffer.from([1, 2, 3]));
    rmSync(join(logs.dir, indexes[1]!));
    log = open(logs.dir, { segmentBytes: 2000 }, true);
    expect(readAll(log, 0).map(([o]) => o)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(readAll(log, 25)[0]![0]).toBe(25);
    shut(log);
  });

  it('finds offsets by timestamp across segments', () => {
    const log = open(logs.dir, { segmentBytes: 600 }, false);
    for (let i = 0; i < 30; i++) append(log, [`t${i}`, `u${i}`], 10_000 + i * 100);
    expect(log.offsetForTimestamp(0)).toEqual({ offset: 0, timestamp: 10_000 });
    expect(log.offsetForTimestamp(10_001)).toEqual({ offset: 1, timestamp: 10_001 });
    expect(log.offsetForTimestamp(11_050)).toEqual({ offset: 22, timestamp: 11_100 });
    expect(log.offsetForTimestamp(12_901)).toEqual({ offset: 59, timestamp: 12_901 });
    expect(log.offsetForTimestamp(12_902)).toBeNull();
    expect(log.maxTimestampRecord()).toEqual({ offset: 59, timestamp: 12_901 });
    shut(log);
  });

  it('rolls by segment age', () => {
    const log = open(logs.dir, { segmentMs: 1000 }, false);
    const records = buildRecordBatch([{ value: Buffer.from('a') }]);
    log.append(records, validateClientBatches(records, { maxMessageBytes: 1 << 20 }), 0, 5_000);
    const again = buildRecordBatch([{ value: Buffer.from('b') }]);
    log.append(again, validateClientBatches(again, { maxMessageBytes: 1 << 20 }), 0, 6_500);
    expect(log.segmentCount).toBe(2);
    shut(log);
  });

  it('applies time and size retention, never losing the newest data', () => {
    const log = open(logs.dir, { segmentBytes: 500 }, false);
    for (let i = 0; i < 20; i++) append(log, [`old-${i}-${'o'.repeat(50)}`], 1_000);
    for (let i = 0; i < 20; i++) append(log, [`new-${i}-${'n'.repeat(50)}`], 1_000_000);
    log.config = config({ segmentBytes: 500, retentionMs: 10_000 });
    expect(log.applyRetention(1_005_000)).toBeGreaterThan(0);
    expect(log.logStartOffset).toBeGreaterThan(0);
    expect(log.logStartOffset).toBeLessThanOrEqual(20);
    expect(log.read(0, 100)).toEqual({ outOfRange: true });
    expect(readAll(log, 20).map(([o]) => o)).toEqual(Array.from({ length: 20 }, (_, i) => 20 + i));

    log.config = config({ segmentBytes: 500, retentionBytes: 600 });
    log.applyRetention(1_005_000);
    expect(log.size).toBeLessThanOrEqual(600 + 500);
    expect(readAll(log, log.logStartOffset).at(-1)![0]).toBe(39);
    shut(log);

    const reopened = open(logs.dir, {}, true);
    expect(reopened.logStartOffset).toBe(log.logStartOffset);
    shut(reopened);
  });

  it('expires even the active segment, starting an empty one at the same end offset', () => {
    const log = open(logs.dir, { retentionMs: 1000 }, false);
    append(log, ['a', 'b'], 1_000);
    expect(log.applyRetention(100_000)).toBe(1);
    expect(log.logStartOffset).toBe(2);
    expect(log.logEndOffset).toBe(2);
    expect(append(log, ['c'])).toMatchObject({ baseOffset: 2 });
    shut(log);
  });

  it('moves the log start up for DeleteRecords: reads below it out of range, segments wholly below deleted, across a reopen', () => {
    let log = open(logs.dir, { segmentBytes: 500 }, false);
    for (let i = 0; i < 30; i++) append(log, [`r${i}-${'d'.repeat(50)}`]);
    const segments = log.segmentCount;
    expect(segments).toBeGreaterThan(3);
    expect(log.advanceLogStart(17)).toBe(true);
    expect(log.logStartOffset).toBe(17);
    expect(log.epochEntries).toEqual([{ epoch: 0, startOffset: 17 }]);
    expect(log.read(16, 1000)).toEqual({ outOfRange: true });
    expect(readAll(log, 17).map(([o]) => o)).toEqual(Array.from({ length: 13 }, (_, i) => 17 + i));
    // Only the segment holding 17 and the later ones are left on disk.
    const bases = readdirSync(logs.dir).filter((f) => f.endsWith('.log')).map((f) => Number(f.slice(0, 20)));
    expect(Math.min(...bases)).toBeLessThanOrEqual(17);
    expect(bases.filter((b) => b <= 17)).toHaveLength(1);
    expect(log.segmentCount).toBe(bases.length);
    expect(log.segmentCount).toBeLessThan(segments);
    // A lower offset is no change.
    expect(log.advanceLogStart(5)).toBe(false);
    expect(log.logStartOffset).toBe(17);
    shut(log);

    // The checkpoint keeps it, though the segment holding 17 starts below it.
    log = open(logs.dir, { segmentBytes: 500 }, true);
    expect(log.logStartOffset).toBe(17);
    expect(log.read(16, 1000)).toEqual({ outOfRange: true });
    expect(readAll(log, 17)[0]![0]).toBe(17);
    shut(log);
  });

  it('refuses a log start past the high watermark with OFFSET_OUT_OF_RANGE and changes nothing', () => {
    const log = open(logs.dir, {}, false);
    append(log, ['a', 'b', 'c']);
    log.autoCommit = false;
    append(log, ['d']);
    expect(log.highWatermark).toBe(3);
    expect(() => log.advanceLogStart(4)).toThrow(expect.objectContaining({ code: 1, message: expect.stringMatching(/past the high watermark 3/) }));
    expect(log.logStartOffset).toBe(0);
    expect(readAll(log, 0).map(([, v]) => v)).toEqual(['a', 'b', 'c']);
    // Up to the high watermark itself: every committed record goes, the active segment is rolled away.
    expect(log.advanceLogStart(3)).toBe(true);
    expect(log.read(2, 1000)).toEqual({ outOfRange: true });
    expect(log.read(3, 1000, log.logEndOffset)).toMatchObject({ outOfRange: false });
    shut(log);
  });

  it('deletes the active segment too when every record is below the new log start, and appends go on at the end', () => {
    const log = open(logs.dir, {}, false);
    append(log, ['a', 'b']);
    expect(log.advanceLogStart(2)).toBe(true);
    expect(log.segmentCount).toBe(1);
    expect(log.size).toBe(0);
    expect(readdirSync(logs.dir).filter((f) => f.endsWith('.log'))).toEqual(['00000000000000000002.log']);
    expect(append(log, ['c'])).toMatchObject({ baseOffset: 2 });
    expect(readAll(log, 2)).toEqual([[2, 'c']]);
    shut(log);
  });

  it('keeps producer state when the log start moves, also after a crash whose last snapshot was below it', () => {
    let log = open(logs.dir, { segmentBytes: 300 }, false);
    const batch = (seq: number) => buildRecordBatch([{ value: Buffer.from(`p${seq}-${'x'.repeat(60)}`) }], { producerId: 7, producerEpoch: 0, baseSequence: seq });
    const send = (records: Buffer) => log.append(records, validateClientBatches(records, { maxMessageBytes: 1 << 20 }), 0);
    for (let seq = 0; seq < 10; seq++) send(batch(seq));
    log.advanceLogStart(10);
    // A crash (no close): the next open reads the snapshot DeleteRecords left at the log end.
    log = reopen(log, { segmentBytes: 300 }, false);
    expect(log.logStartOffset).toBe(10);
    expect(() => send(batch(12))).toThrow(/expected 10/);
    expect(send(batch(10))).toMatchObject({ baseOffset: 10, duplicate: false });
    shut(log);
  });

  it('deletes at the next retention pass the segments a crash left below the log start', () => {
    let log = open(logs.dir, { segmentBytes: 500 }, false);
    for (let i = 0; i < 30; i++) append(log, [`r${i}-${'d'.repeat(50)}`]);
    const segments = log.segmentCount;
    shut(log);
    // As if the checkpoint was written and the process died before the segments went.
    writeFileSync(join(logs.dir, 'log-start-offset'), '20');
    log = open(logs.dir, { segmentBytes: 500, delete: false, compact: true }, true);
    expect(log.logStartOffset).toBe(20);
    expect(log.segmentCount).toBe(segments);
    expect(log.applyRetention()).toBeGreaterThan(0);
    expect(log.segmentCount).toBeLessThan(segments);
    expect(readAll(log, 20)[0]![0]).toBe(20);
    shut(log);
  });

  it('answers a retried idempotent batch with its original offsets, and refuses gaps and old epochs', () => {
    let log = open(logs.dir, {}, false);
    const batch = (seq: number, epoch = 0, values = ['v']) =>
      buildRecordBatch(values.map((v) => ({ value: Buffer.from(v) })), { producerId: 42, producerEpoch: epoch, baseSequence: seq });
    const send = (records: Buffer) => log.append(records, validateClientBatches(records, { maxMessageBytes: 1 << 20 }), 0);
    expect(send(batch(0, 0, ['a', 'b']))).toMatchObject({ baseOffset: 0, lastOffset: 1, duplicate: false });
    expect(send(batch(2))).toMatchObject({ baseOffset: 2, duplicate: false });
    expect(send(batch(0, 0, ['a', 'b']))).toMatchObject({ baseOffset: 0, lastOffset: 1, duplicate: true });
    expect(log.logEndOffset).toBe(3);
    expect(() => send(batch(5))).toThrow(/expected 3/);
    shut(log);

    // The state survives a restart: from the snapshot after a clean close...
    log = open(logs.dir, {}, true);
    expect(send(batch(2))).toMatchObject({ baseOffset: 2, duplicate: true });
    expect(send(batch(3))).toMatchObject({ baseOffset: 3, duplicate: false });
    // ...and by replaying the log when there is no snapshot (a crash before any roll).
    rmSync(join(logs.dir, 'producer-state.json'));
    log = reopen(log, {}, false);
    expect(send(batch(3))).toMatchObject({ baseOffset: 3, duplicate: true });
    expect(() => send(batch(0, 1).subarray(0))).not.toThrow();
    expect(() => send(batch(1, 0))).toThrow(/epoch 0 is older/);
    expect(() => send(batch(7, 2))).toThrow(/not 0/);
    shut(log);
  });

  it('compacts sealed segments to the latest value per key, keeping offsets, fresh tombstones and the active segment', () => {
    const log = open(logs.dir, { segmentBytes: 400, compact: true, delete: false, deleteRetentionMs: 60_000 }, false);
    const put = (key: string, value: string | null, timestamp = Date.now()) => {
      const records = buildRecordBatch([{ key: Buffer.from(key), value: value === null ? null : Buffer.from(value), timestamp }]);
      return log.append(records, validateClientBatches(records, { maxMessageBytes: 1 << 20 }), 0).baseOffset;
    };
    for (let round = 0; round < 10; round++) for (const key of ['a', 'b', 'c', 'd']) put(key, `${key}${round}`);
    put('b', null, 1_000); // a tombstone older than delete.retention.ms
    put('d', null); // a fresh tombstone
    put('c', 'c-last');
    log.roll();
    put('a', 'in-active-segment');
    const end = log.logEndOffset;
    const result = log.compact(Date.now());
    expect(result!.recordsRemoved).toBe(40);
    expect(readAll(log, 0)).toEqual([
      [36, 'a9'],
      [41, null],
      [42, 'c-last'],
      [43, 'in-active-segment'],
    ]);
    expect(log.logEndOffset).toBe(end);
    // Nothing new to clean: not due again.
    expect(log.compact(Date.now())).toBeNull();
    shut(log);
  });
});
