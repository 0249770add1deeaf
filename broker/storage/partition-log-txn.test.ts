// Transactions in a PartitionLog, on real files: open transactions hold the last stable offset,
// COMMIT/ABORT markers end them, aborted transactions are indexed per segment and survive rolls,
// retention, truncation and restarts (clean or not), and a follower rebuilds the same state
// from the leader's batches.
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { buildRecordBatch } from '../records/batch-builder.js';
import { decodeRecords, readBatchInfo, readControlMarker, validateClientBatches } from '../records/record-batch.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { usePartitionLogs } from '../test/partition-logs.js';
import type { PartitionLog } from './partition-log.js';

const logs = usePartitionLogs('samsa-txn-');
const { open, shut, reopen } = logs;

/** Sequence numbers per producer id, as a client keeps them. */
const sequences = new Map<number, number>();
beforeEach(() => sequences.clear());

/** Appends `values` as one batch of producer `pid` (transactional unless told otherwise). */
function produce(log: PartitionLog, pid: number, values: string[], options: { epoch?: number; transactional?: boolean } = {}) {
  const seq = sequences.get(pid) ?? 0;
  const records = buildRecordBatch(
    values.map((v) => ({ value: Buffer.from(v) })),
    { producerId: pid, producerEpoch: options.epoch ?? 0, baseSequence: seq, transactional: options.transactional ?? true },
  );
  const result = log.append(records, validateClientBatches(records, { maxMessageBytes: 1 << 20 }), 0);
  sequences.set(pid, seq + values.length);
  return result;
}

function plain(log: PartitionLog, values: string[]) {
  const records = buildRecordBatch(values.map((v) => ({ value: Buffer.from(v) })));
  return log.append(records, validateClientBatches(records, { maxMessageBytes: 1 << 20 }), 0);
}

const commit = (log: PartitionLog, pid: number, epoch = 0, coordinatorEpoch = 0) => log.appendTxnMarker({ producerId: pid, producerEpoch: epoch, commit: true, coordinatorEpoch }, 0);
const abort = (log: PartitionLog, pid: number, epoch = 0, coordinatorEpoch = 0) => log.appendTxnMarker({ producerId: pid, producerEpoch: epoch, commit: false, coordinatorEpoch }, 0);

/** Every batch a reader gets from `offset` up to `maxOffset`, in order. */
function batches(log: PartitionLog, offset: number, maxOffset: number): Buffer[] {
  const out: Buffer[] = [];
  let next = offset;
  for (;;) {
    const read = log.read(next, 1 << 20, maxOffset);
    if (read.outOfRange) throw new Error(`offset ${next} out of range`);
    if (!read.records) return out;
    for (let pos = 0; pos < read.records.length; ) {
      const size = readBatchInfo(read.records, pos).size;
      out.push(read.records.subarray(pos, pos + size));
      pos += size;
    }
    next = read.nextOffset;
  }
}

/** Offsets of the data records a reader gets from `offset` up to `maxOffset` (control batches left out). */
function offsets(log: PartitionLog, offset: number, maxOffset: number): number[] {
  return batches(log, offset, maxOffset)
    .filter((b) => !readBatchInfo(b, 0).control)
    .flatMap((b) => decodeRecords(b).map((r) => r.offset));
}

/**
 * What a read_committed consumer keeps, as Kafka's clients filter: records below the LSO; a
 * producer listed as aborted from its first offset on has its records skipped until its ABORT marker.
 */
function committedOffsets(log: PartitionLog, from = log.logStartOffset): number[] {
  const lso = log.lastStableOffset;
  const pending = [...log.abortedTransactions(from, lso)].sort((a, b) => a.firstOffset - b.firstOffset);
  const skipping = new Set<number>();
  const out: number[] = [];
  for (const batch of batches(log, from, lso)) {
    const info = readBatchInfo(batch, 0);
    while (pending.length > 0 && pending[0]!.firstOffset <= info.baseOffset + info.lastOffsetDelta) skipping.add(pending.shift()!.producerId);
    if (info.control) {
      if (readControlMarker(batch)?.commit === false) skipping.delete(info.producerId);
      continue;
    }
    if (info.transactional && skipping.has(info.producerId)) continue;
    for (const r of decodeRecords(batch)) if (r.offset >= from) out.push(r.offset);
  }
  return out;
}

function expectKafkaError(fn: () => unknown, code: number): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(KafkaError);
    expect((err as KafkaError).code).toBe(code);
    return;
  }
  throw new Error('expected a KafkaError');
}

describe('last stable offset', () => {
  it('an open transaction holds it at its first offset; a COMMIT marker releases it', () => {
    const log = open();
    plain(log, ['a']); // 0
    produce(log, 7, ['t1', 't2']); // 1-2
    plain(log, ['b']); // 3
    expect(log.highWatermark).toBe(4);
    expect(log.lastStableOffset).toBe(1);
    expect(log.openTransactions).toBe(1);
    expect(offsets(log, 0, log.lastStableOffset)).toEqual([0]);
    // Waiting read_committed fetches listen for the HW, which the marker moves along with the LSO.
    let woken = 0;
    log.appendListeners.add(() => woken++);
    const marker = commit(log, 7);
    expect(woken).toBe(1);
    expect(marker).toMatchObject({ baseOffset: 4, lastOffset: 4, duplicate: false });
    expect(log.lastStableOffset).toBe(5);
    expect(log.openTransactions).toBe(0);
    expect(log.abortedTransactions(0, 5)).toEqual([]);
    expect(offsets(log, 0, log.lastStableOffset)).toEqual([0, 1, 2, 3]);
  });

  it('is the earliest open transaction of several, and the HW when none is open', () => {
    const log = open();
    produce(log, 1, ['a']); // 0
    produce(log, 2, ['b']); // 1
    produce(log, 1, ['c']); // 2
    expect(log.lastStableOffset).toBe(0);
    commit(log, 1); // 3
    expect(log.lastStableOffset).toBe(1);
    abort(log, 2); // 4
    expect(log.lastStableOffset).toBe(5);
  });

  it('with the HW apart from the log end, waits until the HW passes the marker', () => {
    const log = open();
    log.autoCommit = false;
    produce(log, 3, ['a', 'b']); // 0-1
    log.setHighWatermark(2);
    expect(log.lastStableOffset).toBe(0);
    commit(log, 3); // 2
    // The marker is not committed yet: a new leader might not have it.
    expect(log.lastStableOffset).toBe(0);
    let woken = 0;
    log.appendListeners.add(() => woken++);
    log.setHighWatermark(3);
    expect(woken).toBe(1);
    expect(log.lastStableOffset).toBe(3);
  });
});

describe('DeleteRecords past an open transaction', () => {
  it('keeps the last stable offset at the new log start (as Kafka), and the transaction still ends by its marker', () => {
    const log = open();
    plain(log, ['a', 'b']);
    produce(log, 7, ['t1', 't2']);
    plain(log, ['c']);
    expect(log.lastStableOffset).toBe(2);
    expect(log.advanceLogStart(3)).toBe(true);
    // Below the log start no offset is readable: read_committed consumers begin at the log start.
    expect(log.lastStableOffset).toBe(3);
    commit(log, 7);
    expect(log.lastStableOffset).toBe(log.highWatermark);
    expect(committedOffsets(log)).toEqual([3, 4]);
    // A restart (no close) finds the open transaction's end in the snapshot DeleteRecords wrote and the marker after it.
    const again = reopen(log, {}, false);
    expect(again.logStartOffset).toBe(3);
    expect(again.openTransactions).toBe(0);
    expect(again.lastStableOffset).toBe(again.highWatermark);
  });
});

describe('markers', () => {
  it('are control batches carrying the producer, its epoch and the coordinator epoch', () => {
    const log = open();
    produce(log, 9, ['x'], { epoch: 4 });
    abort(log, 9, 4, 11);
    const read = log.read(1, 1 << 20, log.logEndOffset);
    if (read.outOfRange || !read.records) throw new Error('no marker');
    const info = readBatchInfo(read.records, 0);
    expect(info).toMatchObject({ control: true, transactional: true, producerId: 9, producerEpoch: 4, baseSequence: -1, baseOffset: 1, recordCount: 1 });
    expect(readControlMarker(read.records)).toEqual({ commit: false, coordinatorEpoch: 11 });
  });

  it('a marker with no open transaction is still written and ends nothing', () => {
    const log = open();
    expect(commit(log, 5).baseOffset).toBe(0);
    expect(abort(log, 6).baseOffset).toBe(1);
    expect(log.lastStableOffset).toBe(2);
    expect(log.abortedTransactions(0, 2)).toEqual([{ producerId: 6, firstOffset: 1 }]);
  });

  it('refuses a marker of an older producer epoch or coordinator epoch, writing nothing', () => {
    const log = open();
    produce(log, 4, ['a'], { epoch: 2 });
    commit(log, 4, 2, 5);
    const end = log.logEndOffset;
    expectKafkaError(() => abort(log, 4, 1, 5), ErrorCode.INVALID_PRODUCER_EPOCH);
    expectKafkaError(() => abort(log, 4, 2, 4), ErrorCode.TRANSACTION_COORDINATOR_FENCED);
    expect(log.logEndOffset).toBe(end);
  });

  it('a marker of a bumped epoch fences the producer\'s older epoch', () => {
    const log = open();
    produce(log, 4, ['a'], { epoch: 0 });
    abort(log, 4, 1);
    expectKafkaError(() => produce(log, 4, ['late'], { epoch: 0 }), ErrorCode.INVALID_PRODUCER_EPOCH);
    sequences.set(4, 0);
    expect(produce(log, 4, ['next'], { epoch: 1 }).duplicate).toBe(false);
  });

  it('refuses a non-transactional batch from a producer with an open transaction', () => {
    const log = open();
    produce(log, 8, ['a']);
    expectKafkaError(() => produce(log, 8, ['b'], { transactional: false }), ErrorCode.INVALID_TXN_STATE);
    commit(log, 8);
    expect(produce(log, 8, ['c'], { transactional: false }).duplicate).toBe(false);
  });
});

describe('aborted transactions', () => {
  it('are listed for the ranges they overlap, and read_committed drops their records', () => {
    const log = open();
    produce(log, 1, ['a1', 'a2']); // 0-1
    produce(log, 2, ['b1']); // 2
    plain(log, ['p']); // 3
    abort(log, 1); // 4
    produce(log, 2, ['b2']); // 5
    commit(log, 2); // 6
    expect(log.abortedTransactions(0, 7)).toEqual([{ producerId: 1, firstOffset: 0 }]);
    expect(log.abortedTransactions(3, 7)).toEqual([{ producerId: 1, firstOffset: 0 }]);
    expect(log.abortedTransactions(5, 7)).toEqual([]);
    expect(log.abortedTransactions(0, 1)).toEqual([{ producerId: 1, firstOffset: 0 }]);
    expect(offsets(log, 0, log.lastStableOffset)).toEqual([0, 1, 2, 3, 5]);
    expect(committedOffsets(log)).toEqual([2, 3, 5]);
  });

  it('are kept per segment across rolls and restarts, clean or not, with or without the snapshot', () => {
    let log = open(logs.dir, { segmentBytes: 400 });
    for (let i = 0; i < 12; i++) {
      produce(log, 100 + (i % 3), [`v${i}-${'x'.repeat(40)}`]);
      plain(log, [`p${i}`]);
      if (i % 3 === 2) {
        abort(log, 100 + ((i - 2) % 3));
        commit(log, 100 + ((i - 1) % 3));
        abort(log, 100 + (i % 3));
      }
    }
    produce(log, 200, ['open']);
    expect(log.segmentCount).toBeGreaterThan(3);
    expect(readdirSync(logs.dir).filter((f) => f.endsWith('.txnindex')).length).toBeGreaterThan(1);
    const aborted = log.abortedTransactions(0, log.logEndOffset);
    expect(aborted).toHaveLength(8);
    const lso = log.lastStableOffset;
    const visible = committedOffsets(log);
    const middle = Math.floor(log.logEndOffset / 2);
    const fromMiddle = log.abortedTransactions(middle, log.logEndOffset);

    for (const clean of [true, false]) {
      log = reopen(log, { segmentBytes: 400 }, clean);
      expect(log.abortedTransactions(0, log.logEndOffset)).toEqual(aborted);
      expect(log.abortedTransactions(middle, log.logEndOffset)).toEqual(fromMiddle);
      expect(log.lastStableOffset).toBe(lso);
      expect(committedOffsets(log)).toEqual(visible);
    }
    // A crash with the snapshot gone: everything is replayed from the log.
    shut(log);
    rmSync(join(logs.dir, 'producer-state.json'));
    log = open(logs.dir, { segmentBytes: 400 }, false);
    expect(log.abortedTransactions(0, log.logEndOffset)).toEqual(aborted);
    expect(log.lastStableOffset).toBe(lso);
    expect(log.openTransactions).toBe(1);
  });

  it('past the snapshot are rebuilt from the markers after a crash, an entry the crash lost too', () => {
    let log = open();
    produce(log, 1, ['a']);
    log.roll(); // the snapshot is taken here
    abort(log, 1);
    produce(log, 2, ['b']);
    const aborted = log.abortedTransactions(0, log.logEndOffset);
    expect(aborted).toEqual([{ producerId: 1, firstOffset: 0 }]);
    // The crash lost the index entry the ABORT wrote (it was never synced).
    const index = readdirSync(logs.dir).find((f) => f.endsWith('.txnindex'))!;
    shut(log, false);
    writeFileSync(join(logs.dir, index), Buffer.alloc(0));
    log = open(logs.dir, {}, false);
    expect(log.abortedTransactions(0, log.logEndOffset)).toEqual(aborted);
    expect(log.lastStableOffset).toBe(2);
  });

  it('go with their segments when retention deletes them', () => {
    const log = open(logs.dir, { segmentBytes: 300, retentionBytes: 600 });
    for (let i = 0; i < 10; i++) {
      produce(log, 1, [`a${i}-${'x'.repeat(50)}`]);
      abort(log, 1);
    }
    const before = log.abortedTransactions(0, log.logEndOffset);
    expect(before).toHaveLength(10);
    expect(log.applyRetention()).toBeGreaterThan(0);
    const start = log.logStartOffset;
    const after = log.abortedTransactions(start, log.logEndOffset);
    expect(after).toEqual(before.filter((t) => t.firstOffset + 1 >= start));
    const bases = (suffix: string) => readdirSync(logs.dir).filter((f) => f.endsWith(suffix)).map((f) => f.slice(0, 20));
    expect(bases('.txnindex').length).toBeGreaterThan(0);
    for (const base of bases('.txnindex')) expect(bases('.log')).toContain(base);
  });
});

describe('retention', () => {
  it('keeps the LSO at the log start when it removed the start of an open transaction', () => {
    const log = open(logs.dir, { segmentBytes: 300, retentionBytes: 300 });
    produce(log, 1, [`open-${'x'.repeat(200)}`]); // 0: the transaction starts
    for (let i = 0; i < 4; i++) plain(log, [`p${i}-${'y'.repeat(200)}`]);
    produce(log, 1, ['more']);
    expect(log.applyRetention()).toBeGreaterThan(0);
    expect(log.logStartOffset).toBeGreaterThan(0);
    expect(log.lastStableOffset).toBe(log.logStartOffset);
    expect(offsets(log, log.logStartOffset, log.lastStableOffset)).toEqual([]);
    commit(log, 1);
    expect(log.lastStableOffset).toBe(log.logEndOffset);
  });
});

describe('truncation', () => {
  it('cuts aborted entries past the new end and reopens the transactions whose marker was cut', () => {
    let log = open();
    produce(log, 1, ['a', 'b']); // 0-1
    abort(log, 1); // 2
    produce(log, 2, ['c']); // 3
    commit(log, 2); // 4
    expect(log.lastStableOffset).toBe(5);
    log.truncateTo(4);
    expect(log.lastStableOffset).toBe(3);
    expect(log.abortedTransactions(0, 4)).toEqual([{ producerId: 1, firstOffset: 0 }]);
    log.truncateTo(2);
    expect(log.abortedTransactions(0, 2)).toEqual([]);
    expect(log.lastStableOffset).toBe(0);
    expect(log.openTransactions).toBe(1);
    expect(readdirSync(logs.dir).filter((f) => f.endsWith('.txnindex'))).toEqual([]);
    log = reopen(log, {}, false);
    expect(log.lastStableOffset).toBe(0);
    expect(log.abortedTransactions(0, 2)).toEqual([]);
    abort(log, 1);
    expect(log.abortedTransactions(0, 3)).toEqual([{ producerId: 1, firstOffset: 0 }]);
  });

  it('truncateFullyAndStartAt forgets every transaction and index', () => {
    const log = open();
    produce(log, 1, ['a']);
    abort(log, 1);
    produce(log, 2, ['b']);
    log.truncateFullyAndStartAt(50);
    expect(log.openTransactions).toBe(0);
    expect(log.lastStableOffset).toBe(50);
    expect(log.abortedTransactions(50, 60)).toEqual([]);
    expect(readdirSync(logs.dir).filter((f) => f.endsWith('.txnindex'))).toEqual([]);
  });
});

describe('a follower', () => {
  it('rebuilds the leader\'s open and aborted transactions from its batches, markers included', () => {
    const leader = open(logs.leaderDir, { segmentBytes: 500 });
    for (let i = 0; i < 6; i++) {
      produce(leader, 1, [`a${i}-${'y'.repeat(30)}`]);
      produce(leader, 2, [`b${i}`]);
      if (i % 2 === 1) abort(leader, 1);
      else commit(leader, 1);
    }
    commit(leader, 2);
    produce(leader, 3, ['open']);
    const follower = open(logs.dir, { segmentBytes: 500 });
    let next = 0;
    for (;;) {
      const read = leader.read(next, 300, leader.logEndOffset);
      if (read.outOfRange || !read.records) break;
      follower.appendAsFollower(read.records);
      next = read.nextOffset;
    }
    expect(follower.logEndOffset).toBe(leader.logEndOffset);
    expect(follower.lastStableOffset).toBe(leader.lastStableOffset);
    expect(follower.openTransactions).toBe(1);
    expect(follower.abortedTransactions(0, follower.logEndOffset)).toEqual(leader.abortedTransactions(0, leader.logEndOffset));
    expect(follower.abortedTransactions(0, follower.logEndOffset)).toHaveLength(3);
    // Become leader: the open transaction ends with a marker from it.
    abort(follower, 3);
    expect(follower.lastStableOffset).toBe(follower.logEndOffset);
    expect(existsSync(join(logs.dir, '00000000000000000000.log'))).toBe(true);
  });
});

describe('producer-state snapshot', () => {
  it('loads a version 1 snapshot (written before transactions) and keeps its producers', () => {
    let log = open();
    produce(log, 1, ['a'], { transactional: false });
    shut(log);
    const v1 = { version: 1, offset: 1, producers: [[1, { epoch: 0, batches: [{ firstSeq: 0, lastSeq: 0, firstOffset: 0, lastOffset: 0 }], lastTimestamp: Date.now() }]] };
    writeFileSync(join(logs.dir, 'producer-state.json'), JSON.stringify(v1));
    log = open();
    sequences.set(1, 0);
    expect(produce(log, 1, ['a'], { transactional: false })).toMatchObject({ duplicate: true, baseOffset: 0 });
    expect(produce(log, 1, ['b'])).toMatchObject({ duplicate: false, baseOffset: 1 });
    expect(log.lastStableOffset).toBe(1);
  });
});

describe('compaction', () => {
  const compacted = { segmentBytes: 1 << 20, compact: true, delete: false, deleteRetentionMs: 60_000, minCleanableDirtyRatio: 0 };

  /** Appends keyed records as one batch: of producer `pid` in its transaction, or plain when pid is null. */
  function put(log: PartitionLog, pid: number | null, pairs: Array<[string, string]>) {
    const seq = pid === null ? -1 : (sequences.get(pid) ?? 0);
    const records = buildRecordBatch(
      pairs.map(([k, v]) => ({ key: Buffer.from(k), value: Buffer.from(v) })),
      pid === null ? {} : { producerId: pid, producerEpoch: 0, baseSequence: seq, transactional: true },
    );
    if (pid !== null) sequences.set(pid, seq + pairs.length);
    return log.append(records, validateClientBatches(records, { maxMessageBytes: 1 << 20 }), 0);
  }

  /** Every batch in the log: data as [offset, key=value] pairs, markers as 'COMMIT <pid>' / 'ABORT <pid>'. */
  function contents(log: PartitionLog): string[] {
    const out: string[] = [];
    for (const batch of batches(log, log.logStartOffset, log.logEndOffset)) {
      const info = readBatchInfo(batch, 0);
      if (info.control) out.push(`${readControlMarker(batch)!.commit ? 'COMMIT' : 'ABORT'} ${info.producerId}@${info.baseOffset}`);
      else for (const r of decodeRecords(batch)) out.push(`${r.offset} ${r.key!.toString()}=${r.value!.toString()}${info.transactional ? ' txn' : ''}`);
    }
    return out;
  }

  it('removes the records of aborted transactions, which never supersede a committed value; the marker goes in a later pass after delete.retention.ms', () => {
    const log = open(logs.dir, compacted);
    put(log, null, [['k', 'v1']]); // 0
    put(log, 1, [['k', 'bad'], ['j', 'bad']]); // 1-2
    put(log, 2, [['j', 'good']]); // 3
    abort(log, 1); // 4
    commit(log, 2); // 5
    log.roll();
    const now = Date.now();
    expect(log.compact(now)).toMatchObject({ recordsRemoved: 2, markersRemoved: 0 });
    expect(contents(log)).toEqual(['0 k=v1', '3 j=good txn', 'ABORT 1@4', 'COMMIT 2@5']);
    expect(committedOffsets(log)).toEqual([0, 3]);
    // A later pass, past delete.retention.ms: the ABORT marker has no batch left and goes; the COMMIT's data is still there.
    put(log, null, [['other', 'x']]);
    log.roll();
    expect(log.compact(now + 120_000)).toMatchObject({ recordsRemoved: 0, markersRemoved: 1 });
    expect(contents(log)).toEqual(['0 k=v1', '3 j=good txn', 'COMMIT 2@5', '6 other=x']);
    // Once the committed record is superseded, its marker outlives it by one pass, then goes too.
    put(log, null, [['j', 'newer']]);
    log.roll();
    log.compact(now + 120_000);
    expect(contents(log)).toEqual(['0 k=v1', 'COMMIT 2@5', '6 other=x', '7 j=newer']);
    put(log, null, [['y', 'y']]);
    log.roll();
    expect(log.compact(now + 120_000)).toMatchObject({ markersRemoved: 1 });
    expect(contents(log)).toEqual(['0 k=v1', '6 other=x', '7 j=newer', '8 y=y']);
  });

  it('keeps markers within delete.retention.ms, and never merges markers as records of one key', () => {
    const log = open(logs.dir, compacted);
    put(log, 1, [['a', '1']]);
    commit(log, 1);
    put(log, 1, [['b', '1']]);
    commit(log, 1);
    put(log, 2, [['c', '1']]);
    abort(log, 2);
    log.roll();
    log.compact(Date.now());
    expect(contents(log)).toEqual(['0 a=1 txn', 'COMMIT 1@1', '2 b=1 txn', 'COMMIT 1@3', 'ABORT 2@5']);
    put(log, null, [['z', 'z']]);
    log.roll();
    // Within delete.retention.ms the ABORT marker stays although its data is gone.
    expect(log.compact(Date.now())).toMatchObject({ markersRemoved: 0 });
    expect(contents(log)).toContain('ABORT 2@5');
  });

  it('never cleans an open transaction or anything past it', () => {
    const log = open(logs.dir, compacted);
    put(log, null, [['k', 'v1']]); // 0
    log.roll();
    put(log, 1, [['k', 'open']]); // 1: open transaction
    log.roll();
    put(log, null, [['k', 'v2']]); // 2
    log.roll();
    expect(log.lastStableOffset).toBe(1);
    log.compact(Date.now());
    expect(contents(log)).toEqual(['0 k=v1', '1 k=open txn', '2 k=v2']);
    abort(log, 1); // 3
    log.roll();
    log.compact(Date.now());
    expect(contents(log)).toEqual(['2 k=v2', 'ABORT 1@3']);
    expect(committedOffsets(log)).toEqual([2]);
  });
});

describe('random transactions', () => {
  /** A small deterministic generator (mulberry32), so a failure can be replayed. */
  function random(seed: number): () => number {
    let a = seed;
    return () => {
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  it('list the same aborted transactions and LSO as a model, for every range, across rolls and crashes', () => {
    for (const seed of [1, 2, 3]) {
      const next = random(seed);
      let log = open(join(logs.dir, `seed-${seed}`), { segmentBytes: 600 });
      const open_ = new Map<number, number>(); // producer -> first offset
      const aborted: Array<{ producerId: number; firstOffset: number; marker: number }> = [];
      for (let step = 0; step < 120; step++) {
        const pid = 1 + Math.floor(next() * 4);
        const roll = next();
        if (roll < 0.5) {
          const { baseOffset } = produce(log, pid, [`v${step}`]);
          if (!open_.has(pid)) open_.set(pid, baseOffset);
        } else if (roll < 0.65) plain(log, [`p${step}`]);
        else if (roll < 0.97) {
          const commitIt = next() < 0.5;
          const { baseOffset } = commitIt ? commit(log, pid) : abort(log, pid);
          if (!commitIt) aborted.push({ producerId: pid, firstOffset: open_.get(pid) ?? baseOffset, marker: baseOffset });
          open_.delete(pid);
        } else log = reopen(log, { segmentBytes: 600 }, next() < 0.5);
        const lso = Math.min(log.highWatermark, ...open_.values());
        expect(log.lastStableOffset).toBe(lso);
      }
      expect(log.segmentCount).toBeGreaterThan(2);
      const end = log.logEndOffset;
      for (let from = 0; from <= end; from += 3) {
        for (let upTo = from; upTo <= end; upTo += 5) {
          const want = aborted.filter((t) => t.firstOffset < upTo && t.marker >= from).map((t) => ({ producerId: t.producerId, firstOffset: t.firstOffset }));
          expect(log.abortedTransactions(from, upTo), `seed ${seed} [${from}, ${upTo})`).toEqual(want);
        }
      }
    }
  });
});
