// ListOffsets and OffsetForLeaderEpoch on a replicated partition's log, which a single-node
// broker cannot produce over the wire: batches in several leader epochs and a high watermark
// below the log end. Real LogManager and log files; only the topic registry is a stand-in.
// broker/test/offset-for-leader-epoch.test.ts asks a real broker process over a socket.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BrokerContext } from '../context.js';
import { ErrorCode } from '../protocol/errors.js';
import { buildRecordBatch } from '../records/batch-builder.js';
import { validateClientBatches } from '../records/record-batch.js';
import type { TopicRecord } from '../metadata/topic-registry.js';
import { LogManager } from '../storage/log-manager.js';
import type { PartitionLog } from '../storage/partition-log.js';
import { testLogConfig } from '../test/log-config.js';
import { handleListOffsets, handleOffsetForLeaderEpoch } from './offsets.js';

const CURRENT_EPOCH = 7;
let dir: string;
let logs: LogManager;
let log: PartitionLog;
let broker: BrokerContext;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'samsa-offsets-'));
  logs = new LogManager(dir, pino({ level: 'silent' }));
  const topic: TopicRecord = { name: 't', id: 'AAAAAAAAAAAAAAAAAAAAAQ', partitions: [{ partition: 0, replicas: [0, 1, 2] }], configs: {} };
  log = logs.open('t', 0, testLogConfig());
  // This broker leads the partition in CURRENT_EPOCH.
  const replica = { role: 'leader', leaderEpoch: CURRENT_EPOCH, log };
  broker = { logs, registry: { get: (name: string) => (name === 't' ? topic : undefined) }, replicas: { replica: () => replica } } as unknown as BrokerContext;
  log.autoCommit = false;
  // Offsets 0-1 in epoch 2 at t=1000, 2-3 in epoch 5 at t=2000, 4-5 in epoch 7 at t=3000.
  for (const [epoch, timestamp] of [
    [2, 1000],
    [5, 2000],
    [7, 3000],
  ] as const) {
    const records = buildRecordBatch([0, 1].map((i) => ({ value: Buffer.from(`${epoch}-${i}`), timestamp: timestamp + i })));
    log.append(records, validateClientBatches(records, { maxMessageBytes: 1 << 20 }), epoch);
  }
  log.setHighWatermark(4);
});

afterEach(() => {
  logs.close();
  rmSync(dir, { recursive: true, force: true });
});

function endOffset(leaderEpoch: number, currentLeaderEpoch = -1) {
  const res = handleOffsetForLeaderEpoch(broker, { replicaId: -1, topics: [{ topic: 't', partitions: [{ partition: 0, currentLeaderEpoch, leaderEpoch }] }] });
  return res.topics[0]!.partitions[0]!;
}

function listOffset(timestamp: number) {
  const res = handleListOffsets(broker, { replicaId: -1, isolationLevel: 0, timeoutMs: 1000, topics: [{ name: 't', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp, maxNumOffsets: 1 }] }] });
  const p = res.topics[0]!.partitions[0]!;
  return { errorCode: p.errorCode, offset: p.offset, timestamp: p.timestamp };
}

describe('OffsetForLeaderEpoch over epochs', () => {
  it('answers each epoch with where the next one starts, and the current one with the log end', () => {
    expect(endOffset(2)).toEqual({ errorCode: ErrorCode.NONE, partition: 0, leaderEpoch: 2, endOffset: 2 });
    expect(endOffset(3)).toMatchObject({ leaderEpoch: 2, endOffset: 2 });
    expect(endOffset(5)).toMatchObject({ leaderEpoch: 5, endOffset: 4 });
    expect(endOffset(6)).toMatchObject({ leaderEpoch: 5, endOffset: 4 });
    expect(endOffset(7)).toMatchObject({ leaderEpoch: 7, endOffset: 6 });
    expect(endOffset(1)).toMatchObject({ errorCode: ErrorCode.NONE, leaderEpoch: 1, endOffset: 0 });
    expect(endOffset(8)).toMatchObject({ errorCode: ErrorCode.NONE, leaderEpoch: -1, endOffset: -1 });
    expect(endOffset(5, 6)).toMatchObject({ errorCode: ErrorCode.FENCED_LEADER_EPOCH });
    expect(endOffset(5, 8)).toMatchObject({ errorCode: ErrorCode.UNKNOWN_LEADER_EPOCH });
  });

  it('answers the current epoch with the log end before any batch carries it', () => {
    log.truncateTo(4);
    expect(log.latestEpoch).toBe(5);
    expect(endOffset(CURRENT_EPOCH)).toMatchObject({ leaderEpoch: CURRENT_EPOCH, endOffset: 4 });
    expect(endOffset(6)).toMatchObject({ leaderEpoch: 5, endOffset: 4 });
  });
});

describe('ListOffsets below the high watermark', () => {
  it('answers LATEST with the high watermark and finds no timestamp past it', () => {
    expect(listOffset(-1)).toMatchObject({ errorCode: ErrorCode.NONE, offset: 4 });
    expect(listOffset(-2)).toMatchObject({ offset: 0 });
    expect(listOffset(1500)).toEqual({ errorCode: ErrorCode.NONE, offset: 2, timestamp: 2000 });
    expect(listOffset(2001)).toEqual({ errorCode: ErrorCode.NONE, offset: 3, timestamp: 2001 });
    // The record at t=3000 is past the HW: no match yet, and MAX_TIMESTAMP does not name it.
    expect(listOffset(2500)).toEqual({ errorCode: ErrorCode.NONE, offset: -1, timestamp: -1 });
    expect(listOffset(-3)).toEqual({ errorCode: ErrorCode.NONE, offset: -1, timestamp: -1 });
    log.setHighWatermark(6);
    expect(listOffset(2500)).toEqual({ errorCode: ErrorCode.NONE, offset: 4, timestamp: 3000 });
    expect(listOffset(-3)).toEqual({ errorCode: ErrorCode.NONE, offset: 5, timestamp: 3001 });
    expect(listOffset(-1)).toMatchObject({ offset: 6 });
  });
});
