// Settings of a partition log for tests that drive PartitionLog directly: one place for every field.
import type { LogConfig } from '../config.js';

/** No retention, no flushing, large segments; tests override what they exercise. */
export const testLogConfig = (overrides: Partial<LogConfig> = {}): LogConfig => ({
  segmentBytes: 1 << 30,
  segmentMs: 7 * 24 * 3600 * 1000,
  retentionMs: -1,
  retentionBytes: -1,
  indexIntervalBytes: 256,
  maxMessageBytes: 1 << 20,
  logAppendTime: false,
  minInsyncReplicas: 1,
  uncleanLeaderElection: false,
  delete: true,
  compact: false,
  deleteRetentionMs: 86_400_000,
  minCleanableDirtyRatio: 0.5,
  flushMessages: Number.MAX_SAFE_INTEGER,
  flushMs: Number.MAX_SAFE_INTEGER,
  ...overrides,
});
