// The reassignment transitions in-process: start (and replace), complete once the target is in
// sync, cancel, and the checks that refuse a bad target. The integration test
// (test/reassignment.test.ts) runs them through Kafka's own tool on real brokers.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Liveness, PartitionState } from './partition-state.js';
import { cancelReassignment, completeReassignment, ReassignmentError, startReassignment, validateTarget } from './reassignment.js';

const live = (...ids: number[]): Liveness => ({ alive: new Set(ids), shuttingDown: new Set() });
const state = (replicas: number[], leader: number, isr: number[]): PartitionState => ({ replicas, leader, leaderEpoch: 3, isr, partitionEpoch: 7, controllerEpoch: 1, adding: [], removing: [] });

describe('reassignment transitions', () => {
  it('moves {0,1} to {1,2}: replicas are the target then the rest, until the new replica is in sync', () => {
    const started = startReassignment(state([0, 1], 0, [0, 1]), [1, 2], 2)!;
    expect(started).toMatchObject({ replicas: [1, 2, 0], adding: [2], removing: [0], leader: 0, leaderEpoch: 3, partitionEpoch: 8, controllerEpoch: 2 });
    expect(completeReassignment(started, live(0, 1, 2), 2)).toBeNull();
    const inSync = { ...started, isr: [0, 1, 2] };
    // The leader is being removed: the first target replica in the ISR takes over, with a new epoch.
    expect(completeReassignment(inSync, live(0, 1, 2), 2)).toMatchObject({ replicas: [1, 2], isr: [1, 2], leader: 1, leaderEpoch: 4, adding: [], removing: [] });
  });

  it('a target that is a subset of the replicas completes at once; a leader that stays keeps its epoch', () => {
    const started = startReassignment(state([0, 1, 2], 1, [0, 1, 2]), [1, 2], 1)!;
    expect(completeReassignment(started, live(0, 1, 2), 1)).toMatchObject({ replicas: [1, 2], isr: [1, 2], leader: 1, leaderEpoch: 3 });
  });

  it('the same assignment with nothing in flight changes nothing; a reordering does', () => {
    expect(startReassignment(state([0, 1], 0, [0, 1]), [0, 1], 1)).toBeNull();
    expect(startReassignment(state([0, 1], 0, [0, 1]), [1, 0], 1)).toMatchObject({ replicas: [1, 0], adding: [], removing: [] });
  });

  it('a new target replaces the one in flight (an added replica not in it is removed again)', () => {
    const first = startReassignment(state([0, 1], 0, [0, 1]), [1, 2], 1)!;
    const second = startReassignment(first, [1, 3], 1)!;
    expect(second).toMatchObject({ replicas: [1, 3, 2, 0], adding: [3], removing: [2, 0] });
    // 3 is not in sync yet: not complete.
    expect(completeReassignment({ ...second, isr: [0, 1, 2] }, live(0, 1, 2, 3), 1)).toBeNull();
  });

  it('cancel goes back to the original replicas, drops the added ones from the ISR and from leadership', () => {
    const started = { ...startReassignment(state([0, 1], 0, [0, 1]), [2, 3], 1)!, isr: [0, 1, 2], leader: 2 };
    expect(cancelReassignment(started, live(0, 1, 2, 3), 1)).toMatchObject({ replicas: [0, 1], isr: [0, 1], leader: 0, adding: [], removing: [] });
    expect(() => cancelReassignment(state([0, 1], 0, [0, 1]), live(0, 1), 1)).toThrow(ReassignmentError);
  });

  it('refuses an empty list, a duplicate and an unregistered broker', () => {
    const registered = new Set([0, 1, 2]);
    expect(() => validateTarget([], registered)).toThrow('empty replica list');
    expect(() => validateTarget([1, 1], registered)).toThrow('replica 1 more than once');
    expect(() => validateTarget([1, 7], registered)).toThrow('broker 7, but no such broker is registered');
    expect(() => validateTarget([2, 0], registered)).not.toThrow();
  });

  it('for any start and target: replicas = target ∪ current, completion yields exactly the target with a leader in it', () => {
    const ids = fc.uniqueArray(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(ids, ids, (current, target) => {
        const from = state(current, current[0]!, [...current]);
        const started = startReassignment(from, target, 1) ?? from;
        expect(new Set(started.replicas)).toEqual(new Set([...current, ...target]));
        expect(started.replicas.slice(0, target.length)).toEqual(target);
        // Every replica catches up.
        const done = completeReassignment({ ...started, isr: [...started.replicas] }, live(0, 1, 2, 3, 4, 5), 1) ?? started;
        expect(done.replicas).toEqual(target);
        expect(new Set(done.isr)).toEqual(new Set(target));
        expect(target).toContain(done.leader);
        expect(done.leaderEpoch).toBe(target.includes(current[0]!) ? 3 : 4);
      }),
    );
  });
});
