import { describe, expect, it } from 'vitest';
import { Writer } from '../protocol/writer.js';
import {
  type StoredTransaction,
  partitionForTransactionalId,
  readTransactionKey,
  readTransactionValue,
  transactionKey,
  transactionValue,
} from './transaction-log-records.js';

const ongoing: StoredTransaction = {
  producerId: 4001,
  producerEpoch: 7,
  txnTimeoutMs: 60000,
  state: 'Ongoing',
  partitions: new Map([
    ['orders', new Set([0, 3])],
    ['__consumer_offsets', new Set([12])],
  ]),
  lastUpdateTimestamp: 1_700_000_000_123,
  startTimestamp: 1_700_000_000_000,
};

describe('__transaction_state records', () => {
  it('writes key version 0 as Kafka lays it out: int16 version, int16-length string', () => {
    const key = transactionKey('tx-1');
    expect(key.toString('hex')).toBe('0000' + '0004' + Buffer.from('tx-1').toString('hex'));
    expect(readTransactionKey(key)).toBe('tx-1');
  });

  it('leaves keys of an unknown version to the caller', () => {
    const w = new Writer();
    w.int16(3);
    w.nullableString('x');
    expect(readTransactionKey(w.toBuffer())).toBeUndefined();
  });

  it('writes value version 0 byte for byte as TransactionLogValue v0', () => {
    const value = transactionValue({ ...ongoing, partitions: new Map([['t', new Set([1])]]) });
    const w = new Writer();
    w.int16(0); // version
    w.int64(4001);
    w.int16(7);
    w.int32(60000);
    w.int8(1); // Ongoing
    w.int32(1);
    w.nullableString('t');
    w.int32(1);
    w.int32(1);
    w.int64(1_700_000_000_123);
    w.int64(1_700_000_000_000);
    expect(value.equals(w.toBuffer())).toBe(true);
  });

  it('round-trips every state, and an Empty state has a null partition list', () => {
    for (const state of ['Empty', 'Ongoing', 'PrepareCommit', 'PrepareAbort', 'CompleteCommit', 'CompleteAbort'] as const) {
      const stored = { ...ongoing, state, partitions: state === 'Empty' ? new Map() : ongoing.partitions };
      expect(readTransactionValue(transactionValue(stored))).toEqual(stored);
    }
    const empty = transactionValue({ ...ongoing, state: 'Empty', partitions: new Map() });
    expect(empty.readInt32BE(2 + 8 + 2 + 4 + 1)).toBe(-1);
  });

  it('reads value version 1 (flexible: compact arrays and strings, tagged fields)', () => {
    const w = new Writer();
    w.int16(1);
    w.int64(9);
    w.int16(2);
    w.int32(1000);
    w.int8(2); // PrepareCommit
    w.arrayLength(1, true);
    w.compactNullableString('orders');
    w.arrayLength(2, true);
    w.int32(0);
    w.int32(1);
    w.unsignedVarint(0); // partition entry's tagged fields
    w.int64(20);
    w.int64(10);
    // One tagged field (PreviousProducerId, tag 0): skipped.
    w.unsignedVarint(1);
    w.unsignedVarint(0);
    w.unsignedVarint(8);
    w.int64(5);
    const read = readTransactionValue(w.toBuffer());
    expect(read).toEqual({ producerId: 9, producerEpoch: 2, txnTimeoutMs: 1000, state: 'PrepareCommit', partitions: new Map([['orders', new Set([0, 1])]]), lastUpdateTimestamp: 20, startTimestamp: 10 });
  });

  it('refuses unknown value versions and states', () => {
    const w = new Writer();
    w.int16(9);
    expect(() => readTransactionValue(w.toBuffer())).toThrow(/version 9/);
    const bad = transactionValue(ongoing);
    bad.writeInt8(42, 2 + 8 + 2 + 4);
    expect(() => readTransactionValue(bad)).toThrow(/status 42/);
  });

  it('places ids with Kafka\'s abs(String.hashCode) % partitions', () => {
    // "my-txn".hashCode() is -1061187895 in Java: abs % 50 = 45.
    expect(partitionForTransactionalId('my-txn', 50)).toBe(45);
    // A hashCode of Integer.MIN_VALUE maps to partition 0 (Utils.abs).
    expect(partitionForTransactionalId('polygenelubricants', 50)).toBe(0);
  });
});
