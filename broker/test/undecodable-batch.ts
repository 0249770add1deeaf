// A record batch that every header check passes (magic, length, CRC-32C) and whose records do
// not decode, as batches stored before produce validated records can be.
import { crc32c } from '@node-rs/crc32';
import { Compression } from '../records/compression.js';
import { BatchOffset } from '../records/record-batch.js';

/** `batch`, flagged gzip over bytes that are not gzip and its CRC made valid again (in place). */
export function notGzip(batch: Buffer): Buffer {
  batch.writeInt16BE(Compression.gzip, BatchOffset.attributes);
  batch.writeUInt32BE(crc32c(batch.subarray(BatchOffset.attributes)), BatchOffset.crc);
  return batch;
}
