// Idempotent-producer state of one partition: per producer id, its epoch and its last five
// batches' sequence ranges and offsets. A retried batch that matches one of them is a duplicate
// and is answered with its original offsets; a gap is OUT_OF_ORDER_SEQUENCE; an old epoch is
// fenced. The state is snapshotted to a file and rebuilt from the log past the snapshot.
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from './atomic-file.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';

const CACHED_BATCHES = 5;
const MAX_SEQUENCE = 2147483647;
const SNAPSHOT_VERSION = 1;

export interface ProducerBatch {
  firstSeq: number;
  lastSeq: number;
  firstOffset: number;
  lastOffset: number;
}

interface ProducerEntry {
  epoch: number;
  batches: ProducerBatch[];
  lastTimestamp: number;
}

/** The producer fields of one batch about to be appended. */
export interface ProducerAppend {
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

interface Snapshot {
  version: number;
  /** The log end offset the snapshot describes; replay continues from here. */
  offset: number;
  producers: Array<[number, ProducerEntry]>;
}

const lastSequence = (first: number, count: number) => (first + count - 1) % (MAX_SEQUENCE + 1);
const inSequence = (last: number, next: number) => next === last + 1 || (next === 0 && last === MAX_SEQUENCE);

export class ProducerState {
  private readonly producers = new Map<number, ProducerEntry>();

  get size(): number {
    return this.producers.size;
  }

  /**
   * Checks a batch against the producer's state without changing it. Returns the original
   * batch when this one is a retry of it, null when it may be appended, or throws KafkaError.
   */
  check(batch: ProducerAppend): ProducerBatch | null {
    const entry = this.producers.get(batch.producerId);
    if (!entry) return null; // An unknown producer may start at any sequence (its state may have expired).
    const last = lastSequence(batch.baseSequence, batch.recordCount);
    if (batch.producerEpoch < entry.epoch) {
      throw new KafkaError(ErrorCode.INVALID_PRODUCER_EPOCH, `producer ${batch.producerId} epoch ${batch.producerEpoch} is older than the current epoch ${entry.epoch}`);
    }
    if (batch.producerEpoch > entry.epoch) {
      if (batch.baseSequence !== 0) {
        throw new KafkaError(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, `producer ${batch.producerId} began epoch ${batch.producerEpoch} at sequence ${batch.baseSequence}, not 0`);
      }
      return null;
    }
    const duplicate = entry.batches.find((b) => b.firstSeq === batch.baseSequence && b.lastSeq === last);
    if (duplicate) return duplicate;
    const previous = entry.batches[entry.batches.length - 1];
    if (previous && !inSequence(previous.lastSeq, batch.baseSequence)) {
      throw new KafkaError(
        ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
        `producer ${batch.producerId} sent sequence ${batch.baseSequence}, expected ${(previous.lastSeq + 1) % (MAX_SEQUENCE + 1)}`,
      );
    }
    return null;
  }

  /** Records an appended batch (also used when replaying the log). */
  update(producerId: number, epoch: number, baseSequence: number, lastOffsetDelta: number, firstOffset: number, timestamp: number): void {
    let entry = this.producers.get(producerId);
    if (!entry || epoch !== entry.epoch) {
      entry = { epoch, batches: [], lastTimestamp: timestamp };
      this.producers.set(producerId, entry);
    }
    entry.batches.push({ firstSeq: baseSequence, lastSeq: lastSequence(baseSequence, lastOffsetDelta + 1), firstOffset, lastOffset: firstOffset + lastOffsetDelta });
    if (entry.batches.length > CACHED_BATCHES) entry.batches.shift();
    entry.lastTimestamp = Math.max(entry.lastTimestamp, timestamp);
  }

  /** Forgets producers silent for longer than `expirationMs` (producer.id.expiration.ms). */
  expire(now: number, expirationMs: number): void {
    for (const [id, entry] of this.producers) if (now - entry.lastTimestamp > expirationMs) this.producers.delete(id);
  }

  clear(): void {
    this.producers.clear();
  }

  save(path: string, offset: number): void {
    const snapshot: Snapshot = { version: SNAPSHOT_VERSION, offset, producers: [...this.producers] };
    writeFileAtomic(path, JSON.stringify(snapshot));
  }

  /** Loads a snapshot; returns the offset replay must start from (0 without a usable one). */
  load(path: string): number {
    this.producers.clear();
    if (!existsSync(path)) return 0;
    try {
      const snapshot = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
      if (snapshot.version !== SNAPSHOT_VERSION) return 0;
      for (const [id, entry] of snapshot.producers) this.producers.set(id, entry);
      return snapshot.offset;
    } catch {
      return 0;
    }
  }

  /** Throws INVALID_PRODUCER_EPOCH when the batch's epoch is older than the producer's current one. */
  checkEpoch(batch: ProducerAppend): void {
    const entry = this.producers.get(batch.producerId);
    if (entry && batch.producerEpoch < entry.epoch) {
      throw new KafkaError(ErrorCode.INVALID_PRODUCER_EPOCH, `producer ${batch.producerId} epoch ${batch.producerEpoch} is older than the current epoch ${entry.epoch}`);
    }
  }
}
