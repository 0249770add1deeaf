// A full disk, for real: a broker process whose data directory is a small tmpfs, filled with
// 60 KB records (acks=all) until the filesystem is out of space. The failed write is answered
// with KAFKA_STORAGE_ERROR (not a closed connection) and never acknowledged; the log directory
// goes offline while the broker keeps serving; a failed metadata write leaves no debris; and
// after space is freed and the broker restarted, every acknowledged record reads back intact
// and new records get the next offsets. Mounting needs root (CI runs as root): a test that
// cannot mount fails, it does not skip.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../protocol/client.js';
import { ErrorCode } from '../protocol/errors.js';
import { apiVersionsApi, fetchApi, heartbeatApi, initProducerIdApi, joinGroupApi, listOffsetsApi, metadataApi, offsetCommitApi, offsetFetchApi, produceApi, syncGroupApi } from '../protocol/messages/index.js';
import { buildRecordBatch } from '../records/batch-builder.js';
import { BatchOffset, LOG_OVERHEAD, decodeRecords } from '../records/record-batch.js';
import { BrokerProcess } from './broker-process.js';
import { consumerFetch } from './fetch-request.js';
import { testLogConfig } from './log-config.js';
import { PartitionLog } from '../storage/partition-log.js';
import { KafkaStorageError } from '../storage/storage-error.js';
import { validateClientBatches } from '../records/record-batch.js';
import { createTopic } from './topics.js';

const RECORD_BYTES = 60 * 1024;
const mounts: string[] = [];
let broker: BrokerProcess | undefined;

/** A fresh tmpfs of `size` (e.g. "16m") on a new directory. */
function mountTmpfs(size: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'samsa-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
  mounts.push(dir);
  return dir;
}

afterEach(async () => {
  await broker?.kill();
  broker = undefined;
});

afterAll(() => {
  for (const dir of mounts.splice(0)) {
    execFileSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A record value that says which record it is and is the same bytes on every read. */
function valueOf(i: number): Buffer {
  const value = Buffer.alloc(RECORD_BYTES, i % 251);
  value.write(`record-${i};`);
  return value;
}

/** Offset and a digest of the value: cheap to compare for thousands of 60 KB records. */
function summary(offset: number, value: Buffer): [number, string] {
  return [offset, createHash('sha256').update(value).digest('hex')];
}

async function produce(c: KafkaConnection, topic: string, value: Buffer) {
  const res = await c.send(produceApi, 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records: buildRecordBatch([{ value }]) }] }] });
  return res.responses[0]!.partitionResponses[0]!;
}

/** Commits `offset` for partition 0 of `topic` in a group without members; returns the error code. */
async function commit(c: KafkaConnection, topic: string, offset: number): Promise<number> {
  const res = await c.send(offsetCommitApi, 8, {
    groupId: 'full-disk-group',
    generationIdOrMemberEpoch: -1,
    memberId: '',
    groupInstanceId: null,
    retentionTimeMs: -1,
    topics: [{ name: topic, partitions: [{ partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, commitTimestamp: -1, committedMetadata: null }] }],
  });
  return res.topics[0]!.partitions[0]!.errorCode;
}

async function committed(c: KafkaConnection, topic: string): Promise<number> {
  const res = await c.send(offsetFetchApi, 7, { groupId: 'full-disk-group', topics: [{ name: topic, partitionIndexes: [0] }], groups: [], requireStable: false });
  return res.topics[0]!.partitions[0]!.committedOffset;
}

async function fetchOnce(c: KafkaConnection, topic: string, offset: number) {
  const res = await c.send(fetchApi, 12, consumerFetch(topic, { fetchOffset: offset, maxBytes: 8 << 20 }));
  return res.responses[0]!.partitions[0]!;
}

/** Every record of partition 0 as [offset, value], read the way a consumer does. */
async function readAll(c: KafkaConnection, topic: string): Promise<Array<[number, string]>> {
  const out: Array<[number, string]> = [];
  let offset = 0;
  for (;;) {
    const p = await fetchOnce(c, topic, offset);
    expect(p.errorCode).toBe(ErrorCode.NONE);
    if (!p.records || p.records.length === 0) return out;
    for (const r of decodeRecords(p.records)) {
      out.push(summary(r.offset, r.value!));
      offset = r.offset + 1;
    }
  }
}

/** Decodes a partition's segment files straight from disk; fails on any torn or trailing byte. */
function recordsOnDisk(partitionDir: string): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  for (const file of readdirSync(partitionDir).filter((f) => f.endsWith('.log')).sort()) {
    const data = readFileSync(join(partitionDir, file));
    let at = 0;
    while (at < data.length) {
      const size = data.readInt32BE(at + BatchOffset.batchLength) + LOG_OVERHEAD;
      expect(at + size).toBeLessThanOrEqual(data.length);
      for (const r of decodeRecords(data.subarray(at, at + size))) out.push(summary(r.offset, r.value!));
      at += size;
    }
  }
  return out;
}

function tmpFiles(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.tmp') || f.endsWith('.cleaned'));
}

/** Fills what is left of the filesystem holding `path`. */
function fillUp(path: string): void {
  const chunk = Buffer.alloc(4096, 1);
  for (;;) {
    try {
      appendFileSync(path, chunk);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') return;
      throw err;
    }
  }
}

async function metric(b: BrokerProcess, line: RegExp): Promise<number> {
  const text = await (await fetch(`${b.httpUrl}/metrics`)).text();
  const m = text.match(line);
  return m ? Number(m[1]) : NaN;
}

describe('a full disk', () => {
  it('refuses the write that does not fit, loses nothing acknowledged and reuses no offset after a restart', async () => {
    const dataDir = mountTmpfs('16m');
    // Freed later to make room, as an operator would by growing the volume or deleting files.
    const ballast = join(dataDir, 'ballast');
    writeFileSync(ballast, Buffer.alloc(3 << 20, 7));
    const groupTimings = { 'group.initial.rebalance.delay.ms': '0', 'group.min.session.timeout.ms': '100' };
    broker = await BrokerProcess.start({ 'log.segment.bytes': String(1 << 20), ...groupTimings }, [], [], { dataDir });
    let c = await KafkaConnection.open('127.0.0.1', broker.port);
    expect((await createTopic(c, 'full')).errorCode).toBe(ErrorCode.NONE);
    expect((await createTopic(c, 'other')).errorCode).toBe(ErrorCode.NONE);
    expect((await produce(c, 'other', Buffer.from('before the disk filled'))).errorCode).toBe(ErrorCode.NONE);
    expect(await commit(c, 'other', 1)).toBe(ErrorCode.NONE);
    // A member whose session will run out while the disk is full: its group is written from a timer.
    const joinGroup = (memberId: string) =>
      c.send(joinGroupApi, 9, { groupId: 'expiring', sessionTimeoutMs: 1000, rebalanceTimeoutMs: 1000, memberId, groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }], reason: null });
    const member = (await joinGroup('')).memberId;
    expect((await joinGroup(member)).errorCode).toBe(ErrorCode.NONE);
    const synced = await c.send(syncGroupApi, 5, { groupId: 'expiring', generationId: 1, memberId: member, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [{ memberId: member, assignment: Buffer.alloc(0) }] });
    expect(synced.errorCode).toBe(ErrorCode.NONE);

    let acknowledged = 0;
    let refusal: Awaited<ReturnType<typeof produce>> | undefined;
    for (let i = 0; i < 1000 && !refusal; i++) {
      // Heartbeats keep the member until the disk is full.
      expect((await c.send(heartbeatApi, 4, { groupId: 'expiring', generationId: 1, memberId: member, groupInstanceId: null })).errorCode).toBe(ErrorCode.NONE);
      const r = await produce(c, 'full', valueOf(i));
      if (r.errorCode === ErrorCode.NONE) {
        expect(r.baseOffset).toBe(acknowledged);
        acknowledged++;
      } else refusal = r;
    }
    expect(refusal?.errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(refusal?.errorMessage).toMatch(/ENOSPC/);
    expect(acknowledged).toBeGreaterThan(100);

    // The log directory is offline: every partition in it answers KAFKA_STORAGE_ERROR.
    expect((await produce(c, 'full', valueOf(acknowledged))).errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect((await produce(c, 'other', Buffer.from('small'))).errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect((await fetchOnce(c, 'full', 0)).errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    const listed = await c.send(listOffsetsApi, 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'full', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1, maxNumOffsets: 1 }] }], timeoutMs: 5000 });
    expect(listed.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    const meta = await c.send(metadataApi, 12, { topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: 'full' }], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
    const partition = meta.topics[0]!.partitions[0]!;
    expect(partition).toMatchObject({ errorCode: ErrorCode.LEADER_NOT_AVAILABLE, leaderId: -1, offlineReplicas: [1] });
    expect((await createTopic(c, 'new-while-offline')).errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    // The group coordinator cannot write __consumer_offsets either: a retriable error, not a closed connection.
    expect(await commit(c, 'full', 5)).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);

    // The member's session ends; writing its now empty group fails and is logged, the process lives on.
    for (let waited = 0; !broker.output.includes('cannot write group metadata') && waited < 10_000; waited += 100) await new Promise((r) => setTimeout(r, 100));
    expect(broker.output).toContain('cannot write group metadata to the offsets topic');

    // The process keeps serving: other connections, HTTP; unready, but alive.
    const other = await KafkaConnection.open('127.0.0.1', broker.port);
    expect((await other.send(apiVersionsApi, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' })).errorCode).toBe(ErrorCode.NONE);
    await other.close();
    expect((await fetch(`${broker.httpUrl}/healthz`)).status).toBe(200);
    const ready = await fetch(`${broker.httpUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.text()).toMatch(/log directory offline/);
    expect(await metric(broker, /^samsa_log_dir_offline (\d+)$/m)).toBe(1);
    // full, other and the 50 partitions of __consumer_offsets.
    expect(await metric(broker, /^samsa_offline_partitions (\d+)$/m)).toBe(52);
    expect(await metric(broker, /^samsa_storage_errors_total\{operation="append"\} (\d+)$/m)).toBeGreaterThanOrEqual(1);
    expect(broker.output).toMatch(/"level":50.*log directory offline after a failed write/);

    // On disk: exactly the acknowledged records, whole, and nothing after them.
    const expected = Array.from({ length: acknowledged }, (_, i) => summary(i, valueOf(i)));
    expect(recordsOnDisk(join(dataDir, 'full-0'))).toEqual(expected);
    await c.close();

    // A clean stop on a full disk writes what it can and leaves no temporary files.
    expect(await broker.stop()).toBe(0);
    expect(tmpFiles(dataDir)).toEqual([]);

    rmSync(ballast);
    await broker.launch();
    c = await KafkaConnection.open('127.0.0.1', broker.port);
    expect(await readAll(c, 'full')).toEqual(expected);
    const next = await produce(c, 'full', valueOf(acknowledged));
    expect(next.errorCode).toBe(ErrorCode.NONE);
    expect(next.baseOffset).toBe(acknowledged);
    expect(await readAll(c, 'other')).toEqual([summary(0, Buffer.from('before the disk filled'))]);
    expect(await committed(c, 'other')).toBe(1);
    expect(await committed(c, 'full')).toBe(-1);
    expect((await fetch(`${broker.httpUrl}/readyz`)).status).toBe(200);
    expect(await metric(broker, /^samsa_log_dir_offline (\d+)$/m)).toBe(0);
    await c.close();
    expect(tmpFiles(dataDir)).toEqual([]);
  });

  it('refuses a topic whose metadata cannot be written, shuts down on a full disk, and leaves no temporary file behind', async () => {
    const dataDir = mountTmpfs('4m');
    broker = await BrokerProcess.start({}, [], [], { dataDir });
    let c = await KafkaConnection.open('127.0.0.1', broker.port);
    expect((await createTopic(c, 'kept')).errorCode).toBe(ErrorCode.NONE);
    expect((await produce(c, 'kept', Buffer.from('kept record'))).errorCode).toBe(ErrorCode.NONE);
    const metadataBefore = readFileSync(join(dataDir, 'metadata.json'), 'utf8');
    const filler = join(dataDir, 'filler');
    fillUp(filler);

    const refused = await createTopic(c, 'unrecorded', { partitions: 3 });
    expect(refused.errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(refused.errorMessage).toMatch(/metadata.*ENOSPC/);
    expect(tmpFiles(dataDir)).toEqual([]);
    expect(readdirSync(dataDir).filter((f) => f.startsWith('unrecorded'))).toEqual([]);
    expect(readFileSync(join(dataDir, 'metadata.json'), 'utf8')).toBe(metadataBefore);
    const meta = await c.send(metadataApi, 12, { topics: null, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
    expect(meta.topics.map((t) => t.name).sort()).toEqual(['kept']);
    // Producer ids come in blocks reserved in the metadata file: that write fails cleanly too.
    const pid = await c.send(initProducerIdApi, 4, { transactionalId: null, transactionTimeoutMs: 60000, producerId: -1, producerEpoch: -1 });
    expect(pid).toMatchObject({ errorCode: ErrorCode.KAFKA_STORAGE_ERROR, producerId: -1 });
    expect(tmpFiles(dataDir)).toEqual([]);

    await c.close();

    // Shutdown cannot write the index of the active segment: it says so and still exits cleanly,
    // without the clean-shutdown marker, so the next start validates the tail.
    expect(await broker.stop()).toBe(0);
    expect(broker.output).toMatch(/sealing the log at shutdown failed/);
    expect(tmpFiles(dataDir)).toEqual([]);
    expect(readdirSync(dataDir)).not.toContain('.clean-shutdown');

    // Once there is room again the same request succeeds, and everything survives a restart.
    rmSync(filler);
    await broker.launch();
    c = await KafkaConnection.open('127.0.0.1', broker.port);
    expect(await readAll(c, 'kept')).toEqual([summary(0, Buffer.from('kept record'))]);
    expect((await createTopic(c, 'unrecorded', { partitions: 3 })).errorCode).toBe(ErrorCode.NONE);
    await c.close();
    await broker.restart();
    const after = await KafkaConnection.open('127.0.0.1', broker.port);
    const listed = await after.send(metadataApi, 12, { topics: null, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
    expect(listed.topics.map((t) => [t.name, t.partitions.length]).sort()).toEqual([['kept', 1], ['unrecorded', 3]]);
    await after.close();
    expect(statSync(join(dataDir, 'unrecorded-2')).isDirectory()).toBe(true);
  });

  it('a roll that cannot write its indexes refuses the append and keeps the log whole', () => {
    const root = mountTmpfs('1m');
    const config = testLogConfig({ segmentBytes: 16 * 1024, indexIntervalBytes: 1 });
    const dir = join(root, 'roll-0');
    const failures: KafkaStorageError[] = [];
    const append = (log: PartitionLog, i: number) => {
      const records = buildRecordBatch([{ value: Buffer.alloc(1000, i) }]);
      return log.append(records, validateClientBatches(records, { maxMessageBytes: 1 << 20 }), 0);
    };
    const log = PartitionLog.open({ dir, config, clean: false, onStorageError: (err) => failures.push(err) });
    let appended = 0;
    // Fill the first segment to just under segment.bytes: the next append rolls it.
    while (log.size + 1100 <= config.segmentBytes) append(log, appended++);
    fillUp(join(root, 'filler'));

    let refused: unknown;
    try {
      append(log, appended);
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(KafkaStorageError);
    expect((refused as KafkaStorageError).code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect((refused as Error).message).toMatch(/ENOSPC/);
    expect(failures).toHaveLength(1);
    expect(log.offlineReason).toMatch(/ENOSPC/);
    expect(() => append(log, appended)).toThrow(KafkaStorageError);
    expect(log.logEndOffset).toBe(appended);
    expect(tmpFiles(root)).toEqual([]);
    log.close();

    rmSync(join(root, 'filler'));
    const reopened = PartitionLog.open({ dir, config, clean: false });
    expect(reopened.logEndOffset).toBe(appended);
    expect(append(reopened, appended).baseOffset).toBe(appended);
    reopened.close();
  });
});

describe('a full disk under a follower', () => {
  it('refuses the leader\'s batches it cannot write, whole, and keeps its log and epoch cache as they were', () => {
    const root = mountTmpfs('1m');
    const config = testLogConfig();
    const failures: KafkaStorageError[] = [];
    const open = (name: string) => PartitionLog.open({ dir: join(root, name), config, clean: false, onStorageError: (err) => failures.push(err) });
    const leaderBatch = (baseOffset: number, epoch: number, bytes: number) => buildRecordBatch([{ value: Buffer.alloc(bytes, epoch) }], { baseOffset, partitionLeaderEpoch: epoch });
    // One follower whose next batch opens a new epoch (the checkpoint cannot be written), one
    // whose next batch is too large for the space left (the segment write fails).
    const newEpoch = open('new-epoch-0');
    const large = open('large-0');
    for (const log of [newEpoch, large]) {
      log.autoCommit = false;
      expect(log.appendAsFollower(Buffer.concat([leaderBatch(0, 1, 100), leaderBatch(1, 1, 100)]))).toEqual({ firstOffset: 0, lastOffset: 1 });
    }
    fillUp(join(root, 'filler'));

    expect(() => newEpoch.appendAsFollower(leaderBatch(2, 2, 100))).toThrow(/ENOSPC/);
    expect(() => large.appendAsFollower(leaderBatch(2, 1, 64 * 1024))).toThrow(/ENOSPC/);
    expect(failures).toHaveLength(2);
    for (const log of [newEpoch, large]) {
      expect(log.offlineReason).toMatch(/ENOSPC/);
      expect(log.logEndOffset).toBe(2);
      // An offline log takes nothing more, truncation included: its directory is not written to again.
      expect(() => log.appendAsFollower(leaderBatch(2, 1, 10))).toThrow(KafkaStorageError);
      expect(() => log.truncateTo(1)).toThrow(KafkaStorageError);
      expect(log.logEndOffset).toBe(2);
      log.close();
    }
    expect(tmpFiles(root)).toEqual([]);

    rmSync(join(root, 'filler'));
    for (const name of ['new-epoch-0', 'large-0']) {
      const reopened = open(name);
      expect(reopened.logEndOffset).toBe(2);
      expect(reopened.epochEntries).toEqual([{ epoch: 1, startOffset: 0 }]);
      expect(reopened.appendAsFollower(leaderBatch(2, 2, 100))).toEqual({ firstOffset: 2, lastOffset: 2 });
      expect(reopened.epochEntries).toEqual([
        { epoch: 1, startOffset: 0 },
        { epoch: 2, startOffset: 2 },
      ]);
      reopened.close();
    }
  });
});
