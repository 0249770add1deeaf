// The log of one partition: an ordered list of segments, of which the last one takes appends.
// It assigns offsets, serves reads of whole batches, finds offsets by timestamp, rolls segments
// by size and age, and deletes old segments by retention time and size.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { LogConfig } from '../config.js';
import { type BatchInfo, LOG_OVERHEAD, BatchOffset, decodeRecords, readInt64, stampBatch } from '../records/record-batch.js';
import { KafkaError, ErrorCode } from '../protocol/errors.js';
import { ProducerState, type ProducerBatch } from './producer-state.js';
import { Segment, type ScannedBatch } from './segment.js';
import { type CleanResult, cleanSegments } from './log-cleaner.js';
import { writeFileAtomic } from './atomic-file.js';
import { KafkaStorageError, describeIoError } from './storage-error.js';

const LOG_START_CHECKPOINT = 'log-start-offset';
const PRODUCER_SNAPSHOT = 'producer-state.json';
const CLEANER_CHECKPOINT = 'cleaner-offset';
const POSITION_CACHE_SIZE = 32;

export interface AppendResult {
  baseOffset: number;
  lastOffset: number;
  /** Broker time stamped on the batches, -1 with CreateTime. */
  logAppendTime: number;
  /** True when the batch was a producer's retry of one already in the log: nothing was written. */
  duplicate: boolean;
}

export type ReadResult = { outOfRange: true } | { outOfRange: false; records: Buffer | null };

export interface OpenLogOptions {
  dir: string;
  config: LogConfig;
  /** True when the previous shutdown was clean: indexes are trusted, tails not re-validated. */
  clean: boolean;
  onTruncate?: (segmentBase: number, bytes: number) => void;
  /** Called once when a write, roll or flush fails; the log refuses appends from then on. */
  onStorageError?: (err: KafkaStorageError) => void;
}

export class PartitionLog {
  readonly dir: string;
  config: LogConfig;
  private segments: Segment[];
  logStartOffset: number;
  /** Callbacks run after every append (waiting fetches). */
  readonly appendListeners = new Set<() => void>();
  /** Where the batch that starts at an offset lies, remembered from the end of recent reads. */
  private readonly positions = new Map<number, { segment: Segment; position: number }>();
  /** Idempotent producers writing to this partition. */
  readonly producers = new ProducerState();
  /** Set when a write to this log failed (or its log dir went offline): appends are refused. */
  private offline: KafkaStorageError | null = null;
  private readonly onStorageError: ((err: KafkaStorageError) => void) | undefined;
  /** Records appended since the last fsync (flush.messages), and when that was (flush.ms). */
  private unflushedMessages = 0;
  private lastFlushMs = Date.now();

  private constructor(dir: string, config: LogConfig, segments: Segment[], logStartOffset: number, onStorageError?: (err: KafkaStorageError) => void) {
    this.dir = dir;
    this.config = config;
    this.segments = segments;
    this.logStartOffset = logStartOffset;
    this.onStorageError = onStorageError;
  }

  static open(options: OpenLogOptions): PartitionLog {
    const { dir, config } = options;
    mkdirSync(dir, { recursive: true });
    const bases = readdirSync(dir)
      .filter((f) => /^\d{20}\.log$/.test(f))
      .map((f) => Number(f.slice(0, 20)))
      .sort((a, b) => a - b);
    const segments: Segment[] = [];
    try {
      bases.forEach((base, i) => {
        const last = i === bases.length - 1;
        const { segment, truncatedBytes } = Segment.open(dir, base, last && !options.clean, config.indexIntervalBytes);
        if (truncatedBytes > 0) options.onTruncate?.(base, truncatedBytes);
        segments.push(segment);
      });
      if (segments.length === 0) segments.push(Segment.create(dir, 0));
      const checkpoint = join(dir, LOG_START_CHECKPOINT);
      const saved = existsSync(checkpoint) ? Number(readFileSync(checkpoint, 'utf8')) : 0;
      const logStart = Math.max(Number.isFinite(saved) ? saved : 0, segments[0]!.baseOffset);
      const log = new PartitionLog(dir, config, segments, Math.min(logStart, segments[segments.length - 1]!.nextOffset), options.onStorageError);
      log.loadProducerState();
      return log;
    } catch (err) {
      // A partition that cannot be opened (EMFILE, EIO) must not keep the descriptors it got.
      for (const s of segments) s.close();
      throw err;
    }
  }

  /** Why appends are refused, or null while the log is writable. */
  get offlineReason(): string | null {
    return this.offline?.message ?? null;
  }

  /** Refuses appends from now on: this log's directory went offline. */
  takeOffline(err: KafkaStorageError): void {
    this.offline ??= err;
  }

  /** Turns a failed write, roll or flush into KafkaStorageError and takes the log offline. */
  private storageFailure(err: unknown, what: string): KafkaStorageError {
    const failure = err instanceof KafkaStorageError ? err : new KafkaStorageError(`${what} of ${this.dir} failed: ${describeIoError(err)}`, err);
    if (!this.offline) {
      this.offline = failure;
      this.onStorageError?.(failure);
    }
    return failure;
  }

  /** Producer state from the last snapshot, then every producer batch in the log after it. */
  private loadProducerState(): void {
    let from = this.producers.load(join(this.dir, PRODUCER_SNAPSHOT));
    if (from > this.logEndOffset || from < this.logStartOffset) {
      this.producers.clear();
      from = this.logStartOffset;
    }
    for (const segment of this.segments) {
      if (segment.nextOffset <= from) continue;
      segment.scanUntil(segment.lookupPosition(from), segment.size, (b) => {
        if (b.producerId >= 0 && b.baseOffset >= from) {
          this.producers.update(b.producerId, b.producerEpoch, b.baseSequence, b.lastOffset - b.baseOffset, b.baseOffset, b.maxTimestamp);
        }
        return false;
      });
    }
  }

  private saveProducerState(): void {
    this.producers.save(join(this.dir, PRODUCER_SNAPSHOT), this.logEndOffset);
  }

  /**
   * Checks the idempotent batches of a record set against producer state. Returns the original
   * of a retried batch, or null when all may be appended; throws on a gap or a fenced epoch.
   */
  private checkProducers(batches: BatchInfo[]): ProducerBatch | null {
    // Clients send one batch per partition per request; a set with several is checked in order.
    const pending = new Map<number, { epoch: number; lastSeq: number }>();
    for (const b of batches) {
      if (b.producerId < 0) continue;
      const before = pending.get(b.producerId);
      if (before) {
        if (b.producerEpoch !== before.epoch || b.baseSequence !== before.lastSeq + 1) {
          throw new KafkaError(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, `batches of producer ${b.producerId} in one request are not in sequence`);
        }
      } else {
        const duplicate = this.producers.check(b);
        if (duplicate) return duplicate;
      }
      pending.set(b.producerId, { epoch: b.producerEpoch, lastSeq: b.baseSequence + b.recordCount - 1 });
    }
    return null;
  }

  private get active(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  get logEndOffset(): number {
    return this.active.nextOffset;
  }

  /** With one replica every appended batch is committed. */
  get highWatermark(): number {
    return this.logEndOffset;
  }

  get size(): number {
    let total = 0;
    for (const s of this.segments) total += s.size;
    return total;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /** Appends a validated client record set: stamps offsets into it and writes it in one call. */
  append(records: Buffer, batches: BatchInfo[], leaderEpoch: number, now = Date.now()): AppendResult {
    if (this.offline) throw this.offline;
    const duplicate = this.checkProducers(batches);
    if (duplicate) return { baseOffset: duplicate.firstOffset, lastOffset: duplicate.lastOffset, logAppendTime: -1, duplicate: true };
    let total = 0;
    let recordCount = 0;
    for (const b of batches) {
      total += b.size;
      recordCount += b.recordCount;
    }
    try {
      this.maybeRoll(total, now);
    } catch (err) {
      throw this.storageFailure(err, 'segment roll');
    }
    const logAppendTime = this.config.logAppendTime ? now : null;
    const baseOffset = this.logEndOffset;
    let next = baseOffset;
    const scanned: ScannedBatch[] = [];
    for (const b of batches) {
      stampBatch(records, b, next, leaderEpoch, logAppendTime);
      scanned.push({
        position: 0,
        size: b.size,
        baseOffset: next,
        lastOffset: next + b.lastOffsetDelta,
        maxTimestamp: b.maxTimestamp,
        producerId: b.producerId,
        producerEpoch: b.producerEpoch,
        baseSequence: b.baseSequence,
      });
      next += b.lastOffsetDelta + 1;
    }
    const first = batches[0]!.position;
    const last = batches[batches.length - 1]!;
    const active = this.active;
    if (active.firstAppendMs === null) active.firstAppendMs = now;
    try {
      active.append([records.subarray(first, last.position + last.size)], scanned, this.config.indexIntervalBytes);
      this.unflushedMessages += recordCount;
      if (this.unflushedMessages >= this.config.flushMessages) this.flush(now);
    } catch (err) {
      throw this.storageFailure(err, 'append');
    }
    for (const b of scanned) {
      if (b.producerId >= 0) this.producers.update(b.producerId, b.producerEpoch, b.baseSequence, b.lastOffset - b.baseOffset, b.baseOffset, now);
    }
    for (const listener of this.appendListeners) listener();
    return { baseOffset, lastOffset: next - 1, logAppendTime: logAppendTime ?? -1, duplicate: false };
  }

  private maybeRoll(incoming: number, now: number): void {
    const active = this.active;
    if (active.size === 0) return;
    const full = active.size + incoming > this.config.segmentBytes;
    const old = active.firstAppendMs !== null && now - active.firstAppendMs >= this.config.segmentMs;
    if (full || old) this.roll();
  }

  /** fsyncs the active segment (sealed ones were synced when sealed). */
  private flush(now: number): void {
    this.active.flush();
    this.unflushedMessages = 0;
    this.lastFlushMs = now;
  }

  /** Flushes when records have waited flush.ms (the log.flush.scheduler.interval.ms pass). */
  flushIfDue(now = Date.now()): void {
    if (this.offline || this.unflushedMessages === 0 || now - this.lastFlushMs < this.config.flushMs) return;
    try {
      this.flush(now);
    } catch (err) {
      throw this.storageFailure(err, 'flush');
    }
  }

  roll(): void {
    this.active.seal();
    this.unflushedMessages = 0;
    this.segments.push(Segment.create(this.dir, this.logEndOffset));
    // A snapshot per roll bounds how much of the log a crash makes us replay.
    this.saveProducerState();
  }

  private segmentFor(offset: number): number {
    let lo = 0;
    let hi = this.segments.length - 1;
    let found = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.segments[mid]!.baseOffset <= offset) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /**
   * Reads whole batches starting with the one that holds `offset`, up to `maxBytes`; the first
   * batch is returned whole even when larger, so a consumer always makes progress.
   */
  read(offset: number, maxBytes: number): ReadResult {
    const end = this.highWatermark;
    if (offset < this.logStartOffset || offset > end) return { outOfRange: true };
    if (offset === end) return { outOfRange: false, records: null };
    const cached = this.positions.get(offset);
    const cachedIndex = cached ? this.segments.indexOf(cached.segment) : -1;
    let index = cachedIndex >= 0 ? cachedIndex : this.segmentFor(offset);
    let from = cachedIndex >= 0 ? cached!.position : -1;
    for (; index < this.segments.length; index++, from = -1) {
      const segment = this.segments[index]!;
      const batch = from >= 0 ? segment.findBatch(offset, from) : segment.findBatch(offset);
      if (!batch) continue;
      const length = Math.max(batch.size, Math.min(maxBytes, segment.size - batch.position));
      const data = segment.read(batch.position, length);
      const { bytes, nextOffset } = wholeBatches(data);
      this.remember(nextOffset, segment, batch.position + bytes);
      return { outOfRange: false, records: data.subarray(0, bytes) };
    }
    return { outOfRange: false, records: null };
  }

  private remember(offset: number, segment: Segment, position: number): void {
    if (this.positions.size >= POSITION_CACHE_SIZE) this.positions.delete(this.positions.keys().next().value!);
    this.positions.set(offset, { segment, position });
  }

  /** First offset whose record timestamp is >= `timestamp`, with that timestamp; null if none. */
  offsetForTimestamp(timestamp: number): { offset: number; timestamp: number } | null {
    for (const segment of this.segments) {
      if (segment.maxTimestamp < timestamp) continue;
      let hit = null as ScannedBatch | null;
      segment.scanUntil(segment.lookupTimePosition(timestamp), segment.size, (b) => {
        if (b.maxTimestamp >= timestamp && b.lastOffset >= this.logStartOffset) hit = b;
        return hit !== null;
      });
      if (!hit) continue;
      const b = hit;
      for (const record of decodeRecords(segment.read(b.position, b.size))) {
        if (record.timestamp >= timestamp && record.offset >= this.logStartOffset) return { offset: record.offset, timestamp: record.timestamp };
      }
    }
    return null;
  }

  /** Offset and timestamp of the record with the largest timestamp (ListOffsets MAX_TIMESTAMP). */
  maxTimestampRecord(): { offset: number; timestamp: number } | null {
    let best = null as { segment: Segment; batch: ScannedBatch } | null;
    for (const segment of this.segments) {
      if (segment.maxTimestamp < 0 || (best && segment.maxTimestamp <= best.batch.maxTimestamp)) continue;
      segment.scanUntil(0, segment.size, (b) => {
        if (!best || b.maxTimestamp > best.batch.maxTimestamp) best = { segment, batch: b };
        return false;
      });
    }
    if (!best) return null;
    const records = decodeRecords(best.segment.read(best.batch.position, best.batch.size));
    let top = records[0]!;
    for (const r of records) if (r.timestamp > top.timestamp) top = r;
    return { offset: top.offset, timestamp: top.timestamp };
  }

  /**
   * Compacts the sealed segments when enough of them is new since the last cleaning
   * (min.cleanable.dirty.ratio); null when it was not time yet.
   */
  compact(now = Date.now()): CleanResult | null {
    const sealed = this.segments.slice(0, -1);
    const checkpoint = join(this.dir, CLEANER_CHECKPOINT);
    const cleanedUpTo = existsSync(checkpoint) ? Number(readFileSync(checkpoint, 'utf8')) || 0 : 0;
    let total = 0;
    let dirty = 0;
    for (const s of sealed) {
      total += s.size;
      if (s.nextOffset > cleanedUpTo) dirty += s.size;
    }
    if (dirty === 0 || dirty / total < this.config.minCleanableDirtyRatio) return null;
    const { segments, result } = cleanSegments(sealed, now, this.config.deleteRetentionMs, this.config.indexIntervalBytes);
    this.segments = [...segments, this.active];
    this.positions.clear();
    writeFileAtomic(checkpoint, String(this.active.baseOffset));
    return result;
  }

  /** Deletes segments past retention time or size (cleanup.policy delete); returns how many went. */
  applyRetention(now = Date.now()): number {
    let deleted = 0;
    if (!this.config.delete) return 0;
    const { retentionMs, retentionBytes } = this.config;
    if (retentionMs >= 0) {
      while (this.segments.length > 0) {
        const first = this.segments[0]!;
        if (first.size === 0 || first.maxTimestamp < 0 || first.maxTimestamp >= now - retentionMs) break;
        if (first === this.active) this.roll();
        this.deleteFirstSegment();
        deleted++;
      }
    }
    if (retentionBytes >= 0) {
      let excess = this.size - retentionBytes;
      while (this.segments.length > 1 && excess >= this.segments[0]!.size) {
        excess -= this.segments[0]!.size;
        this.deleteFirstSegment();
        deleted++;
      }
    }
    return deleted;
  }

  private deleteFirstSegment(): void {
    const segment = this.segments.shift()!;
    segment.delete();
    this.setLogStartOffset(this.segments[0]!.baseOffset);
  }

  private setLogStartOffset(offset: number): void {
    if (offset <= this.logStartOffset) return;
    this.logStartOffset = offset;
    writeFileAtomic(join(this.dir, LOG_START_CHECKPOINT), String(offset));
  }

  /**
   * Seals the active segment (indexes written, data synced) and closes every file. An offline
   * log is only closed: its directory is not written to again. Throws when sealing fails (the
   * files are closed all the same).
   */
  close(): void {
    try {
      if (!this.offline) {
        this.active.seal();
        this.saveProducerState();
      }
    } finally {
      for (const s of this.segments) s.close();
      this.appendListeners.clear();
    }
  }

  /** Closes and removes the partition's directory. */
  delete(): void {
    for (const s of this.segments) s.close();
    this.appendListeners.clear();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** How many leading bytes of `data` are whole batches, and the offset after the last of them. */
function wholeBatches(data: Buffer): { bytes: number; nextOffset: number } {
  let at = 0;
  let nextOffset = -1;
  while (at + LOG_OVERHEAD <= data.length) {
    const size = data.readInt32BE(at + BatchOffset.batchLength) + LOG_OVERHEAD;
    if (at + size > data.length) break;
    nextOffset = readInt64(data, at) + data.readInt32BE(at + BatchOffset.lastOffsetDelta) + 1;
    at += size;
  }
  return { bytes: at, nextOffset };
}
