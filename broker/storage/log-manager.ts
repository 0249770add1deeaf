// The partition logs this broker keeps on disk, one directory per partition ("<topic>-<n>"),
// the clean-shutdown marker that decides how much recovery a start needs, the retention,
// cleaner and flush loops, and the log directory's health. As in Kafka, a failed write takes
// the whole log directory offline (with one data directory: every partition): its partitions
// answer KAFKA_STORAGE_ERROR until the broker is restarted with the fault fixed. A partition
// that cannot be opened at start is offline on its own; the broker serves the rest.
import { existsSync, mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { LogConfig } from '../config.js';
import { PartitionLog } from './partition-log.js';
import { writeFileAtomic } from './atomic-file.js';
import { FDS_PER_NEW_PARTITION, openFileCount, openFileLimit, reservedFds } from './fd-budget.js';
import { KafkaStorageError, describeIoError } from './storage-error.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';

const CLEAN_SHUTDOWN = '.clean-shutdown';
/** The id of the topic a partition directory belongs to. */
const TOPIC_ID_FILE = 'topic-id';
/** setInterval treats longer delays as 1 ms; a longer interval (Kafka's Long.MAX default) means never. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export type StorageOperation = 'append' | 'open' | 'close';

export class LogManager {
  private readonly logs = new Map<string, PartitionLog[]>();
  private readonly clean: boolean;
  private readonly timers: NodeJS.Timeout[] = [];
  /** Why the log directory is offline, null while it is healthy. */
  private dirFailure: string | null = null;
  /** Partitions that could not be opened at start ("topic\0partition" -> why). */
  private readonly unopened = new Map<string, string>();
  /** Storage failures so far, by operation (samsa_storage_errors_total). */
  readonly storageErrors = new Map<StorageOperation, number>();
  /** The soft open-file limit (RLIMIT_NOFILE). */
  private readonly fdLimit = openFileLimit();

  constructor(
    readonly dataDir: string,
    private readonly logger: Logger,
  ) {
    mkdirSync(dataDir, { recursive: true });
    const marker = join(dataDir, CLEAN_SHUTDOWN);
    this.clean = existsSync(marker);
    if (this.clean) unlinkSync(marker);
  }

  /** Whether the previous run shut down cleanly (false on first start or after a crash). */
  get recoveredCleanly(): boolean {
    return this.clean;
  }

  private dirOf(topic: string, partition: number): string {
    return join(this.dataDir, `${topic}-${partition}`);
  }

  /**
   * Opens (or creates) the log of one partition. A brand-new topic starts from an empty
   * directory. With `topicId`, a directory left by an older topic of the same name (deleted while
   * this broker was away) is emptied first, and the id is recorded in the directory.
   */
  open(topic: string, partition: number, config: LogConfig, fresh = false, topicId?: string): PartitionLog {
    const dir = this.dirOf(topic, partition);
    const idFile = join(dir, TOPIC_ID_FILE);
    if (!fresh && topicId !== undefined && existsSync(idFile) && readFileSync(idFile, 'utf8') !== topicId) fresh = true;
    if (fresh) rmSync(dir, { recursive: true, force: true });
    const log = PartitionLog.open({
      dir,
      config,
      clean: this.clean,
      onTruncate: (base, bytes) => this.logger.warn({ topic, partition, segment: base, bytes }, 'recovery cut a torn or corrupt tail'),
      onStorageError: (err) => this.takeDirOffline(err, topic, partition),
    });
    if (this.dirFailure !== null) log.takeOffline(new KafkaStorageError(this.dirFailure));
    else if (topicId !== undefined && !existsSync(idFile)) {
      // Best effort: a directory without the file (a full disk, or one from before ids were kept) is trusted as this topic's.
      try {
        writeFileAtomic(idFile, topicId);
      } catch (err) {
        this.logger.warn({ topic, partition, err }, 'cannot record the topic id in the partition directory');
      }
    }
    const list = this.logs.get(topic) ?? [];
    list[partition] = log;
    this.logs.set(topic, list);
    return log;
  }

  /**
   * Opens the logs of existing partitions at start, as many as the descriptor budget allows.
   * A partition that cannot be opened (EMFILE, EIO, over the budget) is logged and left
   * offline instead of stopping the broker.
   */
  openExisting(partitions: Iterable<{ topic: string; topicId: string; partition: number; config: LogConfig }>): void {
    const budget = this.fdLimit - reservedFds(this.fdLimit);
    let used = openFileCount();
    for (const { topic, topicId, partition, config } of partitions) {
      if (used + FDS_PER_NEW_PARTITION > budget) {
        this.markUnopened(topic, partition, `the open-file limit (${this.fdLimit}, ${reservedFds(this.fdLimit)} kept for connections) leaves no descriptor for this partition`);
        continue;
      }
      try {
        used += this.open(topic, partition, config, false, topicId).segmentCount;
      } catch (err) {
        this.count('open');
        this.markUnopened(topic, partition, `cannot open the partition's log: ${describeIoError(err)}`);
      }
    }
    if (this.unopened.size > 0) this.logger.error({ partitions: this.unopened.size, openFileLimit: this.fdLimit }, 'partitions left offline at start');
  }

  private markUnopened(topic: string, partition: number, reason: string): void {
    this.unopened.set(`${topic}\0${partition}`, reason);
    this.logger.error({ topic, partition, reason }, 'partition offline: its log could not be opened');
  }

  /**
   * Refuses `partitions` more logs when the descriptor budget cannot hold them: KafkaError
   * POLICY_VIOLATION naming the limit.
   */
  checkFdBudget(partitions: number): void {
    if (!Number.isFinite(this.fdLimit)) return;
    const reserve = reservedFds(this.fdLimit);
    const open = openFileCount();
    const room = Math.max(0, Math.floor((this.fdLimit - reserve - open) / FDS_PER_NEW_PARTITION));
    if (partitions > room) {
      throw new KafkaError(
        ErrorCode.POLICY_VIOLATION,
        `${partitions} new partition(s) need ${partitions * FDS_PER_NEW_PARTITION} open file(s), but the open-file limit (RLIMIT_NOFILE ${this.fdLimit}) ` +
          `with ${open} open and ${reserve} kept for connections leaves room for ${room}`,
      );
    }
  }

  /** Partitions this broker holds, open or offline. */
  get partitionCount(): number {
    let n = this.unopened.size;
    for (const list of this.logs.values()) for (const log of list) if (log) n++;
    return n;
  }

  /** The log of a partition, or undefined when it is unknown or offline (see offlineReason). */
  get(topic: string, partition: number): PartitionLog | undefined {
    if (this.dirFailure !== null) return undefined;
    return this.logs.get(topic)?.[partition];
  }

  /** Why a partition is offline (KAFKA_STORAGE_ERROR to clients), or null. */
  offlineReason(topic: string, partition: number): string | null {
    if (this.dirFailure !== null && this.logs.get(topic)?.[partition]) return `log directory ${this.dataDir} is offline: ${this.dirFailure}`;
    if (this.unopened.size === 0) return null;
    return this.unopened.get(`${topic}\0${partition}`) ?? null;
  }

  /** Why the log directory is offline, or null while it is healthy. */
  get offline(): string | null {
    return this.dirFailure;
  }

  /** Partitions that answer KAFKA_STORAGE_ERROR. */
  get offlinePartitionCount(): number {
    return this.dirFailure !== null ? this.partitionCount : this.unopened.size;
  }

  private count(operation: StorageOperation): void {
    this.storageErrors.set(operation, (this.storageErrors.get(operation) ?? 0) + 1);
  }

  /** A write to the directory failed: every partition in it stops taking writes. */
  private takeDirOffline(err: KafkaStorageError, topic: string, partition: number): void {
    this.count('append');
    if (this.dirFailure !== null) return;
    this.dirFailure = err.message;
    for (const list of this.logs.values()) for (const log of list) log?.takeOffline(err);
    this.logger.error(
      { dataDir: this.dataDir, topic, partition, err: err.cause ?? err, partitions: this.partitionCount },
      'log directory offline after a failed write: its partitions answer KAFKA_STORAGE_ERROR until the broker is restarted with the fault fixed',
    );
  }

  topicLogs(topic: string): readonly PartitionLog[] {
    return this.logs.get(topic) ?? [];
  }

  all(): Iterable<[string, PartitionLog[]]> {
    return this.logs.entries();
  }

  setConfig(topic: string, config: LogConfig): void {
    // The list has holes where a partition's replica moved away (deletePartition).
    for (const log of this.topicLogs(topic)) if (log) log.config = config;
  }

  deleteTopic(topic: string): void {
    for (const log of this.topicLogs(topic)) log?.delete();
    this.logs.delete(topic);
    for (const key of this.unopened.keys()) {
      if (!key.startsWith(`${topic}\0`)) continue;
      this.unopened.delete(key);
      rmSync(this.dirOf(topic, Number(key.slice(topic.length + 1))), { recursive: true, force: true });
    }
  }

  /** Removes one partition's log (its replica moved to other brokers). */
  deletePartition(topic: string, partition: number): void {
    const list = this.logs.get(topic);
    const log = list?.[partition];
    if (!list || !log) return;
    log.delete();
    delete list[partition];
  }

  /** Removes the logs of partitions `from` and up (a CreatePartitions that could not be recorded). */
  deletePartitionsFrom(topic: string, from: number): void {
    const list = this.logs.get(topic);
    if (!list) return;
    for (const log of list.splice(from)) log?.delete();
  }

  /** Runs retention over every log now; returns segments deleted. */
  applyRetention(now = Date.now()): number {
    let deleted = 0;
    for (const [topic, logs] of this.logs) {
      logs.forEach((log, partition) => {
        const n = log.applyRetention(now);
        if (n > 0) this.logger.info({ topic, partition, segments: n, logStartOffset: log.logStartOffset }, 'retention deleted segments');
        deleted += n;
      });
    }
    return deleted;
  }

  /** Runs `task` every `intervalMs` until close; a failure is logged and the next run goes on. */
  private every(intervalMs: number, what: string, task: () => void): void {
    if (intervalMs > MAX_TIMER_MS) return;
    const timer = setInterval(() => {
      // An offline directory is not written to again.
      if (this.dirFailure !== null) return;
      try {
        task();
      } catch (err) {
        this.logger.error({ err }, `${what} failed`);
      }
    }, intervalMs);
    timer.unref();
    this.timers.push(timer);
  }

  startRetention(intervalMs: number): void {
    this.every(intervalMs, 'retention', () => this.applyRetention());
  }

  /** Compacts every partition of a compacted topic that is due. */
  compact(now = Date.now()): void {
    for (const [topic, logs] of this.logs) {
      logs.forEach((log, partition) => {
        if (!log.config.compact) return;
        const result = log.compact(now);
        if (result && (result.recordsRemoved > 0 || result.markersRemoved > 0)) this.logger.info({ topic, partition, ...result }, 'compaction removed superseded records');
        if (result && result.unreadableBatches > 0) this.logger.warn({ topic, partition, batches: result.unreadableBatches }, 'compaction kept batches whose records do not decode');
      });
    }
  }

  startCleaner(intervalMs: number): void {
    this.every(intervalMs, 'compaction', () => this.compact());
  }

  /** Flushes logs whose records have waited flush.ms, every log.flush.scheduler.interval.ms. */
  startFlusher(intervalMs: number): void {
    this.every(intervalMs, 'flush', () => {
      const now = Date.now();
      for (const logs of this.logs.values()) for (const log of logs) log?.flushIfDue(now);
    });
  }

  /**
   * Seals every log and leaves the marker that lets the next start skip tail validation. The
   * marker is left out when the directory is offline or any log failed to seal, so the next
   * start validates the tails.
   */
  close(): void {
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    let sealed = this.dirFailure === null;
    for (const [topic, logs] of this.logs) {
      logs.forEach((log, partition) => {
        try {
          log?.close();
        } catch (err) {
          sealed = false;
          this.count('close');
          this.logger.error({ topic, partition, err }, 'sealing the log at shutdown failed; the next start validates it');
        }
      });
    }
    this.logs.clear();
    if (!sealed) return;
    try {
      writeFileSync(join(this.dataDir, CLEAN_SHUTDOWN), new Date().toISOString());
    } catch (err) {
      this.logger.error({ err }, 'cannot write the clean-shutdown marker; the next start validates every tail');
      rmSync(join(this.dataDir, CLEAN_SHUTDOWN), { force: true });
    }
  }
}
