// Compression of record-batch payloads for the codecs Kafka defines (attributes bits 0-2).
// The broker stores client batches as sent; it only compresses batches it rewrites (compaction).
import { gunzipSync, gzipSync, zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import snappy from '@napi-rs/snappy';
import lz4 from 'lz4-napi';

// Both are CommonJS N-API modules: their functions come off the default export.
const snappyUncompress = (data: Buffer): Buffer => snappy.uncompressSync(data) as Buffer;
const lz4DecompressFrame = (data: Buffer): Buffer => lz4.decompressFrameSync(data);
const snappyCompress = (data: Buffer): Buffer => snappy.compressSync(data);
const lz4CompressFrame = (data: Buffer): Buffer => lz4.compressFrameSync(data);

export const Compression = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;

// The Java client frames snappy data the way xerial's snappy-java does: a magic header, then
// length-prefixed raw snappy blocks. Other clients send raw snappy.
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_LENGTH = 16;

function snappyDecompress(data: Buffer): Buffer {
  if (data.length < XERIAL_HEADER_LENGTH || !data.subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC)) {
    return snappyUncompress(data);
  }
  const blocks: Buffer[] = [];
  let pos = XERIAL_HEADER_LENGTH;
  while (pos + 4 <= data.length) {
    const length = data.readInt32BE(pos);
    pos += 4;
    blocks.push(snappyUncompress(data.subarray(pos, pos + length)));
    pos += length;
  }
  return Buffer.concat(blocks);
}

export function decompress(codec: number, data: Buffer): Buffer {
  switch (codec) {
    case Compression.none:
      return data;
    case Compression.gzip:
      return gunzipSync(data);
    case Compression.snappy:
      return snappyDecompress(data);
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
