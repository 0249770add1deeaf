// Compaction over a batch whose records do not decode (stored before produce validated records,
// under a valid CRC): the cleaner keeps it as it is and compacts everything around it.
import { crc32c } from '@node-rs/crc32';
import { expect, it } from 'vitest';
import { buildRecordBatch } from '../records/batch-builder.js';
import { BATCH_HEADER_SIZE, BatchOffset, validateClientBatches } from '../records/record-batch.js';
import { usePartitionLogs } from '../test/partition-logs.js';

const logs = usePartitionLogs('samsa-cleaner-');

it('keeps a batch whose records do not decode and compacts the rest', () => {
  const log = logs.open(logs.dir, { segmentBytes: 400, delete: false, compact: true, deleteRetentionMs: 60_000 }, false);
  const append = (batch: Buffer) => log.append(batch, validateClientBatches(batch, { maxMessageBytes: 1 << 20 }), 0).baseOffset;
  const put = (key: string, value: string) => append(buildRecordBatch([{ key: Buffer.from(key), value: Buffer.from(value) }]));
  for (let round = 0; round < 5; round++) put('a', `a${round}`);
  const garbage = buildRecordBatch([{ key: Buffer.from('g'), value: Buffer.from('garbage') }]);
  garbage.fill(0xff, BATCH_HEADER_SIZE);
  garbage.writeUInt32BE(crc32c(garbage.subarray(BatchOffset.attributes)), BatchOffset.crc);
  const poisoned = append(garbage);
  for (let round = 5; round < 10; round++) put('a', `a${round}`);
  log.roll();
  const result = log.compact(Date.now());
  expect(result).toMatchObject({ recordsRemoved: 9, unreadableBatches: 1 });
  const offsets: number[] = [];
  for (let offset = 0; offset < log.logEndOffset; ) {
    const read = log.read(offset, 1 << 20);
    if (read.outOfRange || !read.records || read.records.length === 0) break;
    const base = Number(read.records.readBigInt64BE(0));
    offsets.push(base);
    offset = base + read.records.readInt32BE(BatchOffset.lastOffsetDelta) + 1;
  }
  expect(offsets).toEqual([poisoned, 10]);
  logs.shut(log);
});
