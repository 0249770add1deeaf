// Replica placement as properties over any set of brokers (fast-check): distinct brokers per
// partition, leaderships spread evenly, and replicas on distinct racks whenever there are as many
// racks as replicas.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { placeReplicas, rackAlternated, type PlacementBroker } from './placement.js';

/** Distinct broker ids, either all with a rack (a few racks, unevenly filled) or none. */
const brokersArb: fc.Arbitrary<PlacementBroker[]> = fc
  .tuple(fc.uniqueArray(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 12 }), fc.boolean())
  .chain(([ids, racked]) =>
    fc.tuple(...ids.map((id) => (racked ? fc.constantFrom('a', 'b', 'c', 'd') : fc.constant(null)).map((rack) => ({ id, rack })))),
  );

const placementArb = brokersArb.chain((brokers) =>
  fc.record({
    brokers: fc.constant(brokers),
    count: fc.integer({ min: 1, max: 60 }),
    rf: fc.integer({ min: 1, max: brokers.length }),
    start: fc.integer({ min: 0, max: brokers.length - 1 }),
  }),
);

describe('placeReplicas', () => {
  it('gives every partition rf distinct live brokers', () => {
    fc.assert(
      fc.property(placementArb, ({ brokers, count, rf, start }) => {
        const placed = placeReplicas(brokers, count, rf, start);
        const ids = new Set(brokers.map((b) => b.id));
        const bad = placed.find((replicas) => replicas.length !== rf || new Set(replicas).size !== rf || replicas.some((id) => !ids.has(id)));
        expect(bad).toBeUndefined();
        expect(placed).toHaveLength(count);
      }),
      { numRuns: 500 },
    );
  });

  it('spreads leaderships evenly: each broker leads ⌊n/b⌋ or ⌈n/b⌉ partitions', () => {
    fc.assert(
      fc.property(placementArb, ({ brokers, count, rf, start }) => {
        const leads = new Map(brokers.map((b) => [b.id, 0]));
        for (const replicas of placeReplicas(brokers, count, rf, start)) leads.set(replicas[0]!, leads.get(replicas[0]!)! + 1);
        const counts = [...leads.values()];
        expect(Math.min(...counts)).toBeGreaterThanOrEqual(Math.floor(count / brokers.length));
        expect(Math.max(...counts)).toBeLessThanOrEqual(Math.ceil(count / brokers.length));
      }),
      { numRuns: 500 },
    );
  });

  it('puts the replicas of a partition on distinct racks whenever rf <= racks, and on every rack otherwise', () => {
    fc.assert(
      fc.property(placementArb, ({ brokers, count, rf, start }) => {
        const rackOf = new Map(brokers.map((b) => [b.id, b.rack]));
        const racks = new Set(brokers.map((b) => b.rack)).size;
        const bad = placeReplicas(brokers, count, rf, start).find((replicas) => new Set(replicas.map((id) => rackOf.get(id))).size !== Math.min(rf, racks));
        expect(bad).toBeUndefined();
      }),
      { numRuns: 500 },
    );
  });

  it('spans both racks when one rack has three brokers and the other one', () => {
    const brokers = [0, 1, 2].map((id) => ({ id, rack: 'a' })).concat([{ id: 3, rack: 'b' }]);
    // Rack-alternated order is 0, 3, 1, 2: a partition led by 1 takes 3, not its rack-mate 2.
    expect(placeReplicas(brokers, 4, 2, 0)).toEqual([
      [0, 3],
      [3, 1],
      [1, 3],
      [2, 3],
    ]);
  });

  it('without a start, still places every partition (a random first broker)', () => {
    const brokers = [0, 1, 2].map((id) => ({ id, rack: null }));
    const placed = placeReplicas(brokers, 6, 3);
    expect(new Set(placed.map((r) => r[0])).size).toBe(3);
  });
});

describe('rackAlternated', () => {
  it('interleaves racks, brokers by id within each', () => {
    const brokers = [
      { id: 5, rack: 'b' },
      { id: 1, rack: 'a' },
      { id: 3, rack: 'b' },
      { id: 2, rack: 'a' },
      { id: 4, rack: 'c' },
      { id: 0, rack: 'a' },
    ];
    expect(rackAlternated(brokers)).toEqual([0, 3, 4, 1, 5, 2]);
  });
});
