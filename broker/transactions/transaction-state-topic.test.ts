// A __transaction_state partition replayed by its new leader, on a real log: each id's last state
// (a tombstone removes it), and every record that cannot be read logged, counted and skipped
// without losing the ids around it. The topic registry and log manager are stand-ins naming the
// one partition; what is written goes through the topic's own write path.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { expect, it } from 'vitest';
import { BrokerConfig } from '../config.js';
import { ErrorCode } from '../protocol/errors.js';
import { buildRecordBatch } from '../records/batch-builder.js';
import type { LogManager } from '../storage/log-manager.js';
import type { PartitionLog } from '../storage/partition-log.js';
import { usePartitionLogs } from '../test/partition-logs.js';
import { notGzip } from '../test/undecodable-batch.js';
import type { TopicService } from '../topics.js';
import { type StoredTransaction, TRANSACTION_STATE_TOPIC } from './transaction-log-records.js';
import { TransactionStateTopic } from './transaction-state-topic.js';

const logs = usePartitionLogs('samsa-txn-state-');

const stored = (producerId: number): StoredTransaction => ({
  producerId,
  producerEpoch: 0,
  txnTimeoutMs: 60_000,
  state: 'Empty',
  partitions: new Map(),
  lastUpdateTimestamp: 1_000,
  startTimestamp: -1,
});

/** The topic on one partition led here by `log`, with the warnings it logs and the records it skips. */
function stateTopic(log: PartitionLog) {
  const warnings: Array<Record<string, unknown>> = [];
  const lines = new Writable({
    write(chunk: Buffer, _encoding, done) {
      warnings.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const topics = { registry: { get: (name: string) => (name === TRANSACTION_STATE_TOPIC ? { partitions: [{}] } : undefined) } } as unknown as TopicService;
  const logManager = { get: (topic: string, p: number) => (topic === TRANSACTION_STATE_TOPIC && p === 0 ? log : undefined) } as unknown as LogManager;
  let skipped = 0;
  const topic = new TransactionStateTopic(
    new BrokerConfig(),
    topics,
    logManager,
    pino({ level: 'warn' }, lines),
    () => 1,
    (p) => (p === 0 ? { log, leaderEpoch: 0, committed: async () => ErrorCode.NONE } : undefined),
    () => skipped++,
  );
  return { topic, warnings, skipped: () => skipped };
}

it('replays each id to its last state and skips, logs and counts what it cannot read', async () => {
  const log = logs.open(logs.dir, { compact: true });
  const { topic, warnings, skipped } = stateTopic(log);
  expect(await topic.write(0, 'kept', stored(1))).toBe(ErrorCode.NONE);
  expect(await topic.write(0, 'removed', stored(2))).toBe(ErrorCode.NONE);
  // Key version 9 (unknown), then a record without a key: offsets 2 and 3.
  log.appendAsFollower(buildRecordBatch([{ key: Buffer.from([0, 9, 0, 1, 0x61]), value: Buffer.from('x') }, { key: null, value: Buffer.from('y') }], { baseOffset: log.logEndOffset }));
  // A batch that does not decode: offset 4.
  log.appendAsFollower(notGzip(buildRecordBatch([{ key: Buffer.from('k'), value: Buffer.from('v') }], { baseOffset: log.logEndOffset })));
  expect(await topic.write(0, 'removed', null)).toBe(ErrorCode.NONE);
  expect(await topic.write(0, 'later', stored(3))).toBe(ErrorCode.NONE);
  expect(await topic.write(0, 'kept', { ...stored(1), producerEpoch: 4 })).toBe(ErrorCode.NONE);

  const replayed = topic.replay(0);
  expect([...replayed.keys()].sort()).toEqual(['kept', 'later']);
  expect(replayed.get('kept')).toMatchObject({ producerId: 1, producerEpoch: 4 });
  expect(replayed.get('later')).toMatchObject({ producerId: 3 });
  expect(skipped()).toBe(3);
  expect(warnings.map(({ topic, partition, offset, msg }) => ({ topic, partition, offset, msg }))).toEqual([
    { topic: TRANSACTION_STATE_TOPIC, partition: 0, offset: 2, msg: 'skipped an unreadable transaction state record: no key, or an unknown key version' },
    { topic: TRANSACTION_STATE_TOPIC, partition: 0, offset: 3, msg: 'skipped an unreadable transaction state record: no key, or an unknown key version' },
    { topic: TRANSACTION_STATE_TOPIC, partition: 0, offset: 4, msg: 'skipped an unreadable transaction state record: the batch does not decode' },
  ]);
  expect(warnings[2]!.err).toMatchObject({ type: expect.any(String) });
  // A partition this broker does not lead has nothing to replay.
  expect(topic.replay(1).size).toBe(0);
});
