// Record-level checks of client batches, as Kafka's LogValidator makes them before appending:
// every record well formed (varint lengths within the record, nothing left over or missing),
// record i carrying offset delta i, exactly recordCount records filling the payload, and on a
// compacted topic a key on every record. Uncompressed payloads are walked in place; compressed
// ones are inflated once, capped and off the event loop, then walked. The stored batch is never
// re-encoded, so whatever passes here is what consumers will read.
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import type { BatchIndexAndErrorMessage } from '../protocol/messages/produce-response.js';
import { BATCH_HEADER_SIZE, type BatchInfo, compressionOf } from './record-batch.js';
import { Compression, CorruptPayloadError, InflateLimitError, inflate } from './compression.js';

/** A refused batch, with the records to blame (Produce v8+ returns them as record_errors). */
export class RecordValidationError extends KafkaError {
  constructor(
    code: number,
    message: string,
    readonly recordErrors: BatchIndexAndErrorMessage[] = [],
  ) {
    super(code, message);
  }
}

/** Smallest record: length, attributes, timestamp delta, offset delta, key, value, header count. */
const MIN_RECORD_BYTES = 7;

/**
 * The most a compressed batch may inflate to is this many times the topic's max.message.bytes
 * (64 MiB at Kafka's default): far above what producers' batch sizes and compression ratios
 * give, and small enough that a bomb is refused within a few hundred milliseconds of
 * thread-pool time. Never more than 1 GiB, whatever max.message.bytes says.
 */
const INFLATE_FACTOR = 64;
const maxInflatedBytes = (maxMessageBytes: number): number => Math.min(INFLATE_FACTOR * Math.max(maxMessageBytes, MIN_RECORD_BYTES), 2 ** 30);
const LIMIT_NOTE = `the limit is ${INFLATE_FACTOR} × max.message.bytes`;

/** Records walked between yields to the event loop while checking an inflated payload. */
const RECORDS_PER_SLICE = 50_000;

/** Inflations running at once: each holds up to maxInflatedBytes, so this bounds the memory. */
const MAX_CONCURRENT_INFLATIONS = 2;

function recordError(index: number, detail: string): RecordValidationError {
  return new RecordValidationError(ErrorCode.INVALID_RECORD, `record ${index} of the batch is invalid: ${detail}`, [{ batchIndex: index, batchIndexErrorMessage: detail }]);
}

const invalidStructure = (index: number) => recordError(index, 'Found invalid record structure');

// Where the last varint read by readVarint ended (-1: cut short or longer than 5 bytes). The
// walk keeps its position in a local and decodes one-byte varints inline; longer ones come here.
let varintEnd = 0;

/** A zig-zag varint (at most 5 bytes) starting at `p`, read before `end`; sets varintEnd. */
function readVarint(buf: Buffer, p: number, end: number): number {
  let raw = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    if (p >= end) break;
    const b = buf[p++]!;
    raw |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) {
      varintEnd = p;
      return (raw >>> 1) ^ -(raw & 1);
    }
  }
  varintEnd = -1;
  return 0;
}

/**
 * Checks records `from` to `to` (exclusive) of a payload holding `count` records, the first of
 * them starting at `pos`; the payload ends at `end`. Returns where record `to` starts. Once
 * `to` reaches `count`, the payload must end there. Runs for every produced record: positions
 * stay in locals and nothing is allocated unless a record is refused.
 */
export function checkRecords(buf: Buffer, pos: number, end: number, count: number, compacted: boolean, from = 0, to = count): number {
  let p = pos;
  let b = 0;
  let v = 0;
  for (let i = from; i < to; i++) {
    if (p >= end) throw new RecordValidationError(ErrorCode.INVALID_RECORD, `Incorrect declared batch size, premature EOF reached: the batch declares ${count} records and holds ${i}`);
    // Each field: a one-byte varint decoded here, a longer one by readVarint.
    if ((b = buf[p]!) < 0x80) (v = (b >>> 1) ^ -(b & 1)), p++;
    else if (((v = readVarint(buf, p, end)), (p = varintEnd)) < 0) throw invalidStructure(i);
    const size = v;
    const bodyStart = p;
    if (size < 0) throw invalidStructure(i);
    if (size > end - bodyStart) throw recordError(i, `Invalid record size: expected ${size} bytes in record payload, but instead the buffer has only ${end - bodyStart} remaining bytes.`);
    const recordEnd = bodyStart + size;
    p++; // attributes: unused in v2
    for (let n = 0; ; n++) {
      // timestamp delta: a varlong of at most 10 bytes, not needed here
      if (p >= recordEnd || n === 10) throw invalidStructure(i);
      if (buf[p++]! < 0x80) break;
    }
    if (p < recordEnd && (b = buf[p]!) < 0x80) (v = (b >>> 1) ^ -(b & 1)), p++;
    else if (((v = readVarint(buf, p, recordEnd)), (p = varintEnd)) < 0) throw invalidStructure(i);
    if (v !== i) throw recordError(i, `offset delta ${v} where ${i} was expected: record offsets in a batch must be consecutive`);
    if (p < recordEnd && (b = buf[p]!) < 0x80) (v = (b >>> 1) ^ -(b & 1)), p++;
    else if (((v = readVarint(buf, p, recordEnd)), (p = varintEnd)) < 0) throw invalidStructure(i);
    if (v < 0 && compacted) throw recordError(i, 'Compacted topic cannot accept a record without a key');
    if (v > 0) p += v; // key
    if (p < recordEnd && (b = buf[p]!) < 0x80) (v = (b >>> 1) ^ -(b & 1)), p++;
    else if (((v = readVarint(buf, p, recordEnd)), (p = varintEnd)) < 0) throw invalidStructure(i);
    if (v > 0) p += v; // value
    if (p < recordEnd && (b = buf[p]!) < 0x80) (v = (b >>> 1) ^ -(b & 1)), p++;
    else if (((v = readVarint(buf, p, recordEnd)), (p = varintEnd)) < 0) throw invalidStructure(i);
    const headers = v;
    if (headers < 0) throw recordError(i, `Found invalid number of record headers ${headers}`);
    if (headers > recordEnd - p) throw recordError(i, `Found invalid number of record headers. ${headers} is larger than the remaining size of the buffer`);
    for (let h = 0; h < headers; h++) {
      v = readVarint(buf, p, recordEnd);
      if ((p = varintEnd) < 0) throw invalidStructure(i);
      if (v < 0) throw recordError(i, `Invalid negative header key size ${v}`);
      p += v;
      v = readVarint(buf, p, recordEnd);
      if ((p = varintEnd) < 0) throw invalidStructure(i);
      if (v > 0) p += v;
      if (p > recordEnd) throw invalidStructure(i);
    }
    if (p !== recordEnd) throw recordError(i, `Invalid record size: expected to read ${size} bytes in record payload, but instead read ${p - bodyStart}`);
  }
  if (to === count && p !== end) throw new RecordValidationError(ErrorCode.INVALID_RECORD, `Incorrect declared batch size, records still remaining in file: ${end - p} bytes follow the ${count} declared records`);
  return p;
}

/** A FIFO of waiters for one of a fixed number of slots. */
class Slots {
  private free: number;
  private readonly waiting: Array<() => void> = [];
  constructor(count: number) {
    this.free = count;
  }
  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

const inflations = new Slots(MAX_CONCURRENT_INFLATIONS);

async function inflateAndCheck(records: Buffer, batch: BatchInfo, compacted: boolean, maxBytes: number): Promise<void> {
  const codec = compressionOf(batch.attributes);
  if (batch.recordCount > Math.floor(maxBytes / MIN_RECORD_BYTES)) {
    throw new KafkaError(ErrorCode.MESSAGE_TOO_LARGE, `a compressed batch of ${batch.recordCount} records would inflate to more than ${maxBytes} bytes (${LIMIT_NOTE})`);
  }
  await inflations.acquire();
  let payload: Buffer;
  try {
    payload = await inflate(codec, records.subarray(batch.position + BATCH_HEADER_SIZE, batch.position + batch.size), maxBytes);
  } catch (err) {
    if (err instanceof InflateLimitError) throw new KafkaError(ErrorCode.MESSAGE_TOO_LARGE, `${err.message} (${LIMIT_NOTE})`);
    if (err instanceof CorruptPayloadError) throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, err.message);
    throw err;
  } finally {
    inflations.release();
  }
  // Walked in slices so that a payload of millions of tiny records does not hold the event loop.
  let pos = 0;
  for (let from = 0; from < batch.recordCount; from += RECORDS_PER_SLICE) {
    if (from > 0) await new Promise((resolve) => setImmediate(resolve));
    pos = checkRecords(payload, pos, payload.length, batch.recordCount, compacted, from, Math.min(from + RECORDS_PER_SLICE, batch.recordCount));
  }
}

export interface RecordCheckOptions {
  /** cleanup.policy includes compact: every record needs a key. */
  compacted: boolean;
  /** The topic's max.message.bytes, from which the inflation limit follows. */
  maxMessageBytes: number;
}

/**
 * Checks the records of batches that passed validateClientBatches. Throws KafkaError with
 * Kafka's code (INVALID_RECORD, CORRUPT_MESSAGE for a payload that is not valid data of its
 * codec, MESSAGE_TOO_LARGE for one that inflates past the limit) for the first bad batch.
 */
export async function checkBatchRecords(records: Buffer, batches: readonly BatchInfo[], options: RecordCheckOptions): Promise<void> {
  for (const batch of batches) {
    if (compressionOf(batch.attributes) === Compression.none) {
      checkRecords(records, batch.position + BATCH_HEADER_SIZE, batch.position + batch.size, batch.recordCount, options.compacted);
    } else {
      await inflateAndCheck(records, batch, options.compacted, maxInflatedBytes(options.maxMessageBytes));
    }
  }
}
