// OffsetForLeaderEpoch against a real broker process over a socket: the end of the epoch the
// produced batches carry, no answer below the first epoch or past the current one, the
// current-leader-epoch checks, and the same answers after a SIGKILL and a restart without the
// leader-epoch-checkpoint file (rebuilt from the batch headers).
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../protocol/client.js';
import { ErrorCode } from '../protocol/errors.js';
import { offsetForLeaderEpochApi, produceApi } from '../protocol/messages/index.js';
import { buildRecordBatch } from '../records/batch-builder.js';
import { BrokerProcess } from './broker-process.js';
import { mustCreateTopic } from './topics.js';

let broker: BrokerProcess;

beforeAll(async () => {
  broker = await BrokerProcess.start();
});

afterAll(async () => {
  await broker?.destroy();
});

async function withConnection<T>(use: (c: KafkaConnection) => Promise<T>): Promise<T> {
  const c = await KafkaConnection.open('127.0.0.1', broker.port, 'epoch-test');
  try {
    return await use(c);
  } finally {
    await c.close();
  }
}

/** The broker's answer for one partition, asked with OffsetForLeaderEpoch `version`. */
async function endOffsetFor(topic: string, leaderEpoch: number, currentLeaderEpoch = -1, version = 4) {
  return withConnection(async (c) => {
    const res = await c.send(offsetForLeaderEpochApi, version, { replicaId: -1, topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch, leaderEpoch }] }] });
    return res.topics[0]!.partitions[0]!;
  });
}

async function produce(topic: string, values: string[]): Promise<void> {
  await withConnection(async (c) => {
    const records = buildRecordBatch(values.map((v) => ({ value: Buffer.from(v) })));
    const res = await c.send(produceApi, 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] });
    expect(res.responses[0]!.partitionResponses[0]!.errorCode).toBe(ErrorCode.NONE);
  });
}

describe('OffsetForLeaderEpoch', () => {
  it('answers the end of the epoch the batches carry, and nothing below the first epoch or past the current one', async () => {
    await withConnection((c) => mustCreateTopic(c, 'epochs'));
    await withConnection((c) => mustCreateTopic(c, 'no-batches'));
    await produce('epochs', ['a', 'b']);
    await produce('epochs', ['c']);
    await produce('epochs', ['d', 'e', 'f']);

    for (const version of [2, 3, 4]) {
      expect(await endOffsetFor('epochs', 0, -1, version)).toEqual({ errorCode: ErrorCode.NONE, partition: 0, leaderEpoch: 0, endOffset: 6 });
    }
    expect(await endOffsetFor('epochs', 0, 0)).toMatchObject({ errorCode: ErrorCode.NONE, leaderEpoch: 0, endOffset: 6 });
    // The undefined epoch (-1) has no end, as in Kafka.
    expect(await endOffsetFor('epochs', -1)).toMatchObject({ errorCode: ErrorCode.NONE, leaderEpoch: -1, endOffset: -1 });
    // An epoch this broker has not reached.
    expect(await endOffsetFor('epochs', 1)).toMatchObject({ errorCode: ErrorCode.NONE, leaderEpoch: -1, endOffset: -1 });
    // The current epoch ends at the log end even before any batch carries it.
    expect(await endOffsetFor('no-batches', 0)).toMatchObject({ errorCode: ErrorCode.NONE, leaderEpoch: 0, endOffset: 0 });

    // The current-leader-epoch checks (KIP-320).
    expect(await endOffsetFor('epochs', 0, 1)).toMatchObject({ errorCode: ErrorCode.UNKNOWN_LEADER_EPOCH, leaderEpoch: -1, endOffset: -1 });
    expect(await endOffsetFor('missing', 0)).toMatchObject({ errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, leaderEpoch: -1, endOffset: -1 });

    const checkpoint = join(broker.dataDir, 'epochs-0', 'leader-epoch-checkpoint');
    expect(readFileSync(checkpoint, 'utf8')).toBe('0\n1\n0 0\n');
  });

  it('answers the same after a SIGKILL and a restart that finds no checkpoint file', async () => {
    const checkpoint = join(broker.dataDir, 'epochs-0', 'leader-epoch-checkpoint');
    await broker.kill();
    rmSync(checkpoint);
    await broker.launch();
    expect(await endOffsetFor('epochs', 0)).toMatchObject({ errorCode: ErrorCode.NONE, leaderEpoch: 0, endOffset: 6 });
    expect(await endOffsetFor('epochs', -1)).toMatchObject({ errorCode: ErrorCode.NONE, leaderEpoch: -1, endOffset: -1 });
    expect(existsSync(checkpoint)).toBe(true);
    expect(readFileSync(checkpoint, 'utf8')).toBe('0\n1\n0 0\n');
    await produce('epochs', ['g']);
    expect(await endOffsetFor('epochs', 0)).toMatchObject({ leaderEpoch: 0, endOffset: 7 });
  });
});
