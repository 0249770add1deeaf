// A leader's ISR expansion while the store has not answered it yet, on a real ReplicaManager with
// a real partition log and the cluster view over the in-memory metadata store; only the store's
// answer to partition writes is held back. The partition-state model
// (broker/controller/partition-state.test.ts) found the race this guards against.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BrokerConfig } from '../config.js';
import { withIsr } from '../controller/partition-state.js';
import { ClusterView, initialPartitionState } from '../metadata/cluster-view.js';
import { MemoryMetadataStore } from '../metadata/memory-store.js';
import { newUuid, type TopicRecord, TopicRegistry } from '../metadata/topic-registry.js';
import { buildRecordBatch } from '../records/batch-builder.js';
import { validateClientBatches } from '../records/record-batch.js';
import { LogManager } from '../storage/log-manager.js';
import { eventually } from '../test/eventually.js';
import { ReplicaManager } from './replica-manager.js';

/** The in-memory store, with partition writes that wait until `release()`. */
class HeldStore extends MemoryMetadataStore {
  private held: Promise<void> | null = null;
  release: () => void = () => {};

  hold(): void {
    this.held = new Promise((resolve) => (this.release = resolve));
  }

  override async put(key: string, value: string, expectedVersion?: number): Promise<number> {
    if (key.startsWith('partitions/') && this.held) await this.held;
    return super.put(key, value, expectedVersion);
  }
}

const logger = pino({ level: 'silent' });
let dir: string;
let manager: ReplicaManager | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'samsa-replicas-'));
});
afterEach(() => {
  manager?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function leaderAlone(): Promise<{ store: HeldStore; view: ClusterView; manager: ReplicaManager; topic: TopicRecord }> {
  const store = new HeldStore();
  const registry = new TopicRegistry(store);
  await registry.load();
  const view = new ClusterView(store, logger, (name) => registry.get(name));
  await view.start();
  for (const nodeId of [0, 1]) {
    await store.put(`brokers/${nodeId}`, JSON.stringify({ nodeId, host: '127.0.0.1', port: 9092 + nodeId, rack: null, httpPort: 9644 + nodeId, incarnation: newUuid(), shuttingDown: false }));
  }
  const topic: TopicRecord = { name: 'expanding', id: newUuid(), partitions: [{ partition: 0, replicas: [0, 1] }], configs: {} };
  await registry.create(topic);
  // Broker 1 fell out of the ISR earlier: broker 0 leads alone.
  await view.writePartition(topic, 0, withIsr(initialPartitionState([0, 1]), [0]), 0);
  await new Promise((resolve) => setImmediate(resolve));
  manager = new ReplicaManager(0, new BrokerConfig(), new LogManager(dir, logger), registry, view, logger);
  manager.start();
  return { store, view, manager, topic };
}

describe('ReplicaManager ISR expansion', () => {
  it('holds the high watermark at the joining follower until the store accepts the new ISR', async () => {
    const { store, view, manager, topic } = await leaderAlone();
    const replica = manager.replica(topic.name, 0)!;
    expect(replica.role).toBe('leader');
    expect(replica.state.isr).toEqual([0]);

    store.hold();
    // Follower 1 fetches at the log end (0 = the high watermark): the leader asks the store to add it.
    manager.onFollowerFetch(replica, 1, 0, 0);
    const records = buildRecordBatch([{ value: Buffer.from('while the ISR grows') }]);
    replica.log.append(records, validateClientBatches(records, { maxMessageBytes: 1 << 20 }), replica.leaderEpoch);
    manager.completeWaiters(replica);
    // The leader alone would commit at once; with 1 joining, the record is committed only once 1 has it.
    expect(replica.log.logEndOffset).toBe(1);
    expect(replica.log.highWatermark).toBe(0);

    store.release();
    await eventually('the ISR change to land', () => (replica.state.isr.length === 2 ? true : undefined));
    expect(view.partition(topic, 0)!.state.isr).toEqual([0, 1]);
    // Broker 1 joined with log end 0: a high watermark past it would be a committed record an ISR member lacks.
    expect(replica.log.highWatermark).toBe(0);
    manager.onFollowerFetch(replica, 1, 1, 0);
    expect(replica.log.highWatermark).toBe(1);
  });

  it('takes a fetch past its log end for no progress: that follower diverged and stays out of the ISR', async () => {
    const { view, manager, topic } = await leaderAlone();
    const replica = manager.replica(topic.name, 0)!;
    // A follower that kept a longer log from an older epoch (after an unclean election) fetches at 3; the leader has nothing.
    manager.onFollowerFetch(replica, 1, 3, 0);
    expect(replica.joining).toBeNull();
    expect(replica.followers.get(1)!.leo).toBe(-1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(view.partition(topic, 0)!.state.isr).toEqual([0]);
  });

  it('commits alone again when the expansion fails', async () => {
    const { store, view, manager, topic } = await leaderAlone();
    const replica = manager.replica(topic.name, 0)!;
    // Another writer (a controller) changed the state before the leader saw it: the leader's compare-and-set will lose.
    const current = view.partition(topic, 0)!;
    await view.writePartition(topic, 0, withIsr(current.state, [0]), current.version);
    store.hold();
    manager.onFollowerFetch(replica, 1, 0, 0);
    const records = buildRecordBatch([{ value: Buffer.from('a') }]);
    replica.log.append(records, validateClientBatches(records, { maxMessageBytes: 1 << 20 }), replica.leaderEpoch);
    expect(replica.log.highWatermark).toBe(0);
    store.release();
    await eventually('the ISR change to fail', () => (replica.joining === null ? true : undefined));
    expect(view.partition(topic, 0)!.state.isr).toEqual([0]);
    expect(replica.log.highWatermark).toBe(1);
  });
});

describe('ReplicaManager low watermark', () => {
  it('answers a DeleteRecords wait once every live replica reports a log start at or past its offset', async () => {
    const { manager, topic } = await leaderAlone();
    const replica = manager.replica(topic.name, 0)!;
    const records = buildRecordBatch([{ value: Buffer.from('a') }, { value: Buffer.from('b') }]);
    replica.log.append(records, validateClientBatches(records, { maxMessageBytes: 1 << 20 }), replica.leaderEpoch);
    replica.log.advanceLogStart(2);
    // Broker 1 is alive but has not fetched under this leader: its log start is unknown (-1).
    expect(manager.lowWatermark(replica)).toBe(-1);
    let outcome: number | undefined;
    void manager.waitForLowWatermark(replica, 2, 60_000).then((code) => (outcome = code));
    manager.onFollowerFetch(replica, 1, 2, 0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(outcome).toBeUndefined();
    expect(manager.lowWatermark(replica)).toBe(0);
    manager.onFollowerFetch(replica, 1, 2, 2);
    await eventually('the wait to end', () => outcome);
    expect(outcome).toBe(0);
    expect(manager.lowWatermark(replica)).toBe(2);
  });

  it('times out a wait the replicas never reach', async () => {
    const { manager, topic } = await leaderAlone();
    const replica = manager.replica(topic.name, 0)!;
    expect(await manager.waitForLowWatermark(replica, 1, 50)).toBe(7);
    expect(replica.lowWatermarkWaiters).toHaveLength(0);
  });
});
