// Replica placement for new partitions, as Kafka's assignment does it: brokers are ordered so
// that racks alternate (a0, b0, c0, a1, b1, ...), each partition's first replica is the next
// broker in that order from a random start, and its other replicas follow it in that order,
// skipping brokers on racks the partition already uses until it uses every rack (racks of
// uneven sizes put two brokers of one rack side by side in the order). So the replicas of a
// partition sit on distinct brokers and, while racks last, distinct racks. Without racks this is
// plain round robin.

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
  const rackOf = new Map(brokers.map((b) => [b.id, b.rack ?? '']));
  const rackCount = new Set(rackOf.values()).size;
  const n = order.length;
  const out: number[][] = [];
  for (let i = 0; i < count; i++) {
    const lead = (start + i) % n;
    const replicas = [order[lead]!];
    const racks = new Set([rackOf.get(order[lead]!)]);
    // The first pass over the order takes only new racks while some are unused; the next one fills up.
    for (let k = 1; replicas.length < rf && k < 2 * n; k++) {
      const id = order[(lead + k) % n]!;
      if (replicas.includes(id) || (k < n && racks.size < rackCount && racks.has(rackOf.get(id)))) continue;
      replicas.push(id);
      racks.add(rackOf.get(id));
    }
    out.push(replicas);
  }
  return out;
}
