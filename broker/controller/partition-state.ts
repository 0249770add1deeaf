// The state of one partition as the cluster agrees on it (key `partitions/<topic>/<n>` in the
// MetadataStore), and the pure transitions the controller and the leaders make on it. Every
// change bumps `partitionEpoch`; a change of leader bumps `leaderEpoch`. Writers store a new
// state only by compare-and-set against the version they read, so of two concurrent changes one
// fails and is recomputed from the state that won.

export interface PartitionState {
  /** The assignment, in preference order: the first replica is the preferred leader. */
  replicas: number[];
  /** The broker that takes writes; -1 when the partition is offline. */
  leader: number;
  leaderEpoch: number;
  /** In-sync replicas, the leader among them. Never empty: a partition that lost every member keeps its last one. */
  isr: number[];
  partitionEpoch: number;
  /** Epoch of the controller whose decision this state carries (a leader's ISR change keeps it). */
  controllerEpoch: number;
  /** Replicas being added / removed by a reassignment (KIP-455): `replicas` is their union with the target. */
  adding: number[];
  removing: number[];
}

/** Which brokers may lead or stay in an ISR: registered and not shutting down. */
export interface Liveness {
  /** Registered brokers (a broker whose registration expired is fenced). */
  alive: ReadonlySet<number>;
  /** Registered brokers that are in controlled shutdown: they keep replicating but lead nothing. */
  shuttingDown: ReadonlySet<number>;
}

const canLead = (id: number, live: Liveness) => live.alive.has(id) && !live.shuttingDown.has(id);

/** The state of a new partition: every live replica in sync, the first of them leading. */
export function initialState(replicas: number[], live: Liveness, controllerEpoch: number): PartitionState {
  const isr = replicas.filter((id) => live.alive.has(id));
  const leader = replicas.find((id) => canLead(id, live)) ?? -1;
  return {
    replicas: [...replicas],
    leader,
    leaderEpoch: 0,
    // With no live replica the partition starts offline with all of them in the ISR: the first to come back leads.
    isr: isr.length > 0 ? isr : [...replicas],
    partitionEpoch: 0,
    controllerEpoch,
    adding: [],
    removing: [],
  };
}

function changed(state: PartitionState, next: Partial<PartitionState>, controllerEpoch: number): PartitionState {
  const leaderChanged = next.leader !== undefined && next.leader !== state.leader;
  return {
    ...state,
    ...next,
    leaderEpoch: leaderChanged ? state.leaderEpoch + 1 : state.leaderEpoch,
    partitionEpoch: state.partitionEpoch + 1,
    controllerEpoch,
  };
}

const sameMembers = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((id) => b.includes(id));

/**
 * What the controller makes of a partition given which brokers are live: fenced and
 * shutting-down brokers leave the ISR (the last member stays, so no other replica can be elected
 * with less data), and a leader that cannot lead is replaced by the first replica in assignment
 * order that is in the ISR and can lead. With none, the partition goes offline (leader -1) unless
 * `unclean` allows electing a live replica outside the ISR, which may lose records.
 * Returns null when nothing changes.
 */
export function reconcileLeadership(state: PartitionState, live: Liveness, controllerEpoch: number, unclean: boolean): PartitionState | null {
  const inSync = state.isr.filter((id) => canLead(id, live));
  // An ISR with no live member stays as it was (the partition is offline): whichever of them comes back first has every committed record.
  let isr = inSync.length > 0 ? inSync : state.isr;
  let leader = state.leader;
  if (!canLead(leader, live) || !isr.includes(leader)) {
    leader = state.replicas.find((id) => inSync.includes(id)) ?? -1;
    if (leader === -1 && unclean) {
      leader = state.replicas.find((id) => canLead(id, live)) ?? -1;
      if (leader !== -1) isr = [leader];
    }
  }
  if (leader === state.leader && sameMembers(isr, state.isr)) return null;
  return changed(state, { leader, isr }, controllerEpoch);
}

/**
 * Preferred-leader election: the first replica leads again when it can and is in sync. Returns
 * the new state, or a reason the election cannot or need not happen.
 */
export function electPreferred(state: PartitionState, live: Liveness, controllerEpoch: number): PartitionState | 'already-preferred' | 'preferred-not-available' {
  const preferred = state.replicas[0]!;
  if (state.leader === preferred) return 'already-preferred';
  if (!canLead(preferred, live) || !state.isr.includes(preferred)) return 'preferred-not-available';
  return changed(state, { leader: preferred }, controllerEpoch);
}

/** A leader's ISR change (shrink or expand), made against the state it leads in. */
export function withIsr(state: PartitionState, isr: number[]): PartitionState {
  return changed(state, { isr }, state.controllerEpoch);
}

/** The high watermark: what every ISR member has. `leos` holds the followers' log end offsets. */
export function highWatermark(state: PartitionState, leaderLeo: number, leos: ReadonlyMap<number, number>): number {
  let hw = leaderLeo;
  for (const id of state.isr) {
    if (id === state.leader) continue;
    const leo = leos.get(id) ?? -1;
    if (leo < hw) hw = leo;
  }
  return hw;
}

export function parsePartitionState(json: string): PartitionState {
  const s = JSON.parse(json) as Partial<PartitionState>;
  return {
    replicas: s.replicas ?? [],
    leader: s.leader ?? -1,
    leaderEpoch: s.leaderEpoch ?? 0,
    isr: s.isr ?? [],
    partitionEpoch: s.partitionEpoch ?? 0,
    controllerEpoch: s.controllerEpoch ?? 0,
    adding: s.adding ?? [],
    removing: s.removing ?? [],
  };
}

/**
 * Unclean election (ElectLeaders UNCLEAN): a partition with no leader gets one from its ISR if a
 * member can lead, else from any live replica, which then is the whole ISR (records it lacks are lost).
 */
export function electUnclean(state: PartitionState, live: Liveness, controllerEpoch: number): PartitionState | 'election-not-needed' | 'no-live-replica' {
  if (state.leader !== -1 && canLead(state.leader, live)) return 'election-not-needed';
  const inSync = state.replicas.find((id) => state.isr.includes(id) && canLead(id, live));
  if (inSync !== undefined) return changed(state, { leader: inSync, isr: state.isr.filter((id) => canLead(id, live)) }, controllerEpoch);
  const any = state.replicas.find((id) => canLead(id, live));
  if (any === undefined) return 'no-live-replica';
  return changed(state, { leader: any, isr: [any] }, controllerEpoch);
}
