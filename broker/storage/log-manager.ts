// The partition logs this broker keeps on disk, one directory per partition ("<topic>-<n>"),
// the clean-shutdown marker that decides how much recovery a start needs, and the retention loop.
import { existsSync, mkdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { LogConfig } from '../config.js';
import { PartitionLog } from './partition-log.js';

const CLEAN_SHUTDOWN = '.clean-shutdown';

export class LogManager {
  private readonly logs = new Map<string, PartitionLog[]>();
  private readonly clean: boolean;
  private readonly timers: NodeJS.Timeout[] = [];

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

  /** Opens (or creates) the log of one partition. A brand-new topic starts from an empty directory. */
  open(topic: string, partition: number, config: LogConfig, fresh = false): PartitionLog {
    const dir = this.dirOf(topic, partition);
    if (fresh) rmSync(dir, { recursive: true, force: true });
    const log = PartitionLog.open({
      dir,
      config,
      clean: this.clean,
      onTruncate: (base, bytes) => this.logger.warn({ topic, partition, segment: base, bytes }, 'recovery cut a torn or corrupt tail'),
    });
    const list = this.logs.get(topic) ?? [];
    list[partition] = log;
    this.logs.set(topic, list);
    return log;
  }

  get(topic: string, partition: number): PartitionLog | undefined {
    return this.logs.get(topic)?.[partition];
  }

  topicLogs(topic: string): readonly PartitionLog[] {
    return this.logs.get(topic) ?? [];
  }

  all(): Iterable<[string, PartitionLog[]]> {
    return this.logs.entries();
  }

  setConfig(topic: string, config: LogConfig): void {
    for (const log of this.topicLogs(topic)) log.config = config;
  }

  deleteTopic(topic: string): void {
    for (const log of this.topicLogs(topic)) log.delete();
    this.logs.delete(topic);
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
    const timer = setInterval(() => {
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
        if (result && result.recordsRemoved > 0) this.logger.info({ topic, partition, ...result }, 'compaction removed superseded records');
        if (result && result.unreadableBatches > 0) this.logger.warn({ topic, partition, batches: result.unreadableBatches }, 'compaction kept batches whose records do not decode');
      });
    }
  }

  startCleaner(intervalMs: number): void {
    this.every(intervalMs, 'compaction', () => this.compact());
  }

  /** Seals every log and leaves the marker that lets the next start skip tail validation. */
  close(): void {
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    for (const logs of this.logs.values()) for (const log of logs) log.close();
    this.logs.clear();
    writeFileSync(join(this.dataDir, CLEAN_SHUTDOWN), new Date().toISOString());
  }
}
