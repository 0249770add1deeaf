// One group of the consumer protocol (KIP-848): its epochs, members and target assignment, and
// how a member moves towards its target (Kafka's member states). Pure bookkeeping; the
// coordinator (consumer-coordinator.ts) drives it and owns the timers and the records.
import type { Assignment } from './assignors.js';
import type { CurrentAssignment, MemberMetadata, MemberState } from './consumer-group-records.js';

export interface ConsumerMember extends MemberMetadata, CurrentAssignment {
  memberId: string;
  sessionTimer: NodeJS.Timeout | null;
  /** Runs while the member has partitions to revoke: past the rebalance timeout it is fenced. */
  revocationTimer: NodeJS.Timeout | null;
  /** Runs while a classic member told to rejoin has not: past its rebalance timeout it is removed. */
  joinTimer: NodeJS.Timeout | null;
}

/** The metadata of a member nothing is known of yet (a replayed record fills it in). */
export function emptyMetadata(): MemberMetadata {
  return { instanceId: null, rackId: null, clientId: '', clientHost: '', subscribedTopicNames: [], subscribedTopicRegex: null, rebalanceTimeoutMs: -1, serverAssignor: null, classic: null };
}

/** A member as it enters a group: epoch 0 and no partitions unless `current` says otherwise, no timer running. */
export function newMember(memberId: string, metadata: MemberMetadata, current: Partial<CurrentAssignment> = {}): ConsumerMember {
  return { memberId, ...metadata, memberEpoch: 0, previousMemberEpoch: 0, state: 'STABLE', assigned: new Map(), pendingRevocation: new Map(), ...current, sessionTimer: null, revocationTimer: null, joinTimer: null };
}

/** The epoch of a static member that left for now (KIP-848): it keeps its place until its session ends. */
export const STATIC_LEAVE_EPOCH = -2;
export const LEAVE_EPOCH = -1;

export type ConsumerGroupState = 'Empty' | 'Assigning' | 'Reconciling' | 'Stable';

export class ConsumerGroup {
  groupEpoch = 0;
  assignmentEpoch = 0;
  readonly members = new Map<string, ConsumerMember>();
  /** group.instance.id -> member id */
  readonly staticMembers = new Map<string, string>();
  readonly targetAssignment = new Map<string, Assignment>();
  /** The subscribed topics' ids and partition counts the target was computed for; a change bumps the group epoch. */
  topicsSignature = '';

  constructor(readonly id: string) {}

  get state(): ConsumerGroupState {
    if (this.members.size === 0) return 'Empty';
    if (this.groupEpoch > this.assignmentEpoch) return 'Assigning';
    for (const m of this.members.values()) if (m.memberEpoch !== this.assignmentEpoch || m.state !== 'STABLE') return 'Reconciling';
    return 'Stable';
  }

  add(member: ConsumerMember): void {
    this.members.set(member.memberId, member);
    if (member.instanceId !== null) this.staticMembers.set(member.instanceId, member.memberId);
  }

  remove(memberId: string): ConsumerMember | undefined {
    const member = this.members.get(memberId);
    if (!member) return undefined;
    if (member.sessionTimer) clearTimeout(member.sessionTimer);
    if (member.revocationTimer) clearTimeout(member.revocationTimer);
    if (member.joinTimer) clearTimeout(member.joinTimer);
    this.members.delete(memberId);
    this.targetAssignment.delete(memberId);
    if (member.instanceId !== null && this.staticMembers.get(member.instanceId) === memberId) this.staticMembers.delete(member.instanceId);
    return member;
  }

  /** Whether a partition of the member's target is still held by another member. */
  waitingOnUnreleased(member: ConsumerMember): boolean {
    for (const [topicId, partitions] of this.targetAssignment.get(member.memberId) ?? []) {
      for (const p of partitions) if (!member.assigned.get(topicId)?.includes(p) && this.ownedByOther(member.memberId, topicId, p)) return true;
    }
    return false;
  }

  /** Whether a member other than `memberId` still has the partition (assigned, or not yet revoked). */
  ownedByOther(memberId: string, topicId: string, partition: number): boolean {
    for (const m of this.members.values()) {
      if (m.memberId === memberId) continue;
      if (m.assigned.get(topicId)?.includes(partition) || m.pendingRevocation.get(topicId)?.includes(partition)) return true;
    }
    return false;
  }
}

/** Partitions the member reports owning, by topic id (null: unchanged since its last heartbeat). */
export type OwnedPartitions = Array<{ topicId: string; partitions: number[] }> | null;

/**
 * The member's next assignment towards the group's target (Kafka's CurrentAssignmentBuilder):
 * partitions it must give up are revoked first, with its epoch held; once it reports them gone
 * it takes the new epoch and the target's partitions that no other member still has; those it
 * waits for come on later heartbeats.
 */
export function reconcile(group: ConsumerGroup, member: ConsumerMember, owned: OwnedPartitions): CurrentAssignment {
  const current: CurrentAssignment = { memberEpoch: member.memberEpoch, previousMemberEpoch: member.previousMemberEpoch, state: member.state, assigned: member.assigned, pendingRevocation: member.pendingRevocation };
  switch (member.state) {
    case 'STABLE':
      if (member.memberEpoch === group.assignmentEpoch) return current;
      return next(group, member);
    case 'UNREVOKED_PARTITIONS':
      if (owned !== null && !owned.some((o) => o.partitions.some((p) => member.pendingRevocation.get(o.topicId)?.includes(p)))) return next(group, member);
      return current;
    case 'UNRELEASED_PARTITIONS':
      return next(group, member);
  }
}

function next(group: ConsumerGroup, member: ConsumerMember): CurrentAssignment {
  const target = group.targetAssignment.get(member.memberId) ?? new Map<string, number[]>();
  const kept: Assignment = new Map();
  const revoking: Assignment = new Map();
  const gained: Assignment = new Map();
  let unreleased = false;
  for (const topicId of new Set([...member.assigned.keys(), ...target.keys()])) {
    const has = member.assigned.get(topicId) ?? [];
    const wants = target.get(topicId) ?? [];
    const keep = has.filter((p) => wants.includes(p));
    const revoke = has.filter((p) => !wants.includes(p));
    const free = wants.filter((p) => !has.includes(p) && !group.ownedByOther(member.memberId, topicId, p));
    if (wants.some((p) => !has.includes(p) && !free.includes(p))) unreleased = true;
    if (keep.length > 0) kept.set(topicId, keep);
    if (revoke.length > 0) revoking.set(topicId, revoke);
    if (keep.length + free.length > 0) gained.set(topicId, [...keep, ...free].sort((a, b) => a - b));
  }
  if (revoking.size > 0) {
    // Revocation before reassignment: the epoch stays until the member has let go.
    return { memberEpoch: member.memberEpoch, previousMemberEpoch: member.previousMemberEpoch, state: 'UNREVOKED_PARTITIONS', assigned: kept, pendingRevocation: revoking };
  }
  const state: MemberState = unreleased ? 'UNRELEASED_PARTITIONS' : 'STABLE';
  const epochChanges = member.memberEpoch !== group.assignmentEpoch;
  return {
    memberEpoch: group.assignmentEpoch,
    previousMemberEpoch: epochChanges ? member.memberEpoch : member.previousMemberEpoch,
    state,
    assigned: gained,
    pendingRevocation: new Map(),
  };
}

export function sameAssignment(a: Assignment, b: Assignment): boolean {
  if (a.size !== b.size) return false;
  for (const [topicId, list] of a) {
    const other = b.get(topicId);
    if (!other || other.length !== list.length || list.some((p, i) => other[i] !== p)) return false;
  }
  return true;
}
