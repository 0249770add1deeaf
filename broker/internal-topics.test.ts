// What the coordinators share for their internal topics: the replay of a partition's log (on real
// log files: every record from the log start to the log end in order, control batches, and what
// cannot be read skipped without stopping the replay), and creation on first use (against a
// stand-in topic service; the broker tests create both topics for real).
import { describe, expect, it } from 'vitest';
import { ErrorCode, KafkaError } from './protocol/errors.js';
import { type BatchOptions, buildRecordBatch } from './records/batch-builder.js';
import { readControlMarker } from './records/record-batch.js';
import type { PartitionLog } from './storage/partition-log.js';
import { usePartitionLogs } from './test/partition-logs.js';
import { notGzip } from './test/undecodable-batch.js';
import type { CreateTopicRequest, TopicService } from './topics.js';
import { type PartitionReplay, createOnFirstUse, replayPartition } from './internal-topics.js';

const logs = usePartitionLogs('samsa-replay-');

/** Appends one batch at the log end, as a follower takes a leader's batch. */
function put(log: PartitionLog, values: string[], options: BatchOptions = {}): void {
  log.appendAsFollower(buildRecordBatch(values.map((v) => ({ key: Buffer.from('k'), value: Buffer.from(v) })), { baseOffset: log.logEndOffset, ...options }));
}

/** What a replay hands each callback, in order; a record with the value 'poison' throws. */
function replayed(log: PartitionLog, handleControl = true): string[] {
  const seen: string[] = [];
  const replay: PartitionReplay = {
    record: (r, batch) => {
      if (r.value?.toString() === 'poison') throw new Error('unreadable value');
      const value = batch.control ? 'control record' : r.value!.length > 16 ? `${r.value!.length} bytes` : r.value!.toString();
      seen.push(`${r.offset} ${value}${batch.transactional ? ` txn ${batch.producerId}` : ''}`);
    },
    unreadable: ({ offset, err }, reason) => {
      expect(err).toBeInstanceOf(Error);
      seen.push(`${offset} skipped: ${reason}`);
    },
  };
  if (handleControl) replay.controlBatch = (batch, bytes) => seen.push(`${batch.baseOffset} ${readControlMarker(bytes)!.commit ? 'COMMIT' : 'ABORT'} ${batch.producerId}`);
  replayPartition(log, replay);
  return seen;
}

describe('replayPartition', () => {
  it('hands over every record from the log start to the log end, past the high watermark, across reads of 1 MiB', () => {
    const log = logs.open();
    for (const v of ['gone-0', 'gone-1', 'kept']) put(log, [v]);
    log.advanceLogStart(2);
    log.autoCommit = false; // from here on the high watermark stays at 3
    const big = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 24; i++) put(log, [big]);
    put(log, ['last-a', 'last-b']);
    expect(log.highWatermark).toBe(3);
    expect(log.logEndOffset).toBe(29);
    expect(replayed(log)).toEqual(['2 kept', ...Array.from({ length: 24 }, (_, i) => `${3 + i} ${big.length} bytes`), '27 last-a', '28 last-b']);
  });

  it('hands control batches to controlBatch, or their records to record when it is not given', () => {
    const log = logs.open();
    put(log, ['a', 'b'], { producerId: 7, producerEpoch: 0, baseSequence: 0, transactional: true });
    log.appendTxnMarker({ producerId: 7, producerEpoch: 0, commit: true, coordinatorEpoch: 0 }, 0);
    put(log, ['c']);
    expect(replayed(log)).toEqual(['0 a txn 7', '1 b txn 7', '2 COMMIT 7', '3 c']);
    expect(replayed(log, false)).toEqual(['0 a txn 7', '1 b txn 7', '2 control record txn 7', '3 c']);
  });

  it('skips a batch that does not decode and a record its callback cannot read, and replays what follows', () => {
    const log = logs.open();
    put(log, ['a']);
    log.appendAsFollower(notGzip(buildRecordBatch([{ key: Buffer.from('k'), value: Buffer.from('v') }, { key: Buffer.from('k'), value: Buffer.from('w') }], { baseOffset: log.logEndOffset })));
    put(log, ['b', 'poison', 'c']);
    put(log, ['d']);
    expect(replayed(log)).toEqual(['0 a', '1 skipped: the batch does not decode', '3 b', '4 skipped: its key or value does not decode', '5 c', '6 d']);
  });

  it('hands over nothing for an empty log', () => {
    expect(replayed(logs.open())).toEqual([]);
  });
});

describe('createOnFirstUse', () => {
  /** A topic service that records each creation and answers it with `outcome` (the topic is registered when it resolves). */
  function topicService(outcome: () => Promise<void>) {
    const registry = new Map<string, object>();
    const requests: CreateTopicRequest[] = [];
    const service = {
      registry: { get: (name: string) => registry.get(name) },
      create: async (request: CreateTopicRequest) => {
        requests.push(request);
        await outcome();
        registry.set(request.name, {});
      },
    } as unknown as TopicService;
    return { service, requests };
  }
  const settings = (replicas: number) => ({ numPartitions: 3, replicationFactor: replicas, configs: { 'cleanup.policy': 'compact' } });

  it('creates the topic once for concurrent callers, with the settings of that moment, and never again', async () => {
    const { service, requests } = topicService(() => Promise.resolve());
    let live = 1;
    const created: number[] = [];
    const ensure = createOnFirstUse(service, '__state', () => settings(live), (s) => created.push(s.replicationFactor));
    live = 2;
    await Promise.all([ensure(), ensure(), ensure()]);
    live = 3;
    await ensure();
    expect(requests).toEqual([{ name: '__state', assignments: [], ...settings(2) }]);
    expect(created).toEqual([2]);
  });

  it('takes a topic another broker created meanwhile as created, and tries again after a failure', async () => {
    let outcome: () => Promise<void> = () => Promise.reject(new KafkaError(ErrorCode.TOPIC_ALREADY_EXISTS, 'exists'));
    const { service, requests } = topicService(() => outcome());
    const created: number[] = [];
    const ensure = createOnFirstUse(service, '__state', () => settings(1), (s) => created.push(s.replicationFactor));
    await ensure();
    expect(created).toEqual([]);

    outcome = () => Promise.reject(new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, 'disk failed'));
    await expect(ensure()).rejects.toMatchObject({ code: ErrorCode.KAFKA_STORAGE_ERROR });
    outcome = () => Promise.resolve();
    await ensure();
    await ensure();
    expect(requests).toHaveLength(3);
    expect(created).toEqual([1]);
  });
});
