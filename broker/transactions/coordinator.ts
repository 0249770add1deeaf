// The transaction coordinator (KIP-98, KIP-360, KIP-588; transactions v1): each transactional id
// belongs to one partition of __transaction_state, and the leader of that partition coordinates it.
// It hands out producer ids and epochs (fencing older producers of the id), records the partitions
// of the open transaction, and ends a transaction in two written steps: PrepareCommit/PrepareAbort,
// then (once every partition has its marker) CompleteCommit/CompleteAbort. A new leader replays
// the partition and finishes the transactions it finds prepared.
import type { Logger } from 'pino';
import type { BrokerConfig } from '../config.js';
import { ErrorCode } from '../protocol/errors.js';
import type { StoredTransaction, TxnStateName } from './transaction-log-records.js';
import { IllegalTransitionError, NO_PRODUCER_EPOCH, TransactionMetadata, type TxnTransition, isEpochExhausted } from './transaction-metadata.js';
import type { TransactionLog } from './transaction-state-topic.js';

/** The markers of one transaction: one control batch per partition, at its leader. */
export interface TxnMarkers {
  transactionalId: string;
  producerId: number;
  producerEpoch: number;
  commit: boolean;
  coordinatorEpoch: number;
  partitions: Array<{ topic: string; partition: number }>;
}

export interface MarkerSender {
  /** Resolves once every partition has its marker (or is gone), or once `current()` turns false (this coordinator was replaced). */
  send(markers: TxnMarkers, current: () => boolean): Promise<void>;
}

export interface TransactionEvents {
  timedOut(): void;
  expired(): void;
}

export interface InitProducerIdResult {
  errorCode: number;
  producerId: number;
  producerEpoch: number;
}

/** A partition of __transaction_state this broker leads, with the ids it holds. */
interface LoadedPartition {
  partition: number;
  /** Its leader epoch: the coordinator epoch of its markers. */
  epoch: number;
  txns: Map<string, TransactionMetadata>;
}

export interface ListedTransaction {
  transactionalId: string;
  producerId: number;
  state: TxnStateName;
}

const COMPLETE_RETRY_MS = 100;
/** After an unexpected failure of the marker sender (not a partition's refusal, which it retries itself). */
const MARKER_FAILURE_RETRY_MS = 1000;

export class TransactionCoordinator {
  private readonly loaded = new Map<number, LoadedPartition>();
  private abortTimer: NodeJS.Timeout | undefined;
  private expireTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly config: BrokerConfig,
    private readonly log: TransactionLog,
    private readonly allocateProducerId: () => Promise<number>,
    private readonly markers: MarkerSender,
    private readonly logger: Logger,
    private readonly events: TransactionEvents = { timedOut: () => {}, expired: () => {} },
  ) {}

  /** Aborts timed-out transactions and removes expired ids on Kafka's schedules. */
  start(): void {
    this.abortTimer = setInterval(() => this.background(this.abortTimedOutTransactions(), 'aborting timed-out transactions'), this.config.int('transaction.abort.timed.out.transaction.cleanup.interval.ms'));
    this.abortTimer.unref();
    this.expireTimer = setInterval(() => this.background(this.expireTransactionalIds(), 'removing expired transactional ids'), this.config.int('transaction.remove.expired.transaction.cleanup.interval.ms'));
    this.expireTimer.unref();
  }

  /** Work no request waits for: a failure is logged (the next pass, or the next coordinator, tries again), never left to end the process. */
  private background(work: Promise<void>, what: string): void {
    work.catch((err: unknown) => this.logger.error({ err }, `failed ${what}`));
  }

  close(): void {
    this.closed = true;
    clearInterval(this.abortTimer);
    clearInterval(this.expireTimer);
    this.loaded.clear();
  }

  /** Creates __transaction_state on first use (FindCoordinator for a transactional id). */
  ensureStateTopic(): Promise<void> {
    return this.log.ensure();
  }

  /** The partition of __transaction_state whose leader coordinates the id; undefined before the topic exists. */
  partitionFor(transactionalId: string): number | undefined {
    return this.log.partitionFor(transactionalId);
  }

  // ---- leadership ----------------------------------------------------------------------------

  /** Takes up the ids of a partition this broker now leads, and finishes the transactions it left prepared. */
  loadPartition(partition: number): void {
    const epoch = this.log.leaderEpoch(partition);
    if (epoch === undefined || this.closed) return;
    const txns = new Map<string, TransactionMetadata>();
    for (const [id, stored] of this.log.replay(partition)) txns.set(id, new TransactionMetadata(id, { ...stored, lastProducerId: -1, lastProducerEpoch: NO_PRODUCER_EPOCH }));
    const loaded: LoadedPartition = { partition, epoch, txns };
    this.loaded.set(partition, loaded);
    const prepared = [...txns.values()].filter((t) => t.state === 'PrepareCommit' || t.state === 'PrepareAbort');
    if (txns.size > 0) this.logger.info({ partition, coordinatorEpoch: epoch, transactionalIds: txns.size, prepared: prepared.length }, 'loaded transaction state');
    for (const meta of prepared) this.background(this.completeTransaction(loaded, meta), 'completing a transaction');
  }

  unloadPartition(partition: number): void {
    this.loaded.delete(partition);
  }

  /** Whether `loaded` and `meta` are still this broker's: the partition was not unloaded or reloaded, the id not removed. */
  private isCurrent(loaded: LoadedPartition, meta: TransactionMetadata): boolean {
    return !this.closed && this.loaded.get(loaded.partition) === loaded && loaded.txns.get(meta.transactionalId) === meta;
  }

  private partitionOf(transactionalId: string): LoadedPartition | number {
    const partition = this.log.partitionFor(transactionalId);
    if (partition === undefined) return ErrorCode.NOT_COORDINATOR;
    const epoch = this.log.leaderEpoch(partition);
    if (epoch === undefined) return ErrorCode.NOT_COORDINATOR;
    // Led here under an epoch not loaded yet (a new term of this same leader): take it up again.
    if (this.loaded.get(partition)?.epoch !== epoch) this.loadPartition(partition);
    return this.loaded.get(partition) ?? ErrorCode.NOT_COORDINATOR;
  }

  /** Writes a transition and applies it once committed; the coordinator's error code otherwise. */
  private async write(loaded: LoadedPartition, meta: TransactionMetadata, t: TxnTransition): Promise<number> {
    const stored: StoredTransaction | null = t.state === 'Dead' ? null : t;
    const code = await this.log.write(loaded.partition, meta.transactionalId, stored);
    if (!this.isCurrent(loaded, meta)) return ErrorCode.NOT_COORDINATOR;
    if (code !== ErrorCode.NONE) {
      meta.abandon();
      return code;
    }
    meta.complete(t);
    return ErrorCode.NONE;
  }

  // ---- InitProducerId ------------------------------------------------------------------------

  async initProducerId(transactionalId: string, txnTimeoutMs: number, expected: { producerId: number; producerEpoch: number } | undefined): Promise<InitProducerIdResult> {
    const fail = (errorCode: number): InitProducerIdResult => ({ errorCode, producerId: -1, producerEpoch: -1 });
    if (transactionalId === '') return fail(ErrorCode.INVALID_REQUEST);
    if (txnTimeoutMs <= 0 || txnTimeoutMs > this.config.int('transaction.max.timeout.ms')) return fail(ErrorCode.INVALID_TRANSACTION_TIMEOUT);
    const loaded = this.partitionOf(transactionalId);
    if (typeof loaded === 'number') return fail(loaded);
    let meta = loaded.txns.get(transactionalId);
    if (!meta) {
      const producerId = await this.allocateProducerId();
      if (this.loaded.get(loaded.partition) !== loaded) return fail(ErrorCode.NOT_COORDINATOR);
      meta = loaded.txns.get(transactionalId);
      if (!meta) {
        meta = TransactionMetadata.fresh(transactionalId, producerId, txnTimeoutMs, Date.now());
        loaded.txns.set(transactionalId, meta);
      }
    }
    if (meta.pendingTransitionInProgress) return fail(ErrorCode.CONCURRENT_TRANSACTIONS);
    // A request naming a producer id is a producer recovering (KIP-360): it must be this id's,
    // or the previous one whose epoch ran out (a retry of the rotation).
    if (
      expected &&
      meta.producerEpoch !== NO_PRODUCER_EPOCH &&
      expected.producerId !== meta.producerId &&
      !(expected.producerId === meta.lastProducerId && isEpochExhausted(expected.producerEpoch))
    ) {
      return fail(ErrorCode.PRODUCER_FENCED);
    }
    switch (meta.state) {
      case 'PrepareCommit':
      case 'PrepareAbort':
      case 'Dead':
      case 'PrepareEpochFence':
        return fail(ErrorCode.CONCURRENT_TRANSACTIONS);
      case 'Ongoing': {
        // The open transaction of the previous producer is aborted under a bumped epoch first; the
        // client retries (CONCURRENT_TRANSACTIONS is retriable) and then gets the epoch after that.
        const code = await this.fenceAndAbort(loaded, meta, 'a new producer of the id');
        return fail(code === ErrorCode.NONE ? ErrorCode.CONCURRENT_TRANSACTIONS : code);
      }
      default: {
        let t: TxnTransition | number;
        if (isEpochExhausted(meta.producerEpoch) && (!expected || expected.producerEpoch === meta.producerEpoch)) {
          const producerId = await this.allocateProducerId();
          if (!this.isCurrent(loaded, meta)) return fail(ErrorCode.NOT_COORDINATOR);
          if (meta.pendingTransitionInProgress) return fail(ErrorCode.CONCURRENT_TRANSACTIONS);
          t = meta.prepareProducerIdRotation(producerId, txnTimeoutMs, Date.now(), expected !== undefined);
        } else {
          t = meta.prepareIncrementEpoch(txnTimeoutMs, expected?.producerEpoch, Date.now());
        }
        if (typeof t === 'number') return fail(t);
        const code = await this.write(loaded, meta, t);
        if (code !== ErrorCode.NONE) return fail(code);
        this.logger.info({ transactionalId, producerId: meta.producerId, producerEpoch: meta.producerEpoch }, 'initialized transactional producer');
        return { errorCode: ErrorCode.NONE, producerId: meta.producerId, producerEpoch: meta.producerEpoch };
      }
    }
  }

  /** Aborts an open transaction under the next epoch (its producer is fenced), then sends its markers in the background. */
  private async fenceAndAbort(loaded: LoadedPartition, meta: TransactionMetadata, reason: string): Promise<number> {
    let t: TxnTransition;
    try {
      t = meta.prepareFencedAbort(Date.now());
    } catch (err) {
      if (!(err instanceof IllegalTransitionError)) throw err;
      this.logger.error({ err, transactionalId: meta.transactionalId }, 'cannot fence the producer of an open transaction');
      return ErrorCode.CONCURRENT_TRANSACTIONS;
    }
    const code = await this.write(loaded, meta, t);
    if (code !== ErrorCode.NONE) return code;
    this.logger.info({ transactionalId: meta.transactionalId, producerId: meta.producerId, producerEpoch: meta.producerEpoch, reason }, 'aborting an open transaction: its producer is fenced');
    this.background(this.completeTransaction(loaded, meta), 'completing a transaction');
    return ErrorCode.NONE;
  }

  // ---- the transaction's partitions ----------------------------------------------------------

  /** AddPartitionsToTxn (and AddOffsetsToTxn's offsets partition): one error code for all of them. */
  async addPartitions(transactionalId: string, producerId: number, producerEpoch: number, partitions: ReadonlyMap<string, readonly number[]>): Promise<number> {
    if (transactionalId === '') return ErrorCode.INVALID_REQUEST;
    const loaded = this.partitionOf(transactionalId);
    if (typeof loaded === 'number') return loaded;
    const meta = loaded.txns.get(transactionalId);
    if (!meta || meta.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    if (meta.producerEpoch !== producerEpoch) return ErrorCode.PRODUCER_FENCED;
    if (meta.pendingTransitionInProgress || meta.state === 'PrepareCommit' || meta.state === 'PrepareAbort') return ErrorCode.CONCURRENT_TRANSACTIONS;
    if (meta.state === 'Dead' || meta.state === 'PrepareEpochFence') return ErrorCode.CONCURRENT_TRANSACTIONS;
    if (meta.state === 'Ongoing' && meta.includesAll(partitions)) return ErrorCode.NONE;
    return this.write(loaded, meta, meta.prepareAddPartitions(partitions, Date.now()));
  }

  // ---- EndTxn --------------------------------------------------------------------------------

  /**
   * EndTxn: answered once PrepareCommit/PrepareAbort is written (as Kafka does); the markers and
   * the Complete state follow. The producer's next transaction waits for them (CONCURRENT_TRANSACTIONS).
   */
  async endTransaction(transactionalId: string, producerId: number, producerEpoch: number, commit: boolean): Promise<number> {
    if (transactionalId === '') return ErrorCode.INVALID_REQUEST;
    const loaded = this.partitionOf(transactionalId);
    if (typeof loaded === 'number') return loaded;
    const meta = loaded.txns.get(transactionalId);
    if (!meta || meta.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    if (producerEpoch !== meta.producerEpoch) return ErrorCode.PRODUCER_FENCED;
    if (meta.pendingTransitionInProgress) return ErrorCode.CONCURRENT_TRANSACTIONS;
    switch (meta.state) {
      case 'Ongoing': {
        const code = await this.write(loaded, meta, meta.prepareAbortOrCommit(commit ? 'PrepareCommit' : 'PrepareAbort', Date.now()));
        if (code !== ErrorCode.NONE) return code;
        this.background(this.completeTransaction(loaded, meta), 'completing a transaction');
        return ErrorCode.NONE;
      }
      // A retry of an EndTxn that was done, or is being done.
      case 'CompleteCommit':
        return commit ? ErrorCode.NONE : ErrorCode.INVALID_TXN_STATE;
      case 'CompleteAbort':
        return commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.NONE;
      case 'PrepareCommit':
        return commit ? ErrorCode.CONCURRENT_TRANSACTIONS : ErrorCode.INVALID_TXN_STATE;
      case 'PrepareAbort':
        return commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.CONCURRENT_TRANSACTIONS;
      case 'Empty':
        return ErrorCode.INVALID_TXN_STATE;
      default:
        return ErrorCode.CONCURRENT_TRANSACTIONS;
    }
  }

  /** Writes the markers of a prepared transaction, then its Complete state; retried while this broker coordinates it. */
  private async completeTransaction(loaded: LoadedPartition, meta: TransactionMetadata): Promise<void> {
    // Not from within the leadership change that loaded the partition: markers write other partitions' logs.
    await new Promise((resolve) => setImmediate(resolve));
    const commit = meta.state === 'PrepareCommit';
    const partitions = [...meta.partitions].flatMap(([topic, ids]) => [...ids].map((partition) => ({ topic, partition })));
    const current = () => this.isCurrent(loaded, meta);
    const markers = { transactionalId: meta.transactionalId, producerId: meta.producerId, producerEpoch: meta.producerEpoch, commit, coordinatorEpoch: loaded.epoch, partitions };
    for (;;) {
      try {
        await this.markers.send(markers, current);
        break;
      } catch (err) {
        this.logger.error({ err, transactionalId: meta.transactionalId }, 'sending transaction markers failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, MARKER_FAILURE_RETRY_MS).unref());
        if (!current()) return;
      }
    }
    while (current()) {
      const code = await this.write(loaded, meta, meta.prepareComplete(Date.now()));
      if (code === ErrorCode.NONE) {
        this.logger.debug({ transactionalId: meta.transactionalId, producerId: meta.producerId, producerEpoch: meta.producerEpoch, partitions: partitions.length, result: commit ? 'commit' : 'abort' }, 'transaction completed');
        return;
      }
      this.logger.warn({ transactionalId: meta.transactionalId, errorCode: code }, 'cannot write the completion of a transaction; retrying');
      await new Promise((resolve) => setTimeout(resolve, COMPLETE_RETRY_MS).unref());
    }
  }

  // ---- timeouts and expiration ---------------------------------------------------------------

  /** Open transactions older than their timeout are aborted, their producers fenced. */
  async abortTimedOutTransactions(now = Date.now()): Promise<void> {
    const due: Array<[LoadedPartition, TransactionMetadata]> = [];
    for (const loaded of this.loaded.values()) {
      for (const meta of loaded.txns.values()) {
        if (meta.state === 'Ongoing' && !meta.pendingTransitionInProgress && meta.startTimestamp + meta.txnTimeoutMs < now) due.push([loaded, meta]);
      }
    }
    for (const [loaded, meta] of due) {
      if (!this.isCurrent(loaded, meta)) continue;
      this.events.timedOut();
      const code = await this.fenceAndAbort(loaded, meta, `open longer than its timeout of ${meta.txnTimeoutMs} ms`);
      if (code !== ErrorCode.NONE) this.logger.warn({ transactionalId: meta.transactionalId, errorCode: code }, 'cannot abort a timed-out transaction; the next pass tries again');
    }
  }

  /** Ids idle (no open transaction) for transactional.id.expiration.ms are removed with a tombstone. */
  async expireTransactionalIds(now = Date.now()): Promise<void> {
    const expirationMs = this.config.int('transactional.id.expiration.ms');
    for (const loaded of [...this.loaded.values()]) {
      for (const meta of [...loaded.txns.values()]) {
        const idle = meta.state === 'Empty' || meta.state === 'CompleteCommit' || meta.state === 'CompleteAbort';
        if (!idle || meta.pendingTransitionInProgress || meta.lastUpdateTimestamp + expirationMs > now) continue;
        const code = await this.write(loaded, meta, meta.prepareDead());
        if (code !== ErrorCode.NONE) continue;
        loaded.txns.delete(meta.transactionalId);
        this.events.expired();
        this.logger.info({ transactionalId: meta.transactionalId, producerId: meta.producerId }, 'transactional id expired');
      }
    }
  }

  // ---- describing ----------------------------------------------------------------------------

  /** DescribeTransactions: the id's state, or NOT_COORDINATOR / TRANSACTIONAL_ID_NOT_FOUND. */
  describe(transactionalId: string): TransactionMetadata | number {
    const loaded = this.partitionOf(transactionalId);
    if (typeof loaded === 'number') return loaded;
    return loaded.txns.get(transactionalId) ?? ErrorCode.TRANSACTIONAL_ID_NOT_FOUND;
  }

  /** ListTransactions: the ids this broker coordinates, filtered as asked (empty filters match all). */
  list(states: ReadonlySet<string>, producerIds: ReadonlySet<number>, minDurationMs: number, now = Date.now()): ListedTransaction[] {
    const out: ListedTransaction[] = [];
    for (const loaded of this.loaded.values()) {
      for (const meta of loaded.txns.values()) {
        if (states.size > 0 && !states.has(meta.state)) continue;
        if (producerIds.size > 0 && !producerIds.has(meta.producerId)) continue;
        if (meta.state === 'Dead') continue;
        // Running longer than the filter (KIP-994); an id without a transaction has not been running at all.
        if (minDurationMs >= 0 && (meta.startTimestamp < 0 || now - meta.startTimestamp <= minDurationMs)) continue;
        out.push({ transactionalId: meta.transactionalId, producerId: meta.producerId, state: meta.state });
      }
    }
    return out;
  }

  /** How many ids this broker coordinates, by state (the metric). */
  countByState(): Map<TxnStateName, number> {
    const counts = new Map<TxnStateName, number>();
    for (const loaded of this.loaded.values()) for (const meta of loaded.txns.values()) counts.set(meta.state, (counts.get(meta.state) ?? 0) + 1);
    return counts;
  }
}
