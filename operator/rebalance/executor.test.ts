// The executor's step function on observed cluster states written out by hand: batches of at
// most maxInFlight, a partition in flight awaited and not sent again (so a new executor picks up
// where an old one stopped), the throttle set for what moves and removed at the end, elections
// of preferred leaders, and progress with a measured rate. The real thing runs in
// test/rebalance.test.ts against broker processes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ClusterState, ObservedPartition } from './cluster-state.js';
import { cancel, next, type ExecutorOptions } from './executor.js';
import type { Move } from './planner.js';

const options: ExecutorOptions = { maxInFlight: 2, throttleBytesPerSecond: 1000 };

function observed(partition: number, replicas: number[], extra: Partial<ObservedPartition> = {}): ObservedPartition {
  return { topic: 't', partition, replicas, leader: replicas[0]!, isr: replicas, adding: [], removing: [], sizes: new Map(replicas.map((id) => [id, 1000])), ...extra };
}
const state = (at: number, partitions: ObservedPartition[]): ClusterState => ({ at, brokers: [], partitions, unreadable: new Map() });
const move = (partition: number, from: number[], to: number[]): Move => ({ topic: 't', partition, from, to, bytes: 1000 * to.filter((id) => !from.includes(id)).length });

// Three partitions move from {0,1} to {1,2}.
const plan = [0, 1, 2].map((p) => move(p, [0, 1], [1, 2]));

describe('next', () => {
  it('sends at most maxInFlight partitions, throttling their replicas first', () => {
    const d = next(plan, state(0, [0, 1, 2].map((p) => observed(p, [0, 1]))), options);
    expect(d.actions).toEqual([
      { kind: 'throttle', throttle: { brokers: [0, 1, 2], rate: 1000, topics: [{ topic: 't', leader: ['0:0', '0:1', '1:0', '1:1'], follower: ['0:2', '1:2'] }] } },
      {
        kind: 'reassign',
        partitions: [
          { topic: 't', partition: 0, replicas: [1, 2] },
          { topic: 't', partition: 1, replicas: [1, 2] },
        ],
      },
    ]);
    expect(d.progress).toMatchObject({ partitionsDone: 0, partitionsInFlight: 2, partitionsLeft: 1, bytesMoved: 0, bytesLeft: 3000, finished: false });
  });

  it('awaits partitions in flight without sending them again, and counts what their new replicas hold', () => {
    const moving = (p: number, copied: number) => observed(p, [1, 2, 0], { leader: 0, isr: [0, 1], adding: [2], removing: [0], sizes: new Map([[0, 1000], [1, 1000], [2, copied]]) });
    const first = next(plan, state(1000, [moving(0, 0), moving(1, 0), observed(2, [0, 1])]), options);
    expect(first.actions.map((a) => a.kind)).toEqual(['throttle']);
    const later = next(plan, state(3000, [moving(0, 500), moving(1, 300), observed(2, [0, 1])]), options, first.since);
    expect(later.actions.map((a) => a.kind)).toEqual(['throttle']);
    // 800 bytes in 2 s; 2200 left.
    expect(later.progress).toMatchObject({ partitionsInFlight: 2, partitionsLeft: 1, bytesMoved: 800, bytesLeft: 2200, bytesPerSecond: 400, etaSeconds: 5.5 });
  });

  it('sends the next partition as one completes, and elects the preferred leader of a moved partition led by another', () => {
    const d = next(plan, state(0, [observed(0, [1, 2], { leader: 2 }), observed(1, [1, 2, 0], { adding: [2], removing: [0] }), observed(2, [0, 1])]), options);
    expect(d.actions).toEqual([
      { kind: 'throttle', throttle: { brokers: [0, 1, 2], rate: 1000, topics: [{ topic: 't', leader: ['1:0', '1:1', '2:0', '2:1'], follower: ['1:2', '2:2'] }] } },
      { kind: 'reassign', partitions: [{ topic: 't', partition: 2, replicas: [1, 2] }] },
      { kind: 'elect', partitions: [{ topic: 't', partition: 0 }] },
    ]);
  });

  it('sends again a partition whose reassignment went elsewhere (replaced or cancelled)', () => {
    const d = next([move(0, [0, 1], [1, 2])], state(0, [observed(0, [1, 3, 0], { adding: [3], removing: [0] })]), { ...options, throttleBytesPerSecond: null });
    expect(d.actions).toEqual([{ kind: 'reassign', partitions: [{ topic: 't', partition: 0, replicas: [1, 2] }] }]);
  });

  it('removes the throttle and is finished once every partition is at its target and led by its preferred leader', () => {
    const d = next(plan, state(0, [0, 1, 2].map((p) => observed(p, [1, 2]))), options);
    expect(d.actions).toEqual([{ kind: 'clear-throttle', brokers: [0, 1, 2], topics: ['t'] }]);
    expect(d.progress).toMatchObject({ partitionsDone: 3, partitionsInFlight: 0, partitionsLeft: 0, bytesMoved: 3000, bytesLeft: 0, etaSeconds: 0, finished: true });
    // Without a throttle there is nothing to remove.
    expect(next(plan, state(0, [0, 1, 2].map((p) => observed(p, [1, 2]))), { ...options, throttleBytesPerSecond: null }).actions).toEqual([]);
  });

  it('elects no preferred leader that is out of sync (it could not lead), and does not wait for one', () => {
    const d = next([move(0, [0, 1], [1, 2])], state(0, [observed(0, [1, 2], { leader: 2, isr: [2] })]), { ...options, throttleBytesPerSecond: null });
    expect(d.actions).toEqual([]);
    expect(d.progress.finished).toBe(true);
  });

  it('an empty plan is finished at once', () => {
    expect(next([], state(0, [observed(0, [0, 1])]), options)).toMatchObject({ actions: [], progress: { finished: true, partitionsDone: 0 } });
  });
});

describe('cancel', () => {
  it('cancels only the plan\'s partitions in flight towards its targets, then removes the throttle', () => {
    const partitions = [
      observed(0, [1, 2]),
      observed(1, [1, 2, 0], { adding: [2], removing: [0] }),
      observed(2, [0, 1]),
      // Moving elsewhere (another plan): not ours to cancel.
      { ...observed(3, [1, 3, 0], { adding: [3], removing: [0] }) },
    ];
    const ours = [...plan, move(3, [0, 1], [1, 2])];
    expect(cancel(ours, state(0, partitions), options)).toEqual([
      { kind: 'cancel', partitions: [{ topic: 't', partition: 1 }] },
      { kind: 'clear-throttle', brokers: [0, 1, 2], topics: ['t'] },
    ]);
    expect(cancel(ours, state(0, [observed(0, [1, 2]), observed(1, [0, 1])]), { ...options, throttleBytesPerSecond: null })).toEqual([]);
  });
});

describe('next, run against a simulated cluster', () => {
  // Each pass the simulated cluster completes the first reassignment in flight or not (fast-check
  // decides). `next` is called without any memory of earlier passes, as a new executor would be.
  it('never has more than maxInFlight moving, never re-sends one in flight, and ends with every partition at its target, led by its preferred leader, the throttle removed', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.shuffledSubarray([0, 1, 2, 3, 4], { minLength: 1, maxLength: 3 }), fc.shuffledSubarray([0, 1, 2, 3, 4], { minLength: 1, maxLength: 3 })), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 4 }),
        fc.infiniteStream(fc.boolean()),
        (pairs, maxInFlight, luck) => {
          const moves = pairs.map(([from, to], partition) => move(partition, from, to));
          const cluster = new Map(moves.map((m) => [m.partition, observed(m.partition, m.from)]));
          const opts = { maxInFlight, throttleBytesPerSecond: 1000 };
          const dice = luck[Symbol.iterator]();
          let throttled = false;
          for (let pass = 0; pass < 200; pass++) {
            const completes = dice.next().value as boolean;
            const d = next(moves, state(pass * 1000, [...cluster.values()]), opts);
            for (const action of d.actions) {
              if (action.kind === 'throttle') throttled = true;
              if (action.kind === 'clear-throttle') throttled = false;
              if (action.kind === 'reassign') {
                for (const { partition, replicas } of action.partitions) {
                  const p = cluster.get(partition)!;
                  // Never sent for a partition already moving to that target.
                  expect(p.adding.length + p.removing.length > 0 && p.replicas.slice(0, replicas.length).join() === replicas.join()).toBe(false);
                  const current = p.replicas.filter((id) => !p.adding.includes(id));
                  const adding = replicas.filter((id) => !current.includes(id));
                  const removing = current.filter((id) => !replicas.includes(id));
                  cluster.set(partition, { ...p, replicas: [...replicas, ...removing], adding, removing });
                }
              }
              if (action.kind === 'elect') for (const { partition } of action.partitions) cluster.set(partition, { ...cluster.get(partition)!, leader: cluster.get(partition)!.replicas[0]! });
            }
            const moving = [...cluster.values()].filter((p) => p.adding.length + p.removing.length > 0);
            expect(moving.length).toBeLessThanOrEqual(maxInFlight);
            if (d.progress.finished) break;
            const first = moving[0];
            if (first && completes) {
              const target = first.replicas.filter((id) => !first.removing.includes(id));
              cluster.set(first.partition, { ...first, replicas: target, isr: target, adding: [], removing: [], leader: target.includes(first.leader) ? first.leader : target[0]! });
            }
          }
          for (const m of moves) {
            expect(cluster.get(m.partition)!.replicas).toEqual(m.to);
            expect(cluster.get(m.partition)!.leader).toBe(m.to[0]);
          }
          expect(throttled).toBe(false);
        },
      ),
    );
  });
});
