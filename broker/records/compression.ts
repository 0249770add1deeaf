// Compression of record-batch payloads for the codecs Kafka defines (attributes bits 0-2).
// The broker stores client batches as sent; it only compresses batches it rewrites (compaction).
// Client payloads are inflated with an output cap and off the event loop (`inflate`), so a
// small batch that claims gigabytes is refused after the cap, not after the gigabytes.
import { promisify } from 'node:util';
import { gunzip, gunzipSync, gzipSync, zstdCompressSync, zstdDecompress, zstdDecompressSync } from 'node:zlib';
import snappy from '@napi-rs/snappy';
import lz4 from 'lz4-napi';

// Both are CommonJS N-API modules: their functions come off the default export.
const snappyUncompress = (data: Buffer): Buffer => snappy.uncompressSync(data) as Buffer;
const snappyUncompressAsync = (data: Buffer): Promise<Buffer> => snappy.uncompress(data) as Promise<Buffer>;
const lz4DecompressFrame = (data: Buffer): Buffer => lz4.decompressFrameSync(data);
const snappyCompress = (data: Buffer): Buffer => snappy.compressSync(data);
const lz4CompressFrame = (data: Buffer): Buffer => lz4.compressFrameSync(data);
const gunzipAsync = promisify(gunzip);
const zstdDecompressAsync = promisify(zstdDecompress);

export const Compression = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
const CODEC_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

/** The payload is not valid data of its codec. */
export class CorruptPayloadError extends Error {
  override name = 'CorruptPayloadError';
}

/** The payload would inflate past the allowed size. */
export class InflateLimitError extends Error {
  override name = 'InflateLimitError';
}

// The Java client frames snappy data the way xerial's snappy-java does: a magic header, then
// length-prefixed raw snappy blocks. Other clients send raw snappy.
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_LENGTH = 16;

const isXerial = (data: Buffer) => data.length >= XERIAL_HEADER_LENGTH && data.subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC);

/** Raw snappy blocks of a payload (one, or xerial's several). */
function snappyBlocks(data: Buffer): Buffer[] {
  if (!isXerial(data)) return [data];
  const blocks: Buffer[] = [];
  let pos = XERIAL_HEADER_LENGTH;
  while (pos < data.length) {
    if (pos + 4 > data.length) throw new CorruptPayloadError('snappy: truncated xerial block header');
    const length = data.readInt32BE(pos);
    pos += 4;
    if (length < 0 || pos + length > data.length) throw new CorruptPayloadError(`snappy: xerial block of ${length} bytes overruns the payload`);
    blocks.push(data.subarray(pos, pos + length));
    pos += length;
  }
  return blocks;
}

/** The uncompressed length a raw snappy block declares in its varint preamble. */
function snappyLength(block: Buffer): number {
  let value = 0;
  for (let i = 0; i < 5 && i < block.length; i++) {
    const b = block[i]!;
    value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return value;
  }
  throw new CorruptPayloadError('snappy: block has no valid length preamble');
}

const LZ4_MAGIC = 0x184d2204;
const LZ4_SKIPPABLE_MAGIC = 0x184d2a50; // 0x184d2a50 to 0x184d2a5f
const LZ4_BLOCK_MAX = [0, 0, 0, 0, 64 << 10, 256 << 10, 1 << 20, 4 << 20];

/**
 * Upper bound of what LZ4 frames inflate to, from their headers alone: each block's own size if
 * stored uncompressed, the frame's block maximum if compressed (the format caps every block at
 * it). Declared content sizes are not trusted: the blocks are what gets inflated. Every frame
 * of a concatenation counts.
 */
function lz4Bound(data: Buffer): number {
  let bound = 0;
  let pos = 0;
  do {
    if (pos + 4 > data.length) throw new CorruptPayloadError('lz4: truncated frame');
    const magic = data.readUInt32LE(pos);
    if ((magic & 0xfffffff0) === LZ4_SKIPPABLE_MAGIC) {
      if (pos + 8 > data.length) throw new CorruptPayloadError('lz4: truncated skippable frame');
      pos += 8 + data.readUInt32LE(pos + 4);
      continue;
    }
    if (magic !== LZ4_MAGIC || pos + 7 > data.length) throw new CorruptPayloadError('lz4: not an LZ4 frame');
    const flg = data[pos + 4]!;
    const bd = data[pos + 5]!;
    if (flg >> 6 !== 1) throw new CorruptPayloadError('lz4: unsupported frame version');
    const blockMax = LZ4_BLOCK_MAX[(bd >> 4) & 7]!;
    if (blockMax === 0) throw new CorruptPayloadError('lz4: invalid block maximum size');
    const blockChecksum = (flg & 0x10) !== 0 ? 4 : 0;
    pos += 6;
    if ((flg & 0x08) !== 0) pos += 8; // content size
    if ((flg & 0x01) !== 0) pos += 4; // dictionary id
    pos += 1; // header checksum
    for (;;) {
      if (pos + 4 > data.length) throw new CorruptPayloadError('lz4: truncated block header');
      const word = data.readUInt32LE(pos);
      pos += 4;
      if (word === 0) break;
      const size = word & 0x7fffffff;
      if (size > blockMax || pos + size + blockChecksum > data.length) throw new CorruptPayloadError(`lz4: block of ${size} bytes overruns the frame`);
      bound += (word & 0x80000000) !== 0 ? size : blockMax;
      pos += size + blockChecksum;
    }
    if ((flg & 0x04) !== 0) pos += 4; // content checksum
  } while (pos < data.length);
  return bound;
}

function tooLarge(codec: number, maxBytes: number): InflateLimitError {
  return new InflateLimitError(`${CODEC_NAMES[codec]} payload inflates to more than ${maxBytes} bytes`);
}

/** Node's zlib reports an exceeded maxOutputLength as ERR_BUFFER_TOO_LARGE. */
function zlibError(codec: number, err: unknown, maxBytes: number): Error {
  if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') return tooLarge(codec, maxBytes);
  return new CorruptPayloadError(`${CODEC_NAMES[codec]} payload does not decompress: ${(err as Error).message}`);
}

/** Output chunk of zlib's streaming inflate: large enough that zstd's few callbacks stay cheap. */
const INFLATE_CHUNK = 256 << 10;

/**
 * Inflates a client payload without ever holding more than `maxBytes` of output, on the thread
 * pool. Throws CorruptPayloadError for data that is not valid for its codec and
 * InflateLimitError when the output would pass `maxBytes`.
 */
export async function inflate(codec: number, data: Buffer, maxBytes: number): Promise<Buffer> {
  switch (codec) {
    case Compression.none:
      return data;
    case Compression.gzip:
    case Compression.zstd:
      try {
        const options = { maxOutputLength: maxBytes, chunkSize: INFLATE_CHUNK };
        return codec === Compression.gzip ? await gunzipAsync(data, options) : await zstdDecompressAsync(data, options);
      } catch (err) {
        throw zlibError(codec, err, maxBytes);
      }
    case Compression.snappy: {
      const blocks = snappyBlocks(data);
      let total = 0;
      for (const block of blocks) total += snappyLength(block);
      if (total > maxBytes) throw tooLarge(codec, maxBytes);
      try {
        const out = await Promise.all(blocks.map(snappyUncompressAsync));
        return out.length === 1 ? out[0]! : Buffer.concat(out);
      } catch (err) {
        throw new CorruptPayloadError(`snappy payload does not decompress: ${(err as Error).message}`);
      }
    }
    case Compression.lz4: {
      if (lz4Bound(data) > maxBytes) throw tooLarge(codec, maxBytes);
      try {
        return await lz4.decompressFrame(data);
      } catch (err) {
        throw new CorruptPayloadError(`lz4 payload does not decompress: ${(err as Error).message}`);
      }
    }
    default:
      throw new CorruptPayloadError(`unknown compression codec ${codec}`);
  }
}

/** Inflates a stored batch's payload (already validated on its way in). */
export function decompress(codec: number, data: Buffer): Buffer {
  switch (codec) {
    case Compression.none:
      return data;
    case Compression.gzip:
      return gunzipSync(data);
    case Compression.snappy: {
      const out = snappyBlocks(data).map(snappyUncompress);
      return out.length === 1 ? out[0]! : Buffer.concat(out);
    }
    case Compression.lz4:
      return lz4DecompressFrame(data);
    case Compression.zstd:
      return zstdDecompressSync(data);
    default:
      throw new RangeError(`unknown compression codec ${codec}`);
  }
}

export function compress(codec: number, data: Buffer): Buffer {
  switch (codec) {
    case Compression.none:
      return data;
    case Compression.gzip:
      return gzipSync(data);
    case Compression.snappy:
      return snappyCompress(data);
    case Compression.lz4:
      return lz4CompressFrame(data);
    case Compression.zstd:
      return zstdCompressSync(data);
    default:
      throw new RangeError(`unknown compression codec ${codec}`);
  }
}
