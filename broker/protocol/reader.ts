// Reads Kafka wire primitives from one buffer. Every length is checked against what is left,
// so a garbage frame ends in a ProtocolError instead of a huge allocation or a crash.

export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

const UUID_BYTES = 16;
export const EMPTY_BYTES = Buffer.alloc(0);

export class Reader {
  readonly buf: Buffer;
  pos: number;
  readonly end: number;

  constructor(buf: Buffer, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number): void {
    if (n < 0 || this.pos + n > this.end) {
      throw new ProtocolError(`need ${n} bytes at offset ${this.pos}, only ${this.end - this.pos} left`);
    }
  }

  int8(): number {
    this.need(1);
    return this.buf.readInt8(this.pos++);
  }

  bool(): boolean {
    return this.int8() !== 0;
  }

  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  uint16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  uint32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** int64 as a JS number: exact within ±2^53, which covers every offset and timestamp. */
  int64(): number {
    this.need(8);
    const hi = this.buf.readInt32BE(this.pos);
    const lo = this.buf.readUInt32BE(this.pos + 4);
    this.pos += 8;
    return hi * 4294967296 + lo;
  }

  float64(): number {
    this.need(8);
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }

  uuid(): string {
    this.need(UUID_BYTES);
    const v = this.buf.toString('base64url', this.pos, this.pos + UUID_BYTES);
    this.pos += UUID_BYTES;
    return v;
  }

  unsignedVarint(): number {
    let value = 0;
    let shift = 0;
    for (;;) {
      this.need(1);
      const b = this.buf[this.pos++]!;
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return value;
      shift += 7;
      if (shift > 28) throw new ProtocolError('unsigned varint is longer than 5 bytes');
    }
  }

  /** Zig-zag varint (record fields). */
  varint(): number {
    const u = this.unsignedVarint();
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }

  /** Zig-zag varlong as a number (exact within ±2^53). */
  varlong(): number {
    let value = 0;
    let shift = 0;
    for (;;) {
      this.need(1);
      const b = this.buf[this.pos++]!;
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) break;
      shift += 7;
      if (shift > 63) throw new ProtocolError('varlong is longer than 10 bytes');
    }
    return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
  }

  private utf8(length: number): string {
    this.need(length);
    const s = this.buf.toString('utf8', this.pos, this.pos + length);
    this.pos += length;
    return s;
  }

  private slice(length: number): Buffer {
    this.need(length);
    const b = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return b;
  }

  /** int16 length, -1 for null. */
  nullableString(): string | null {
    const length = this.int16();
    return length < 0 ? null : this.utf8(length);
  }

  /** unsigned varint length + 1, 0 for null. */
  compactNullableString(): string | null {
    const length = this.unsignedVarint() - 1;
    return length < 0 ? null : this.utf8(length);
  }

  /** int32 length, -1 for null. */
  nullableBytes(): Buffer | null {
    const length = this.int32();
    return length < 0 ? null : length === 0 ? EMPTY_BYTES : this.slice(length);
  }

  compactNullableBytes(): Buffer | null {
    const length = this.unsignedVarint() - 1;
    return length < 0 ? null : length === 0 ? EMPTY_BYTES : this.slice(length);
  }

  /** Array length: int32 or compact (varint + 1); -1 means null. Bounded by the bytes left. */
  arrayLength(compact: boolean): number {
    const length = compact ? this.unsignedVarint() - 1 : this.int32();
    if (length > this.end - this.pos) {
      throw new ProtocolError(`array of ${length} elements cannot fit in ${this.end - this.pos} bytes`);
    }
    return length;
  }

  /** Skips a whole tagged-field section (structs that know no tags). */
  skipTaggedFields(): void {
    const count = this.unsignedVarint();
    for (let i = 0; i < count; i++) {
      this.unsignedVarint();
      const size = this.unsignedVarint();
      this.need(size);
      this.pos += size;
    }
  }

  /** Where a tagged field of `size` bytes ends; checked so the caller can jump there. */
  taggedFieldEnd(size: number): number {
    this.need(size);
    return this.pos + size;
  }
}

/** Used by generated readers: a null where the version does not allow one is a protocol error. */
export function nonNull<T>(value: T | null, field: string, nullable: boolean): T {
  if (value === null && !nullable) throw new ProtocolError(`${field} is null in a version where it may not be`);
  return value as T;
}
