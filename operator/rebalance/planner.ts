// The partition planner: from the cluster as it is (brokers, racks, every partition's replicas and
// size) and what is wanted (brokers to empty, replication factors), the replica lists each
// partition should have. Pure and deterministic; the executor (executor.ts) carries a plan out.
//
// It works in four passes, each only as far as needed, so that a balanced cluster gets an empty
// plan: (1) required changes — replicas leave brokers being removed (or no longer in the cluster),
// replication factors are raised or lowered, a partition with two replicas in one rack while
// another rack is free gets one moved; (2) replica counts per broker are brought within the
// tolerance by moving single replicas from the fullest to the emptiest broker (its own rack's
// first), the smallest partition first; (3) disk bytes likewise, moving a partition about half the
// gap (or swapping two partitions whose sizes differ by about that) without breaking the count
// balance; (4) preferred leaders (first replica) are balanced by reordering replica lists, which
// moves no data. Every move keeps a partition's replicas on distinct brokers and on as many racks
// as it can have.

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
  /** Broker → the partitions it holds a replica of (staying brokers only), in a deterministic order. */
  const held = new Map(ids.map((id) => [id, new Set<string>()]));
  for (const [k, replicas] of assignment) for (const id of replicas) held.get(id)?.add(k);
  const racksOf = (replicas: readonly number[]) => new Set(replicas.map((id) => rackOf.get(id)));
  const wantedRacks = (rf: number) => Math.min(rf, rackCount);

  /** Broker → a count bumped whenever a partition it holds (or gets, or loses) changes. */
  const version = new Map(ids.map((id) => [id, 0]));
  const bump = (replicas: readonly number[]) => {
    for (const id of replicas) if (version.has(id)) version.set(id, version.get(id)! + 1);
  };

  /** Replaces `replicas[index]` with `to` (or appends, or drops when `to` is null), keeping loads current. */
  const change = (k: string, replicas: number[], index: number, to: number | null) => {
    bump(replicas);
    if (to !== null) bump([to]);
    const size = sizes.get(k) ?? 0;
    const out = replicas[index];
    if (out !== undefined) {
      held.get(out)?.delete(k);
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
    held.get(to)!.add(k);
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
    // Lowering the replication factor never drops the preferred leader; of the others it drops
    // first one out of the ISR, then not the current leader, one whose rack keeps another replica,
    // one on a fuller broker.
    while (replicas.length > rf) {
      const droppable = replicas
        .map((id, i) => ({ id, i }))
        .filter(({ i }) => i > 0)
        .sort((a, b) => {
          const inIsr = (id: number) => (p.isr.includes(id) ? 1 : 0);
          const leads = (id: number) => (id === p.leader ? 1 : 0);
          const sharesRack = (id: number) => (replicas.filter((r) => rackOf.get(r) === rackOf.get(id)).length > 1 ? 0 : 1);
          return inIsr(a.id) - inIsr(b.id) || leads(a.id) - leads(b.id) || sharesRack(a.id) - sharesRack(b.id) || lightest(b.id, a.id);
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
  const topicOf = new Map(partitions.map((p) => [key(p.topic, p.partition), p.topic]));
  /**
   * Whether moving `k`'s replica on `from` to `to` keeps the partition on enough racks: as many as
   * before, or min(RF, racks). Counted without allocating: it runs for many candidates.
   */
  const rackSafe = (k: string, from: number, to: number): boolean => {
    if (rackCount <= 1) return true;
    const replicas = assignment.get(k)!;
    const fromRack = rackOf.get(from);
    const toRack = rackOf.get(to);
    if (fromRack === toRack) return true;
    let distinct = 0;
    let fromShared = false;
    let toUsed = false;
    for (let i = 0; i < replicas.length; i++) {
      const rack = rackOf.get(replicas[i]!);
      let first = true;
      for (let j = 0; j < i; j++) if (rackOf.get(replicas[j]!) === rack) first = false;
      if (first) distinct++;
      if (replicas[i] !== from && rack === fromRack) fromShared = true;
      if (replicas[i] !== from && rack === toRack) toUsed = true;
    }
    const after = distinct - (fromShared ? 0 : 1) + (toUsed ? 0 : 1);
    return after >= Math.min(distinct, wantedRacks(rfOf.get(topicOf.get(k)!)!));
  };
  /**
   * Pairs of brokers (indexes into `sorted`, heaviest first): from each heavier broker to the
   * lighter ones, the lightest in its own rack first (a move within a rack always keeps the racks;
   * across racks it mostly cannot once a partition spans them all), then the lightest elsewhere.
   * Every pair, or only those with the heaviest or the lightest broker (what the largest deviation
   * depends on; fewer to search where each pair costs a scan of its partitions).
   */
  function* pairs(sorted: readonly number[], extremesOnly: boolean): Generator<[number, number]> {
    const last = sorted.length - 1;
    for (let s = 0; s < last; s++) {
      const rack = rackOf.get(sorted[s]!);
      const lighter: number[] = [];
      for (let d = last; d > s; d--) if (!extremesOnly || s === 0 || d === last) lighter.push(d);
      for (const d of lighter) if (rackOf.get(sorted[d]!) === rack) yield [s, d];
      for (const d of lighter) if (rackOf.get(sorted[d]!) !== rack) yield [s, d];
    }
  }
  /** Pairs "src>dst" where no partition of src could go to dst, with the brokers' versions then. */
  const stuck = new Map<string, string>();
  // Bounds the balancing passes (each move strictly improves its dimension, so this is a safety net).
  const budget = 4 * partitions.reduce((s, p) => s + Math.max(p.replicas.length, rfOf.get(p.topic)!), 0) + 16;

  /**
   * Moves one replica from a heavier to a lighter broker, trying pairs from the most unequal: of
   * the partitions on the heavier that could go to the lighter, the one of lowest `cost`
   * (undefined: not this one); false when no pair has one.
   */
  const moveOne = (
    heavierFirst: (a: number, b: number) => number,
    accept: (src: BrokerLoad, dst: BrokerLoad) => boolean,
    costFor: (src: BrokerLoad, dst: BrokerLoad) => (k: string) => number | undefined,
    extremesOnly: boolean,
  ): boolean => {
    const sorted = [...ids].sort(heavierFirst);
    for (const [s, d] of pairs(sorted, extremesOnly)) {
      const src = load.get(sorted[s]!)!;
      const dst = load.get(sorted[d]!)!;
      if (!accept(src, dst)) continue;
      const pair = `${src.id}>${dst.id}`;
      const signature = `${version.get(src.id)}:${version.get(dst.id)}`;
      if (stuck.get(pair) === signature) continue;
      const cost = costFor(src, dst);
      let best: { k: string; cost: number } | undefined;
      let costless = false;
      for (const k of held.get(src.id)!) {
        const c = cost(k);
        if (c === undefined) costless = true;
        // The rack check only for a candidate that would win.
        if (c === undefined || (best !== undefined && c >= best.cost) || assignment.get(k)!.includes(dst.id) || !rackSafe(k, src.id, dst.id)) continue;
        best = { k, cost: c };
      }
      if (best === undefined) {
        // No partition of src can go to dst at all: neither until one of them changes.
        if (!costless) stuck.set(pair, signature);
        continue;
      }
      const replicas = assignment.get(best.k)!;
      change(best.k, replicas, replicas.indexOf(src.id), dst.id);
      return true;
    }
    return false;
  };

  /**
   * Exchanges a replica of a heavier broker with one of a lighter broker (the counts stay), the
   * pair whose sizes differ by nearest half the brokers' gap; false when no pair narrows a gap.
   */
  const swapOne = (): boolean => {
    const size = (k: string) => sizes.get(k) ?? 0;
    const sorted = [...ids].sort((a, b) => load.get(b)!.bytes - load.get(a)!.bytes || a - b);
    for (const [s, d] of pairs(sorted, true)) {
      const src = load.get(sorted[s]!)!;
      const dst = load.get(sorted[d]!)!;
      const gap = src.bytes - dst.bytes;
      if (gap <= 0) continue;
      const light = [...held.get(dst.id)!].filter((k) => !assignment.get(k)!.includes(src.id)).sort((x, y) => size(x) - size(y));
      if (light.length === 0) continue;
      // For a heavy partition a, a light b narrows the gap iff size(b) lies in (size(a) − gap,
      // size(a)); best is the nearest size(a) − gap/2: search outwards from there.
      let best: { a: string; b: string; miss: number } | undefined;
      for (const a of held.get(src.id)!) {
        if (assignment.get(a)!.includes(dst.id)) continue;
        const want = size(a) - gap / 2;
        let lo = 0;
        let hi = light.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (size(light[mid]!) < want) lo = mid + 1;
          else hi = mid;
        }
        for (const step of [-1, 1]) {
          for (let j = step < 0 ? lo - 1 : lo; j >= 0 && j < light.length; j += step) {
            const b = light[j]!;
            const miss = Math.abs(size(b) - want);
            if (miss >= gap / 2 || (best !== undefined && miss >= best.miss)) break;
            if (!rackSafe(b, dst.id, src.id)) continue;
            if (rackSafe(a, src.id, dst.id)) best = { a, b, miss };
            break;
          }
        }
      }
      if (!best) continue;
      const ra = assignment.get(best.a)!;
      change(best.a, ra, ra.indexOf(src.id), dst.id);
      const rb = assignment.get(best.b)!;
      change(best.b, rb, rb.indexOf(dst.id), src.id);
      return true;
    }
    return false;
  };

  // Pass 2: replica counts, the smallest partitions first (fewest bytes moved), unless bytes are
  // out of balance too: then the one that leaves the pair's bytes closest to the mean.
  for (let i = 0; i < budget && figures().replicas > tolerance.replicas; i++) {
    const moved = moveOne(
      (a, b) => load.get(b)!.replicas - load.get(a)!.replicas || load.get(b)!.bytes - load.get(a)!.bytes || a - b,
      (src, dst) => src.replicas - dst.replicas >= 2,
      (src, dst) => {
        const meanBytes = mean((l) => l.bytes);
        const bytesOff = figures().bytes > tolerance.bytes;
        return (k) => {
          const size = sizes.get(k) ?? 0;
          return bytesOff ? Math.abs(src.bytes - size - meanBytes) + Math.abs(dst.bytes + size - meanBytes) : size;
        };
      },
      false,
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
        (src, dst) => {
          const gap = src.bytes - dst.bytes;
          return (k) => {
            const size = sizes.get(k) ?? 0;
            return size > 0 && size < gap ? Math.abs(size - gap / 2) : undefined;
          };
        },
        true,
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
        const k = [...held.get(src.id)!].find((k) => assignment.get(k)![0] === src.id && assignment.get(k)!.includes(dst.id));
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
