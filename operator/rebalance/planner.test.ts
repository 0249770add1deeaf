// The planner as properties over random clusters (fast-check) and a few worked cases: plans keep
// replicas on distinct, staying brokers, give every topic its replication factor, spread
// replicas over racks while racks allow, balance within the tolerance where that is possible, are
// empty on a balanced cluster and the same for the same input; an impossible scale-down is refused.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_TOLERANCE, imbalance, plan, withinTolerance, type Move, type PlannerBroker, type PlannerInput, type PlannerPartition } from './planner.js';

const key = (p: { topic: string; partition: number }) => `${p.topic}-${p.partition}`;

/** The partitions as the plan leaves them (replicas = target, leader = preferred). */
function applied(partitions: readonly PlannerPartition[], moves: readonly Move[]): PlannerPartition[] {
  const byKey = new Map(moves.map((m) => [key(m), m.to]));
  return partitions.map((p) => {
    const to = byKey.get(key(p));
    return to ? { ...p, replicas: to, leader: to[0]!, isr: to } : p;
  });
}

function mustPlan(input: PlannerInput): Move[] {
  const result = plan(input);
  if (!result.ok) throw new Error(result.reason);
  return result.moves;
}

/** A cluster: distinct broker ids (with racks or without), topics with replicas placed anywhere on them. */
const clusterArb = (racked: boolean | 'any') =>
  fc
    .record({
      ids: fc.uniqueArray(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 7 }),
      racked: racked === 'any' ? fc.boolean() : fc.constant(racked),
    })
    .chain(({ ids, racked }) =>
      fc.record({
        brokers: fc.tuple(...ids.map((id) => (racked ? fc.constantFrom('a', 'b', 'c') : fc.constant(null)).map((rack): PlannerBroker => ({ id, rack })))),
        topics: fc.array(
          fc.record({
            partitions: fc.array(
              fc.record({
                replicas: fc.shuffledSubarray(ids, { minLength: 1, maxLength: Math.min(3, ids.length) }),
                bytes: fc.integer({ min: 0, max: 1_000_000 }),
              }),
              { minLength: 1, maxLength: 8 },
            ),
          }),
          { minLength: 1, maxLength: 4 },
        ),
      }),
    )
    .map(({ brokers, topics }) => ({
      brokers,
      partitions: topics.flatMap((t, ti) =>
        t.partitions.map((p, partition): PlannerPartition => ({ topic: `t${ti}`, partition, replicas: p.replicas, leader: p.replicas[0]!, isr: p.replicas, bytes: p.bytes })),
      ),
    }));

/** A cluster plus brokers to remove and replication factors to set, within what the brokers left allow. */
const requestArb = (racked: boolean | 'any') =>
  clusterArb(racked).chain(({ brokers, partitions }) =>
    fc
      .subarray(brokers.map((b) => b.id), { maxLength: Math.max(0, brokers.length - 1) })
      .chain((remove) => {
        const left = brokers.length - remove.length;
        const topics = [...new Set(partitions.map((p) => p.topic))];
        return fc.record({
          brokers: fc.constant(brokers),
          partitions: fc.constant(partitions),
          remove: fc.constant(remove),
          // Bytes balanced from the first byte, or only past the default floor (so rarely here).
          tolerance: fc.constantFrom({}, { bytesFloor: 0 }),
          replicationFactors: fc.tuple(...topics.map((t) => fc.option(fc.integer({ min: 1, max: left }), { nil: undefined }).map((rf) => [t, rf] as const))).map(
            (pairs) => new Map(pairs.filter((p): p is readonly [string, number] => p[1] !== undefined)),
          ),
        });
      }),
  );

/** The replication factor a topic should end with. */
const rfOf = (input: PlannerInput, topic: string) => input.replicationFactors?.get(topic) ?? Math.max(...input.partitions.filter((p) => p.topic === topic).map((p) => p.replicas.length));

describe('plan', () => {
  it('never puts two replicas on one broker nor any on a removed broker, and gives every topic its replication factor', () => {
    fc.assert(
      fc.property(requestArb('any'), (input) => {
        const result = plan(input);
        const left = input.brokers.length - input.remove.length;
        if (!result.ok) {
          // Refused only when some topic's replication factor exceeds the brokers left.
          expect(input.partitions.some((p) => rfOf(input, p.topic) > left)).toBe(true);
          return;
        }
        const removed = new Set(input.remove);
        const staying = new Set(input.brokers.map((b) => b.id).filter((id) => !removed.has(id)));
        for (const p of applied(input.partitions, result.moves)) {
          expect(new Set(p.replicas).size).toBe(p.replicas.length);
          expect(p.replicas.every((id) => staying.has(id))).toBe(true);
          expect(p.replicas.length).toBe(rfOf(input, p.topic));
        }
        for (const m of result.moves) expect(m.to).not.toEqual(m.from);
      }),
    );
  });

  it('puts a partition on as many racks as it has replicas while the racks allow', () => {
    fc.assert(
      fc.property(requestArb(true), (input) => {
        const result = plan(input);
        if (!result.ok) return;
        const removed = new Set(input.remove);
        const rackOf = new Map(input.brokers.map((b) => [b.id, b.rack]));
        const racks = new Set(input.brokers.filter((b) => !removed.has(b.id)).map((b) => b.rack)).size;
        for (const p of applied(input.partitions, result.moves)) expect(new Set(p.replicas.map((id) => rackOf.get(id))).size).toBe(Math.min(p.replicas.length, racks));
      }),
    );
  });

  it('without racks, brings replica counts within the tolerance and then changes nothing more', () => {
    fc.assert(
      fc.property(requestArb(false), (input) => {
        const result = plan(input);
        if (!result.ok) return;
        const after = { ...input, partitions: applied(input.partitions, result.moves) };
        expect(imbalance(after).replicas).toBeLessThanOrEqual(DEFAULT_TOLERANCE.replicas);
        // Planning again from where the plan leads moves nothing: no churn.
        expect(mustPlan(after)).toEqual([]);
      }),
    );
  });

  it('balances preferred leaders when every partition is on every broker', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 30 }),
        (n, firsts) => {
          const ids = Array.from({ length: n }, (_, i) => i);
          // Every partition led by its "first" broker, all replicas on all brokers: only the order is off.
          const partitions = firsts.map((f, partition): PlannerPartition => {
            const replicas = [f % n, ...ids.filter((id) => id !== f % n)];
            return { topic: 't', partition, replicas, leader: replicas[0]!, isr: replicas, bytes: 100 };
          });
          const input = { brokers: ids.map((id) => ({ id, rack: null })), partitions };
          const moves = mustPlan(input);
          expect(imbalance({ ...input, partitions: applied(partitions, moves) }).leaders).toBeLessThanOrEqual(DEFAULT_TOLERANCE.leaders);
          // Only the order changes: no data is moved.
          for (const m of moves) expect(m.bytes).toBe(0);
        },
      ),
    );
  });

  it('is the same plan for the same input', () => {
    fc.assert(
      fc.property(requestArb('any'), (input) => {
        expect(plan(input)).toEqual(plan({ ...input, brokers: [...input.brokers].reverse(), partitions: [...input.partitions].reverse() }));
      }),
    );
  });

  it('is empty on a cluster within tolerance that needs nothing else', () => {
    fc.assert(
      fc.property(clusterArb('any'), fc.constantFrom({}, { bytesFloor: 0 }), (cluster, tolerance) => {
        const input = { ...cluster, tolerance };
        const figures = imbalance(input);
        const needsNothing = input.partitions.every((p) => {
          const racks = new Set(input.brokers.map((b) => b.rack)).size;
          const rackOf = new Map(input.brokers.map((b) => [b.id, b.rack]));
          const topicRf = rfOf(input, p.topic);
          return p.replicas.length === topicRf && new Set(p.replicas.map((id) => rackOf.get(id))).size === Math.min(topicRf, racks);
        });
        fc.pre(needsNothing && figures.replicas <= 1 && figures.leaders <= 1 && figures.bytes <= 0.1);
        expect(mustPlan(input)).toEqual([]);
      }),
    );
  });
});

describe('plan, worked cases', () => {
  const three = [0, 1, 2].map((id) => ({ id, rack: null }));
  const partition = (topic: string, p: number, replicas: number[], bytes = 1000): PlannerPartition => ({ topic, partition: p, replicas, leader: replicas[0]!, isr: replicas, bytes });

  it('spreads replicas and leaders onto a new fourth broker, moving few', () => {
    const partitions = [
      ...[0, 1, 2, 3, 4, 5].map((p) => partition('rf2', p, [p % 3, (p + 1) % 3])),
      ...[0, 1, 2, 3, 4, 5].map((p) => partition('rf3', p, [p % 3, (p + 1) % 3, (p + 2) % 3])),
    ];
    const brokers = [...three, { id: 3, rack: null }];
    const moves = mustPlan({ brokers, partitions });
    const after = imbalance({ brokers, partitions: applied(partitions, moves) });
    expect(after.replicas).toBeLessThanOrEqual(1);
    expect(after.leaders).toBeLessThanOrEqual(1);
    expect(after.bytes).toBeLessThanOrEqual(0.1);
    // 30 replicas over 4 brokers: broker 3 needs 7 or 8, one copy each.
    const copied = moves.reduce((s, m) => s + m.to.filter((id) => !m.from.includes(id)).length, 0);
    expect(copied).toBeGreaterThanOrEqual(7);
    expect(copied).toBeLessThanOrEqual(8);
  });

  it('imbalance: the largest deviation per dimension over the brokers that stay, compared with a threshold by withinTolerance', () => {
    const partitions = [partition('t', 0, [0, 1], 300), partition('t', 1, [0, 2], 100), partition('t', 2, [0, 3], 200)];
    const brokers = [...three, { id: 3, rack: null }];
    // Broker 0: 3 replicas, 3 leaders, 600 bytes; 1..3: 1 replica each. Mean 1.5 replicas, 0.75 leaders, 300 bytes.
    const figures = imbalance({ brokers, partitions, tolerance: { bytesFloor: 0 } });
    expect(figures).toMatchObject({ replicas: 1.5, leaders: 2.25, bytes: 1 });
    expect(figures.brokers[0]).toEqual({ id: 0, replicas: 3, leaders: 3, bytes: 600 });
    expect(withinTolerance(figures, DEFAULT_TOLERANCE)).toBe(false);
    expect(withinTolerance(figures, { ...DEFAULT_TOLERANCE, replicas: 2, leaders: 3, bytes: 1 })).toBe(true);
    // Broker 3 going: the mean is over 0..2.
    expect(imbalance({ brokers, partitions, remove: [3], tolerance: { bytesFloor: 0 } }).brokers.map((b) => b.id)).toEqual([0, 1, 2]);
    // Below the floor bytes are measured against it: 300 bytes off in 64 MiB is nothing.
    expect(imbalance({ brokers, partitions }).bytes).toBeLessThan(1e-5);
  });

  it('drains a broker, and refuses a scale-down that leaves a topic fewer brokers than its replication factor', () => {
    const partitions = [0, 1, 2].map((p) => partition('rf2', p, [p, (p + 1) % 3]));
    const moves = mustPlan({ brokers: [...three, { id: 3, rack: null }], partitions, remove: [2] });
    for (const p of applied(partitions, moves)) expect(p.replicas).not.toContain(2);
    const refused = plan({ brokers: three, partitions: [partition('rf3', 0, [0, 1, 2])], remove: [2] });
    expect(refused).toEqual({ ok: false, reason: 'topic rf3 has replication factor 3 but only 2 broker(s) would remain once broker(s) 2 are removed' });
  });

  it('raises and lowers a replication factor, keeping the preferred leader', () => {
    const up = mustPlan({ brokers: three, partitions: [partition('t', 0, [1])], replicationFactors: new Map([['t', 3]]) });
    expect(up).toHaveLength(1);
    expect(up[0]!.to[0]).toBe(1);
    expect(new Set(up[0]!.to)).toEqual(new Set([0, 1, 2]));
    expect(up[0]!.bytes).toBe(2000);
    const down = mustPlan({ brokers: three, partitions: [partition('t', 0, [2, 0, 1])], replicationFactors: new Map([['t', 2]]) });
    expect(down).toEqual([{ topic: 't', partition: 0, from: [2, 0, 1], to: [2, expect.any(Number)], bytes: 0 }]);
    // The replica out of the ISR goes first, then one that does not lead now.
    const lagging = { ...partition('t', 0, [2, 0, 1]), isr: [2, 1] };
    expect(mustPlan({ brokers: three, partitions: [lagging], replicationFactors: new Map([['t', 2]]) })[0]!.to).toEqual([2, 1]);
    const ledByOne = { ...partition('t', 0, [2, 0, 1]), leader: 0 };
    expect(mustPlan({ brokers: three, partitions: [ledByOne], replicationFactors: new Map([['t', 2]]) })[0]!.to).toEqual([2, 0]);
  });

  it('moves replicas off a crowded rack and balances bytes with partitions of uneven size', () => {
    const racked = [
      { id: 0, rack: 'a' },
      { id: 1, rack: 'a' },
      { id: 2, rack: 'b' },
    ];
    const crowded = mustPlan({ brokers: racked, partitions: [partition('t', 0, [0, 1])] });
    expect(crowded.map((m) => m.to)).toEqual([[0, 2]]);

    // Equal counts, but broker 0 holds the big partitions.
    const partitions = [partition('t', 0, [0], 9000), partition('t', 1, [0], 8000), partition('t', 2, [1], 100), partition('t', 3, [1], 100), partition('t', 4, [2], 5000), partition('t', 5, [2], 4000)];
    const tolerance = { bytesFloor: 0 };
    const before = imbalance({ brokers: three, partitions, tolerance });
    expect(before.bytes).toBeGreaterThan(0.5);
    const moves = mustPlan({ brokers: three, partitions, tolerance });
    const after = imbalance({ brokers: three, partitions: applied(partitions, moves), tolerance });
    expect(after.bytes).toBeLessThan(before.bytes);
    expect(after.replicas).toBeLessThanOrEqual(1);
    // Below the default floor of 64 MiB per broker these few kilobytes are left as they are.
    expect(mustPlan({ brokers: three, partitions })).toEqual([]);
  });

  it('swaps two partitions when moving one would break the count balance', () => {
    const two = [0, 1].map((id) => ({ id, rack: null }));
    const partitions = [partition('t', 0, [0], 9000), partition('t', 1, [0], 8000), partition('t', 2, [1], 1000), partition('t', 3, [1], 100)];
    const moves = mustPlan({ brokers: two, partitions, tolerance: { replicas: 0, bytesFloor: 0 } });
    expect(moves.map((m) => [m.partition, m.to])).toEqual([
      [0, [1]],
      [2, [0]],
    ]);
    expect(imbalance({ brokers: two, partitions: applied(partitions, moves), tolerance: { bytesFloor: 0 } }).bytes).toBeLessThan(0.01);
  });
});
