// Encodes record batches (magic v2). The broker itself never re-encodes client batches; this is
// for records the broker writes on its own behalf and for tools that speak the protocol.
import { crc32c } from '@node-rs/crc32';
import { Writer } from '../protocol/writer.js';
import { BatchOffset, BATCH_HEADER_SIZE, CONTROL_BIT, ControlType, LOG_OVERHEAD, TIMESTAMP_TYPE_BIT, TRANSACTIONAL_BIT, writeInt64 } from './record-batch.js';
import { Compression, compress } from './compression.js';

export interface RecordToWrite {
  key?: Buffer | null;
  value: Buffer | null;
  timestamp?: number;
  headers?: Array<{ key: string; value: Buffer | null }>;
}

export interface BatchOptions {
  baseOffset?: number;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  /** Part of the producer's transaction (attributes bit 4). */
  transactional?: boolean;
  /** A control batch (attributes bit 5): transaction markers only. */
  control?: boolean;
  /** A codec of Compression; none by default. */
  compression?: number;
  /** Record offsets as deltas from baseOffset (a rewritten batch keeps its records' offsets). */
  offsetDeltas?: number[];
  /** lastOffsetDelta when it must stay larger than the last record's delta. */
  lastOffsetDelta?: number;
  /** Marks the timestamps as the broker's (LogAppendTime) rather than the producer's. */
  logAppendTime?: boolean;
  partitionLeaderEpoch?: number;
}

/** Varint length (-1 for null) and the bytes, as record fields are laid out. */
function varBytes(w: Writer, b: Buffer | null): void {
  if (b === null) return w.varint(-1);
  w.varint(b.length);
  w.raw(b);
}

function encodeRecord(w: Writer, record: RecordToWrite, offsetDelta: number, timestampDelta: number): void {
  const body = new Writer(64);
  body.int8(0);
  body.varlong(timestampDelta);
  body.varint(offsetDelta);
  varBytes(body, record.key ?? null);
  varBytes(body, record.value);
  const headers = record.headers ?? [];
  body.varint(headers.length);
  for (const h of headers) {
    varBytes(body, Buffer.from(h.key, 'utf8'));
    varBytes(body, h.value);
  }
  w.varint(body.length);
  w.append(body);
}

export function buildRecordBatch(records: RecordToWrite[], options: BatchOptions = {}): Buffer {
  if (records.length === 0) throw new RangeError('a record batch holds at least one record');
  const now = Date.now();
  const timestamps = records.map((r) => r.timestamp ?? now);
  const baseTimestamp = Math.min(...timestamps);
  const maxTimestamp = Math.max(...timestamps);
  const payload = new Writer(256);
  const deltas = options.offsetDeltas ?? records.map((_, i) => i);
  records.forEach((r, i) => encodeRecord(payload, r, deltas[i]!, timestamps[i]! - baseTimestamp));
  const compression = options.compression ?? Compression.none;
  const recordBytes = compress(compression, payload.toBuffer());
  const batch = Buffer.alloc(BATCH_HEADER_SIZE + recordBytes.length);
  writeInt64(batch, BatchOffset.baseOffset, options.baseOffset ?? 0);
  batch.writeInt32BE(batch.length - LOG_OVERHEAD, BatchOffset.batchLength);
  batch.writeInt32BE(options.partitionLeaderEpoch ?? -1, BatchOffset.partitionLeaderEpoch);
  batch.writeInt8(2, BatchOffset.magic);
  const attributes = compression | (options.logAppendTime ? TIMESTAMP_TYPE_BIT : 0) | (options.transactional ? TRANSACTIONAL_BIT : 0) | (options.control ? CONTROL_BIT : 0);
  batch.writeInt16BE(attributes, BatchOffset.attributes);
  batch.writeInt32BE(options.lastOffsetDelta ?? deltas[deltas.length - 1]!, BatchOffset.lastOffsetDelta);
  writeInt64(batch, BatchOffset.baseTimestamp, baseTimestamp);
  writeInt64(batch, BatchOffset.maxTimestamp, maxTimestamp);
  writeInt64(batch, BatchOffset.producerId, options.producerId ?? -1);
  batch.writeInt16BE(options.producerEpoch ?? -1, BatchOffset.producerEpoch);
  batch.writeInt32BE(options.baseSequence ?? -1, BatchOffset.baseSequence);
  batch.writeInt32BE(records.length, BatchOffset.recordCount);
  recordBytes.copy(batch, BATCH_HEADER_SIZE);
  batch.writeUInt32BE(crc32c(batch.subarray(BatchOffset.attributes)), BatchOffset.crc);
  return batch;
}

/** A transaction marker for one producer's transaction in one partition (WriteTxnMarkers). */
export interface TxnMarker {
  producerId: number;
  producerEpoch: number;
  commit: boolean;
  coordinatorEpoch: number;
}

/**
 * The control batch that ends a producer's transaction in a partition, as Kafka writes it: one
 * record whose key is version 0 and the type (ABORT 0, COMMIT 1) and whose value is version 0
 * and the coordinator epoch; the batch carries the producer id and epoch, no sequence.
 */
export function buildControlBatch(marker: TxnMarker, timestamp: number): Buffer {
  const key = Buffer.alloc(4);
  key.writeInt16BE(0, 0);
  key.writeInt16BE(marker.commit ? ControlType.COMMIT : ControlType.ABORT, 2);
  const value = Buffer.alloc(6);
  value.writeInt16BE(0, 0);
  value.writeInt32BE(marker.coordinatorEpoch, 2);
  return buildRecordBatch([{ key, value, timestamp }], {
    producerId: marker.producerId,
    producerEpoch: marker.producerEpoch,
    baseSequence: -1,
    transactional: true,
    control: true,
  });
}
