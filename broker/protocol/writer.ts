// Writes Kafka wire primitives into a list of chunks. Small values are copied into a scratch
// buffer; large byte payloads (record batches) are appended by reference, never copied, so a
// Fetch response can hand file data straight to the socket.

const SCRATCH_SIZE = 8192;
const BY_REFERENCE_MIN = 512;
const TWO_32 = 4294967296;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

export class Writer {
  private readonly chunks: Buffer[] = [];
  private buf: Buffer;
  private start = 0;
  private pos = 0;
  /** Bytes written so far. */
  length = 0;

  constructor(sizeHint = 256) {
    this.buf = Buffer.allocUnsafe(Math.max(sizeHint, 64));
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.flushScratch();
    this.buf = Buffer.allocUnsafe(Math.max(n, SCRATCH_SIZE));
    this.start = 0;
    this.pos = 0;
  }

  private flushScratch(): void {
    if (this.pos > this.start) this.chunks.push(this.buf.subarray(this.start, this.pos));
    this.start = this.pos;
  }

  int8(v: number): void {
    this.ensure(1);
    this.buf.writeInt8(v, this.pos);
    this.pos += 1;
    this.length += 1;
  }

  bool(v: boolean): void {
    this.int8(v ? 1 : 0);
  }

  int16(v: number): void {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.pos);
    this.pos += 2;
    this.length += 2;
  }

  uint16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
    this.length += 2;
  }

  int32(v: number): void {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
    this.length += 4;
  }

  uint32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
    this.length += 4;
  }

  /** int64 from a JS number; values beyond the int64 range saturate (Long.MAX_VALUE sentinels). */
  int64(v: number): void {
    this.ensure(8);
    if (Number.isSafeInteger(v)) {
      const hi = Math.floor(v / TWO_32);
      this.buf.writeInt32BE(hi, this.pos);
      this.buf.writeUInt32BE(v - hi * TWO_32, this.pos + 4);
    } else {
      let big = BigInt(Math.trunc(v));
      if (big > INT64_MAX) big = INT64_MAX;
      if (big < INT64_MIN) big = INT64_MIN;
      this.buf.writeBigInt64BE(big, this.pos);
    }
    this.pos += 8;
    this.length += 8;
  }

  float64(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
    this.length += 8;
  }

  uuid(v: string): void {
    const bytes = Buffer.from(v, 'base64url');
    if (bytes.length !== 16) throw new RangeError(`not a 16-byte UUID: ${v}`);
    this.ensure(16);
    bytes.copy(this.buf, this.pos);
    this.pos += 16;
    this.length += 16;
  }

  unsignedVarint(v: number): void {
    this.ensure(5);
    let value = v >>> 0;
    let written = 1;
    while (value >= 0x80) {
      this.buf[this.pos++] = (value & 0x7f) | 0x80;
      value >>>= 7;
      written++;
    }
    this.buf[this.pos++] = value;
    this.length += written;
  }

  varint(v: number): void {
    this.unsignedVarint(((v << 1) ^ (v >> 31)) >>> 0);
  }

  varlong(v: number): void {
    this.ensure(10);
    let value = v < 0 ? -2 * v - 1 : 2 * v;
    let written = 1;
    while (value >= 0x80) {
      this.buf[this.pos++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
      written++;
    }
    this.buf[this.pos++] = value;
    this.length += written;
  }

  private utf8(s: string, byteLength: number): void {
    this.ensure(byteLength);
    this.buf.write(s, this.pos, byteLength, 'utf8');
    this.pos += byteLength;
    this.length += byteLength;
  }

  nullableString(s: string | null): void {
    if (s === null) return this.int16(-1);
    const n = Buffer.byteLength(s, 'utf8');
    this.int16(n);
    this.utf8(s, n);
  }

  compactNullableString(s: string | null): void {
    if (s === null) return this.unsignedVarint(0);
    const n = Buffer.byteLength(s, 'utf8');
    this.unsignedVarint(n + 1);
    this.utf8(s, n);
  }

  /** Raw bytes with no length prefix; large ones are kept by reference. */
  raw(b: Buffer): void {
    if (b.length >= BY_REFERENCE_MIN) {
      this.flushScratch();
      this.chunks.push(b);
      this.length += b.length;
      return;
    }
    this.ensure(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
    this.length += b.length;
  }

  nullableBytes(b: Buffer | null): void {
    if (b === null) return this.int32(-1);
    this.int32(b.length);
    this.raw(b);
  }

  compactNullableBytes(b: Buffer | null): void {
    if (b === null) return this.unsignedVarint(0);
    this.unsignedVarint(b.length + 1);
    this.raw(b);
  }

  arrayLength(length: number, compact: boolean): void {
    if (compact) this.unsignedVarint(length + 1);
    else this.int32(length);
  }

  /** Appends another writer's bytes (tagged field bodies). */
  append(other: Writer): void {
    for (const chunk of other.finish()) this.raw(chunk);
  }

  /** The bytes written, as chunks in order. The writer may keep being used afterwards. */
  finish(): Buffer[] {
    this.flushScratch();
    return this.chunks;
  }

  /** The bytes written, as one buffer (copies when there is more than one chunk). */
  toBuffer(): Buffer {
    const chunks = this.finish();
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.length);
  }
}
