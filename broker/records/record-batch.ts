// Record batches (magic v2) as bytes: header fields by position, validation of client batches,
// and offset assignment by rewriting the header only. The records themselves are never
// re-encoded, compressed or not.
import { crc32c } from '@node-rs/crc32';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { Reader } from '../protocol/reader.js';
import { decompress } from './compression.js';

export const BatchOffset = {
  baseOffset: 0,
  batchLength: 8,
  partitionLeaderEpoch: 12,
  magic: 16,
  crc: 17,
  attributes: 21,
  lastOffsetDelta: 23,
  baseTimestamp: 27,
  maxTimestamp: 35,
  producerId: 43,
  producerEpoch: 51,
  baseSequence: 53,
  recordCount: 57,
  records: 61,
} as const;

/** Bytes before the batchLength field's count starts (baseOffset + batchLength). */
export const LOG_OVERHEAD = 12;
export const BATCH_HEADER_SIZE = BatchOffset.records;

const COMPRESSION_MASK = 0x07;
export const TIMESTAMP_TYPE_BIT = 0x08;
export const TRANSACTIONAL_BIT = 0x10;
export const CONTROL_BIT = 0x20;

export function readInt64(buf: Buffer, pos: number): number {
  return buf.readInt32BE(pos) * 4294967296 + buf.readUInt32BE(pos + 4);
}

export function writeInt64(buf: Buffer, pos: number, value: number): void {
  const hi = Math.floor(value / 4294967296);
  buf.writeInt32BE(hi, pos);
  buf.writeUInt32BE(value - hi * 4294967296, pos + 4);
}

/** What the log needs to know of one batch, read from its header. */
export interface BatchInfo {
  /** Position of the batch in the buffer it was read from. */
  position: number;
  /** Whole batch size, LOG_OVERHEAD included. */
  size: number;
  baseOffset: number;
  lastOffsetDelta: number;
  maxTimestamp: number;
  attributes: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
  /** Part of a producer's transaction (attributes bit 4). */
  transactional: boolean;
  /** A control batch: a transaction marker written by the broker (attributes bit 5). */
  control: boolean;
}

export function readBatchInfo(buf: Buffer, position: number): BatchInfo {
  const attributes = buf.readInt16BE(position + BatchOffset.attributes);
  return {
    position,
    size: buf.readInt32BE(position + BatchOffset.batchLength) + LOG_OVERHEAD,
    baseOffset: readInt64(buf, position),
    lastOffsetDelta: buf.readInt32BE(position + BatchOffset.lastOffsetDelta),
    maxTimestamp: readInt64(buf, position + BatchOffset.maxTimestamp),
    attributes,
    producerId: readInt64(buf, position + BatchOffset.producerId),
    producerEpoch: buf.readInt16BE(position + BatchOffset.producerEpoch),
    baseSequence: buf.readInt32BE(position + BatchOffset.baseSequence),
    recordCount: buf.readInt32BE(position + BatchOffset.recordCount),
    transactional: (attributes & TRANSACTIONAL_BIT) !== 0,
    control: (attributes & CONTROL_BIT) !== 0,
  };
}

export const compressionOf = (attributes: number): number => attributes & COMPRESSION_MASK;
export const isLogAppendTime = (attributes: number): boolean => (attributes & TIMESTAMP_TYPE_BIT) !== 0;

/** CRC-32C over attributes..end, as stored in the header. */
export function batchCrcMatches(buf: Buffer, position: number, size: number): boolean {
  const stored = buf.readUInt32BE(position + BatchOffset.crc);
  return crc32c(buf.subarray(position + BatchOffset.attributes, position + size)) === stored;
}

export interface ValidationLimits {
  maxMessageBytes: number;
}

/**
 * Splits a client's record set into batches and checks each as Kafka does before appending.
 * Throws KafkaError with Kafka's code for the first bad batch; nothing of the set is written then.
 */
export function validateClientBatches(records: Buffer, limits: ValidationLimits): BatchInfo[] {
  const batches: BatchInfo[] = [];
  let pos = 0;
  if (records.length === 0) throw new KafkaError(ErrorCode.INVALID_RECORD, 'empty record set');
  while (pos < records.length) {
    if (records.length - pos < LOG_OVERHEAD + 5) {
      throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, `truncated record batch at byte ${pos}`);
    }
    const magic = records.readInt8(pos + BatchOffset.magic);
    if (magic !== 2) {
      throw new KafkaError(ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT, `record format v${magic} is not supported; use a client that writes record batches v2`);
    }
    const size = records.readInt32BE(pos + BatchOffset.batchLength) + LOG_OVERHEAD;
    if (size < BATCH_HEADER_SIZE || pos + size > records.length) {
      throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, `record batch at byte ${pos} claims ${size} bytes, ${records.length - pos} present`);
    }
    if (size > limits.maxMessageBytes) {
      throw new KafkaError(ErrorCode.MESSAGE_TOO_LARGE, `record batch of ${size} bytes exceeds max.message.bytes ${limits.maxMessageBytes}`);
    }
    if (!batchCrcMatches(records, pos, size)) {
      throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, `record batch at byte ${pos} fails its CRC-32C check`);
    }
    const info = readBatchInfo(records, pos);
    if (info.baseOffset !== 0) {
      throw new KafkaError(ErrorCode.INVALID_RECORD, `client batches must start at offset 0, got ${info.baseOffset}`);
    }
    if (info.recordCount <= 0 || info.lastOffsetDelta + 1 !== info.recordCount) {
      throw new KafkaError(ErrorCode.INVALID_RECORD, `record batch has ${info.recordCount} records but lastOffsetDelta ${info.lastOffsetDelta}`);
    }
    if (info.control) {
      throw new KafkaError(ErrorCode.INVALID_RECORD, 'clients may not write control batches: transaction markers are written by the broker');
    }
    if (info.transactional && info.producerId < 0) {
      throw new KafkaError(ErrorCode.INVALID_RECORD, 'a transactional batch must carry a producer id');
    }
    if (info.producerId >= 0 && info.baseSequence < 0) {
      throw new KafkaError(ErrorCode.INVALID_RECORD, `batch from producer ${info.producerId} has no base sequence`);
    }
    if (compressionOf(info.attributes) > 4) {
      throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, `unknown compression codec ${compressionOf(info.attributes)}`);
    }
    batches.push(info);
    pos += size;
  }
  return batches;
}

/**
 * Stamps offsets and leader epoch into a validated batch in place. With LogAppendTime the
 * timestamp type and max timestamp change too, which the CRC covers, so it is recomputed;
 * with CreateTime the CRC stays valid because it starts after those header fields.
 */
export function stampBatch(buf: Buffer, batch: BatchInfo, baseOffset: number, leaderEpoch: number, logAppendTime: number | null): void {
  const p = batch.position;
  writeInt64(buf, p + BatchOffset.baseOffset, baseOffset);
  buf.writeInt32BE(leaderEpoch, p + BatchOffset.partitionLeaderEpoch);
  batch.baseOffset = baseOffset;
  if (logAppendTime !== null) {
    buf.writeInt16BE(batch.attributes | TIMESTAMP_TYPE_BIT, p + BatchOffset.attributes);
    writeInt64(buf, p + BatchOffset.maxTimestamp, logAppendTime);
    buf.writeUInt32BE(crc32c(buf.subarray(p + BatchOffset.attributes, p + batch.size)), p + BatchOffset.crc);
    batch.maxTimestamp = logAppendTime;
  }
}

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

export interface DecodedRecord {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

/** Decodes every record of one batch (decompressing when needed). */
export function decodeRecords(batch: Buffer): DecodedRecord[] {
  const info = readBatchInfo(batch, 0);
  const baseTimestamp = readInt64(batch, BatchOffset.baseTimestamp);
  const logAppendTime = (info.attributes & TIMESTAMP_TYPE_BIT) !== 0;
  const payload = decompress(compressionOf(info.attributes), batch.subarray(BATCH_HEADER_SIZE, info.size));
  const r = new Reader(payload);
  const records: DecodedRecord[] = [];
  for (let i = 0; i < info.recordCount; i++) {
    const length = r.varint();
    const end = r.pos + length;
    r.int8(); // record attributes, unused
    const timestampDelta = r.varlong();
    const offsetDelta = r.varint();
    const keyLength = r.varint();
    const key = keyLength < 0 ? null : Buffer.from(payload.subarray(r.pos, (r.pos += keyLength)));
    const valueLength = r.varint();
    const value = valueLength < 0 ? null : Buffer.from(payload.subarray(r.pos, (r.pos += valueLength)));
    const headerCount = r.varint();
    const headers: RecordHeader[] = [];
    for (let h = 0; h < headerCount; h++) {
      const hk = r.varint();
      const hkey = payload.toString('utf8', r.pos, (r.pos += hk));
      const hv = r.varint();
      headers.push({ key: hkey, value: hv < 0 ? null : Buffer.from(payload.subarray(r.pos, (r.pos += hv))) });
    }
    if (r.pos !== end) throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, `record ${i} length ${length} does not match its fields`);
    records.push({
      offset: info.baseOffset + offsetDelta,
      timestamp: logAppendTime ? info.maxTimestamp : baseTimestamp + timestampDelta,
      key,
      value,
      headers,
    });
  }
  return records;
}

/** What a transaction marker (the control record of a COMMIT or ABORT control batch) says. */
export interface ControlMarker {
  commit: boolean;
  coordinatorEpoch: number;
}

/** Control record types (the key's second int16): only ABORT and COMMIT end transactions. */
export const ControlType = { ABORT: 0, COMMIT: 1 } as const;

/**
 * The marker in a control batch (`batch` starts at the batch), or null when its control record is
 * of another type or does not decode. Control batches are never compressed.
 */
export function readControlMarker(batch: Buffer): ControlMarker | null {
  try {
    const record = decodeRecords(batch)[0];
    if (!record?.key || record.key.length < 4 || !record.value || record.value.length < 6) return null;
    const type = record.key.readInt16BE(2);
    if (type !== ControlType.ABORT && type !== ControlType.COMMIT) return null;
    return { commit: type === ControlType.COMMIT, coordinatorEpoch: record.value.readInt32BE(2) };
  } catch {
    return null;
  }
}
