// Records of the internal topic __transaction_state, in Kafka's layouts (TransactionLogKey v0,
// TransactionLogValue v0 written; v1, the flexible form of transactions v2, also read), so that
// tools reading that topic understand them. A null value is a tombstone: the id expired.
import { ProtocolError, Reader } from '../protocol/reader.js';
import { Writer } from '../protocol/writer.js';
import { partitionForGroup } from '../groups/offsets-records.js';

export const TRANSACTION_STATE_TOPIC = '__transaction_state';

const KEY_VERSION = 0;
const VALUE_VERSION = 0;

/** The states of a transactional id, with TransactionLogValue's status numbers. */
export const TxnState = {
  Empty: 0,
  Ongoing: 1,
  PrepareCommit: 2,
  PrepareAbort: 3,
  CompleteCommit: 4,
  CompleteAbort: 5,
  Dead: 6,
  PrepareEpochFence: 7,
} as const;
export type TxnStateName = keyof typeof TxnState;
const STATE_NAMES = Object.fromEntries(Object.entries(TxnState).map(([name, n]) => [n, name])) as Record<number, TxnStateName>;

export function txnStateName(status: number): TxnStateName {
  const name = STATE_NAMES[status];
  if (!name) throw new ProtocolError(`unknown transaction status ${status}`);
  return name;
}

export interface StoredTransaction {
  producerId: number;
  producerEpoch: number;
  txnTimeoutMs: number;
  state: TxnStateName;
  /** Partitions in the transaction, by topic. */
  partitions: Map<string, Set<number>>;
  lastUpdateTimestamp: number;
  startTimestamp: number;
}

/** The partition of __transaction_state that holds an id: Kafka's abs(String.hashCode) % partitions, as for groups. */
export function partitionForTransactionalId(transactionalId: string, partitions: number): number {
  return partitionForGroup(transactionalId, partitions);
}

export function transactionKey(transactionalId: string): Buffer {
  const w = new Writer(32);
  w.int16(KEY_VERSION);
  w.nullableString(transactionalId);
  return w.toBuffer();
}

/** The transactional id of a key; undefined for a key version this broker does not know. */
export function readTransactionKey(key: Buffer): string | undefined {
  const r = new Reader(key);
  if (r.int16() !== KEY_VERSION) return undefined;
  const id = r.nullableString();
  if (id === null) throw new ProtocolError('transaction key without an id');
  return id;
}

export function transactionValue(txn: StoredTransaction): Buffer {
  const w = new Writer(64);
  w.int16(VALUE_VERSION);
  w.int64(txn.producerId);
  w.int16(txn.producerEpoch);
  w.int32(txn.txnTimeoutMs);
  w.int8(TxnState[txn.state]);
  // As Kafka writes it: an Empty transaction has a null partition list.
  w.int32(txn.state === 'Empty' ? -1 : txn.partitions.size);
  if (txn.state !== 'Empty') for (const [topic, partitions] of txn.partitions) {
    w.nullableString(topic);
    w.int32(partitions.size);
    for (const p of partitions) w.int32(p);
  }
  w.int64(txn.lastUpdateTimestamp);
  w.int64(txn.startTimestamp);
  return w.toBuffer();
}

export function readTransactionValue(value: Buffer): StoredTransaction {
  const r = new Reader(value);
  const version = r.int16();
  if (version !== 0 && version !== 1) throw new ProtocolError(`unknown transaction value version ${version}`);
  const flexible = version === 1;
  const producerId = r.int64();
  const producerEpoch = r.int16();
  const txnTimeoutMs = r.int32();
  const state = txnStateName(r.int8());
  const partitions = new Map<string, Set<number>>();
  const topics = r.arrayLength(flexible);
  for (let i = 0; i < topics; i++) {
    const topic = (flexible ? r.compactNullableString() : r.nullableString()) ?? '';
    const n = r.arrayLength(flexible);
    const ids = new Set<number>();
    for (let j = 0; j < n; j++) ids.add(r.int32());
    if (flexible) r.skipTaggedFields();
    partitions.set(topic, ids);
  }
  const lastUpdateTimestamp = r.int64();
  const startTimestamp = r.int64();
  // v1's tagged fields (previous/next producer id, client transaction version) belong to transactions v2.
  if (flexible) r.skipTaggedFields();
  return { producerId, producerEpoch, txnTimeoutMs, state, partitions, lastUpdateTimestamp, startTimestamp };
}
