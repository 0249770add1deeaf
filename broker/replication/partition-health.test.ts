// The rules behind /v1/shutdown-safety, /v1/caught-up and the offline-partitions metric, on
// partition states in memory (the endpoints on real brokers: broker/test/ops-http.test.ts).
import { describe, expect, it } from 'vitest';
import type { Liveness, PartitionState } from '../controller/partition-state.js';
import { type ClusterPartition, laggingPartitions, offlinePartitionCount, shutdownBlockers } from './partition-health.js';

function partition(partitionIndex: number, s: Partial<PartitionState> & { replicas: number[] }, minInsyncReplicas = 2): ClusterPartition {
  const state: PartitionState = { leader: s.replicas[0]!, leaderEpoch: 0, isr: [...s.replicas], partitionEpoch: 0, controllerEpoch: 1, adding: [], removing: [], ...s };
  return { topic: 't', partition: partitionIndex, state, minInsyncReplicas };
}

const live = (alive: number[], shuttingDown: number[] = []): Liveness => ({ alive: new Set(alive), shuttingDown: new Set(shuttingDown) });

describe('shutdown safety', () => {
  it('is safe while every ISR keeps min.insync.replicas without this broker', () => {
    const parts = [partition(0, { replicas: [0, 1, 2] }), partition(1, { replicas: [1, 2, 0] }), partition(2, { replicas: [2], isr: [2] }, 1)];
    expect(shutdownBlockers(0, parts, live([0, 1, 2]))).toEqual([]);
  });

  it('blocks on partitions whose ISR would fall below min.insync.replicas, or empty', () => {
    const parts = [
      partition(0, { replicas: [0, 1, 2], isr: [0, 1] }),
      partition(1, { replicas: [1, 0, 2], isr: [1, 0] }),
      partition(2, { replicas: [0, 1, 2], isr: [0] }, 1),
      // Not in the ISR: stopping this broker changes nothing for it.
      partition(3, { replicas: [1, 2, 0], isr: [1] }),
      partition(4, { replicas: [0, 1, 2] }),
    ];
    expect(shutdownBlockers(0, parts, live([0, 1, 2]))).toEqual([
      { topic: 't', partition: 0, reason: 'would-go-under-min-isr', isr: [0, 1], minInsyncReplicas: 2 },
      { topic: 't', partition: 1, reason: 'would-go-under-min-isr', isr: [1, 0], minInsyncReplicas: 2 },
      { topic: 't', partition: 2, reason: 'would-go-offline', isr: [0], minInsyncReplicas: 1 },
    ]);
  });

  it('does not count ISR members that are fenced or in controlled shutdown', () => {
    const parts = [partition(0, { replicas: [0, 1, 2] })];
    expect(shutdownBlockers(0, parts, live([0, 1]))).toEqual([{ topic: 't', partition: 0, reason: 'would-go-under-min-isr', isr: [0, 1, 2], minInsyncReplicas: 2 }]);
    expect(shutdownBlockers(0, parts, live([0, 1, 2], [1, 2]))[0]?.reason).toBe('would-go-offline');
  });
});

describe('caught up', () => {
  it('names partitions this broker is out of sync on, or that lack another replica in the ISR', () => {
    const parts = [
      partition(0, { replicas: [0, 1, 2] }),
      partition(1, { replicas: [1, 0, 2], isr: [1, 2] }),
      partition(2, { replicas: [0, 1, 2], isr: [0, 1] }),
      // Another broker's partition, lagging: not this broker's concern.
      partition(3, { replicas: [1, 2], isr: [1] }),
    ];
    expect(laggingPartitions(0, parts)).toEqual([
      { topic: 't', partition: 1, reason: 'not-in-isr', leader: 1, replicas: [1, 0, 2], isr: [1, 2] },
      { topic: 't', partition: 2, reason: 'under-replicated', leader: 0, replicas: [0, 1, 2], isr: [0, 1] },
    ]);
    expect(laggingPartitions(2, parts).map((p) => [p.partition, p.reason])).toEqual([
      [1, 'under-replicated'],
      [2, 'not-in-isr'],
      [3, 'not-in-isr'],
    ]);
  });

  it('does not wait for replicas a reassignment is still adding, unless it is one of them', () => {
    const parts = [partition(0, { replicas: [0, 1, 2, 3], isr: [0, 1, 2], adding: [3], removing: [] })];
    expect(laggingPartitions(0, parts)).toEqual([]);
    expect(laggingPartitions(3, parts).map((p) => p.reason)).toEqual(['not-in-isr']);
  });
});

describe('offline partitions', () => {
  it('counts partitions with no leader or a leader that is no longer registered', () => {
    const parts = [partition(0, { replicas: [0, 1] }), partition(1, { replicas: [1, 0], leader: -1 }), partition(2, { replicas: [2, 0] })];
    expect(offlinePartitionCount(parts, live([0, 1, 2]))).toBe(1);
    expect(offlinePartitionCount(parts, live([0, 1]))).toBe(2);
  });
});
