// The coordinator's state machine against a log and a marker sender kept in memory; the real
// topic, markers and clients are exercised by broker/test/transactions.test.ts.
import pino from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import { BrokerConfig } from '../config.js';
import { ErrorCode } from '../protocol/errors.js';
import { type MarkerSender, TransactionCoordinator, type TxnMarkers } from './coordinator.js';
import type { StoredTransaction } from './transaction-log-records.js';
import type { TransactionLog } from './transaction-state-topic.js';

class MemoryLog implements TransactionLog {
  readonly written: Array<{ id: string; value: StoredTransaction | null }> = [];
  leaderEpochs = new Map<number, number>([[0, 5]]);
  failures: number[] = [];
  async ensure(): Promise<void> {}
  partitionFor(): number {
    return 0;
  }
  leaderEpoch(partition: number): number | undefined {
    return this.leaderEpochs.get(partition);
  }
  async write(_partition: number, id: string, value: StoredTransaction | null): Promise<number> {
    const failure = this.failures.shift();
    if (failure !== undefined) return failure;
    // Stored as the log would: a copy, not the coordinator's own objects.
    this.written.push({ id, value: value && { ...value, partitions: new Map([...value.partitions].map(([t, s]) => [t, new Set(s)])) } });
    return ErrorCode.NONE;
  }
  replay(): Map<string, StoredTransaction> {
    const out = new Map<string, StoredTransaction>();
    for (const { id, value } of this.written) {
      if (value) out.set(id, value);
      else out.delete(id);
    }
    return out;
  }
  last(): StoredTransaction | null {
    return this.written.at(-1)!.value;
  }
}

class HeldMarkers implements MarkerSender {
  readonly sent: TxnMarkers[] = [];
  hold = false;
  private releases: Array<() => void> = [];
  stillCurrent: Array<() => boolean> = [];
  async send(markers: TxnMarkers, current: () => boolean): Promise<void> {
    this.sent.push(markers);
    this.stillCurrent.push(current);
    if (this.hold) await new Promise<void>((resolve) => this.releases.push(resolve));
  }
  release(): void {
    for (const r of this.releases.splice(0)) r();
  }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

let log: MemoryLog;
let markers: HeldMarkers;
let coordinator: TransactionCoordinator;
let nextProducerId: number;
let events: { timedOut: number; expired: number };

function start(settings: Record<string, string> = {}) {
  coordinator = new TransactionCoordinator(new BrokerConfig(settings), log, async () => nextProducerId++, markers, pino({ level: 'silent' }), { timedOut: () => events.timedOut++, expired: () => events.expired++ });
  coordinator.loadPartition(0);
}

beforeEach(() => {
  log = new MemoryLog();
  markers = new HeldMarkers();
  nextProducerId = 1000;
  events = { timedOut: 0, expired: 0 };
  start();
});

const orders = new Map([['orders', [0, 1]]]);

async function openTransaction(id = 'tx') {
  const init = await coordinator.initProducerId(id, 60000, undefined);
  expect(await coordinator.addPartitions(id, init.producerId, init.producerEpoch, orders)).toBe(ErrorCode.NONE);
  return init;
}

describe('InitProducerId', () => {
  it('gives a new id a producer id at epoch 0, written as Empty before it answers', async () => {
    expect(await coordinator.initProducerId('tx', 60000, undefined)).toEqual({ errorCode: ErrorCode.NONE, producerId: 1000, producerEpoch: 0 });
    expect(log.last()).toMatchObject({ producerId: 1000, producerEpoch: 0, state: 'Empty', txnTimeoutMs: 60000 });
  });

  it('bumps the epoch for each new producer of the id: the older one is fenced', async () => {
    const first = await coordinator.initProducerId('tx', 60000, undefined);
    const second = await coordinator.initProducerId('tx', 60000, undefined);
    expect(second).toEqual({ errorCode: ErrorCode.NONE, producerId: first.producerId, producerEpoch: 1 });
    expect(await coordinator.addPartitions('tx', first.producerId, first.producerEpoch, orders)).toBe(ErrorCode.PRODUCER_FENCED);
    expect(await coordinator.endTransaction('tx', first.producerId, first.producerEpoch, true)).toBe(ErrorCode.PRODUCER_FENCED);
  });

  it('refuses a timeout above transaction.max.timeout.ms, an empty id, and ids it does not coordinate', async () => {
    expect((await coordinator.initProducerId('tx', 900001, undefined)).errorCode).toBe(ErrorCode.INVALID_TRANSACTION_TIMEOUT);
    expect((await coordinator.initProducerId('tx', 0, undefined)).errorCode).toBe(ErrorCode.INVALID_TRANSACTION_TIMEOUT);
    expect((await coordinator.initProducerId('', 1000, undefined)).errorCode).toBe(ErrorCode.INVALID_REQUEST);
    log.leaderEpochs.clear();
    expect((await coordinator.initProducerId('tx', 1000, undefined)).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(log.written).toEqual([]);
  });

  it('aborts the open transaction of the previous epoch first, answering CONCURRENT_TRANSACTIONS meanwhile', async () => {
    const old = await openTransaction();
    markers.hold = true;
    expect((await coordinator.initProducerId('tx', 60000, undefined)).errorCode).toBe(ErrorCode.CONCURRENT_TRANSACTIONS);
    expect(log.last()).toMatchObject({ state: 'PrepareAbort', producerEpoch: old.producerEpoch + 1 });
    await settle();
    expect(markers.sent).toEqual([{ transactionalId: 'tx', producerId: old.producerId, producerEpoch: old.producerEpoch + 1, commit: false, coordinatorEpoch: 5, partitions: [{ topic: 'orders', partition: 0 }, { topic: 'orders', partition: 1 }] }]);
    // Until the markers are written, the new producer keeps being told to retry.
    expect((await coordinator.initProducerId('tx', 60000, undefined)).errorCode).toBe(ErrorCode.CONCURRENT_TRANSACTIONS);
    markers.release();
    await settle();
    expect(log.last()).toMatchObject({ state: 'CompleteAbort', partitions: new Map() });
    expect(await coordinator.initProducerId('tx', 60000, undefined)).toEqual({ errorCode: ErrorCode.NONE, producerId: old.producerId, producerEpoch: old.producerEpoch + 2 });
    expect(await coordinator.endTransaction('tx', old.producerId, old.producerEpoch, true)).toBe(ErrorCode.PRODUCER_FENCED);
  });

  it('lets a producer recover with its current epoch (KIP-360), answers a retry with the same epoch, fences older epochs', async () => {
    const first = await coordinator.initProducerId('tx', 60000, undefined);
    const bumped = await coordinator.initProducerId('tx', 60000, { producerId: first.producerId, producerEpoch: 0 });
    expect(bumped).toEqual({ errorCode: ErrorCode.NONE, producerId: first.producerId, producerEpoch: 1 });
    // The answer was lost: the retry names epoch 0 again and gets epoch 1 again.
    expect(await coordinator.initProducerId('tx', 60000, { producerId: first.producerId, producerEpoch: 0 })).toEqual(bumped);
    await coordinator.initProducerId('tx', 60000, { producerId: first.producerId, producerEpoch: 1 });
    expect((await coordinator.initProducerId('tx', 60000, { producerId: first.producerId, producerEpoch: 0 })).errorCode).toBe(ErrorCode.PRODUCER_FENCED);
    expect((await coordinator.initProducerId('tx', 60000, { producerId: 77, producerEpoch: 2 })).errorCode).toBe(ErrorCode.PRODUCER_FENCED);
  });

  it('rotates to a new producer id when the epoch is exhausted', async () => {
    log.written.push({ id: 'tx', value: { producerId: 5, producerEpoch: 32766, txnTimeoutMs: 1000, state: 'CompleteCommit', partitions: new Map(), lastUpdateTimestamp: 1, startTimestamp: 1 } });
    start();
    expect(await coordinator.initProducerId('tx', 60000, undefined)).toEqual({ errorCode: ErrorCode.NONE, producerId: 1000, producerEpoch: 0 });
    expect(await coordinator.addPartitions('tx', 5, 32766, orders)).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
  });

  it('changes nothing when the write fails', async () => {
    await coordinator.initProducerId('tx', 60000, undefined);
    log.failures.push(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    expect((await coordinator.initProducerId('tx', 60000, undefined)).errorCode).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    expect(await coordinator.initProducerId('tx', 60000, undefined)).toMatchObject({ errorCode: ErrorCode.NONE, producerEpoch: 1 });
  });
});

describe('a transaction', () => {
  it('goes Ongoing with its partitions, then PrepareCommit, markers, CompleteCommit', async () => {
    const p = await openTransaction();
    expect(log.last()).toMatchObject({ state: 'Ongoing', partitions: new Map([['orders', new Set([0, 1])]]) });
    const writes = log.written.length;
    // Adding partitions already in the transaction writes nothing.
    expect(await coordinator.addPartitions('tx', p.producerId, p.producerEpoch, new Map([['orders', [1]]]))).toBe(ErrorCode.NONE);
    expect(log.written.length).toBe(writes);
    expect(await coordinator.addPartitions('tx', p.producerId, p.producerEpoch, new Map([['__consumer_offsets', [7]]]))).toBe(ErrorCode.NONE);
    markers.hold = true;
    expect(await coordinator.endTransaction('tx', p.producerId, p.producerEpoch, true)).toBe(ErrorCode.NONE);
    expect(log.last()).toMatchObject({ state: 'PrepareCommit' });
    await settle();
    expect(markers.sent[0]).toMatchObject({ commit: true, producerEpoch: p.producerEpoch, coordinatorEpoch: 5 });
    expect(markers.sent[0]!.partitions).toHaveLength(3);
    // Until the markers are written: the next transaction and a retried EndTxn wait; an abort is a wrong transition.
    expect(await coordinator.addPartitions('tx', p.producerId, p.producerEpoch, orders)).toBe(ErrorCode.CONCURRENT_TRANSACTIONS);
    expect(await coordinator.endTransaction('tx', p.producerId, p.producerEpoch, true)).toBe(ErrorCode.CONCURRENT_TRANSACTIONS);
    expect(await coordinator.endTransaction('tx', p.producerId, p.producerEpoch, false)).toBe(ErrorCode.INVALID_TXN_STATE);
    markers.release();
    await settle();
    expect(log.last()).toMatchObject({ state: 'CompleteCommit', partitions: new Map() });
    expect(await coordinator.endTransaction('tx', p.producerId, p.producerEpoch, true)).toBe(ErrorCode.NONE);
    expect(await coordinator.endTransaction('tx', p.producerId, p.producerEpoch, false)).toBe(ErrorCode.INVALID_TXN_STATE);
    // The next transaction starts from CompleteCommit.
    expect(await coordinator.addPartitions('tx', p.producerId, p.producerEpoch, orders)).toBe(ErrorCode.NONE);
    expect(log.last()).toMatchObject({ state: 'Ongoing' });
  });

  it('answers EndTxn without a transaction with INVALID_TXN_STATE, and unknown producers with INVALID_PRODUCER_ID_MAPPING', async () => {
    const p = await coordinator.initProducerId('tx', 60000, undefined);
    expect(await coordinator.endTransaction('tx', p.producerId, p.producerEpoch, true)).toBe(ErrorCode.INVALID_TXN_STATE);
    expect(await coordinator.endTransaction('tx', p.producerId + 1, p.producerEpoch, true)).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
    expect(await coordinator.endTransaction('other', p.producerId, p.producerEpoch, true)).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
    expect(await coordinator.addPartitions('other', p.producerId, p.producerEpoch, orders)).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
  });

  it('is finished by a new leader that finds it prepared, with its own leader epoch as the coordinator epoch', async () => {
    const p = await openTransaction();
    markers.hold = true;
    await coordinator.endTransaction('tx', p.producerId, p.producerEpoch, true);
    await settle();
    // Leadership moves away before the markers are done: this coordinator writes nothing more.
    coordinator.unloadPartition(0);
    expect(markers.stillCurrent[0]!()).toBe(false);
    markers.release();
    await settle();
    expect(log.last()).toMatchObject({ state: 'PrepareCommit' });
    // The partition's next leader (epoch 6) replays it and completes the commit.
    log.leaderEpochs.set(0, 6);
    markers.hold = false;
    start();
    await settle();
    expect(markers.sent.at(-1)).toMatchObject({ commit: true, coordinatorEpoch: 6, producerId: p.producerId, producerEpoch: p.producerEpoch });
    expect(log.last()).toMatchObject({ state: 'CompleteCommit' });
  });
});

describe('timeouts and expiration', () => {
  it('aborts a transaction open longer than its timeout under a bumped epoch', async () => {
    const p = await coordinator.initProducerId('tx', 1000, undefined);
    await coordinator.addPartitions('tx', p.producerId, p.producerEpoch, orders);
    await coordinator.abortTimedOutTransactions(Date.now() + 500);
    expect(events.timedOut).toBe(0);
    await coordinator.abortTimedOutTransactions(Date.now() + 2000);
    expect(events.timedOut).toBe(1);
    await settle();
    expect(markers.sent[0]).toMatchObject({ commit: false, producerEpoch: p.producerEpoch + 1 });
    expect(log.last()).toMatchObject({ state: 'CompleteAbort', producerEpoch: p.producerEpoch + 1 });
    expect(await coordinator.endTransaction('tx', p.producerId, p.producerEpoch, true)).toBe(ErrorCode.PRODUCER_FENCED);
  });

  it('removes ids idle past transactional.id.expiration.ms with a tombstone', async () => {
    start({ 'transactional.id.expiration.ms': '60000' });
    const p = await openTransaction('open');
    await coordinator.initProducerId('idle', 60000, undefined);
    await coordinator.expireTransactionalIds(Date.now() + 120000);
    expect(log.last()).toEqual(null);
    expect(log.written.at(-1)!.id).toBe('idle');
    expect(events.expired).toBe(1);
    expect(coordinator.describe('idle')).toBe(ErrorCode.TRANSACTIONAL_ID_NOT_FOUND);
    // An open transaction is never expired (its timeout aborts it).
    expect(coordinator.describe('open')).toMatchObject({ state: 'Ongoing', producerId: p.producerId });
  });
});

describe('listing', () => {
  it('filters by state, producer id and duration', async () => {
    const a = await openTransaction('a');
    await coordinator.initProducerId('b', 60000, undefined);
    const all = coordinator.list(new Set(), new Set(), -1);
    expect(all.map((t) => t.transactionalId).sort()).toEqual(['a', 'b']);
    expect(coordinator.list(new Set(['Ongoing']), new Set(), -1)).toEqual([{ transactionalId: 'a', producerId: a.producerId, state: 'Ongoing' }]);
    expect(coordinator.list(new Set(), new Set([a.producerId]), -1).map((t) => t.transactionalId)).toEqual(['a']);
    expect(coordinator.list(new Set(), new Set(), 60000)).toEqual([]);
    expect(coordinator.list(new Set(), new Set(), 0, Date.now() + 5).map((t) => t.transactionalId)).toEqual(['a']);
    expect(coordinator.countByState()).toEqual(new Map([['Ongoing', 1], ['Empty', 1]]));
  });
});
