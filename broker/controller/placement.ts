// Replica placement for new partitions, as Kafka's assignment does it: brokers are ordered so
// that racks alternate (a0, b0, c0, a1, b1, ...), each partition's first replica is the next
// broker in that order from a random start, and its other replicas follow it in that order, so
// the replicas of a partition sit on distinct brokers and, while racks last, distinct racks.
// Without racks this is plain round robin.

export interface PlacementBroker {
  id: number;
  rack: string | null;
}

/** Brokers sorted by id within each rack, racks interleaved. */
export function rackAlternated(brokers: readonly PlacementBroker[]): number[] {
  const byRack = new Map<string, number[]>();
  for (const b of [...brokers].sort((x, y) => x.id - y.id)) {
    const rack = b.rack ?? '';
    byRack.set(rack, [...(byRack.get(rack) ?? []), b.id]);
  }
  const racks = [...byRack.keys()].sort();
  const out: number[] = [];
  for (let i = 0; out.length < brokers.length; i++) {
    for (const rack of racks) {
      const id = byRack.get(rack)![i];
      if (id !== undefined) out.push(id);
    }
  }
  return out;
}

/**
 * `count` replica lists of `rf` replicas each over `brokers` (at least `rf` of them); `start`
 * picks the first broker of the first list.
 */
export function placeReplicas(brokers: readonly PlacementBroker[], count: number, rf: number, start = Math.floor(Math.random() * Math.max(1, brokers.length))): number[][] {
  const order = rackAlternated(brokers);
  const n = order.length;
  const out: number[][] = [];
  for (let i = 0; i < count; i++) {
    const lead = (start + i) % n;
    out.push(Array.from({ length: rf }, (_, r) => order[(lead + r) % n]!));
  }
  return out;
}
