// The partition planner: from the cluster as it is (brokers, racks, every partition's replicas and
// size) and what is wanted (brokers to empty, replication factors), the replica lists each
// partition should have. Pure and deterministic; the executor (executor.ts) carries a plan out.
//
// It works in four passes, each only as far as needed, so that a balanced cluster gets an empty
// plan: (1) required changes — replicas leave brokers being removed (or no longer in the cluster),
// replication factors are raised or lowered, a partition with two replicas in one rack while
// another rack is free gets one moved; (2) replica counts per broker are brought within the
// tolerance by moving single replicas from the fullest to the emptiest broker, the smallest
// partition that fits first; (3) disk bytes likewise, moving a partition about half the gap (or
// swapping two partitions whose sizes differ by about that), without breaking the count balance; (4) preferred leaders (first replica) are balanced by
// reordering replica lists, which moves no data. Every move keeps a partition's replicas on
// distinct brokers and on as many racks as it can have.

export interface PlannerBroker {
  id: number;
  rack: string | null;
}

export interface PlannerPartition {
  topic: string;
  partition: number;
  /** The replicas in order (the first is the preferred leader). */
  replicas: readonly number[];
  leader: number;
  isr: readonly number[];
  /** Bytes of one replica (the largest one the brokers report, from DescribeLogDirs). */
  bytes: number;
}

export interface Tolerance {
  /** Replicas per broker may differ from the mean by this many (default 1). */
  replicas: number;
  /** Preferred leaderships per broker may differ from the mean by this many (default 1). */
  leaders: number;
  /** Bytes per broker may differ from the mean by this fraction of it (default 0.1)… */
  bytes: number;
  /**
   * …or of this many bytes while the mean is smaller (default 64 MiB): on brokers holding little,
   * moving data to even out a few megabytes costs more than it gains.
   */
  bytesFloor: number;
}

export const DEFAULT_TOLERANCE: Tolerance = { replicas: 1, leaders: 1, bytes: 0.1, bytesFloor: 64 * 1024 * 1024 };

export interface PlannerInput {
  /** Every broker of the cluster (a replica on a broker not listed is moved off it). */
  brokers: readonly PlannerBroker[];
  partitions: readonly PlannerPartition[];
  /** Brokers to empty (scale-down): they end with no replicas. */
  remove?: readonly number[];
  /** Topic → the replication factor it should have (others keep theirs). */
  replicationFactors?: ReadonlyMap<string, number>;
  tolerance?: Partial<Tolerance>;
}

export interface Move {
  topic: string;
  partition: number;
  /** The replicas now. */
  from: number[];
  /** The replicas wanted, the preferred leader first. */
  to: number[];
  /** Bytes to copy: one replica's size for each broker added. */
  bytes: number;
}

export type PlanResult = { ok: true; moves: Move[] } | { ok: false; reason: string };

export interface BrokerLoad {
  id: number;
  replicas: number;
  leaders: number;
  bytes: number;
}

/** The largest deviation from the mean per dimension, over the brokers that stay. */
export interface Imbalance {
  replicas: number;
  leaders: number;
  /** A fraction of the mean bytes per broker, or of `bytesFloor` while the mean is smaller (0 when no broker holds any). */
  bytes: number;
  brokers: BrokerLoad[];
}

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;
const byPartition = (a: { topic: string; partition: number }, b: { topic: string; partition: number }) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition);

/** Load per broker of `ids` when the partitions have the given replica lists (preferred leader = first). */
function loads(ids: readonly number[], assignment: ReadonlyMap<string, readonly number[]>, sizes: ReadonlyMap<string, number>): Map<number, BrokerLoad> {
  const out = new Map(ids.map((id) => [id, { id, replicas: 0, leaders: 0, bytes: 0 }]));
  for (const [k, replicas] of assignment) {
    replicas.forEach((id, i) => {
      const load = out.get(id);
      if (!load) return;
      load.replicas++;
      load.bytes += sizes.get(k) ?? 0;
      if (i === 0) load.leaders++;
    });
  }
  return out;
}

function deviations(load: readonly BrokerLoad[], bytesFloor: number): Omit<Imbalance, 'brokers'> {
  if (load.length === 0) return { replicas: 0, leaders: 0, bytes: 0 };
  const mean = (f: (l: BrokerLoad) => number) => load.reduce((s, l) => s + f(l), 0) / load.length;
  const dev = (f: (l: BrokerLoad) => number) => {
    const m = mean(f);
    return Math.max(...load.map((l) => Math.abs(f(l) - m)));
  };
  const scale = Math.max(mean((l) => l.bytes), bytesFloor);
  return { replicas: dev((l) => l.replicas), leaders: dev((l) => l.leaders), bytes: scale === 0 ? 0 : dev((l) => l.bytes) / scale };
}

/** How far from balanced the brokers that stay are (replicas, preferred leaders, bytes). */
export function imbalance(input: Pick<PlannerInput, 'brokers' | 'partitions' | 'remove' | 'tolerance'>): Imbalance {
  const removed = new Set(input.remove ?? []);
  const ids = input.brokers.map((b) => b.id).filter((id) => !removed.has(id)).sort((a, b) => a - b);
  const assignment = new Map(input.partitions.map((p) => [key(p.topic, p.partition), p.replicas]));
  const sizes = new Map(input.partitions.map((p) => [key(p.topic, p.partition), p.bytes]));
  const brokers = [...loads(ids, assignment, sizes).values()];
  return { ...deviations(brokers, input.tolerance?.bytesFloor ?? DEFAULT_TOLERANCE.bytesFloor), brokers };
}

/** Whether every dimension is within its tolerance. */
export function withinTolerance(figures: Omit<Imbalance, 'brokers'>, tolerance: Tolerance): boolean {
  return figures.replicas <= tolerance.replicas && figures.leaders <= tolerance.leaders && figures.bytes <= tolerance.bytes;
}

/** The plan, or why there can be none (a topic would have fewer brokers than its replication factor). */
export function plan(input: PlannerInput): PlanResult {
  const tolerance: Tolerance = { ...DEFAULT_TOLERANCE, ...input.tolerance };
  const removed = new Set(input.remove ?? []);
  const eligible = input.brokers.filter((b) => !removed.has(b.id)).sort((a, b) => a.id - b.id);
  const ids = eligible.map((b) => b.id);
  const eligibleSet = new Set(ids);
  const rackOf = new Map(input.brokers.map((b) => [b.id, b.rack ?? '']));
  const rackCount = new Set(eligible.map((b) => b.rack ?? '')).size;
  const partitions = [...input.partitions].sort(byPartition);

  const rfOf = new Map<string, number>();
  for (const p of partitions) rfOf.set(p.topic, input.replicationFactors?.get(p.topic) ?? Math.max(rfOf.get(p.topic) ?? 0, p.replicas.length));
  for (const [topic, rf] of [...rfOf].sort()) {
    if (!Number.isInteger(rf) || rf < 1) return { ok: false, reason: `topic ${topic}: replication factor must be a positive integer, got ${rf}` };
    if (rf > ids.length) {
      const removing = removed.size > 0 ? ` once broker(s) ${[...removed].sort((a, b) => a - b).join(', ')} are removed` : '';
      return { ok: false, reason: `topic ${topic} has replication factor ${rf} but only ${ids.length} broker(s) would remain${removing}` };
    }
  }

  const sizes = new Map(partitions.map((p) => [key(p.topic, p.partition), p.bytes]));
  const assignment = new Map<string, number[]>(partitions.map((p) => [key(p.topic, p.partition), [...p.replicas]]));
  const load = loads(ids, assignment, sizes);
  const racksOf = (replicas: readonly number[]) => new Set(replicas.map((id) => rackOf.get(id)));
  const wantedRacks = (rf: number) => Math.min(rf, rackCount);

  /** Replaces `replicas[index]` with `to` (or appends, or drops when `to` is null), keeping loads current. */
  const change = (k: string, replicas: number[], index: number, to: number | null) => {
    const size = sizes.get(k) ?? 0;
    const out = replicas[index];
    if (out !== undefined) {
      const l = load.get(out);
      if (l) {
        l.replicas--;
        l.bytes -= size;
        if (index === 0) l.leaders--;
      }
    }
    if (to === null) {
      replicas.splice(index, 1);
      const next = replicas[0];
      if (index === 0 && next !== undefined && load.has(next)) load.get(next)!.leaders++;
      return;
    }
    replicas[index] = to;
    const l = load.get(to)!;
    l.replicas++;
    l.bytes += size;
    if (index === 0) l.leaders++;
  };

  /** Least loaded first: replicas, then bytes, then id. */
  const lightest = (a: number, b: number) => {
    const x = load.get(a)!;
    const y = load.get(b)!;
    return x.replicas - y.replicas || x.bytes - y.bytes || a - b;
  };

  /** The best broker to take a replica of a partition now on `others`: a new rack while racks allow, then the lightest. */
  const pickTarget = (others: readonly number[], rf: number): number | undefined => {
    const used = racksOf(others);
    const free = ids.filter((id) => !others.includes(id)).sort(lightest);
    if (used.size < wantedRacks(rf)) return free.find((id) => !used.has(rackOf.get(id))) ?? free[0];
    return free[0];
  };

  // Pass 1: required changes.
  for (const p of partitions) {
    const k = key(p.topic, p.partition);
    const replicas = assignment.get(k)!;
    const rf = rfOf.get(p.topic)!;
    // Replicas on brokers that go (or are gone) move to the best broker left.
    for (let i = 0; i < replicas.length; i++) {
      if (eligibleSet.has(replicas[i]!)) continue;
      const others = replicas.filter((id, j) => j !== i && eligibleSet.has(id));
      if (others.length >= rf) {
        change(k, replicas, i, null);
        i--;
        continue;
      }
      change(k, replicas, i, pickTarget(others, rf)!);
    }
    // Lowering the replication factor drops the replicas on the fullest brokers, sparing the
    // preferred leader and a rack's only replica where it can.
    while (replicas.length > rf) {
      const droppable = replicas
        .map((id, i) => ({ id, i }))
        .filter(({ i }) => i > 0)
        .sort((a, b) => {
          const sharesRack = (id: number) => (replicas.filter((r) => rackOf.get(r) === rackOf.get(id)).length > 1 ? 0 : 1);
          return sharesRack(a.id) - sharesRack(b.id) || lightest(b.id, a.id);
        });
      change(k, replicas, droppable[0]!.i, null);
    }
    while (replicas.length < rf) {
      const target = pickTarget(replicas, rf)!;
      replicas.push(-1);
      change(k, replicas, replicas.length - 1, target);
    }
    // Two replicas in one rack while a rack is free: the one on the fuller broker moves there.
    while (racksOf(replicas).size < wantedRacks(rf)) {
      const crowded = replicas
        .map((id, i) => ({ id, i }))
        .filter(({ id }) => replicas.filter((r) => rackOf.get(r) === rackOf.get(id)).length > 1)
        .sort((a, b) => (a.i === 0 ? 1 : 0) - (b.i === 0 ? 1 : 0) || lightest(b.id, a.id));
      const { i } = crowded[0]!;
      const target = pickTarget(
        replicas.filter((_, j) => j !== i),
        rf,
      )!;
      change(k, replicas, i, target);
    }
  }

  const mean = (f: (l: BrokerLoad) => number) => [...load.values()].reduce((s, l) => s + f(l), 0) / Math.max(1, load.size);
  const figures = () => deviations([...load.values()], tolerance.bytesFloor);
  /** A move of `k`'s replica on `from` to `to` keeps the partition on enough racks. */
  const rackSafe = (replicas: readonly number[], from: number, to: number, rf: number) =>
    racksOf(replicas.map((id) => (id === from ? to : id))).size >= Math.min(racksOf(replicas).size, wantedRacks(rf));
  const topicOf = new Map(partitions.map((p) => [key(p.topic, p.partition), p.topic]));
  const order = partitions.map((p) => key(p.topic, p.partition));
  // Bounds the balancing passes (each move strictly improves its dimension, so this is a safety net).
  const budget = 4 * partitions.reduce((s, p) => s + Math.max(p.replicas.length, rfOf.get(p.topic)!), 0) + 16;

  /**
   * Moves one replica from a heavier to a lighter broker, trying pairs from the most unequal,
   * taking the candidate `choose` prefers; false when no pair has one.
   */
  const moveOne = (heavierFirst: (a: number, b: number) => number, accept: (src: BrokerLoad, dst: BrokerLoad) => boolean, choose: (src: BrokerLoad, dst: BrokerLoad, candidates: string[]) => string | undefined): boolean => {
    const sorted = [...ids].sort(heavierFirst);
    for (let s = 0; s < sorted.length; s++) {
      for (let d = sorted.length - 1; d > s; d--) {
        const src = load.get(sorted[s]!)!;
        const dst = load.get(sorted[d]!)!;
        if (!accept(src, dst)) continue;
        const candidates = order.filter((k) => {
          const replicas = assignment.get(k)!;
          return replicas.includes(src.id) && !replicas.includes(dst.id) && rackSafe(replicas, src.id, dst.id, rfOf.get(topicOf.get(k)!)!);
        });
        const chosen = choose(src, dst, candidates);
        if (chosen === undefined) continue;
        const replicas = assignment.get(chosen)!;
        change(chosen, replicas, replicas.indexOf(src.id), dst.id);
        return true;
      }
    }
    return false;
  };

  /**
   * Exchanges a replica of a heavier broker with one of a lighter broker (the counts stay), the
   * pair whose sizes differ by nearest half the brokers' gap; false when no pair narrows a gap.
   */
  const swapOne = (): boolean => {
    const sorted = [...ids].sort((a, b) => load.get(b)!.bytes - load.get(a)!.bytes || a - b);
    for (let s = 0; s < sorted.length; s++) {
      for (let d = sorted.length - 1; d > s; d--) {
        const src = load.get(sorted[s]!)!;
        const dst = load.get(sorted[d]!)!;
        const gap = src.bytes - dst.bytes;
        if (gap <= 0) continue;
        const movable = (from: number, to: number) =>
          order.filter((k) => {
            const replicas = assignment.get(k)!;
            return replicas.includes(from) && !replicas.includes(to) && rackSafe(replicas, from, to, rfOf.get(topicOf.get(k)!)!);
          });
        const heavy = movable(src.id, dst.id);
        const light = movable(dst.id, src.id);
        let best: { a: string; b: string; miss: number } | undefined;
        for (const a of heavy) {
          for (const b of light) {
            const diff = (sizes.get(a) ?? 0) - (sizes.get(b) ?? 0);
            if (diff <= 0 || diff >= gap) continue;
            const miss = Math.abs(diff - gap / 2);
            if (best === undefined || miss < best.miss) best = { a, b, miss };
          }
        }
        if (!best) continue;
        const ra = assignment.get(best.a)!;
        change(best.a, ra, ra.indexOf(src.id), dst.id);
        const rb = assignment.get(best.b)!;
        change(best.b, rb, rb.indexOf(dst.id), src.id);
        return true;
      }
    }
    return false;
  };

  // Pass 2: replica counts, the smallest partitions first (fewest bytes moved), unless bytes are
  // out of balance too: then the one that leaves the pair's bytes closest to the mean.
  for (let i = 0; i < budget && figures().replicas > tolerance.replicas; i++) {
    const moved = moveOne(
      (a, b) => load.get(b)!.replicas - load.get(a)!.replicas || load.get(b)!.bytes - load.get(a)!.bytes || a - b,
      (src, dst) => src.replicas - dst.replicas >= 2,
      (src, dst, candidates) => {
        const meanBytes = mean((l) => l.bytes);
        const bytesOff = figures().bytes > tolerance.bytes;
        const cost = (k: string) => {
          const size = sizes.get(k) ?? 0;
          return bytesOff ? Math.abs(src.bytes - size - meanBytes) + Math.abs(dst.bytes + size - meanBytes) : size;
        };
        return candidates.reduce<string | undefined>((best, k) => (best === undefined || cost(k) < cost(best) ? k : best), undefined);
      },
    );
    if (!moved) break;
  }

  // Pass 3: bytes, moving a partition smaller than the gap (so the pair gets closer) that keeps the
  // replica counts within tolerance, or else swapping two partitions whose sizes differ by less.
  const countMean = () => mean((l) => l.replicas);
  for (let i = 0; i < budget && figures().bytes > tolerance.bytes; i++) {
    const moved =
      moveOne(
      (a, b) => load.get(b)!.bytes - load.get(a)!.bytes || a - b,
      (src, dst) => src.bytes > dst.bytes && Math.abs(src.replicas - 1 - countMean()) <= tolerance.replicas && Math.abs(dst.replicas + 1 - countMean()) <= tolerance.replicas,
      (src, dst, candidates) => {
        const gap = src.bytes - dst.bytes;
        const fitting = candidates.filter((k) => (sizes.get(k) ?? 0) > 0 && (sizes.get(k) ?? 0) < gap);
        return fitting.reduce<string | undefined>((best, k) => (best === undefined || Math.abs(sizes.get(k)! - gap / 2) < Math.abs(sizes.get(best)! - gap / 2) ? k : best), undefined);
      },
    ) || swapOne();
    if (!moved) break;
  }

  // Pass 4: preferred leaders, by putting a lighter broker first in a list it is already in.
  for (let i = 0; i < budget && figures().leaders > tolerance.leaders; i++) {
    const sorted = [...ids].sort((a, b) => load.get(b)!.leaders - load.get(a)!.leaders || a - b);
    let swapped = false;
    for (let s = 0; s < sorted.length && !swapped; s++) {
      for (let d = sorted.length - 1; d > s && !swapped; d--) {
        const src = load.get(sorted[s]!)!;
        const dst = load.get(sorted[d]!)!;
        if (src.leaders - dst.leaders < 2) continue;
        const k = order.find((k) => assignment.get(k)![0] === src.id && assignment.get(k)!.includes(dst.id));
        if (k === undefined) continue;
        const replicas = assignment.get(k)!;
        const j = replicas.indexOf(dst.id);
        replicas[j] = src.id;
        replicas[0] = dst.id;
        src.leaders--;
        dst.leaders++;
        swapped = true;
      }
    }
    if (!swapped) break;
  }

  const moves: Move[] = [];
  for (const p of partitions) {
    const to = assignment.get(key(p.topic, p.partition))!;
    if (to.length === p.replicas.length && to.every((id, i) => id === p.replicas[i])) continue;
    const added = to.filter((id) => !p.replicas.includes(id)).length;
    moves.push({ topic: p.topic, partition: p.partition, from: [...p.replicas], to: [...to], bytes: added * p.bytes });
  }
  return { ok: true, moves };
}
