// Log compaction of one partition (cleanup.policy=compact): in the sealed segments, keep only
// the latest record of every key. The active segment is never touched; offsets never change
// (a rewritten batch keeps its base offset and its records' offsets); tombstones (null values)
// stay readable for delete.retention.ms after their batch's timestamp, then go too. A batch
// whose records all survive is kept byte for byte; one that lost records is re-encoded with
// the same codec and producer fields; one that lost all of them is dropped. A batch whose
// records do not decode (stored before produce validated records) is kept as it is.
// Transactions (the log hands over only what is below its last stable offset, so no open
// transaction is ever cleaned): records of aborted transactions are removed and never count as
// a key's latest; a COMMIT/ABORT marker stays while any batch of its transaction is still in
// the log (so a read_committed reader always finds the end of what it skips) and goes once none
// is and delete.retention.ms has passed since it was written.
import { buildRecordBatch } from '../records/batch-builder.js';
import { BatchOffset, type BatchInfo, compressionOf, type DecodedRecord, decodeRecords, isLogAppendTime, readBatchInfo, readControlMarker } from '../records/record-batch.js';
import type { Segment } from './segment.js';
import type { AbortedTxn } from './txn-index.js';

export interface CleanResult {
  segmentsRewritten: number;
  recordsRemoved: number;
  /** Batches kept untouched because their records do not decode. */
  unreadableBatches: number;
  /** Transaction markers removed (no batch of their transaction was left). */
  markersRemoved: number;
}

/** Whether a data batch belongs to an aborted transaction, from the partition's aborted-transaction index. */
class AbortedLookup {
  /** Per producer, its aborted transactions by first offset (a producer's transactions never overlap). */
  private readonly byProducer = new Map<number, AbortedTxn[]>();

  constructor(aborted: readonly AbortedTxn[]) {
    for (const t of aborted) {
      const list = this.byProducer.get(t.producerId);
      if (list) list.push(t);
      else this.byProducer.set(t.producerId, [t]);
    }
    for (const list of this.byProducer.values()) list.sort((a, b) => a.firstOffset - b.firstOffset);
  }

  has(batch: BatchInfo): boolean {
    const list = this.byProducer.get(batch.producerId);
    if (!list) return false;
    let lo = 0;
    let hi = list.length - 1;
    let found: AbortedTxn | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid]!.firstOffset <= batch.baseOffset) {
        found = list[mid];
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found !== undefined && batch.baseOffset < found.lastOffset;
  }
}

/** Batches of a segment, each as its own buffer with its header facts. */
function* batchesOf(segment: Segment): Generator<Buffer> {
  const positions: Array<[number, number]> = [];
  segment.scanUntil(0, segment.size, (b) => {
    positions.push([b.position, b.size]);
    return false;
  });
  for (const [position, size] of positions) yield segment.read(position, size);
}

/** A batch's records, or null when they do not decode. */
function recordsOf(batch: Buffer): DecodedRecord[] | null {
  try {
    return decodeRecords(batch);
  } catch {
    return null;
  }
}

/** Key of a record as a map key (bytes as latin1, so distinct keys stay distinct). */
const keyOf = (key: Buffer) => key.toString('latin1');

/**
 * Cleans `sealed` (the partition's segments from its start, all below its last stable offset),
 * given the partition's aborted transactions. Returns the segments that replace them (segments
 * left empty drop out) and what was done.
 */
export function cleanSegments(
  sealed: Segment[],
  aborted: readonly AbortedTxn[],
  now: number,
  deleteRetentionMs: number,
  indexIntervalBytes: number,
): { segments: Segment[]; result: CleanResult } {
  const abortedBatch = new AbortedLookup(aborted);
  const latest = new Map<string, number>();
  for (const segment of sealed) {
    for (const batch of batchesOf(segment)) {
      const info = readBatchInfo(batch, 0);
      if (info.control || (info.transactional && abortedBatch.has(info))) continue;
      for (const record of recordsOf(batch) ?? []) if (record.key !== null) latest.set(keyOf(record.key), record.offset);
    }
  }
  const result: CleanResult = { segmentsRewritten: 0, recordsRemoved: 0, unreadableBatches: 0, markersRemoved: 0 };
  const segments: Segment[] = [];
  // Producers with a batch of their current transaction still in the log (read so far).
  const txnDataLeft = new Set<number>();
  for (const segment of sealed) {
    const kept: Buffer[] = [];
    let changed = false;
    for (const batch of batchesOf(segment)) {
      const info = readBatchInfo(batch, 0);
      if (info.control) {
        const marker = readControlMarker(batch);
        const dataLeft = txnDataLeft.delete(info.producerId);
        // Other control records, and markers whose transaction still has batches or that are recent, stay.
        if (marker === null || dataLeft || info.maxTimestamp >= now - deleteRetentionMs) kept.push(batch);
        else {
          changed = true;
          result.markersRemoved++;
        }
        continue;
      }
      if (info.transactional) {
        // Its batches go in this pass; the marker goes in a later one, once no batch is left.
        txnDataLeft.add(info.producerId);
        if (abortedBatch.has(info)) {
          changed = true;
          result.recordsRemoved += info.recordCount;
          continue;
        }
      }
      const records = recordsOf(batch);
      if (records === null) {
        result.unreadableBatches++;
        kept.push(batch);
        continue;
      }
      const tombstonesExpired = info.maxTimestamp < now - deleteRetentionMs;
      const retained = records.filter((r) => r.key !== null && latest.get(keyOf(r.key)) === r.offset && !(r.value === null && tombstonesExpired));
      if (retained.length === records.length) {
        kept.push(batch);
        continue;
      }
      changed = true;
      result.recordsRemoved += records.length - retained.length;
      if (retained.length === 0) continue;
      kept.push(
        buildRecordBatch(
          retained.map((r) => ({ key: r.key, value: r.value, timestamp: r.timestamp, headers: r.headers })),
          {
            baseOffset: info.baseOffset,
            offsetDeltas: retained.map((r) => r.offset - info.baseOffset),
            lastOffsetDelta: info.lastOffsetDelta,
            compression: compressionOf(info.attributes),
            producerId: info.producerId,
            producerEpoch: info.producerEpoch,
            baseSequence: info.baseSequence,
            transactional: info.transactional,
            logAppendTime: isLogAppendTime(info.attributes),
            partitionLeaderEpoch: batch.readInt32BE(BatchOffset.partitionLeaderEpoch),
          },
        ),
      );
    }
    if (!changed) {
      segments.push(segment);
      continue;
    }
    result.segmentsRewritten++;
    const replacement = segment.replaceWith(kept, indexIntervalBytes);
    if (replacement) segments.push(replacement);
  }
  return { segments, result };
}
