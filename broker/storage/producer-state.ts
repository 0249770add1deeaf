// Idempotent-producer state of one partition: per producer id, its epoch and its last five
// batches' sequence ranges and offsets. A retried batch that matches one of them is a duplicate
// and is answered with its original offsets; a gap is OUT_OF_ORDER_SEQUENCE; an old epoch is
// fenced. For transactions it keeps each producer's open transaction (its first offset) and the
// coordinator epoch of its last marker, and the transactions whose marker the high watermark
// has not passed yet: together they bound the last stable offset. The state is snapshotted to a
// file and rebuilt from the log past the snapshot.
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from './atomic-file.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';

const CACHED_BATCHES = 5;
const MAX_SEQUENCE = 2147483647;
/** Version 2 adds transactions; a version 1 snapshot (written before them) still loads. */
const SNAPSHOT_VERSION = 2;

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
  /** First offset of the producer's open transaction in this partition, -1 when none. */
  txnFirstOffset: number;
  /** Coordinator epoch of the last marker written for the producer, -1 before any. */
  coordinatorEpoch: number;
}

/** A transaction ended by a marker that is not committed yet: it still holds the LSO back. */
interface CompletedTxn {
  producerId: number;
  firstOffset: number;
  markerOffset: number;
}

/** What the end of a producer's transaction in this partition was. */
export interface EndedTxn {
  /** Its first offset, the marker's own when the producer had no open transaction here. */
  firstOffset: number;
  /** The first offset of the earliest transaction still open after it (or the marker's next). */
  lastStableOffset: number;
}

/** One producer as DescribeProducers shows it. */
export interface ProducerDescription {
  producerId: number;
  producerEpoch: number;
  lastSequence: number;
  lastTimestamp: number;
  coordinatorEpoch: number;
  currentTxnStartOffset: number;
}

/** The producer fields of one batch about to be appended. */
export interface ProducerAppend {
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
  transactional: boolean;
}

interface Snapshot {
  version: number;
  /** The log end offset the snapshot describes; replay continues from here. */
  offset: number;
  producers: Array<[number, ProducerEntry]>;
  unreplicated?: CompletedTxn[];
}

const lastSequence = (first: number, count: number) => (first + count - 1) % (MAX_SEQUENCE + 1);
const inSequence = (last: number, next: number) => next === last + 1 || (next === 0 && last === MAX_SEQUENCE);

export class ProducerState {
  private readonly producers = new Map<number, ProducerEntry>();
  /** Open transactions, producer id -> first offset, in the order of their first offsets. */
  private readonly ongoing = new Map<number, number>();
  /** Ended transactions whose marker is at or past the high watermark, in marker order. */
  private unreplicated: CompletedTxn[] = [];

  get size(): number {
    return this.producers.size;
  }

  /** How many producers have a transaction open in this partition. */
  get openTransactions(): number {
    return this.ongoing.size;
  }

  /**
   * The first offset of the earliest transaction not yet ended by a committed marker
   * (MAX_SAFE_INTEGER when there is none): read_committed consumers stop there.
   */
  get firstUnstableOffset(): number {
    if (this.ongoing.size === 0 && this.unreplicated.length === 0) return Number.MAX_SAFE_INTEGER;
    let first = Number.MAX_SAFE_INTEGER;
    for (const offset of this.ongoing.values()) {
      first = offset;
      break;
    }
    for (const t of this.unreplicated) if (t.firstOffset < first) first = t.firstOffset;
    return first;
  }

  /** The high watermark moved: transactions whose marker it passed are stable. */
  onHighWatermark(hw: number): void {
    let done = 0;
    while (done < this.unreplicated.length && this.unreplicated[done]!.markerOffset < hw) done++;
    if (done > 0) this.unreplicated = this.unreplicated.slice(done);
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
    if (!batch.transactional && entry.txnFirstOffset >= 0) {
      throw new KafkaError(ErrorCode.INVALID_TXN_STATE, `producer ${batch.producerId} has a transaction open in this partition and sent a non-transactional batch`);
    }
    const previous = entry.batches[entry.batches.length - 1];
    if (previous && !inSequence(previous.lastSeq, batch.baseSequence)) {
      throw new KafkaError(
        ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
        `producer ${batch.producerId} sent sequence ${batch.baseSequence}, expected ${(previous.lastSeq + 1) % (MAX_SEQUENCE + 1)}`,
      );
    }
    return null;
  }

  /**
   * Checks a marker for the producer's transaction: one from an older producer epoch, or from a
   * coordinator older than the one that wrote the producer's last marker, is refused.
   */
  checkMarker(producerId: number, producerEpoch: number, coordinatorEpoch: number): void {
    const entry = this.producers.get(producerId);
    if (!entry) return;
    if (producerEpoch < entry.epoch) {
      throw new KafkaError(ErrorCode.INVALID_PRODUCER_EPOCH, `marker for producer ${producerId} has epoch ${producerEpoch}, older than the current epoch ${entry.epoch}`);
    }
    if (coordinatorEpoch < entry.coordinatorEpoch) {
      throw new KafkaError(
        ErrorCode.TRANSACTION_COORDINATOR_FENCED,
        `marker for producer ${producerId} comes from coordinator epoch ${coordinatorEpoch}, older than ${entry.coordinatorEpoch}`,
      );
    }
  }

  /** Records an appended batch (also used when replaying the log); a transactional one opens the producer's transaction. */
  update(producerId: number, epoch: number, baseSequence: number, lastOffsetDelta: number, firstOffset: number, timestamp: number, transactional: boolean): void {
    let entry = this.producers.get(producerId);
    if (!entry || epoch !== entry.epoch) {
      // A new epoch restarts the sequences; an open transaction stays open until its marker.
      entry = { epoch, batches: [], lastTimestamp: timestamp, txnFirstOffset: entry?.txnFirstOffset ?? -1, coordinatorEpoch: entry?.coordinatorEpoch ?? -1 };
      this.producers.set(producerId, entry);
    }
    entry.batches.push({ firstSeq: baseSequence, lastSeq: lastSequence(baseSequence, lastOffsetDelta + 1), firstOffset, lastOffset: firstOffset + lastOffsetDelta });
    if (entry.batches.length > CACHED_BATCHES) entry.batches.shift();
    entry.lastTimestamp = Math.max(entry.lastTimestamp, timestamp);
    if (transactional && entry.txnFirstOffset < 0) {
      entry.txnFirstOffset = firstOffset;
      this.ongoing.set(producerId, firstOffset);
    }
  }

  /**
   * Records the marker at `markerOffset` that ends the producer's transaction (also used when
   * replaying the log). A marker of a newer producer epoch moves the producer to it (the
   * coordinator bumped the epoch to fence the old one).
   */
  endTransaction(producerId: number, epoch: number, coordinatorEpoch: number, markerOffset: number, timestamp: number, hw: number): EndedTxn {
    let entry = this.producers.get(producerId);
    if (!entry) {
      entry = { epoch, batches: [], lastTimestamp: timestamp, txnFirstOffset: -1, coordinatorEpoch };
      this.producers.set(producerId, entry);
    } else if (epoch > entry.epoch) {
      entry.epoch = epoch;
      entry.batches = [];
    }
    entry.coordinatorEpoch = coordinatorEpoch;
    entry.lastTimestamp = Math.max(entry.lastTimestamp, timestamp);
    const firstOffset = entry.txnFirstOffset >= 0 ? entry.txnFirstOffset : markerOffset;
    if (entry.txnFirstOffset >= 0) {
      entry.txnFirstOffset = -1;
      this.ongoing.delete(producerId);
      if (markerOffset >= hw) this.unreplicated.push({ producerId, firstOffset, markerOffset });
    }
    let lastStableOffset = markerOffset + 1;
    for (const offset of this.ongoing.values()) {
      lastStableOffset = Math.min(offset, lastStableOffset);
      break;
    }
    return { firstOffset, lastStableOffset };
  }

  /** Every producer as DescribeProducers shows it. */
  describe(): ProducerDescription[] {
    return [...this.producers].map(([producerId, e]) => ({
      producerId,
      producerEpoch: e.epoch,
      lastSequence: e.batches[e.batches.length - 1]?.lastSeq ?? -1,
      lastTimestamp: e.lastTimestamp,
      coordinatorEpoch: e.coordinatorEpoch,
      currentTxnStartOffset: e.txnFirstOffset,
    }));
  }

  /** Forgets producers silent for longer than `expirationMs` (producer.id.expiration.ms); never one with an open transaction. */
  expire(now: number, expirationMs: number): void {
    for (const [id, entry] of this.producers) if (entry.txnFirstOffset < 0 && now - entry.lastTimestamp > expirationMs) this.producers.delete(id);
  }

  clear(): void {
    this.producers.clear();
    this.ongoing.clear();
    this.unreplicated = [];
  }

  save(path: string, offset: number): void {
    const snapshot: Snapshot = { version: SNAPSHOT_VERSION, offset, producers: [...this.producers], unreplicated: this.unreplicated };
    writeFileAtomic(path, JSON.stringify(snapshot));
  }

  /** Loads a snapshot; returns the offset replay must start from (0 without a usable one). */
  load(path: string): number {
    this.clear();
    if (!existsSync(path)) return 0;
    try {
      const snapshot = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
      if (snapshot.version !== 1 && snapshot.version !== SNAPSHOT_VERSION) return 0;
      for (const [id, entry] of snapshot.producers) {
        // Version 1 knew no transactions.
        this.producers.set(id, { ...entry, txnFirstOffset: entry.txnFirstOffset ?? -1, coordinatorEpoch: entry.coordinatorEpoch ?? -1 });
      }
      const open = [...this.producers].filter(([, e]) => e.txnFirstOffset >= 0).sort((a, b) => a[1].txnFirstOffset - b[1].txnFirstOffset);
      for (const [id, e] of open) this.ongoing.set(id, e.txnFirstOffset);
      this.unreplicated = snapshot.unreplicated ?? [];
      return snapshot.offset;
    } catch {
      this.clear();
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
