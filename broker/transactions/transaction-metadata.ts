// One transactional id's state at its coordinator and the transitions between states (KIP-98,
// with KIP-360's epoch bumps and producer id rotation). A transition is prepared (the id then has
// a pending state: no other transition may start), written to __transaction_state, and applied
// once that write is committed; a failed write drops the pending state and nothing changes.
import { ErrorCode } from '../protocol/errors.js';
import type { StoredTransaction, TxnStateName } from './transaction-log-records.js';

export const NO_PRODUCER_EPOCH = -1;
const MAX_EPOCH = 32767;

/** An epoch that cannot be bumped once more (Kafka keeps the last value for fencing). */
export const isEpochExhausted = (epoch: number): boolean => epoch >= MAX_EPOCH - 1;

/** From which states each state may be entered. */
const VALID_PREVIOUS: Record<TxnStateName, readonly TxnStateName[]> = {
  Empty: ['Empty', 'CompleteCommit', 'CompleteAbort'],
  Ongoing: ['Ongoing', 'Empty', 'CompleteCommit', 'CompleteAbort'],
  PrepareCommit: ['Ongoing'],
  PrepareAbort: ['Ongoing'],
  CompleteCommit: ['PrepareCommit'],
  CompleteAbort: ['PrepareAbort'],
  Dead: ['Empty', 'CompleteCommit', 'CompleteAbort'],
  // Kafka's in-memory step before a fenced abort; here the abort carries the new epoch itself.
  PrepareEpochFence: [],
};

/** What a transition leads to: the stored fields plus the previous producer id and epoch (kept in memory, as Kafka's v0 value does not hold them). */
export interface TxnTransition extends StoredTransaction {
  lastProducerId: number;
  lastProducerEpoch: number;
}

export class IllegalTransitionError extends Error {
  override name = 'IllegalTransitionError';
}

export class TransactionMetadata {
  producerId: number;
  lastProducerId: number;
  producerEpoch: number;
  lastProducerEpoch: number;
  txnTimeoutMs: number;
  state: TxnStateName;
  partitions: Map<string, Set<number>>;
  startTimestamp: number;
  lastUpdateTimestamp: number;
  /** The state being written; null when no transition is in flight. */
  pendingState: TxnStateName | null = null;

  constructor(
    readonly transactionalId: string,
    t: TxnTransition,
  ) {
    this.producerId = t.producerId;
    this.lastProducerId = t.lastProducerId;
    this.producerEpoch = t.producerEpoch;
    this.lastProducerEpoch = t.lastProducerEpoch;
    this.txnTimeoutMs = t.txnTimeoutMs;
    this.state = t.state;
    this.partitions = t.partitions;
    this.startTimestamp = t.startTimestamp;
    this.lastUpdateTimestamp = t.lastUpdateTimestamp;
  }

  /** A new id: no epoch yet, nothing in flight. */
  static fresh(transactionalId: string, producerId: number, txnTimeoutMs: number, now: number): TransactionMetadata {
    return new TransactionMetadata(transactionalId, {
      producerId,
      lastProducerId: -1,
      producerEpoch: NO_PRODUCER_EPOCH,
      lastProducerEpoch: NO_PRODUCER_EPOCH,
      txnTimeoutMs,
      state: 'Empty',
      partitions: new Map(),
      startTimestamp: -1,
      lastUpdateTimestamp: now,
    });
  }

  get pendingTransitionInProgress(): boolean {
    return this.pendingState !== null;
  }

  get partitionCount(): number {
    let n = 0;
    for (const ids of this.partitions.values()) n += ids.size;
    return n;
  }

  current(): TxnTransition {
    return {
      producerId: this.producerId,
      lastProducerId: this.lastProducerId,
      producerEpoch: this.producerEpoch,
      lastProducerEpoch: this.lastProducerEpoch,
      txnTimeoutMs: this.txnTimeoutMs,
      state: this.state,
      partitions: this.partitions,
      startTimestamp: this.startTimestamp,
      lastUpdateTimestamp: this.lastUpdateTimestamp,
    };
  }

  private prepare(to: TxnStateName, changes: Partial<TxnTransition>): TxnTransition {
    if (this.pendingState !== null) throw new IllegalTransitionError(`${this.transactionalId}: ${this.pendingState} is still being written`);
    if (!VALID_PREVIOUS[to].includes(this.state)) throw new IllegalTransitionError(`${this.transactionalId}: ${this.state} cannot become ${to}`);
    this.pendingState = to;
    return { ...this.current(), ...changes, state: to };
  }

  /**
   * InitProducerId on an id without an open transaction: the next epoch (a new producer, or one
   * recovering with its current epoch), the same one (a retry of a bump whose answer was lost),
   * or PRODUCER_FENCED for an older epoch.
   */
  prepareIncrementEpoch(txnTimeoutMs: number, expectedEpoch: number | undefined, now: number): TxnTransition | number {
    const bumped = this.producerEpoch + 1;
    let next: { epoch: number; last: number };
    if (expectedEpoch === undefined) next = { epoch: bumped, last: NO_PRODUCER_EPOCH };
    else if (this.producerEpoch === NO_PRODUCER_EPOCH || expectedEpoch === this.producerEpoch) next = { epoch: bumped, last: this.producerEpoch };
    else if (expectedEpoch === this.lastProducerEpoch) next = { epoch: this.producerEpoch, last: this.lastProducerEpoch };
    else return ErrorCode.PRODUCER_FENCED;
    return this.prepare('Empty', { producerEpoch: next.epoch, lastProducerEpoch: next.last, txnTimeoutMs, partitions: new Map(), startTimestamp: -1, lastUpdateTimestamp: now });
  }

  /** The epoch is exhausted: a new producer id at epoch 0; the old id and epoch are remembered for a retry. */
  prepareProducerIdRotation(producerId: number, txnTimeoutMs: number, now: number, recordLastEpoch: boolean): TxnTransition {
    return this.prepare('Empty', {
      producerId,
      lastProducerId: this.producerId,
      producerEpoch: 0,
      lastProducerEpoch: recordLastEpoch ? this.producerEpoch : NO_PRODUCER_EPOCH,
      txnTimeoutMs,
      partitions: new Map(),
      startTimestamp: -1,
      lastUpdateTimestamp: now,
    });
  }

  /**
   * An open transaction is taken from its producer (a new InitProducerId, or its timeout): it is
   * aborted under the next epoch, so the old producer is fenced once the abort is written. The
   * epoch changes only when that write is committed: a failed write leaves nothing to undo.
   */
  prepareFencedAbort(now: number): TxnTransition {
    if (this.producerEpoch >= MAX_EPOCH) throw new IllegalTransitionError(`${this.transactionalId}: epoch ${this.producerEpoch} cannot be fenced`);
    return this.prepare('PrepareAbort', { producerEpoch: this.producerEpoch + 1, lastProducerEpoch: NO_PRODUCER_EPOCH, lastUpdateTimestamp: now });
  }

  /** AddPartitionsToTxn / AddOffsetsToTxn: the transaction is open from the first one on. */
  prepareAddPartitions(add: ReadonlyMap<string, readonly number[]>, now: number): TxnTransition {
    const partitions = new Map([...this.partitions].map(([t, ids]) => [t, new Set(ids)]));
    for (const [topic, ids] of add) {
      const set = partitions.get(topic) ?? new Set<number>();
      for (const id of ids) set.add(id);
      partitions.set(topic, set);
    }
    const starting = this.state === 'Empty' || this.state === 'CompleteCommit' || this.state === 'CompleteAbort';
    return this.prepare('Ongoing', { partitions, startTimestamp: starting ? now : this.startTimestamp, lastUpdateTimestamp: now });
  }

  /** Whether every one of these partitions is already in the transaction. */
  includesAll(add: ReadonlyMap<string, readonly number[]>): boolean {
    for (const [topic, ids] of add) {
      const set = this.partitions.get(topic);
      if (!set || ids.some((id) => !set.has(id))) return false;
    }
    return true;
  }

  prepareAbortOrCommit(to: 'PrepareCommit' | 'PrepareAbort', now: number): TxnTransition {
    return this.prepare(to, { lastUpdateTimestamp: now });
  }

  /** Every marker is written: the transaction is over and holds no partitions any more. */
  prepareComplete(now: number): TxnTransition {
    const to = this.state === 'PrepareCommit' ? 'CompleteCommit' : 'CompleteAbort';
    return this.prepare(to, { partitions: new Map(), lastUpdateTimestamp: now });
  }

  prepareDead(): TxnTransition {
    return this.prepare('Dead', { partitions: new Map() });
  }

  /** The transition's write is committed: it takes effect. */
  complete(t: TxnTransition): void {
    if (this.pendingState !== t.state) throw new IllegalTransitionError(`${this.transactionalId}: completing ${t.state} while ${this.pendingState ?? 'nothing'} is pending`);
    this.producerId = t.producerId;
    this.lastProducerId = t.lastProducerId;
    this.producerEpoch = t.producerEpoch;
    this.lastProducerEpoch = t.lastProducerEpoch;
    this.txnTimeoutMs = t.txnTimeoutMs;
    this.state = t.state;
    this.partitions = t.partitions;
    this.startTimestamp = t.startTimestamp;
    this.lastUpdateTimestamp = t.lastUpdateTimestamp;
    this.pendingState = null;
  }

  /** The transition's write failed: nothing changes. */
  abandon(): void {
    this.pendingState = null;
  }
}
