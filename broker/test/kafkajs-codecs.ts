// kafkajs ships gzip only; these give it snappy, lz4 and zstd from the same libraries the broker
// uses, so tests can produce with every codec Kafka defines.
import { zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import snappy from '@napi-rs/snappy';
import lz4 from 'lz4-napi';
import kafkajs from 'kafkajs';

const { CompressionCodecs, CompressionTypes } = kafkajs;

interface Encoder {
  buffer: Buffer;
}

function codec(compress: (b: Buffer) => Buffer, decompress: (b: Buffer) => Buffer) {
  return () => ({
    async compress(encoder: Encoder) {
      return compress(encoder.buffer);
    },
    async decompress(buffer: Buffer) {
      return decompress(buffer);
    },
  });
}

export function registerKafkajsCodecs(): void {
  CompressionCodecs[CompressionTypes.Snappy] = codec(
    (b) => snappy.compressSync(b),
    (b) => snappy.uncompressSync(b) as Buffer,
  );
  CompressionCodecs[CompressionTypes.LZ4] = codec(
    (b) => lz4.compressFrameSync(b),
    (b) => lz4.decompressFrameSync(b),
  );
  CompressionCodecs[CompressionTypes.ZSTD] = codec(
    (b) => zstdCompressSync(b),
    (b) => zstdDecompressSync(b),
  );
}
