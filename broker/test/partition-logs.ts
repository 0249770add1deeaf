// Partition logs on real files for tests that drive PartitionLog directly: each test gets fresh
// temporary directories, and every log it opened is closed and removed after it, failed or not.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import type { LogConfig } from '../config.js';
import { PartitionLog } from '../storage/partition-log.js';
import { testLogConfig } from './log-config.js';

export interface PartitionLogs {
  /** This test's directory: where `open` opens by default (a follower's log, in replication tests). */
  readonly dir: string;
  /** This test's second directory, for a leader's log beside the follower's. */
  readonly leaderDir: string;
  /** Opens the log in `at` with `testLogConfig(overrides)`; `clean`: as after a clean shutdown. */
  open(at?: string, overrides?: Partial<LogConfig>, clean?: boolean): PartitionLog;
  /** Closes a log as a shutdown does, or (crash) only its files, as a killed process would. */
  shut(log: PartitionLog, clean?: boolean): void;
  /** Shuts a log and opens its directory again, with `clean` for both. */
  reopen(log: PartitionLog, overrides?: Partial<LogConfig>, clean?: boolean): PartitionLog;
}

/** Registers the hooks for a test file whose tests open partition logs; `prefix` starts its directories' names. */
export function usePartitionLogs(prefix: string): PartitionLogs {
  const opened: PartitionLog[] = [];
  let dir = '';
  let leaderDir = '';
  const open = (at = dir, overrides: Partial<LogConfig> = {}, clean = true): PartitionLog => {
    const log = PartitionLog.open({ dir: at, config: testLogConfig(overrides), clean });
    opened.push(log);
    return log;
  };
  const shut = (log: PartitionLog, clean = true): void => {
    if (clean) log.close();
    else for (const s of (log as unknown as { segments: Array<{ close(): void }> }).segments) s.close();
    const i = opened.indexOf(log);
    if (i >= 0) opened.splice(i, 1);
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
    leaderDir = mkdtempSync(join(tmpdir(), `${prefix}leader-`));
  });
  afterEach(() => {
    for (const log of opened.splice(0)) log.delete();
    rmSync(dir, { recursive: true, force: true });
    rmSync(leaderDir, { recursive: true, force: true });
  });
  return {
    get dir() {
      return dir;
    },
    get leaderDir() {
      return leaderDir;
    },
    open,
    shut,
    reopen(log, overrides = {}, clean = true) {
      shut(log, clean);
      return open(log.dir, overrides, clean);
    },
  };
}
