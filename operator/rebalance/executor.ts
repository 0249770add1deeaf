// Carries out a plan (planner.ts) on a live cluster, as kafka-reassign-partitions does, in steps
// that a reconcile loop can take one per pass: `next` is pure — from the plan and the cluster as
// observed it says what to do now and how far along the plan is — and `ReassignmentExecutor.step`
// observes, calls it and does what it says. Nothing is remembered between steps but the rate
// sample, so a new executor with the same plan continues where another stopped: a partition at
// its target is done, one moving towards it is awaited (not sent again), the rest are sent in
// batches of at most `maxInFlight`. While partitions move, the KIP-73 throttle is set: the rate on
// the brokers involved, and on each moving topic the replicas it applies to (leader side: the
// replicas there now; follower side: the ones being added). When every partition is at its
// target the throttle is removed and the preferred leaders are elected.
import { ErrorCode } from '../../broker/protocol/errors.js';
import { alterPartitionReassignmentsApi, electLeadersApi, incrementalAlterConfigsApi } from '../../broker/protocol/messages/index.js';
import { connectAny, partitionKey, readClusterState, targetReplicas, type Address, type ClusterState, type ObservedPartition } from './cluster-state.js';
import type { Move } from './planner.js';

export interface ExecutorOptions {
  /** At most this many partitions are being reassigned at once. */
  maxInFlight: number;
  /** The replication throttle while moving (bytes/s per broker and side); null for none. */
  throttleBytesPerSecond: number | null;
}

export interface TopicPartitionRef {
  topic: string;
  partition: number;
}

export interface Throttle {
  /** Brokers that get the leader and follower rates. */
  brokers: number[];
  rate: number;
  /** Topic → its throttled replicas ("partition:broker"). */
  topics: { topic: string; leader: string[]; follower: string[] }[];
}

export type Action =
  | { kind: 'throttle'; throttle: Throttle }
  | { kind: 'clear-throttle'; brokers: number[]; topics: string[] }
  | { kind: 'reassign'; partitions: (TopicPartitionRef & { replicas: number[] })[] }
  | { kind: 'cancel'; partitions: TopicPartitionRef[] }
  | { kind: 'elect'; partitions: TopicPartitionRef[] };

export interface RateSample {
  at: number;
  bytesMoved: number;
}

export interface Progress {
  partitionsDone: number;
  partitionsInFlight: number;
  partitionsLeft: number;
  bytesMoved: number;
  bytesLeft: number;
  /** Measured since the executor's first step; null until bytes have moved. */
  bytesPerSecond: number | null;
  etaSeconds: number | null;
  /** Every partition at its target and led by its preferred leader (unless that one is out of sync, so cannot lead). */
  finished: boolean;
}

export interface StepDecision {
  actions: Action[];
  progress: Progress;
  /** Give it to the next call (rates are measured from it). */
  since: RateSample;
}

const sameList = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((id, i) => id === b[i]);
const reassigning = (p: ObservedPartition) => p.adding.length > 0 || p.removing.length > 0;

type Status = 'done' | 'in-flight' | 'pending';

function statusOf(move: Move, observed: ObservedPartition | undefined): Status {
  // A partition that no longer exists (its topic deleted) has nothing left to move.
  if (!observed) return 'done';
  const target = targetReplicas(observed);
  if (!sameList(target, move.to)) return 'pending';
  return reassigning(observed) ? 'in-flight' : 'done';
}

/** Bytes already copied for a move: all of it once done, else what the added replicas hold. */
function copied(move: Move, observed: ObservedPartition | undefined, status: Status): number {
  if (status === 'done') return move.bytes;
  if (status === 'pending' || !observed) return 0;
  const added = move.to.filter((id) => !move.from.includes(id));
  return Math.min(
    move.bytes,
    added.reduce((s, id) => s + (observed.sizes.get(id) ?? 0), 0),
  );
}

function throttleFor(moving: readonly { move: Move; observed: ObservedPartition | undefined }[], rate: number): Throttle {
  const brokers = new Set<number>();
  const topics = new Map<string, { leader: Set<string>; follower: Set<string> }>();
  for (const { move, observed } of moving) {
    const current = observed ? observed.replicas.filter((id) => !observed.adding.includes(id)) : move.from;
    const adding = move.to.filter((id) => !current.includes(id));
    const t = topics.get(move.topic) ?? { leader: new Set(), follower: new Set() };
    topics.set(move.topic, t);
    for (const id of current) t.leader.add(`${move.partition}:${id}`);
    for (const id of adding) t.follower.add(`${move.partition}:${id}`);
    for (const id of [...current, ...move.to]) brokers.add(id);
  }
  const sorted = (s: Set<string>) => [...s].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  return {
    brokers: [...brokers].sort((a, b) => a - b),
    rate,
    topics: [...topics].sort(([a], [b]) => (a < b ? -1 : 1)).map(([topic, t]) => ({ topic, leader: sorted(t.leader), follower: sorted(t.follower) })),
  };
}

/** What to do now to carry `plan` on from the cluster `observed`. */
export function next(plan: readonly Move[], observed: ClusterState, options: ExecutorOptions, since?: RateSample): StepDecision {
  const byKey = new Map(observed.partitions.map((p) => [partitionKey(p.topic, p.partition), p]));
  const entries = plan.map((move) => {
    const o = byKey.get(partitionKey(move.topic, move.partition));
    return { move, observed: o, status: statusOf(move, o) };
  });
  const inFlight = entries.filter((e) => e.status === 'in-flight');
  const room = Math.max(0, options.maxInFlight - inFlight.length);
  const toSend = entries.filter((e) => e.status === 'pending').slice(0, room);
  const done = entries.filter((e) => e.status === 'done');

  const actions: Action[] = [];
  const moving = [...inFlight, ...toSend];
  // The throttle goes first, so that a new replica's catch-up is held to the rate from its first fetch.
  if (moving.length > 0 && options.throttleBytesPerSecond !== null) actions.push({ kind: 'throttle', throttle: throttleFor(moving, options.throttleBytesPerSecond) });
  if (toSend.length > 0) actions.push({ kind: 'reassign', partitions: toSend.map(({ move }) => ({ topic: move.topic, partition: move.partition, replicas: move.to })) });
  // A moved partition led by another than its preferred leader gets an election once that one is in sync.
  const unelected = done.filter(({ move, observed }) => observed && observed.leader !== move.to[0] && observed.isr.includes(move.to[0]!));
  if (unelected.length > 0) actions.push({ kind: 'elect', partitions: unelected.map(({ move }) => ({ topic: move.topic, partition: move.partition })) });
  const allDone = done.length === entries.length;
  if (allDone && options.throttleBytesPerSecond !== null && plan.length > 0) actions.push(throttled(plan));

  const bytesMoved = entries.reduce((s, e) => s + copied(e.move, e.observed, e.status), 0);
  const bytesTotal = plan.reduce((s, m) => s + m.bytes, 0);
  const bytesLeft = Math.max(0, bytesTotal - bytesMoved);
  const start = since ?? { at: observed.at, bytesMoved };
  const elapsed = (observed.at - start.at) / 1000;
  const bytesPerSecond = elapsed > 0 && bytesMoved > start.bytesMoved ? (bytesMoved - start.bytesMoved) / elapsed : null;
  return {
    actions,
    since: start,
    progress: {
      partitionsDone: done.length,
      partitionsInFlight: inFlight.length + toSend.length,
      partitionsLeft: entries.length - done.length - inFlight.length - toSend.length,
      bytesMoved,
      bytesLeft,
      bytesPerSecond,
      etaSeconds: bytesPerSecond ? bytesLeft / bytesPerSecond : bytesLeft === 0 ? 0 : null,
      finished: allDone && unelected.length === 0,
    },
  };
}

/** The brokers and topics a plan's throttle may have been set on. */
function throttled(plan: readonly Move[]): Action & { kind: 'clear-throttle' } {
  const all = throttleFor(
    plan.map((move) => ({ move, observed: undefined })),
    0,
  );
  return { kind: 'clear-throttle', brokers: all.brokers, topics: all.topics.map((t) => t.topic) };
}

/**
 * What to do to stop `plan`: the partitions moving towards its targets go back to the replicas
 * they had (AlterPartitionReassignments with no replicas), those already moved stay, and the
 * throttle is removed. Done when `actions` is empty.
 */
export function cancel(plan: readonly Move[], observed: ClusterState, options: ExecutorOptions): Action[] {
  const byKey = new Map(observed.partitions.map((p) => [partitionKey(p.topic, p.partition), p]));
  const inFlight = plan.filter((move) => statusOf(move, byKey.get(partitionKey(move.topic, move.partition))) === 'in-flight');
  const actions: Action[] = [];
  if (inFlight.length > 0) actions.push({ kind: 'cancel', partitions: inFlight.map(({ topic, partition }) => ({ topic, partition })) });
  if (options.throttleBytesPerSecond !== null && plan.length > 0) actions.push(throttled(plan));
  return actions;
}

const BROKER_RESOURCE = 4;
const TOPIC_RESOURCE = 2;
const SET = 0;
const DELETE = 1;

export interface StepResult {
  progress: Progress;
  /** What was done in this step. */
  actions: Action[];
  /** Partitions or resources the brokers refused, with their reasons (retried next step). */
  errors: string[];
}

/** Carries out one plan through the brokers of `bootstrap`, one `step` at a time. */
export class ReassignmentExecutor {
  private since: RateSample | undefined;
  /** The throttle last set by this executor (a new one sets it again once). */
  private appliedThrottle = '';

  constructor(
    readonly plan: readonly Move[],
    private readonly bootstrap: readonly Address[],
    private readonly options: ExecutorOptions,
  ) {}

  /** Observes the cluster, does what `next` says, and returns the progress. */
  async step(): Promise<StepResult> {
    const observed = await readClusterState(this.bootstrap);
    const decision = next(this.plan, observed, this.options, this.since);
    this.since = decision.since;
    return { progress: decision.progress, actions: decision.actions, errors: await this.apply(decision.actions) };
  }

  /** Stops the plan (see `cancel`); returns the refusals, empty once it has stopped. */
  async cancel(): Promise<string[]> {
    return this.apply(cancel(this.plan, await readClusterState(this.bootstrap), this.options));
  }

  private async apply(actions: readonly Action[]): Promise<string[]> {
    const errors: string[] = [];
    const conn = await connectAny(this.bootstrap);
    try {
      for (const action of actions) {
        if (action.kind === 'throttle') {
          const fingerprint = JSON.stringify(action.throttle);
          if (fingerprint === this.appliedThrottle) continue;
          const rate = String(action.throttle.rate);
          const res = await conn.send(incrementalAlterConfigsApi, 1, {
            validateOnly: false,
            resources: [
              ...action.throttle.brokers.map((id) => ({
                resourceType: BROKER_RESOURCE,
                resourceName: String(id),
                configs: [
                  { name: 'leader.replication.throttled.rate', configOperation: SET, value: rate },
                  { name: 'follower.replication.throttled.rate', configOperation: SET, value: rate },
                ],
              })),
              ...action.throttle.topics.map((t) => ({
                resourceType: TOPIC_RESOURCE,
                resourceName: t.topic,
                configs: [
                  { name: 'leader.replication.throttled.replicas', configOperation: SET, value: t.leader.join(',') },
                  { name: 'follower.replication.throttled.replicas', configOperation: SET, value: t.follower.join(',') },
                ],
              })),
            ],
          });
          const failed = res.responses.filter((r) => r.errorCode !== ErrorCode.NONE).map((r) => `throttle on ${r.resourceName}: ${r.errorMessage ?? `error ${r.errorCode}`}`);
          errors.push(...failed);
          if (failed.length === 0) this.appliedThrottle = fingerprint;
        } else if (action.kind === 'clear-throttle') {
          const res = await conn.send(incrementalAlterConfigsApi, 1, {
            validateOnly: false,
            resources: [
              ...action.brokers.map((id) => ({
                resourceType: BROKER_RESOURCE,
                resourceName: String(id),
                configs: ['leader.replication.throttled.rate', 'follower.replication.throttled.rate'].map((name) => ({ name, configOperation: DELETE, value: null })),
              })),
              ...action.topics.map((topic) => ({
                resourceType: TOPIC_RESOURCE,
                resourceName: topic,
                configs: ['leader.replication.throttled.replicas', 'follower.replication.throttled.replicas'].map((name) => ({ name, configOperation: DELETE, value: null })),
              })),
            ],
          });
          // A broker or topic gone since cannot keep a throttle: only other refusals count.
          errors.push(...res.responses.filter((r) => r.errorCode !== ErrorCode.NONE && r.errorCode !== ErrorCode.UNKNOWN_TOPIC_OR_PARTITION).map((r) => `clearing the throttle on ${r.resourceName}: ${r.errorMessage ?? `error ${r.errorCode}`}`));
          this.appliedThrottle = '';
        } else if (action.kind === 'reassign') {
          const res = await conn.send(alterPartitionReassignmentsApi, 0, { timeoutMs: 30_000, topics: byTopic(action.partitions, (p) => ({ partitionIndex: p.partition, replicas: p.replicas })) });
          if (res.errorCode !== ErrorCode.NONE) errors.push(`AlterPartitionReassignments: ${res.errorMessage ?? `error ${res.errorCode}`}`);
          for (const t of res.responses) for (const p of t.partitions) if (p.errorCode !== ErrorCode.NONE) errors.push(`${t.name}-${p.partitionIndex}: ${p.errorMessage ?? `error ${p.errorCode}`}`);
        } else if (action.kind === 'cancel') {
          const res = await conn.send(alterPartitionReassignmentsApi, 0, { timeoutMs: 30_000, topics: byTopic(action.partitions, (p) => ({ partitionIndex: p.partition, replicas: null })) });
          if (res.errorCode !== ErrorCode.NONE) errors.push(`AlterPartitionReassignments: ${res.errorMessage ?? `error ${res.errorCode}`}`);
          // One that completed meanwhile has nothing to cancel: it stays moved.
          for (const t of res.responses)
            for (const p of t.partitions) if (p.errorCode !== ErrorCode.NONE && p.errorCode !== ErrorCode.NO_REASSIGNMENT_IN_PROGRESS) errors.push(`cancelling ${t.name}-${p.partitionIndex}: ${p.errorMessage ?? `error ${p.errorCode}`}`);
        } else {
          const res = await conn.send(electLeadersApi, 2, { electionType: 0, timeoutMs: 30_000, topicPartitions: byTopic(action.partitions, (p) => p.partition).map(({ name, partitions }) => ({ topic: name, partitions })) });
          for (const t of res.replicaElectionResults)
            for (const p of t.partitionResult) if (p.errorCode !== ErrorCode.NONE && p.errorCode !== ErrorCode.ELECTION_NOT_NEEDED) errors.push(`electing ${t.topic}-${p.partitionId}: ${p.errorMessage ?? `error ${p.errorCode}`}`);
        }
      }
    } finally {
      await conn.close();
    }
    return errors;
  }

  /** Steps every `intervalMs` until the plan is finished (for tools and tests; the operator calls step). */
  async run(intervalMs = 500, onStep?: (result: StepResult) => void): Promise<Progress> {
    for (;;) {
      const result = await this.step();
      onStep?.(result);
      if (result.progress.finished) return result.progress;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}

function byTopic<P extends TopicPartitionRef, T>(partitions: readonly P[], entry: (p: P) => T): { name: string; partitions: T[] }[] {
  const out = new Map<string, T[]>();
  for (const p of partitions) out.set(p.topic, [...(out.get(p.topic) ?? []), entry(p)]);
  return [...out].map(([name, partitions]) => ({ name, partitions }));
}
