// The group coordinator's offsets in transactions, on real offsets-partition logs on disk: pending
// until the marker, committed or dropped by it, ordered against plain commits by their place in
// the log, and rebuilt the same from the log after a restart. The topic registry and log manager
// are stand-ins that name the two offsets partitions; the logs and their records are real.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BrokerConfig } from '../config.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { readBatchInfo } from '../records/record-batch.js';
import type { LogManager } from '../storage/log-manager.js';
import { PartitionLog } from '../storage/partition-log.js';
import { testLogConfig } from '../test/log-config.js';
import type { TopicService } from '../topics.js';
import { GroupCoordinator, OFFSETS_TOPIC } from './coordinator.js';
import { partitionForGroup } from './offsets-records.js';

const PARTITIONS = 2;
const TOPIC = 'orders';

let dir: string;
let logs: PartitionLog[];
let coordinators: GroupCoordinator[];
/** When set, replication of the offsets partitions waits for it (as for a slow follower). */
let replicationGate: Promise<void> | null;

const groupIn = (partition: number, prefix = 'group') => {
  for (let i = 0; ; i++) if (partitionForGroup(`${prefix}-${i}`, PARTITIONS) === partition) return `${prefix}-${i}`;
};

function openLogs(): void {
  logs = Array.from({ length: PARTITIONS }, (_, p) => PartitionLog.open({ dir: join(dir, `${OFFSETS_TOPIC}-${p}`), config: testLogConfig({ compact: true }), clean: true }));
}

/** A coordinator leading both offsets partitions, their groups replayed from the logs. */
function startCoordinator(): GroupCoordinator {
  const registry = new Map([
    [OFFSETS_TOPIC, { name: OFFSETS_TOPIC, partitions: Array.from({ length: PARTITIONS }, () => ({})) }],
    [TOPIC, { name: TOPIC, partitions: [{}, {}, {}] }],
  ]);
  const topics = { registry: { get: (name: string) => registry.get(name) } } as unknown as TopicService;
  const logManager = { get: (topic: string, p: number) => (topic === OFFSETS_TOPIC ? logs[p] : undefined) } as unknown as LogManager;
  const coordinator = new GroupCoordinator(
    new BrokerConfig({ 'group.initial.rebalance.delay.ms': '0' }),
    topics,
    logManager,
    pino({ level: 'silent' }),
    () => 1,
    (p) => {
      const log = logs[p];
      if (!log) return undefined;
      const committed = async (offset: number) => {
        await replicationGate;
        return log.highWatermark >= offset ? ErrorCode.NONE : ErrorCode.REQUEST_TIMED_OUT;
      };
      return { log, leaderEpoch: 0, committed };
    },
  );
  for (let p = 0; p < PARTITIONS; p++) coordinator.loadPartition(p);
  coordinators.push(coordinator);
  return coordinator;
}

function restart(): GroupCoordinator {
  for (const log of logs) log.close();
  openLogs();
  return startCoordinator();
}

/** The transaction coordinator's marker landing in offsets partition `partition`. */
function writeMarker(partition: number, producerId: number, producerEpoch: number, commit: boolean): void {
  logs[partition]!.appendTxnMarker({ producerId, producerEpoch, commit, coordinatorEpoch: 0 }, 0);
}

const offset = (value: number, partition = 0) => ({ topic: TOPIC, partition, offset: value, leaderEpoch: 3, metadata: `m${value}` });

function txnCommit(coordinator: GroupCoordinator, groupId: string, producerId: number, offsets: ReturnType<typeof offset>[], producerEpoch = 0) {
  return coordinator.commitTransactional({ groupId, producerId, producerEpoch, generationId: -1, memberId: '', groupInstanceId: null, offsets });
}

const committedOffset = (coordinator: GroupCoordinator, groupId: string, partition = 0) => coordinator.committed(groupId, TOPIC, partition)?.offset;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'samsa-txn-offsets-'));
  coordinators = [];
  replicationGate = null;
  openLogs();
});

afterEach(() => {
  for (const c of coordinators) c.close();
  for (const log of logs) log.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('offsets committed in transactions', () => {
  it('are written as one transactional batch of the producer and stay invisible until the COMMIT marker', async () => {
    const c = startCoordinator();
    const group = groupIn(0);
    expect(await txnCommit(c, group, 7000, [offset(10, 0), offset(20, 1)], 2)).toEqual([ErrorCode.NONE, ErrorCode.NONE]);

    const read = logs[0]!.read(0, 1 << 20);
    if (read.outOfRange || !read.records) throw new Error('nothing written');
    const info = readBatchInfo(read.records, 0);
    expect(info).toMatchObject({ producerId: 7000, producerEpoch: 2, recordCount: 2, size: read.records.length });
    expect(info.transactional).toBe(true);

    expect(committedOffset(c, group, 0)).toBeUndefined();
    expect(c.committedTopics(group).size).toBe(0);
    expect(c.hasPendingTxnOffset(group, TOPIC, 0)).toBe(true);
    expect(c.hasPendingTxnOffset(group, TOPIC, 2)).toBe(false);
    // The offsets partition holds the transaction open like any partition: its LSO stays at the batch.
    expect(logs[0]!.lastStableOffset).toBe(0);

    writeMarker(0, 7000, 2, true);
    expect(logs[0]!.lastStableOffset).toBe(logs[0]!.logEndOffset);
    c.completeTransaction(7000, 0, true);
    expect(c.committed(group, TOPIC, 0)).toMatchObject({ offset: 10, leaderEpoch: 3, metadata: 'm10' });
    expect(committedOffset(c, group, 1)).toBe(20);
    expect(c.hasPendingTxnOffset(group, TOPIC, 0)).toBe(false);
  });

  it('are dropped by the ABORT marker, leaving the offset committed before', async () => {
    const c = startCoordinator();
    const group = groupIn(0);
    expect(await c.commit(group, -1, '', null, [offset(5)])).toEqual([ErrorCode.NONE]);
    await txnCommit(c, group, 7001, [offset(9)]);
    writeMarker(0, 7001, 0, false);
    c.completeTransaction(7001, 0, false);
    expect(committedOffset(c, group)).toBe(5);
    expect(c.hasPendingTxnOffset(group, TOPIC, 0)).toBe(false);

    // A later transaction of the same producer and epoch commits again (no sequence clash with the first).
    await txnCommit(c, group, 7001, [offset(12)]);
    writeMarker(0, 7001, 0, true);
    c.completeTransaction(7001, 0, true);
    expect(committedOffset(c, group)).toBe(12);
  });

  it('lose to a plain commit written after them, and win over one written before', async () => {
    const c = startCoordinator();
    const later = groupIn(0, 'later');
    await txnCommit(c, later, 7002, [offset(10)]);
    await c.commit(later, -1, '', null, [offset(7)]);
    writeMarker(0, 7002, 0, true);
    c.completeTransaction(7002, 0, true);
    expect(committedOffset(c, later)).toBe(7);

    const earlier = groupIn(0, 'earlier');
    await c.commit(earlier, -1, '', null, [offset(7)]);
    await txnCommit(c, earlier, 7003, [offset(10)]);
    writeMarker(0, 7003, 0, true);
    c.completeTransaction(7003, 0, true);
    expect(committedOffset(c, earlier)).toBe(10);
  });

  it('are completed by a marker that lands while they replicate (the transaction aborted on timeout)', async () => {
    const c = startCoordinator();
    const group = groupIn(0);
    let replicate!: () => void;
    replicationGate = new Promise((resolve) => (replicate = resolve));
    const answer = txnCommit(c, group, 7007, [offset(4)]);
    // The marker comes after the offsets' batch in the log.
    while (logs[0]!.logEndOffset === 0) await new Promise((resolve) => setImmediate(resolve));
    writeMarker(0, 7007, 0, false);
    c.completeTransaction(7007, 0, false);
    replicate();
    expect(await answer).toEqual([ErrorCode.NONE]);
    expect(c.hasPendingTxnOffset(group, TOPIC, 0)).toBe(false);
    expect(committedOffset(c, group)).toBeUndefined();
  });

  it('of one producer are completed per offsets partition: a marker completes only the groups of its partition', async () => {
    const c = startCoordinator();
    const first = groupIn(0);
    const second = groupIn(1);
    await txnCommit(c, first, 7004, [offset(1)]);
    await txnCommit(c, second, 7004, [offset(2)]);
    writeMarker(0, 7004, 0, true);
    c.completeTransaction(7004, 0, true);
    expect(committedOffset(c, first)).toBe(1);
    expect(committedOffset(c, second)).toBeUndefined();
    expect(c.hasPendingTxnOffset(second, TOPIC, 0)).toBe(true);
    writeMarker(1, 7004, 0, true);
    c.completeTransaction(7004, 1, true);
    expect(committedOffset(c, second)).toBe(2);
  });

  it('are rebuilt from the log after a restart: committed, aborted and open transactions, in log order with plain commits', async () => {
    const before = startCoordinator();
    const group = groupIn(0);
    await before.commit(group, -1, '', null, [offset(1, 0), offset(1, 1), offset(1, 2)]);
    // Committed transaction; a plain commit of partition 1 lands between its offsets and its marker.
    await txnCommit(before, group, 8001, [offset(10, 0), offset(10, 1)]);
    await before.commit(group, -1, '', null, [offset(5, 1)]);
    writeMarker(0, 8001, 0, true);
    before.completeTransaction(8001, 0, true);
    // Aborted transaction.
    await txnCommit(before, group, 8002, [offset(99, 2)]);
    writeMarker(0, 8002, 0, false);
    before.completeTransaction(8002, 0, false);
    // Open transaction: its marker has not come yet.
    await txnCommit(before, group, 8003, [offset(50, 2)]);
    const seen = [0, 1, 2].map((p) => committedOffset(before, group, p));
    expect(seen).toEqual([10, 5, 1]);

    const after = restart();
    expect([0, 1, 2].map((p) => committedOffset(after, group, p))).toEqual(seen);
    expect(after.hasPendingTxnOffset(group, TOPIC, 2)).toBe(true);
    expect(after.hasPendingTxnOffset(group, TOPIC, 0)).toBe(false);
    // The open transaction's marker arrives at the new coordinator.
    writeMarker(0, 8003, 0, true);
    after.completeTransaction(8003, 0, true);
    expect(committedOffset(after, group, 2)).toBe(50);

    // A marker replayed from the log does the same.
    const again = restart();
    expect([0, 1, 2].map((p) => committedOffset(again, group, p))).toEqual([10, 5, 50]);
    expect(again.hasPendingTxnOffset(group, TOPIC, 2)).toBe(false);
  });

  it('are refused to a fenced producer epoch, and checked against member and generation when sent (v3+)', async () => {
    const c = startCoordinator();
    const group = groupIn(0);
    await txnCommit(c, group, 7005, [offset(3)], 4);
    await expect(txnCommit(c, group, 7005, [offset(4)], 3)).rejects.toSatisfy((err) => err instanceof KafkaError && err.code === ErrorCode.INVALID_PRODUCER_EPOCH);

    const joined = await c.join({
      groupId: group,
      memberId: '',
      groupInstanceId: null,
      clientId: 'c',
      clientHost: '/127.0.0.1',
      sessionTimeoutMs: 30_000,
      rebalanceTimeoutMs: 30_000,
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: Buffer.alloc(0) }],
      requireKnownMemberId: false,
    });
    expect(joined.errorCode).toBe(ErrorCode.NONE);
    const asMember = (memberId: string, generationId: number) =>
      c.commitTransactional({ groupId: group, producerId: 7006, producerEpoch: 0, generationId, memberId, groupInstanceId: null, offsets: [offset(6)] });
    expect(await asMember('stranger', joined.generationId)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(await asMember(joined.memberId, joined.generationId + 1)).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect(await asMember(joined.memberId, joined.generationId)).toEqual([ErrorCode.NONE]);
    // Before v3 the client sends neither: offsets of a group with members are taken, as Kafka does.
    expect(await asMember('', -1)).toEqual([ErrorCode.NONE]);
    expect(await c.commitTransactional({ groupId: group, producerId: 7006, producerEpoch: 0, generationId: -1, memberId: '', groupInstanceId: null, offsets: [{ ...offset(6), partition: 9 }] })).toEqual([
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    ]);
  });
});
