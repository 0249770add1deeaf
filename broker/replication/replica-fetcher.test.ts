// Where a follower cuts its log after asking the leader where its latest epoch ends
// (OffsetForLeaderEpoch, KIP-101/279), on a real partition log with real epochs.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildRecordBatch } from '../records/batch-builder.js';
import { validateClientBatches } from '../records/record-batch.js';
import type { PartitionLog } from '../storage/partition-log.js';
import { usePartitionLogs } from '../test/partition-logs.js';
import { truncationOffset } from './replica-fetcher.js';

const partitionLogs = usePartitionLogs('samsa-truncation-');
let made = 0;

/** A follower's log (nothing committed by appending) holding `count` one-record batches of each epoch in turn. */
function logWith(epochs: [epoch: number, count: number][]): PartitionLog {
  const log = partitionLogs.open(join(partitionLogs.dir, String(made++)), {}, false);
  log.autoCommit = false;
  for (const [epoch, count] of epochs) {
    for (let i = 0; i < count; i++) {
      const records = buildRecordBatch([{ value: Buffer.from(`e${epoch}-${i}`) }]);
      log.append(records, validateClientBatches(records, { maxMessageBytes: 1 << 20 }), epoch);
    }
  }
  return log;
}

describe('truncationOffset', () => {
  it('keeps an empty log and a log that ends inside the leader\'s epoch', () => {
    expect(truncationOffset(logWith([]), -1, -1)).toEqual({ offset: 0, done: true });
    // Epochs 0 (offsets 0-2) and 2 (3-4); the leader's epoch 2 ends at 7.
    expect(truncationOffset(logWith([[0, 3], [2, 2]]), 2, 7)).toEqual({ offset: 5, done: true });
  });

  it('cuts at the leader\'s end of a shared epoch, and at its own end of an older epoch the leader answers with', () => {
    const log = logWith([[0, 3], [2, 2]]);
    // The leader's epoch 2 ended at 4: our offset 4 of epoch 2 diverged.
    expect(truncationOffset(log, 2, 4)).toEqual({ offset: 4, done: true });
    // The leader never had epoch 2; its epoch 0 ended at 6: everything of ours from epoch 2 on goes.
    expect(truncationOffset(log, 0, 6)).toEqual({ offset: 3, done: true });
  });

  it('cuts the whole log when every epoch it holds is later than the leader\'s answer', () => {
    // Our records are of epoch 1 only (led by us while the leader wrote epoch 0 elsewhere).
    const log = logWith([[1, 2]]);
    expect(truncationOffset(log, 0, 1)).toEqual({ offset: 0, done: true });
  });

  it('asks again when the leader answers with an epoch it never had', () => {
    // Ours: epoch 0 at offset 0, epoch 3 at 1. The leader's: epoch 1 from offset 0 (an unclean election between).
    const log = logWith([[0, 1], [3, 1]]);
    // Asked about 3, the leader's latest epoch at or below it is 1, ending at 1: our epoch 0 record at 0 is not known to be its.
    expect(truncationOffset(log, 1, 1)).toEqual({ offset: 1, done: false });
    log.truncateTo(1);
    // Asked about 0, below all of the leader's epochs: it ends where the leader's first starts.
    expect(truncationOffset(log, 0, 0)).toEqual({ offset: 0, done: true });
  });

  it('falls back to the high watermark when the leader has no answer for its epoch', () => {
    const log = logWith([[3, 4]]);
    log.setHighWatermark(2);
    expect(truncationOffset(log, -1, -1)).toEqual({ offset: 2, done: true });
  });
});
