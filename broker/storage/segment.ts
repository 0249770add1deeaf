// One log segment: a file of record batches named by its base offset, with a sparse offset
// index (relative offset -> file position) and time index (max timestamp -> relative offset).
// Indexes live in memory while the segment is active and are written out when it is sealed;
// they can always be rebuilt from the log file, so a missing or bad index never loses data.
import { closeSync, existsSync, fstatSync, ftruncateSync, fsyncSync, openSync, readSync, renameSync, rmSync, unlinkSync, writeFileSync, writevSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BatchOffset, CONTROL_BIT, LOG_OVERHEAD, BATCH_HEADER_SIZE, TRANSACTIONAL_BIT, batchCrcMatches, readInt64 } from '../records/record-batch.js';
import { writeFileAtomic } from './atomic-file.js';
import { KafkaStorageError, describeIoError } from './storage-error.js';
import { TxnIndex } from './txn-index.js';

const OFFSET_ENTRY = 8;
const TIME_ENTRY = 12;
const SCAN_WINDOW = 1 << 20;

export function segmentFileName(baseOffset: number, suffix: string): string {
  return `${String(baseOffset).padStart(20, '0')}${suffix}`;
}

/** A batch header as the scanner sees it: where it is and what offsets and time it covers. */
export interface ScannedBatch {
  position: number;
  size: number;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  /** The epoch of the leader that appended the batch (partitionLeaderEpoch). */
  leaderEpoch: number;
  /** -1 when the batch comes from no idempotent producer. */
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  /** Part of a producer's transaction. */
  transactional: boolean;
  /** A transaction marker (control batch). */
  control: boolean;
}

/** Reads the header of the batch at `at` in `buf`, which lies at file position `position`. */
function scannedAt(buf: Buffer, at: number, position: number, size: number): ScannedBatch {
  const baseOffset = readInt64(buf, at);
  const attributes = buf.readInt16BE(at + BatchOffset.attributes);
  return {
    position,
    size,
    baseOffset,
    lastOffset: baseOffset + buf.readInt32BE(at + BatchOffset.lastOffsetDelta),
    maxTimestamp: readInt64(buf, at + BatchOffset.maxTimestamp),
    leaderEpoch: buf.readInt32BE(at + BatchOffset.partitionLeaderEpoch),
    producerId: readInt64(buf, at + BatchOffset.producerId),
    producerEpoch: buf.readInt16BE(at + BatchOffset.producerEpoch),
    baseSequence: buf.readInt32BE(at + BatchOffset.baseSequence),
    transactional: (attributes & TRANSACTIONAL_BIT) !== 0,
    control: (attributes & CONTROL_BIT) !== 0,
  };
}

export class Segment {
  readonly baseOffset: number;
  readonly dir: string;
  private fd: number;
  /** Bytes of valid batches in the file. */
  size = 0;
  /** One past the last offset in this segment. */
  nextOffset: number;
  /** Largest batch timestamp seen, -1 when empty. */
  maxTimestamp = -1;
  /** Wall-clock time of the first append to an empty segment; drives segment.ms rolls. */
  firstAppendMs: number | null = null;
  private indexOffsets: number[] = [];
  private indexPositions: number[] = [];
  private timeStamps: number[] = [];
  private timeOffsets: number[] = [];
  private bytesSinceIndex = 0;
  /** The transactions aborted by markers in this segment. */
  readonly txnIndex: TxnIndex;

  private constructor(dir: string, baseOffset: number, fd: number) {
    this.dir = dir;
    this.baseOffset = baseOffset;
    this.fd = fd;
    this.nextOffset = baseOffset;
    this.txnIndex = new TxnIndex(join(dir, segmentFileName(baseOffset, '.txnindex')));
  }

  get logPath(): string {
    return join(this.dir, segmentFileName(this.baseOffset, '.log'));
  }

  private get indexPath(): string {
    return join(this.dir, segmentFileName(this.baseOffset, '.index'));
  }

  private get timeIndexPath(): string {
    return join(this.dir, segmentFileName(this.baseOffset, '.timeindex'));
  }

  static create(dir: string, baseOffset: number): Segment {
    const fd = openSync(join(dir, segmentFileName(baseOffset, '.log')), 'a+');
    ftruncateSync(fd, 0);
    // A new segment has no aborted transactions, whatever an old file of its name said.
    rmSync(join(dir, segmentFileName(baseOffset, '.txnindex')), { force: true });
    return new Segment(dir, baseOffset, fd);
  }

  /**
   * Opens an existing segment. `validate` checks every batch's CRC from the start and cuts the
   * file at the first torn or corrupt batch (the tail of an unclean shutdown); otherwise the
   * saved indexes are trusted and only the bytes after the last index entry are scanned.
   */
  static open(dir: string, baseOffset: number, validate: boolean, indexIntervalBytes: number): { segment: Segment; truncatedBytes: number } {
    const segment = new Segment(dir, baseOffset, openSync(join(dir, segmentFileName(baseOffset, '.log')), 'a+'));
    const fileSize = fstatSync(segment.fd).size;
    let scanFrom = 0;
    if (!validate && segment.loadIndexes(fileSize)) {
      const last = segment.indexPositions.length - 1;
      scanFrom = last >= 0 ? segment.indexPositions[last]! : 0;
      segment.maxTimestamp = segment.timeStamps.length ? segment.timeStamps[segment.timeStamps.length - 1]! : -1;
    } else {
      segment.clearIndexes();
    }
    const rebuilding = scanFrom === 0;
    let end = scanFrom;
    segment.bytesSinceIndex = 0;
    segment.scan(scanFrom, fileSize, validate, (b) => {
      end = b.position + b.size;
      segment.nextOffset = b.lastOffset + 1;
      if (rebuilding || b.position > scanFrom) segment.indexBatch(b, indexIntervalBytes);
      else if (b.maxTimestamp > segment.maxTimestamp) segment.maxTimestamp = b.maxTimestamp;
    });
    segment.size = end;
    const truncatedBytes = fileSize - end;
    if (truncatedBytes > 0) ftruncateSync(segment.fd, end);
    return { segment, truncatedBytes };
  }

  private clearIndexes(): void {
    this.indexOffsets = [];
    this.indexPositions = [];
    this.timeStamps = [];
    this.timeOffsets = [];
    this.maxTimestamp = -1;
  }

  /** Loads saved indexes; false when missing or inconsistent with the log file. */
  private loadIndexes(fileSize: number): boolean {
    if (!existsSync(this.indexPath) || !existsSync(this.timeIndexPath)) return false;
    const index = readFileSync(this.indexPath);
    const time = readFileSync(this.timeIndexPath);
    if (index.length % OFFSET_ENTRY !== 0 || time.length % TIME_ENTRY !== 0) return false;
    let lastPos = -1;
    let lastRel = -1;
    for (let p = 0; p < index.length; p += OFFSET_ENTRY) {
      const rel = index.readInt32BE(p);
      const pos = index.readInt32BE(p + 4);
      if (rel <= lastRel || pos <= lastPos || pos >= fileSize) return false;
      this.indexOffsets.push(rel);
      this.indexPositions.push(pos);
      lastRel = rel;
      lastPos = pos;
    }
    let lastTs = -Infinity;
    for (let p = 0; p < time.length; p += TIME_ENTRY) {
      const ts = readInt64(time, p);
      const rel = time.readInt32BE(p + 8);
      if (ts < lastTs) return false;
      this.timeStamps.push(ts);
      this.timeOffsets.push(rel);
      lastTs = ts;
    }
    return true;
  }

  /** Walks batch headers from `from` to `to`, optionally checking CRCs; stops at the first bad batch. */
  scan(from: number, to: number, validate: boolean, visit: (b: ScannedBatch) => void): void {
    let pos = from;
    let window = Buffer.allocUnsafe(Math.min(SCAN_WINDOW, Math.max(to - from, BATCH_HEADER_SIZE)));
    let windowStart = -1;
    let windowLength = 0;
    while (pos + BATCH_HEADER_SIZE <= to) {
      if (windowStart < 0 || pos + BATCH_HEADER_SIZE > windowStart + windowLength) {
        windowLength = readSync(this.fd, window, 0, Math.min(window.length, to - pos), pos);
        windowStart = pos;
      }
      const at = pos - windowStart;
      const size = window.readInt32BE(at + BatchOffset.batchLength) + LOG_OVERHEAD;
      const magic = window.readInt8(at + BatchOffset.magic);
      if (magic !== 2 || size < BATCH_HEADER_SIZE || pos + size > to) return;
      if (validate) {
        if (size > windowLength - at) {
          if (size > window.length) window = Buffer.allocUnsafe(size);
          windowLength = readSync(this.fd, window, 0, Math.min(window.length, to - pos), pos);
          windowStart = pos;
        }
        if (!batchCrcMatches(window, pos - windowStart, size)) return;
      }
      visit(scannedAt(window, pos - windowStart, pos, size));
      pos += size;
    }
  }

  private indexBatch(b: ScannedBatch, indexIntervalBytes: number): void {
    if (this.size === 0 && this.indexOffsets.length === 0) this.bytesSinceIndex = indexIntervalBytes;
    if (this.bytesSinceIndex >= indexIntervalBytes) {
      this.indexOffsets.push(b.baseOffset - this.baseOffset);
      this.indexPositions.push(b.position);
      if (b.maxTimestamp > this.maxTimestamp) {
        this.timeStamps.push(b.maxTimestamp);
        this.timeOffsets.push(b.baseOffset - this.baseOffset);
      }
      this.bytesSinceIndex = 0;
    }
    this.bytesSinceIndex += b.size;
    if (b.maxTimestamp > this.maxTimestamp) this.maxTimestamp = b.maxTimestamp;
  }

  /**
   * Appends stamped batches (already carrying their offsets) in one write. Size, offsets and
   * indexes move only once every byte is written; a failed write throws KafkaStorageError.
   */
  append(buffers: Buffer[], batches: ScannedBatch[], indexIntervalBytes: number): void {
    let total = 0;
    for (const b of batches) total += b.size;
    this.write(buffers, total);
    let position = this.size;
    for (const b of batches) {
      b.position = position;
      this.indexBatch(b, indexIntervalBytes);
      position += b.size;
    }
    this.size += total;
    this.nextOffset = batches[batches.length - 1]!.lastOffset + 1;
  }

  /**
   * Writes `total` bytes at the end of the file. A short write is continued; one that fails
   * (ENOSPC, EIO) cuts the file back to the last whole batch, so no reader and no recovery ever
   * sees a torn record. When even the cut fails the file keeps bytes past `size`: the caller
   * takes the log offline and the next start's recovery cuts them.
   */
  private write(buffers: Buffer[], total: number): void {
    let written = 0;
    try {
      written = writevSync(this.fd, buffers);
      // writeFileSync on a descriptor keeps writing until all is written or an error is thrown.
      if (written < total) writeFileSync(this.fd, Buffer.concat(buffers).subarray(written));
    } catch (err) {
      let cut = 'cut back to the last whole batch';
      try {
        ftruncateSync(this.fd, this.size);
      } catch (truncateErr) {
        cut = `not cut back (${describeIoError(truncateErr)}); recovery cuts it at the next start`;
      }
      throw new KafkaStorageError(`write to ${this.logPath} failed after ${written} of ${total} bytes: ${describeIoError(err)}; the segment was ${cut}`, err);
    }
  }

  /**
   * Cuts the file at `position` (a batch boundary) and rebuilds size, next offset and the
   * in-memory indexes from what is left. The saved index files go first (a crash then rebuilds
   * them); they are written again when the segment is sealed.
   */
  truncateTo(position: number, indexIntervalBytes: number): void {
    for (const p of [this.indexPath, this.timeIndexPath]) rmSync(p, { force: true });
    ftruncateSync(this.fd, position);
    this.clearIndexes();
    this.size = 0;
    this.nextOffset = this.baseOffset;
    this.bytesSinceIndex = 0;
    let end = 0;
    this.scan(0, position, false, (b) => {
      this.indexBatch(b, indexIntervalBytes);
      end = b.position + b.size;
      this.nextOffset = b.lastOffset + 1;
    });
    this.size = end;
    if (end === 0) this.firstAppendMs = null;
    this.txnIndex.truncateFrom(this.nextOffset);
  }

  /** Forces the segment's data to disk (flush.messages / flush.ms). */
  flush(): void {
    fsyncSync(this.fd);
  }

  /** Position of the last index entry at or before `offset`. */
  lookupPosition(offset: number): number {
    const rel = offset - this.baseOffset;
    const offsets = this.indexOffsets;
    let lo = 0;
    let hi = offsets.length - 1;
    let found = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (offsets[mid]! <= rel) {
        found = this.indexPositions[mid]!;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /** Position to start scanning from for the first batch with max timestamp >= `timestamp`. */
  lookupTimePosition(timestamp: number): number {
    // The last time-index entry strictly before `timestamp` bounds the start from below.
    let lo = 0;
    let hi = this.timeStamps.length - 1;
    let rel = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.timeStamps[mid]! < timestamp) {
        rel = this.timeOffsets[mid]!;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return rel < 0 ? 0 : this.lookupPosition(this.baseOffset + rel);
  }

  /** Finds the batch holding `offset` (or the first after it), scanning from the index. */
  findBatch(offset: number, from = this.lookupPosition(offset), limit = this.size): ScannedBatch | null {
    let found: ScannedBatch | null = null;
    this.scanUntil(from, limit, (b) => {
      if (b.lastOffset >= offset) {
        found = b;
        return true;
      }
      return false;
    });
    return found;
  }

  /** Like scan without validation, but stops as soon as `visit` returns true. */
  scanUntil(from: number, to: number, visit: (b: ScannedBatch) => boolean): void {
    const window = Buffer.allocUnsafe(Math.min(64 * 1024, Math.max(to - from, BATCH_HEADER_SIZE)));
    let pos = from;
    while (pos + BATCH_HEADER_SIZE <= to) {
      const n = readSync(this.fd, window, 0, Math.min(window.length, to - pos), pos);
      let at = 0;
      while (at + BATCH_HEADER_SIZE <= n) {
        const size = window.readInt32BE(at + BatchOffset.batchLength) + LOG_OVERHEAD;
        if (visit(scannedAt(window, at, pos + at, size))) return;
        at += size;
      }
      pos += at;
      if (at === 0) return;
    }
  }

  read(position: number, length: number): Buffer {
    const buf = Buffer.allocUnsafe(length);
    const n = readSync(this.fd, buf, 0, length, position);
    return n === length ? buf : buf.subarray(0, n);
  }

  /** Writes the indexes beside the log and syncs both; called when the segment stops growing. */
  seal(): void {
    const index = Buffer.allocUnsafe(this.indexOffsets.length * OFFSET_ENTRY);
    for (let i = 0; i < this.indexOffsets.length; i++) {
      index.writeInt32BE(this.indexOffsets[i]!, i * OFFSET_ENTRY);
      index.writeInt32BE(this.indexPositions[i]!, i * OFFSET_ENTRY + 4);
    }
    const time = Buffer.allocUnsafe(this.timeStamps.length * TIME_ENTRY);
    for (let i = 0; i < this.timeStamps.length; i++) {
      const ts = this.timeStamps[i]!;
      const hi = Math.floor(ts / 4294967296);
      time.writeInt32BE(hi, i * TIME_ENTRY);
      time.writeUInt32BE(ts - hi * 4294967296, i * TIME_ENTRY + 4);
      time.writeInt32BE(this.timeOffsets[i]!, i * TIME_ENTRY + 8);
    }
    fsyncSync(this.fd);
    this.txnIndex.flush();
    writeFileAtomic(this.indexPath, index);
    writeFileAtomic(this.timeIndexPath, time);
  }

  close(): void {
    closeSync(this.fd);
  }

  /**
   * Replaces this sealed segment's file with `batches` (the cleaner's output, same base offset):
   * written beside it, synced, renamed over it, indexes rebuilt; the aborted-transaction index
   * stays (records the cleaner kept may belong to those transactions). Returns the new segment,
   * or null when nothing is left and the segment is gone.
   */
  replaceWith(batches: Buffer[], indexIntervalBytes: number): Segment | null {
    const cleaned = `${this.logPath}.cleaned`;
    try {
      const fd = openSync(cleaned, 'w');
      try {
        for (const batch of batches) writeFileSync(fd, batch);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      // A full disk must not leave a half-written copy beside the segment.
      rmSync(cleaned, { force: true });
      throw err;
    }
    if (batches.length === 0) {
      this.delete();
      unlinkSync(cleaned);
      return null;
    }
    this.deleteLogAndIndexes();
    renameSync(cleaned, this.logPath);
    const { segment } = Segment.open(this.dir, this.baseOffset, true, indexIntervalBytes);
    segment.seal();
    return segment;
  }

  delete(): void {
    this.deleteLogAndIndexes();
    this.txnIndex.delete();
  }

  private deleteLogAndIndexes(): void {
    this.close();
    for (const p of [this.logPath, this.indexPath, this.timeIndexPath]) if (existsSync(p)) unlinkSync(p);
  }
}
