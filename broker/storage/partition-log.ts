// The log of one partition: an ordered list of segments, of which the last one takes appends.
// It assigns offsets, serves reads of whole batches, finds offsets by timestamp, rolls segments
// by size and age, and deletes old segments by retention time and size. As a replica it keeps a
// high watermark apart from its end (consumers read up to it), the leader-epoch cache, takes a
// leader's batches verbatim (appendAsFollower) and truncates what diverged from the leader.
// For transactions it writes markers (appendTxnMarker), keeps the last stable offset below
// which read_committed consumers read, and the aborted transactions per segment.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { LogConfig } from '../config.js';
import { type BatchInfo, type ControlMarker, LOG_OVERHEAD, BATCH_HEADER_SIZE, BatchOffset, batchCrcMatches, decodeRecords, readBatchInfo, readControlMarker, readInt64, stampBatch } from '../records/record-batch.js';
import { type TxnMarker, buildControlBatch } from '../records/batch-builder.js';
import { KafkaError, ErrorCode } from '../protocol/errors.js';
import { ProducerState, type ProducerBatch } from './producer-state.js';
import { Segment, type ScannedBatch } from './segment.js';
import { type CleanResult, cleanSegments } from './log-cleaner.js';
import { writeFileAtomic } from './atomic-file.js';
import { KafkaStorageError, describeIoError } from './storage-error.js';
import { type EpochEndOffset, type EpochEntry, LeaderEpochCache } from './leader-epoch-cache.js';

export type { TxnMarker } from '../records/batch-builder.js';

const LOG_START_CHECKPOINT = 'log-start-offset';
const PRODUCER_SNAPSHOT = 'producer-state.json';
const CLEANER_CHECKPOINT = 'cleaner-offset';
const LEADER_EPOCH_CHECKPOINT = 'leader-epoch-checkpoint';
const HIGH_WATERMARK_CHECKPOINT = 'high-watermark';
/** A moving high watermark is saved at most this often (Kafka's replica.high.watermark.checkpoint.interval.ms). */
const HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS = 5000;
const POSITION_CACHE_SIZE = 32;

export interface AppendResult {
  baseOffset: number;
  lastOffset: number;
  /** Broker time stamped on the batches, -1 with CreateTime. */
  logAppendTime: number;
  /** True when the batch was a producer's retry of one already in the log: nothing was written. */
  duplicate: boolean;
}

/** `nextOffset`: the offset after the last batch read. */
export type ReadResult = { outOfRange: true } | { outOfRange: false; records: null } | { outOfRange: false; records: Buffer; nextOffset: number };

/** Offsets of the leader's batches a follower wrote. */
export interface FollowerAppendResult {
  firstOffset: number;
  lastOffset: number;
}

/**
 * Who writes a batch: a client's batches get their sequence numbers checked and their retries
 * recognised; the broker's own producer batches (the group coordinator's transactional offset
 * commits) only their producer epoch, as Kafka's coordinator appends.
 */
export type AppendOrigin = 'client' | 'coordinator';

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
  /** Callbacks run when the high watermark moves (consumers' waiting fetches). */
  readonly appendListeners = new Set<() => void>();
  /** Callbacks run after every append (followers' waiting fetches: replicas read past the HW). */
  readonly leoListeners = new Set<() => void>();
  /** Offsets below it are committed: consumers read up to here. */
  private hw: number;
  private commitOnAppend = true;
  /** When the HW checkpoint was last written, and whether the file exists. */
  private hwSavedMs = 0;
  private hwFileExists: boolean;
  /** Where each leader epoch starts in this log. */
  private readonly epochs: LeaderEpochCache;
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

  private constructor(dir: string, config: LogConfig, segments: Segment[], logStartOffset: number, epochs: LeaderEpochCache, onStorageError?: (err: KafkaStorageError) => void) {
    this.dir = dir;
    this.config = config;
    this.segments = segments;
    this.logStartOffset = logStartOffset;
    this.epochs = epochs;
    this.onStorageError = onStorageError;
    const saved = readOffsetFile(this.hwPath);
    this.hwFileExists = saved !== null;
    // No file: a log of the single-node broker, where every appended batch was committed. A file
    // that does not parse commits nothing more than the log start; the leader moves it on.
    const hw = saved === null ? this.logEndOffset : Number.isSafeInteger(saved) ? saved : logStartOffset;
    this.hw = Math.max(logStartOffset, Math.min(hw, this.logEndOffset));
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
      const saved = readOffsetFile(join(dir, LOG_START_CHECKPOINT)) ?? 0;
      const logEnd = segments[segments.length - 1]!.nextOffset;
      const logStart = Math.min(Math.max(Number.isFinite(saved) ? saved : 0, segments[0]!.baseOffset), logEnd);
      const log = new PartitionLog(dir, config, segments, logStart, openEpochCache(dir, segments, logStart, logEnd), options.onStorageError);
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
      // The aborted transactions past the snapshot are rebuilt from their markers.
      segment.txnIndex.truncateFrom(from);
      segment.scanUntil(segment.lookupPosition(from), segment.size, (b) => {
        if (b.producerId < 0 || b.baseOffset < from) return false;
        if (b.control) {
          const marker = readControlMarker(segment.read(b.position, b.size));
          if (marker) this.endTransaction(b.producerId, b.producerEpoch, marker, b.baseOffset, b.maxTimestamp, segment);
        } else this.producers.update(b.producerId, b.producerEpoch, b.baseSequence, b.lastOffset - b.baseOffset, b.baseOffset, b.maxTimestamp, b.transactional);
        return false;
      });
    }
    this.producers.onHighWatermark(this.hw);
  }

  /** Ends a producer's transaction at its marker; an ABORT goes into the segment's aborted-transaction index. */
  private endTransaction(producerId: number, producerEpoch: number, marker: ControlMarker, offset: number, timestamp: number, segment: Segment): void {
    const ended = this.producers.endTransaction(producerId, producerEpoch, marker.coordinatorEpoch, offset, timestamp, this.hw);
    if (!marker.commit) segment.txnIndex.append({ producerId, firstOffset: ended.firstOffset, lastOffset: offset, lastStableOffset: ended.lastStableOffset });
  }

  private saveProducerState(): void {
    this.producers.save(join(this.dir, PRODUCER_SNAPSHOT), this.logEndOffset);
  }

  /**
   * Checks the idempotent batches of a record set against producer state. Returns the original
   * of a retried batch, or null when all may be appended; throws on a gap or a fenced epoch.
   */
  private checkProducers(batches: BatchInfo[], origin: AppendOrigin): ProducerBatch | null {
    // Clients send one batch per partition per request; a set with several is checked in order.
    const pending = new Map<number, { epoch: number; lastSeq: number }>();
    for (const b of batches) {
      if (b.producerId < 0) continue;
      if (origin === 'coordinator') {
        this.producers.checkEpoch(b);
        continue;
      }
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

  /** The end of the committed records: consumers read below it. */
  get highWatermark(): number {
    return this.hw;
  }

  /**
   * min(HW, first offset of the earliest open transaction): read_committed consumers read below
   * it. Never below the log start: retention or DeleteRecords may have removed the start of an
   * open transaction, whose records past the log start must stay hidden all the same.
   */
  get lastStableOffset(): number {
    const unstable = Math.max(this.producers.firstUnstableOffset, this.logStartOffset);
    return unstable < this.hw ? unstable : this.hw;
  }

  /** Aborted transactions overlapping [fromOffset, upToOffset): what Fetch returns to read_committed consumers. */
  abortedTransactions(fromOffset: number, upToOffset: number): Array<{ producerId: number; firstOffset: number }> {
    const found: Array<{ producerId: number; firstOffset: number }> = [];
    // A transaction overlapping the range ends at or past fromOffset, so its marker is in this segment or a later one.
    for (let i = this.segmentFor(fromOffset); i < this.segments.length; i++) {
      const entries = this.segments[i]!.txnIndex.entries;
      // Entries are in marker order: skip those that ended before the range.
      let lo = 0;
      let hi = entries.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (entries[mid]!.lastOffset < fromOffset) lo = mid + 1;
        else hi = mid;
      }
      for (let e = lo; e < entries.length; e++) {
        const t = entries[e]!;
        if (t.firstOffset < upToOffset) found.push({ producerId: t.producerId, firstOffset: t.firstOffset });
        // Every transaction aborted after this one started at or past its lastStableOffset.
        if (t.lastStableOffset >= upToOffset) return found;
      }
    }
    return found;
  }

  /** Transactions open in this partition. */
  get openTransactions(): number {
    return this.producers.openTransactions;
  }

  /**
   * Whether every append is committed at once (HW = LEO): the single-node broker, or a partition
   * whose ISR is its leader alone. The cluster layer turns it off for replicated partitions and
   * moves the HW itself; turning it on commits the whole log.
   */
  get autoCommit(): boolean {
    return this.commitOnAppend;
  }

  set autoCommit(on: boolean) {
    if (on === this.commitOnAppend) return;
    this.commitOnAppend = on;
    if (on) this.setHighWatermark(this.logEndOffset);
    // From now on the file must exist: after a crash, no file would mean everything is committed.
    else if (!this.hwFileExists && !this.offline) this.saveHighWatermark(this.hw);
  }

  /**
   * Moves the high watermark forward (never back; at most to the log end) and wakes the
   * consumers waiting on it. Returns whether it moved. The HW is saved at most every few
   * seconds (and at close): a saved HW lower than the real one only makes consumers wait.
   */
  setHighWatermark(offset: number, now = Date.now()): boolean {
    const hw = Math.min(offset, this.logEndOffset);
    if (hw <= this.hw) return false;
    if (!this.commitOnAppend && !this.offline && now - this.hwSavedMs >= HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS) {
      this.saveHighWatermark(hw);
      this.hwSavedMs = now;
    }
    this.hw = hw;
    this.producers.onHighWatermark(hw);
    for (const listener of this.appendListeners) listener();
    return true;
  }

  private get hwPath(): string {
    return join(this.dir, HIGH_WATERMARK_CHECKPOINT);
  }

  private saveHighWatermark(hw: number): void {
    try {
      writeFileAtomic(this.hwPath, String(hw));
      this.hwFileExists = true;
    } catch (err) {
      throw this.storageFailure(err, 'high-watermark checkpoint');
    }
  }

  /** The latest leader epoch of the log's batches, -1 when there is none. */
  get latestEpoch(): number {
    return this.epochs.latestEpoch;
  }

  /**
   * Where `epoch` ends in this log (OffsetForLeaderEpoch, KIP-279): the largest cached epoch
   * <= `epoch`, with the start of the next epoch or the log end offset; -1, -1 below the first.
   */
  endOffsetForEpoch(epoch: number): EpochEndOffset {
    return this.epochs.endOffsetFor(epoch, this.logEndOffset);
  }

  /** The leader-epoch cache's entries, oldest first. */
  get epochEntries(): readonly EpochEntry[] {
    return this.epochs.all;
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
  append(records: Buffer, batches: BatchInfo[], leaderEpoch: number, now = Date.now(), origin: AppendOrigin = 'client'): AppendResult {
    if (this.offline) throw this.offline;
    const duplicate = this.checkProducers(batches, origin);
    if (duplicate) return { baseOffset: duplicate.firstOffset, lastOffset: duplicate.lastOffset, logAppendTime: -1, duplicate: true };
    const { result, scanned } = this.write(records, batches, leaderEpoch, now);
    for (const b of scanned) {
      if (b.producerId >= 0) this.producers.update(b.producerId, b.producerEpoch, b.baseSequence, b.lastOffset - b.baseOffset, b.baseOffset, now, b.transactional);
    }
    this.appended();
    return result;
  }

  /**
   * Writes a COMMIT/ABORT control batch for the producer's open transaction in this partition
   * (a marker with no open transaction is still written, as Kafka does); throws KafkaError
   * (INVALID_PRODUCER_EPOCH) when marker.producerEpoch is below the producer's current epoch,
   * TRANSACTION_COORDINATOR_FENCED when its coordinator epoch is below the last marker's.
   */
  appendTxnMarker(marker: TxnMarker, leaderEpoch: number, now = Date.now()): AppendResult {
    if (this.offline) throw this.offline;
    this.producers.checkMarker(marker.producerId, marker.producerEpoch, marker.coordinatorEpoch);
    const batch = buildControlBatch(marker, now);
    const { result } = this.write(batch, [readBatchInfo(batch, 0)], leaderEpoch, now);
    this.endTransaction(marker.producerId, marker.producerEpoch, marker, result.baseOffset, now, this.active);
    this.appended();
    return result;
  }

  /** Stamps offsets into validated batches and writes them to the active segment (rolled first when due). */
  private write(records: Buffer, batches: BatchInfo[], leaderEpoch: number, now: number): { result: AppendResult; scanned: ScannedBatch[] } {
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
        leaderEpoch,
        producerId: b.producerId,
        producerEpoch: b.producerEpoch,
        baseSequence: b.baseSequence,
        transactional: b.transactional,
        control: b.control,
      });
      next += b.lastOffsetDelta + 1;
    }
    const first = batches[0]!.position;
    const last = batches[batches.length - 1]!;
    const active = this.active;
    if (active.firstAppendMs === null) active.firstAppendMs = now;
    try {
      // The epoch is recorded before its first batch is written: an entry past the log end
      // (the write failed, or a crash came between) is dropped at the next open.
      if (leaderEpoch > this.epochs.latestEpoch) this.epochs.assign(leaderEpoch, baseOffset);
      active.append([records.subarray(first, last.position + last.size)], scanned, this.config.indexIntervalBytes);
      this.unflushedMessages += recordCount;
      if (this.unflushedMessages >= this.config.flushMessages) this.flush(now);
    } catch (err) {
      throw this.storageFailure(err, 'append');
    }
    return { result: { baseOffset, lastOffset: next - 1, logAppendTime: logAppendTime ?? -1, duplicate: false }, scanned };
  }

  /**
   * Appends a leader's batches as a follower: whole batches from the start of `records` (as a
   * Fetch response carries them), already stamped with offsets and leader epochs, written
   * verbatim. A partial batch at the end is left out. Throws when a batch is not magic v2, does
   * not fit its length or fails its CRC, or when the batches start below the log end offset or
   * go backwards; nothing is written then. Null when `records` holds no whole batch.
   */
  appendAsFollower(records: Buffer, now = Date.now()): FollowerAppendResult | null {
    if (this.offline) throw this.offline;
    const { batches, bytes, recordCount } = leaderBatches(records, this.logEndOffset);
    if (batches.length === 0) return null;
    try {
      this.maybeRoll(bytes, now);
    } catch (err) {
      throw this.storageFailure(err, 'segment roll');
    }
    // Markers are read before the write, while the batches' positions are still in `records`.
    let markers: Map<ScannedBatch, ControlMarker | null> | null = null;
    for (const b of batches) if (b.control) (markers ??= new Map()).set(b, readControlMarker(records.subarray(b.position, b.position + b.size)));
    const active = this.active;
    if (active.firstAppendMs === null) active.firstAppendMs = now;
    try {
      for (const b of batches) if (b.leaderEpoch > this.epochs.latestEpoch) this.epochs.assign(b.leaderEpoch, b.baseOffset);
      active.append([records.subarray(0, bytes)], batches, this.config.indexIntervalBytes);
      this.unflushedMessages += recordCount;
      if (this.unflushedMessages >= this.config.flushMessages) this.flush(now);
    } catch (err) {
      throw this.storageFailure(err, 'append');
    }
    // A follower that becomes leader must recognise the producers' retries and their open and aborted transactions.
    for (const b of batches) {
      if (b.producerId < 0) continue;
      if (!b.control) this.producers.update(b.producerId, b.producerEpoch, b.baseSequence, b.lastOffset - b.baseOffset, b.baseOffset, b.maxTimestamp, b.transactional);
      else {
        const marker = markers!.get(b);
        if (marker) this.endTransaction(b.producerId, b.producerEpoch, marker, b.baseOffset, b.maxTimestamp, active);
      }
    }
    this.appended();
    return { firstOffset: batches[0]!.baseOffset, lastOffset: batches[batches.length - 1]!.lastOffset };
  }

  /** Wakes the followers waiting on the log end and, when appends commit by themselves, the consumers. */
  private appended(): void {
    for (const listener of this.leoListeners) listener();
    if (!this.commitOnAppend) return;
    this.hw = this.logEndOffset;
    this.producers.onHighWatermark(this.hw);
    for (const listener of this.appendListeners) listener();
  }

  /**
   * Removes every batch with an offset at or past `offset` (a follower's log that diverged from
   * its leader's): later segments are deleted, the one holding `offset` is cut before the batch
   * that holds it. The epoch cache, producer state and high watermark follow the new end.
   * Below the log start the log is emptied and starts at `offset`.
   */
  truncateTo(offset: number): void {
    if (this.offline) throw this.offline;
    if (offset >= this.logEndOffset) return;
    if (offset < this.logStartOffset) return this.truncateFullyAndStartAt(offset);
    try {
      const index = this.segmentFor(offset);
      // Newest first, so that a crash leaves a shorter log, never one with a hole.
      for (let i = this.segments.length - 1; i > index; i--) this.segments[i]!.delete();
      this.segments = this.segments.slice(0, index + 1);
      const segment = this.segments[index]!;
      const cut = segment.findBatch(offset);
      if (cut) segment.truncateTo(cut.position, this.config.indexIntervalBytes);
      this.positions.clear();
      const end = this.logEndOffset;
      // The data is cut before the cache: a crash in between leaves entries past the end, which
      // the next open drops.
      this.epochs.truncateFromEnd(end);
      if (this.hw > end) {
        this.hw = end;
        if (this.hwFileExists) this.saveHighWatermark(end);
      }
      // Correctness over speed: the snapshot when it is at or below the new end, else a replay
      // from the log start; then a snapshot at the new end replaces one past it. Transactions
      // whose markers were cut are open again.
      this.loadProducerState();
      this.saveProducerState();
      const cleanerCheckpoint = join(this.dir, CLEANER_CHECKPOINT);
      if ((readOffsetFile(cleanerCheckpoint) ?? 0) > end) writeFileAtomic(cleanerCheckpoint, String(end));
    } catch (err) {
      throw this.storageFailure(err, 'truncation');
    }
  }

  /**
   * Deletes every segment and starts an empty log at `offset`, its new log start (a follower
   * whose leader's log starts past this log's end). The epoch cache and producer state are
   * cleared, the high watermark is `offset`.
   */
  truncateFullyAndStartAt(offset: number): void {
    if (this.offline) throw this.offline;
    try {
      // The cache file goes first: a crash before the segments are gone leaves no file, and the
      // next open rebuilds the cache from the batches still there.
      this.epochs.clear();
      for (let i = this.segments.length - 1; i >= 0; i--) this.segments[i]!.delete();
      this.segments = [Segment.create(this.dir, offset)];
      this.positions.clear();
      this.unflushedMessages = 0;
      this.logStartOffset = offset;
      writeFileAtomic(join(this.dir, LOG_START_CHECKPOINT), String(offset));
      rmSync(join(this.dir, CLEANER_CHECKPOINT), { force: true });
      this.producers.clear();
      this.saveProducerState();
      this.hw = offset;
      if (this.hwFileExists) this.saveHighWatermark(offset);
    } catch (err) {
      throw this.storageFailure(err, 'truncation');
    }
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
   * batch is returned whole even when larger, so a consumer always makes progress. Only batches
   * that end below `maxOffset` are returned: consumers read up to the high watermark, followers
   * pass the log end offset. Out of range below the log start or past the log end.
   */
  read(offset: number, maxBytes: number, maxOffset = this.hw): ReadResult {
    if (offset < this.logStartOffset || offset > this.logEndOffset) return { outOfRange: true };
    if (offset >= maxOffset) return { outOfRange: false, records: null };
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
      const { bytes, nextOffset } = wholeBatches(data, maxOffset);
      if (bytes === 0) return { outOfRange: false, records: null };
      this.remember(nextOffset, segment, batch.position + bytes);
      return { outOfRange: false, records: data.subarray(0, bytes), nextOffset };
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
    // The active segment is never cleaned, nor anything past the last stable offset: a record
    // that supersedes others past the high watermark may yet be truncated away, and an open
    // transaction may yet be aborted.
    const stable = this.lastStableOffset;
    let cleanable = this.segments.length - 1;
    while (cleanable > 0 && this.segments[cleanable - 1]!.nextOffset > stable) cleanable--;
    const sealed = this.segments.slice(0, cleanable);
    const rest = this.segments.slice(cleanable);
    const checkpoint = join(this.dir, CLEANER_CHECKPOINT);
    const cleanedUpTo = existsSync(checkpoint) ? Number(readFileSync(checkpoint, 'utf8')) || 0 : 0;
    let total = 0;
    let dirty = 0;
    for (const s of sealed) {
      total += s.size;
      if (s.nextOffset > cleanedUpTo) dirty += s.size;
    }
    if (dirty === 0 || dirty / total < this.config.minCleanableDirtyRatio) return null;
    const aborted = this.segments.flatMap((s) => s.txnIndex.entries);
    const { segments, result } = cleanSegments(sealed, aborted, now, this.config.deleteRetentionMs, this.config.indexIntervalBytes);
    this.segments = [...segments, ...rest];
    this.positions.clear();
    writeFileAtomic(checkpoint, String(rest[0]!.baseOffset));
    return result;
  }

  /**
   * Moves the log start offset up to `offset` (DeleteRecords, or a follower following its
   * leader's): reads below it are out of range and ListOffsets EARLIEST answers it. The new start
   * is checkpointed first, then the leader-epoch cache and producer state follow and every
   * segment wholly below it is deleted. Past the high watermark it throws OFFSET_OUT_OF_RANGE and
   * nothing changes. Returns whether the log start moved.
   */
  advanceLogStart(offset: number): boolean {
    if (this.offline) throw this.offline;
    if (offset > this.hw) {
      throw new KafkaError(ErrorCode.OFFSET_OUT_OF_RANGE, `cannot move the log start offset of ${this.dir} to ${offset}: it is past the high watermark ${this.hw}`);
    }
    if (offset <= this.logStartOffset) return false;
    try {
      this.setLogStartOffset(offset);
      // Producers are kept (their state expires by producer.id.expiration.ms, not with their
      // batches): a snapshot at the log end spares a restart replaying from the new start
      // without them, should the last snapshot now be below it.
      this.saveProducerState();
      this.deleteSegmentsBelowLogStart();
    } catch (err) {
      throw this.storageFailure(err, 'log start offset change');
    }
    return true;
  }

  /** Deletes the segments wholly below the log start offset; the active one is rolled first when it is one. */
  private deleteSegmentsBelowLogStart(): number {
    let deleted = 0;
    for (let first = this.segments[0]!; first.baseOffset < this.logStartOffset && first.nextOffset <= this.logStartOffset; first = this.segments[0]!) {
      if (first === this.active) this.roll();
      this.deleteFirstSegment();
      deleted++;
    }
    return deleted;
  }

  /**
   * Deletes segments wholly below the log start offset (left by a crash between its checkpoint
   * and their deletion), then, with cleanup.policy delete, those past retention time or size;
   * returns how many went.
   */
  applyRetention(now = Date.now()): number {
    let deleted = this.deleteSegmentsBelowLogStart();
    if (!this.config.delete) return deleted;
    const { retentionMs, retentionBytes } = this.config;
    if (retentionMs >= 0) {
      while (this.segments.length > 0) {
        const first = this.segments[0]!;
        if (first.size === 0 || first.maxTimestamp < 0 || first.maxTimestamp >= now - retentionMs) break;
        // Only committed records expire: a follower may still need the rest.
        if (first.nextOffset > this.hw) break;
        if (first === this.active) this.roll();
        this.deleteFirstSegment();
        deleted++;
      }
    }
    if (retentionBytes >= 0) {
      let excess = this.size - retentionBytes;
      while (this.segments.length > 1 && excess >= this.segments[0]!.size && this.segments[0]!.nextOffset <= this.hw) {
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
    writeFileAtomic(join(this.dir, LOG_START_CHECKPOINT), String(offset));
    this.logStartOffset = offset;
    this.epochs.truncateFromStart(offset);
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
        // With autoCommit the HW is the log end: no file says so, and none may say otherwise.
        if (!this.commitOnAppend) writeFileAtomic(this.hwPath, String(this.hw));
        else if (this.hwFileExists) rmSync(this.hwPath, { force: true });
      }
    } finally {
      for (const s of this.segments) s.close();
      this.appendListeners.clear();
      this.leoListeners.clear();
    }
  }

  /** Closes and removes the partition's directory. */
  delete(): void {
    for (const s of this.segments) s.close();
    this.appendListeners.clear();
    this.leoListeners.clear();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * How many leading bytes of `data` are whole batches ending below `maxOffset`, and the offset
 * after the last of them.
 */
function wholeBatches(data: Buffer, maxOffset: number): { bytes: number; nextOffset: number } {
  let at = 0;
  let nextOffset = -1;
  while (at + LOG_OVERHEAD <= data.length) {
    const size = data.readInt32BE(at + BatchOffset.batchLength) + LOG_OVERHEAD;
    if (at + size > data.length) break;
    const end = readInt64(data, at) + data.readInt32BE(at + BatchOffset.lastOffsetDelta) + 1;
    if (end > maxOffset) break;
    nextOffset = end;
    at += size;
  }
  return { bytes: at, nextOffset };
}

/** A number saved in a small file: null when there is no file, NaN when it does not parse. */
function readOffsetFile(path: string): number | null {
  if (!existsSync(path)) return null;
  const text = readFileSync(path, 'utf8').trim();
  return text === '' ? Number.NaN : Number(text);
}

/**
 * The leader-epoch cache from its checkpoint, or rebuilt from the batch headers when the file is
 * missing or unreadable; entries past the log end (a crash between the checkpoint and the batch)
 * or wholly below the log start (a crash during retention) are dropped.
 */
function openEpochCache(dir: string, segments: Segment[], logStartOffset: number, logEndOffset: number): LeaderEpochCache {
  const path = join(dir, LEADER_EPOCH_CHECKPOINT);
  const saved = LeaderEpochCache.read(path);
  const cache = new LeaderEpochCache(path, saved ?? epochsFromBatches(segments));
  if (saved === null && cache.all.length > 0) cache.save();
  cache.truncateFromEnd(logEndOffset);
  cache.truncateFromStart(logStartOffset);
  return cache;
}

/** Where each leader epoch first appears in the batch headers. */
function epochsFromBatches(segments: Segment[]): EpochEntry[] {
  const entries: EpochEntry[] = [];
  const add = (b: ScannedBatch) => {
    if (b.leaderEpoch > (entries[entries.length - 1]?.epoch ?? -1)) entries.push({ epoch: b.leaderEpoch, startOffset: b.baseOffset });
  };
  for (const segment of segments) {
    if (segment.size === 0) continue;
    let first = null as ScannedBatch | null;
    let last = null as ScannedBatch | null;
    segment.scanUntil(0, segment.size, (b) => {
      first = b;
      return true;
    });
    segment.scanUntil(segment.lookupPosition(segment.nextOffset - 1), segment.size, (b) => {
      last = b;
      return false;
    });
    // Epochs never decrease along a log, so a segment that ends in the epoch it starts with
    // holds no other: only segments where the epoch changes are read batch by batch.
    if (first && last && first.leaderEpoch === last.leaderEpoch) add(first);
    else
      segment.scanUntil(0, segment.size, (b) => {
        add(b);
        return false;
      });
  }
  return entries;
}

/**
 * The whole batches at the front of a leader's record set, checked as a follower must before
 * writing them verbatim: magic v2, a length that fits, the CRC-32C, offsets that start at or
 * past `logEndOffset` and only grow. Compaction leaves gaps between a leader's batches, so a
 * batch may start past the offset asked for. A partial batch at the end is left out.
 */
function leaderBatches(records: Buffer, logEndOffset: number): { batches: ScannedBatch[]; bytes: number; recordCount: number } {
  const batches: ScannedBatch[] = [];
  let pos = 0;
  let recordCount = 0;
  let next = logEndOffset;
  while (pos + BatchOffset.magic < records.length) {
    const size = records.readInt32BE(pos + BatchOffset.batchLength) + LOG_OVERHEAD;
    const magic = records.readInt8(pos + BatchOffset.magic);
    if (magic !== 2) throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, `the leader's batch at byte ${pos} has magic ${magic}, not 2`);
    if (size < BATCH_HEADER_SIZE) throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, `the leader's batch at byte ${pos} claims ${size} bytes, less than a batch header`);
    if (pos + size > records.length) break;
    if (!batchCrcMatches(records, pos, size)) throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, `the leader's batch at byte ${pos} fails its CRC-32C check`);
    const info = readBatchInfo(records, pos);
    if (info.lastOffsetDelta < 0) throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, `the leader's batch at byte ${pos} has a negative lastOffsetDelta ${info.lastOffsetDelta}`);
    if (info.baseOffset < next) {
      const where = batches.length === 0 ? `below the log end offset ${logEndOffset}` : `before the end of the previous batch (${next})`;
      throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, `the leader's batch at byte ${pos} starts at offset ${info.baseOffset}, ${where}`);
    }
    const lastOffset = info.baseOffset + info.lastOffsetDelta;
    batches.push({
      position: pos,
      size,
      baseOffset: info.baseOffset,
      lastOffset,
      maxTimestamp: info.maxTimestamp,
      leaderEpoch: records.readInt32BE(pos + BatchOffset.partitionLeaderEpoch),
      producerId: info.producerId,
      producerEpoch: info.producerEpoch,
      baseSequence: info.baseSequence,
      transactional: info.transactional,
      control: info.control,
    });
    recordCount += info.recordCount;
    next = lastOffset + 1;
    pos += size;
  }
  return { batches, bytes: pos, recordCount };
}
