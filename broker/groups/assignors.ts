// The server-side assignors of the consumer group protocol (KIP-848): `uniform` spreads the
// subscribed partitions evenly and keeps each member's partitions where it can (sticky);
// `range` gives each member a contiguous range of every topic it subscribes to.

/** Partitions by topic id, each list sorted. */
export type Assignment = Map<string, number[]>;

export interface AssignorMember {
  memberId: string;
  /** Ids of the topics it subscribes to that exist. */
  topicIds: ReadonlySet<string>;
  /** Its partitions in the previous target assignment (uniform keeps them where it can). */
  previous: Assignment;
}

export interface Assignor {
  readonly name: string;
  /** The target assignment of every member; `partitions` is each subscribed topic's partition count. */
  assign(members: AssignorMember[], partitions: ReadonlyMap<string, number>): Map<string, Assignment>;
}

const tp = (topicId: string, partition: number) => `${topicId}:${partition}`;

function toAssignment(keys: Iterable<{ topicId: string; partition: number }>): Assignment {
  const out: Assignment = new Map();
  for (const { topicId, partition } of keys) out.set(topicId, [...(out.get(topicId) ?? []), partition]);
  for (const list of out.values()) list.sort((a, b) => a - b);
  return out;
}

export const uniformAssignor: Assignor = {
  name: 'uniform',
  assign(members, partitions) {
    const sorted = [...members].sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0));
    const owner = new Map<string, string>();
    const owned = new Map<string, Array<{ topicId: string; partition: number }>>(sorted.map((m) => [m.memberId, []]));
    const byId = new Map(sorted.map((m) => [m.memberId, m]));
    const give = (memberId: string, topicId: string, partition: number) => {
      owner.set(tp(topicId, partition), memberId);
      owned.get(memberId)!.push({ topicId, partition });
    };
    // Sticky: a member keeps what it had, if it still subscribes to it and the partition exists.
    for (const m of sorted) {
      for (const [topicId, list] of m.previous) {
        if (!m.topicIds.has(topicId)) continue;
        for (const p of list) if (p < (partitions.get(topicId) ?? 0) && !owner.has(tp(topicId, p))) give(m.memberId, topicId, p);
      }
    }
    const eligible = (topicId: string) => sorted.filter((m) => m.topicIds.has(topicId));
    const load = (memberId: string) => owned.get(memberId)!.length;
    // Partitions nobody has go to the least loaded member subscribed to their topic.
    for (const topicId of [...partitions.keys()].sort()) {
      const candidates = eligible(topicId);
      if (candidates.length === 0) continue;
      for (let p = 0; p < partitions.get(topicId)!; p++) {
        if (owner.has(tp(topicId, p))) continue;
        const least = candidates.reduce((a, b) => (load(b.memberId) < load(a.memberId) ? b : a));
        give(least.memberId, topicId, p);
      }
    }
    // Balance: move partitions from a member to one subscribed to their topic with two or more
    // fewer, until no such move is left (each move shrinks the sum of squared loads, so it ends).
    for (let moved = true; moved; ) {
      moved = false;
      for (const from of [...sorted].sort((a, b) => load(b.memberId) - load(a.memberId))) {
        const list = owned.get(from.memberId)!;
        for (let i = list.length - 1; i >= 0 && !moved; i--) {
          const { topicId, partition } = list[i]!;
          const to = eligible(topicId).reduce((a, b) => (load(b.memberId) < load(a.memberId) ? b : a));
          if (load(to.memberId) + 1 < list.length) {
            list.splice(i, 1);
            give(to.memberId, topicId, partition);
            moved = true;
          }
        }
        if (moved) break;
      }
    }
    return new Map([...owned].map(([memberId, list]) => [memberId, byId.has(memberId) ? toAssignment(list) : new Map()]));
  },
};

export const rangeAssignor: Assignor = {
  name: 'range',
  assign(members, partitions) {
    const out = new Map<string, Array<{ topicId: string; partition: number }>>(members.map((m) => [m.memberId, []]));
    for (const [topicId, count] of partitions) {
      const subscribers = members.filter((m) => m.topicIds.has(topicId)).map((m) => m.memberId).sort();
      if (subscribers.length === 0) continue;
      // The first (count % members) members get one partition more, as the client-side range assignor.
      const base = Math.floor(count / subscribers.length);
      const extra = count % subscribers.length;
      let next = 0;
      subscribers.forEach((memberId, i) => {
        const n = base + (i < extra ? 1 : 0);
        for (let k = 0; k < n; k++) out.get(memberId)!.push({ topicId, partition: next++ });
      });
    }
    return new Map([...out].map(([memberId, list]) => [memberId, toAssignment(list)]));
  },
};

export const ASSIGNORS: ReadonlyMap<string, Assignor> = new Map([uniformAssignor, rangeAssignor].map((a) => [a.name, a]));
