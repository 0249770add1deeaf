// Which brokers of a rolling restart may restart now, decided from what the cluster is (pods on
// the old template, readiness, what each broker says of its partitions), never from memory: the
// pods' revisions are the roll's state, so an operator restarted mid-roll carries on where it was.
//
// The rules, KafkaRoller-like:
// - a failing broker on the old template (a bad image, a crash loop: it serves nothing) restarts
//   first, whatever the others say; unless a broker on the new template fails too, then the roll
//   stops (the new template itself is broken, and nobody more gets it);
// - otherwise only while every broker is ready and every broker on the new template is caught up
//   (GET /v1/caught-up 200: the previous restart is over, its partitions are back in their ISRs);
// - a broker restarts only while its GET /v1/shutdown-safety says safe: a 409 (it would take a
//   partition below min.insync.replicas or offline) makes it wait, and a 503 or no answer (it
//   cannot tell) from any broker to restart holds the whole roll (that broker is not well). A
//   partition whose replication factor is at most its min.insync.replicas is never safe to stop
//   and waiting cannot change that, so it does not hold the roll (as in Kafka's tools);
// - the controller last: it restarts only when it is the only broker left to restart;
// - parallelism (spec.rollingUpdate): 'none' restarts one broker at a time; 'disjoint' restarts
//   together brokers that share no partition; 'rack' the brokers of one rack, again only ones
//   that share no partition. Each is still checked on its own, and at most maxParallel go.
// Among brokers that may go, the highest ordinal first (the StatefulSet's own order).

export type Parallelism = 'none' | 'disjoint' | 'rack';

export interface RollingUpdate {
  maxParallel?: number;
  parallelism?: Parallelism;
}

export interface RollBroker {
  id: number;
  /** Its pod runs an old template. */
  outdated: boolean;
  ready: boolean;
  /** Failing (ImagePullFailed, CrashLoopBackOff, ...): not serving anything. */
  failing: boolean;
}

/** A partition that stopping a broker would take below min.insync.replicas or offline (its /v1/shutdown-safety). */
export interface SafetyBlocker {
  topic: string;
  partition: number;
  reason: 'would-go-offline' | 'would-go-under-min-isr';
  minInsyncReplicas: number;
}

/** What a broker's /v1/shutdown-safety said. */
export type Safety = { state: 'safe' } | { state: 'unsafe'; blocking: SafetyBlocker[] } | { state: 'unknown'; reason: string };

/** What a broker's /v1/caught-up said: null when caught up, else why not. */
export type CaughtUp = string | null;

export interface RollFacts {
  /** Every broker pod, by id. */
  brokers: RollBroker[];
  /** Brokers the spec asks for: fewer pods means one is still being created. */
  expected: number;
  /** By broker id: asked of the ready brokers on the old template. */
  safety: Map<number, Safety>;
  /** By broker id: asked of the ready brokers on the new template. */
  caughtUp: Map<number, CaughtUp>;
  /** The active controller (DescribeCluster), null when unknown. */
  controllerId: number | null;
  /** Each broker's rack (DescribeCluster). */
  racks: Map<number, string | null>;
  /** Replica set of each partition (Metadata), by "topic-partition"; null when unknown (then nobody restarts but a failing broker). */
  replicas: Map<string, number[]> | null;
  rollingUpdate: RollingUpdate;
}

export interface Restart {
  id: number;
  why: string;
}

export interface RollPlan {
  /** Brokers to restart now (empty while the roll waits or is over). */
  restart: Restart[];
  /** Why no (further) broker restarts now; null when the roll goes on or is over. */
  waiting: string | null;
  /** Brokers on the new template, and those still to restart. */
  done: number[];
  left: number[];
}

const partitionName = (b: { topic: string; partition: number }) => `${b.topic}-${b.partition}`;

/** The blockers that waiting can lift: partitions whose replication factor exceeds their min.insync.replicas. */
export function liftableBlockers(blocking: SafetyBlocker[], replicas: Map<string, number[]> | null): SafetyBlocker[] {
  return blocking.filter((b) => {
    const rf = replicas?.get(partitionName(b))?.length;
    return rf === undefined || rf > b.minInsyncReplicas;
  });
}

/** Why broker `id` may not stop now, null when it may. */
export function unsafeBecause(id: number, safety: Safety | undefined, replicas: Map<string, number[]> | null): string | null {
  if (!safety) return `broker ${id} was not asked whether it may stop`;
  if (safety.state === 'safe') return null;
  if (safety.state === 'unknown') return `broker ${id} cannot tell whether it may stop: ${safety.reason}`;
  const blocking = liftableBlockers(safety.blocking, replicas);
  if (blocking.length === 0) return null;
  const described = blocking.map((b) => `${partitionName(b)} ${b.reason === 'would-go-offline' ? 'offline' : `below min.insync.replicas (${b.minInsyncReplicas})`}`);
  return `broker ${id} would take ${described.join(', ')}`;
}

/** Every partition each broker holds a replica of. */
function partitionsOf(replicas: Map<string, number[]>): Map<number, Set<string>> {
  const out = new Map<number, Set<string>>();
  for (const [name, ids] of replicas) {
    for (const id of ids) {
      if (!out.has(id)) out.set(id, new Set());
      out.get(id)!.add(name);
    }
  }
  return out;
}

export function planRoll(facts: RollFacts): RollPlan {
  const byId = [...facts.brokers].sort((a, b) => a.id - b.id);
  const done = byId.filter((b) => !b.outdated).map((b) => b.id);
  const outdated = byId.filter((b) => b.outdated);
  const left = outdated.map((b) => b.id);
  const plan = (restart: Restart[], waiting: string | null): RollPlan => ({ restart, waiting, done, left });
  if (outdated.length === 0) return plan([], null);

  const failingOnNew = byId.filter((b) => !b.outdated && b.failing);
  if (failingOnNew.length > 0) return plan([], `broker ${failingOnNew.map((b) => b.id).join(', ')} fails on the new template; the roll stops until the spec is fixed`);
  const failingOnOld = outdated.filter((b) => b.failing);
  if (failingOnOld.length > 0) return plan([{ id: failingOnOld.at(-1)!.id, why: 'that is failing, to apply the new pod template' }], null);

  if (byId.length < facts.expected) return plan([], `${facts.expected - byId.length} broker pod(s) are still being created`);
  const notReady = byId.filter((b) => !b.ready);
  if (notReady.length > 0) return plan([], `broker ${notReady.map((b) => b.id).join(', ')} not ready yet`);
  for (const b of byId) {
    if (b.outdated) continue;
    const lagging = facts.caughtUp.has(b.id) ? facts.caughtUp.get(b.id)! : 'not asked yet';
    if (lagging !== null) return plan([], `broker ${b.id} is not caught up: ${lagging}`);
  }
  // A broker that cannot tell whether it may stop is not well (stopped, loading, cut off): while
  // it is not, its partitions may already miss it without the others' answers showing it yet.
  for (const b of outdated) {
    const safety = facts.safety.get(b.id);
    if (safety?.state === 'unknown') return plan([], `broker ${b.id} cannot tell whether it may stop: ${safety.reason}`);
  }
  // Without them the controller cannot be kept for last, nor an unavoidable blocker told apart.
  if (facts.replicas === null) return plan([], 'no broker told the controller and the partitions (DescribeCluster, Metadata)');

  // Highest ordinal first; the controller only once it is the last one left.
  const candidates = outdated.filter((b) => b.id !== facts.controllerId || outdated.length === 1).reverse();
  const safe: RollBroker[] = [];
  let firstRefusal: string | null = null;
  for (const b of candidates) {
    const refusal = unsafeBecause(b.id, facts.safety.get(b.id), facts.replicas);
    if (refusal === null) safe.push(b);
    else firstRefusal ??= refusal;
  }
  if (safe.length === 0) {
    const controllerWaits = outdated.length > 1 && outdated.some((b) => b.id === facts.controllerId);
    return plan([], (firstRefusal ?? 'no broker may stop now') + (controllerWaits ? ` (broker ${facts.controllerId}, the controller, goes last)` : ''));
  }
  const group = restartTogether(safe, facts);
  return plan(group.map((b) => ({ id: b.id, why: b.id === facts.controllerId ? 'last, being the controller, to apply the new pod template' : 'to apply the new pod template' })), null);
}

/** From the brokers safe to stop (in order), those to restart together: the first, and whoever parallelism lets join it. */
function restartTogether(safe: RollBroker[], facts: RollFacts): RollBroker[] {
  const parallelism = facts.rollingUpdate.parallelism ?? 'none';
  const max = facts.rollingUpdate.maxParallel ?? Number.POSITIVE_INFINITY;
  const first = safe[0]!;
  if (parallelism === 'none' || first.id === facts.controllerId) return [first];
  const held = partitionsOf(facts.replicas!);
  const group = [first];
  const taken = new Set(held.get(first.id) ?? []);
  for (const b of safe.slice(1)) {
    if (group.length >= max) break;
    if (b.id === facts.controllerId) continue;
    if (parallelism === 'rack' && (facts.racks.get(b.id) ?? null) !== (facts.racks.get(first.id) ?? null)) continue;
    const mine = held.get(b.id) ?? new Set<string>();
    if ([...mine].some((p) => taken.has(p))) continue;
    group.push(b);
    for (const p of mine) taken.add(p);
  }
  return group;
}
