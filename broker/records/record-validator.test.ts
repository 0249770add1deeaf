// Unit checks of the record walk and of capped inflation, beside the broker-process tests in
// broker/test/hostile-records.test.ts: every batch the encoder writes passes; any single
// corrupted byte or cut is either still well formed or refused with a KafkaError, never a crash
// or a hang; and each codec refuses to inflate past its cap.
import lz4 from 'lz4-napi';
import { describe, expect, it } from 'vitest';
import { KafkaError } from '../protocol/errors.js';
import { buildRecordBatch, type RecordToWrite } from './batch-builder.js';
import { Compression, CorruptPayloadError, InflateLimitError, compress, inflate } from './compression.js';
import { BATCH_HEADER_SIZE } from './record-batch.js';
import { checkRecords } from './record-validator.js';

/** A deterministic generator, so that a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function randomRecords(next: () => number): RecordToWrite[] {
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(next() * 256)));
  return Array.from({ length: 1 + Math.floor(next() * 20) }, () => ({
    key: next() < 0.3 ? null : bytes(Math.floor(next() * 40)),
    value: next() < 0.1 ? null : bytes(Math.floor(next() * 300)),
    headers: Array.from({ length: Math.floor(next() * 3) }, (_, h) => ({ key: `h${h}`, value: next() < 0.2 ? null : bytes(Math.floor(next() * 20)) })),
  }));
}

describe('record walk', () => {
  it('accepts every batch the encoder writes and refuses or survives every corruption', () => {
    const next = random(42);
    for (let round = 0; round < 300; round++) {
      const records = randomRecords(next);
      const payload = buildRecordBatch(records).subarray(BATCH_HEADER_SIZE);
      expect(checkRecords(payload, 0, payload.length, records.length, false)).toBe(payload.length);
      for (let k = 0; k < 20; k++) {
        const bad = Buffer.from(payload);
        bad[Math.floor(next() * bad.length)] = Math.floor(next() * 256);
        const cut = next() < 0.3 ? Math.floor(next() * bad.length) : bad.length;
        try {
          checkRecords(bad, 0, cut, records.length, false);
        } catch (err) {
          expect(err).toBeInstanceOf(KafkaError);
        }
      }
    }
  });

  it('names the record without a key on a compacted topic', () => {
    const records = [{ key: Buffer.from('a'), value: Buffer.from('1') }, { key: null, value: Buffer.from('2') }];
    const payload = buildRecordBatch(records).subarray(BATCH_HEADER_SIZE);
    expect(() => checkRecords(payload, 0, payload.length, 2, false)).not.toThrow();
    expect(() => checkRecords(payload, 0, payload.length, 2, true)).toThrow(expect.objectContaining({ recordErrors: [expect.objectContaining({ batchIndex: 1 })] }));
  });
});

describe('capped inflation', () => {
  const zeros = Buffer.alloc(4 << 20);

  it('inflates each codec within the cap and refuses past it', async () => {
    for (const codec of [Compression.gzip, Compression.snappy, Compression.lz4, Compression.zstd]) {
      const packed = compress(codec, zeros);
      expect((await inflate(codec, packed, zeros.length)).equals(zeros)).toBe(true);
      await expect(inflate(codec, packed, (1 << 20) - 1)).rejects.toBeInstanceOf(InflateLimitError);
    }
  });

  it('refuses snappy and lz4 from their headers, before inflating', async () => {
    // A raw snappy preamble claiming 1 GiB over a few bytes that would not even decompress.
    const claim = Buffer.from([0x80, 0x80, 0x80, 0x80, 0x04, 0x00]);
    await expect(inflate(Compression.snappy, claim, 1 << 20)).rejects.toBeInstanceOf(InflateLimitError);
    // A valid 16 MiB lz4 frame: refused by its block count alone (inflating it would succeed).
    const frame = lz4.compressFrameSync(Buffer.alloc(16 << 20));
    await expect(inflate(Compression.lz4, frame, 1 << 20)).rejects.toBeInstanceOf(InflateLimitError);
    // A small frame followed by that one: every frame of a concatenation counts.
    const small = lz4.compressFrameSync(Buffer.from('small'));
    expect((await inflate(Compression.lz4, small, 1 << 20)).toString()).toBe('small');
    await expect(inflate(Compression.lz4, Buffer.concat([small, frame]), 1 << 20)).rejects.toBeInstanceOf(InflateLimitError);
  });

  it('reports data that is not of its codec as corrupt', async () => {
    for (const codec of [Compression.gzip, Compression.snappy, Compression.lz4, Compression.zstd]) {
      await expect(inflate(codec, Buffer.from('plainly not compressed'), 1 << 20)).rejects.toBeInstanceOf(CorruptPayloadError);
    }
  });
});
