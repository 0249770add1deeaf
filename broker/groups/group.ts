// One consumer group of the classic protocol: its members, state, generation and chosen
// protocol. Pure bookkeeping; the coordinator drives the transitions and owns the timers.
import type { StoredGroup, StoredMember } from './offsets-records.js';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export interface JoinResult {
  errorCode: number;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leader: string;
  memberId: string;
  members: Array<{ memberId: string; groupInstanceId: string | null; metadata: Buffer }>;
}

export interface SyncResult {
  errorCode: number;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Buffer;
}

/** A live member: what __consumer_offsets keeps of it, its protocols, and what it waits on. */
export interface Member extends Omit<StoredMember, 'subscription'> {
  protocols: Array<{ name: string; metadata: Buffer }>;
  /** A JoinGroup waiting for the rebalance to complete. */
  awaitingJoin: ((result: JoinResult) => void) | null;
  /** A SyncGroup waiting for the leader's assignment. */
  awaitingSync: ((result: SyncResult) => void) | null;
  sessionTimer: NodeJS.Timeout | null;
}

const EMPTY = Buffer.alloc(0);

export const joinError = (errorCode: number, memberId = ''): JoinResult => ({
  errorCode,
  generationId: -1,
  protocolType: null,
  protocolName: null,
  leader: '',
  memberId,
  members: [],
});

export const syncError = (errorCode: number): SyncResult => ({ errorCode, protocolType: null, protocolName: null, assignment: EMPTY });

/** The protocol names in every one of the members' lists, in the first list's order. */
export function protocolsInCommon(lists: Array<Array<{ name: string }>>): string[] {
  if (lists.length === 0) return [];
  return lists[0]!.map((p) => p.name).filter((name) => lists.every((l) => l.some((p) => p.name === name)));
}

export class Group {
  state: GroupState = 'Empty';
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  stateTimestamp = Date.now();
  readonly members = new Map<string, Member>();
  /** Static members: group.instance.id -> member id. */
  readonly staticMembers = new Map<string, string>();
  /** Member ids handed out with MEMBER_ID_REQUIRED, not yet joined. */
  readonly pendingMembers = new Map<string, NodeJS.Timeout>();
  rebalanceTimer: NodeJS.Timeout | null = null;
  /** The first rebalance out of Empty waits group.initial.rebalance.delay.ms for more members. */
  initialDelayPending = false;

  constructor(readonly id: string) {}

  transition(state: GroupState): void {
    this.state = state;
    this.stateTimestamp = Date.now();
  }

  add(member: Member): void {
    this.members.set(member.memberId, member);
    if (member.groupInstanceId !== null) this.staticMembers.set(member.groupInstanceId, member.memberId);
    if (this.leaderId === null) this.leaderId = member.memberId;
  }

  remove(memberId: string): Member | undefined {
    const member = this.members.get(memberId);
    if (!member) return undefined;
    if (member.sessionTimer) clearTimeout(member.sessionTimer);
    this.members.delete(memberId);
    if (member.groupInstanceId !== null && this.staticMembers.get(member.groupInstanceId) === memberId) this.staticMembers.delete(member.groupInstanceId);
    if (this.leaderId === memberId) this.leaderId = this.members.keys().next().value ?? null;
    return member;
  }

  /** Protocols every member supports; a newcomer's list must meet them for it to join. */
  supportsProtocols(protocolType: string, protocols: Array<{ name: string }>): boolean {
    if (this.members.size === 0) return protocols.length > 0;
    if (this.protocolType !== protocolType) return false;
    const names = new Set(protocols.map((p) => p.name));
    return this.commonProtocols().some((p) => names.has(p));
  }

  private commonProtocols(): string[] {
    return protocolsInCommon([...this.members.values()].map((m) => m.protocols));
  }

  /** The protocol most members prefer among those all support (Kafka's vote). */
  selectProtocol(): string {
    const candidates = this.commonProtocols();
    const votes = new Map(candidates.map((c) => [c, 0]));
    for (const m of this.members.values()) {
      const choice = m.protocols.find((p) => votes.has(p.name))!.name;
      votes.set(choice, votes.get(choice)! + 1);
    }
    let best = candidates[0]!;
    for (const c of candidates) if (votes.get(c)! > votes.get(best)!) best = c;
    return best;
  }

  metadataOf(member: Member): Buffer {
    return member.protocols.find((p) => p.name === this.protocolName)?.metadata ?? EMPTY;
  }

  allJoined(): boolean {
    for (const m of this.members.values()) if (!m.awaitingJoin) return false;
    return this.pendingMembers.size === 0;
  }

  maxRebalanceTimeoutMs(): number {
    let max = 0;
    for (const m of this.members.values()) max = Math.max(max, m.rebalanceTimeoutMs);
    return max;
  }

  toStored(): StoredGroup {
    return {
      protocolType: this.protocolType ?? '',
      generationId: this.generationId,
      protocolName: this.protocolName,
      leaderId: this.leaderId,
      stateTimestamp: this.stateTimestamp,
      members: [...this.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        sessionTimeoutMs: m.sessionTimeoutMs,
        subscription: this.metadataOf(m),
        assignment: m.assignment,
      })),
    };
  }
}
