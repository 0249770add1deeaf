// Log compaction of one partition (cleanup.policy=compact): in the sealed segments, keep only
// the latest record of every key. The active segment is never touched; offsets never change
// (a rewritten batch keeps its base offset and its records' offsets); tombstones (null values)
// stay readable for delete.retention.ms after their batch's timestamp, then go too. A batch
// whose records all survive is kept byte for byte; one that lost records is re-encoded with
// the same codec and producer fields; one that lost all of them is dropped. A batch whose
// records do not decode (stored before produce validated records) is kept as it is.
import { buildRecordBatch } from '../records/batch-builder.js';
import { BatchOffset, compressionOf, type DecodedRecord, decodeRecords, isLogAppendTime, readBatchInfo } from '../records/record-batch.js';
import type { Segment } from './segment.js';

export interface CleanResult {
  segmentsRewritten: number;
  recordsRemoved: number;
  /** Batches kept untouched because their records do not decode. */
  unreadableBatches: number;
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
 * Cleans `sealed` (the partition's segments before the active one). Returns the segments that
 * replace them (segments left empty drop out) and what was done.
 */
export function cleanSegments(sealed: Segment[], now: number, deleteRetentionMs: number, indexIntervalBytes: number): { segments: Segment[]; result: CleanResult } {
  const latest = new Map<string, number>();
  for (const segment of sealed) {
    for (const batch of batchesOf(segment)) {
      for (const record of recordsOf(batch) ?? []) if (record.key !== null) latest.set(keyOf(record.key), record.offset);
    }
  }
  const result: CleanResult = { segmentsRewritten: 0, recordsRemoved: 0, unreadableBatches: 0 };
  const segments: Segment[] = [];
  for (const segment of sealed) {
    const kept: Buffer[] = [];
    let changed = false;
    for (const batch of batchesOf(segment)) {
      const info = readBatchInfo(batch, 0);
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
