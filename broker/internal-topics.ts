// What the coordinators do alike with the compacted internal topic they keep their state in
// (__consumer_offsets, __transaction_state): create it on first use, and replay a partition's
// log when this broker becomes its leader.
import { ErrorCode, KafkaError } from './protocol/errors.js';
import { type BatchInfo, type DecodedRecord, decodeRecords, readBatchInfo } from './records/record-batch.js';
import type { PartitionLog } from './storage/partition-log.js';
import type { CreateTopicRequest, TopicService } from './topics.js';

/** An internal topic's settings, taken when it is created (the live broker count may have changed). */
export type InternalTopicSettings = Omit<CreateTopicRequest, 'name' | 'assignments'>;

/**
 * An `ensure()` that creates the internal topic `name` the first time it is needed. Concurrent
 * callers share one creation; a topic another broker created meanwhile counts as created, and a
 * failed creation is tried again by the next call.
 */
export function createOnFirstUse(topics: TopicService, name: string, settings: () => InternalTopicSettings, onCreated: (settings: InternalTopicSettings) => void): () => Promise<void> {
  let pending: Promise<void> | null = null;
  return () => {
    if (topics.registry.get(name)) return Promise.resolve();
    if (pending) return pending;
    const chosen = settings();
    pending = topics
      .create({ ...chosen, name, assignments: [] })
      .then(() => onCreated(chosen))
      .catch((err: unknown) => {
        pending = null;
        if (!(err instanceof KafkaError && err.code === ErrorCode.TOPIC_ALREADY_EXISTS)) throw err;
      });
    return pending;
  };
}

/** What a replay does with each part of a partition's log. */
export interface PartitionReplay {
  /** Each record of a data batch, in log order; what it throws skips the record as unreadable. */
  record(record: DecodedRecord, batch: BatchInfo): void;
  /** Each control batch (a transaction marker). Without it, control batches are read as data batches. */
  controlBatch?(batch: BatchInfo, bytes: Buffer): void;
  /** A batch whose records do not decode, or a record that `record` could not read: it is skipped. */
  unreadable(at: { offset: number; err: unknown }, reason: string): void;
}

/**
 * Reads a leader's whole log, from its start to its end (records past the high watermark are this
 * leader's and become committed under it), batch by batch. What cannot be read is handed to
 * `unreadable` and skipped, as Kafka's loaders skip it, so a bad record never keeps a partition
 * (or the broker) from loading.
 */
export function replayPartition(log: PartitionLog, replay: PartitionReplay): void {
  let offset = log.logStartOffset;
  for (;;) {
    const read = log.read(offset, 1 << 20, log.logEndOffset);
    if (read.outOfRange || !read.records || read.records.length === 0) return;
    let pos = 0;
    while (pos < read.records.length) {
      const info = readBatchInfo(read.records, pos);
      const batch = read.records.subarray(pos, pos + info.size);
      if (info.control && replay.controlBatch) replay.controlBatch(info, batch);
      else replayRecords(info, batch, replay);
      offset = info.baseOffset + info.lastOffsetDelta + 1;
      pos += info.size;
    }
  }
}

function replayRecords(info: BatchInfo, batch: Buffer, replay: PartitionReplay): void {
  let records: DecodedRecord[];
  try {
    records = decodeRecords(batch);
  } catch (err) {
    replay.unreadable({ offset: info.baseOffset, err }, 'the batch does not decode');
    return;
  }
  for (const r of records) {
    try {
      replay.record(r, info);
    } catch (err) {
      replay.unreadable({ offset: r.offset, err }, 'its key or value does not decode');
    }
  }
}
