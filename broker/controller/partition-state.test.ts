// The partition state machine as a model, in-process and without sockets: three or four brokers
// with logs, the controller's and the leaders' transitions of partition-state.ts, leaders that
// track their followers and move the high watermark as broker/replication/replica-manager.ts
// does, and followers that truncate by leader epoch (the real truncationOffset and leader-epoch
// cache) and fetch as broker/replication/replica-fetcher.ts does. fast-check drives it with
// random sequences of produces, fetches, crashes, pauses, session expiries, restarts, controlled
// shutdowns, ISR changes landing late, metadata reaching brokers late, preferred elections and
// unclean elections switched on and off, and checks after every step what Kafka promises: epochs
// only grow, the leader is in a non-empty ISR, the high watermark only grows and never passes an
// ISR member, and with unclean.leader.election.enable=false nothing committed (in particular no
// acks=all record acknowledged at min.insync.replicas) is ever lost or its offset reused. After
// every fault is healed the replicas converge, unclean elections or not.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { truncationOffset, type FollowerLog } from '../replication/replica-fetcher.js';
import { LeaderEpochCache } from '../storage/leader-epoch-cache.js';
import { electPreferred, electUnclean, highWatermark, initialState, reconcileLeadership, withIsr, type Liveness, type PartitionState } from './partition-state.js';

const CONTROLLER_EPOCH = 1;

const live = (alive: number[], shuttingDown: number[] = []): Liveness => ({ alive: new Set(alive), shuttingDown: new Set(shuttingDown) });

describe('partition state transitions', () => {
  it('starts with every live replica in sync and the first live one leading', () => {
    expect(initialState([2, 0, 1], live([0, 1, 2]), 3)).toMatchObject({ leader: 2, isr: [2, 0, 1], leaderEpoch: 0, partitionEpoch: 0, controllerEpoch: 3 });
    expect(initialState([2, 0, 1], live([0, 1]), 3)).toMatchObject({ leader: 0, isr: [0, 1] });
    expect(initialState([2, 0], live([]), 3)).toMatchObject({ leader: -1, isr: [2, 0] });
  });

  it('replaces a fenced leader by the first in-sync replica and keeps the last ISR member when none is left', () => {
    const s = initialState([0, 1, 2], live([0, 1, 2]), 1);
    const a = reconcileLeadership(s, live([1, 2]), 1, false)!;
    expect(a).toMatchObject({ leader: 1, isr: [1, 2], leaderEpoch: 1, partitionEpoch: 1 });
    const b = reconcileLeadership(a, live([2]), 1, false)!;
    expect(b).toMatchObject({ leader: 2, isr: [2], leaderEpoch: 2, partitionEpoch: 2 });
    const c = reconcileLeadership(b, live([0, 1]), 1, false)!;
    expect(c).toMatchObject({ leader: -1, isr: [2], leaderEpoch: 3, partitionEpoch: 3 });
    expect(reconcileLeadership(c, live([0, 1]), 1, false)).toBeNull();
    // Unclean election takes a live replica outside the ISR, alone in its new ISR.
    expect(reconcileLeadership(c, live([0, 1]), 1, true)).toMatchObject({ leader: 0, isr: [0], leaderEpoch: 4, partitionEpoch: 4 });
    // The last member coming back leads again.
    expect(reconcileLeadership(c, live([2]), 1, false)).toMatchObject({ leader: 2, isr: [2], leaderEpoch: 4 });
  });

  it('moves leadership off a broker in controlled shutdown and takes it out of the ISR', () => {
    const s = initialState([0, 1, 2], live([0, 1, 2]), 1);
    expect(reconcileLeadership(s, live([0, 1, 2], [0]), 1, false)).toMatchObject({ leader: 1, isr: [1, 2], leaderEpoch: 1 });
    expect(reconcileLeadership(s, live([0, 1, 2], [1]), 1, false)).toMatchObject({ leader: 0, isr: [0, 2], leaderEpoch: 0, partitionEpoch: 1 });
  });

  it('elects the preferred replica only when it is live and in sync', () => {
    const s = reconcileLeadership(initialState([0, 1, 2], live([0, 1, 2]), 1), live([1, 2]), 1, false)!;
    expect(electPreferred(s, live([1, 2]), 1)).toBe('preferred-not-available');
    const back = withIsr(s, [1, 2, 0]);
    expect(electPreferred(back, live([0, 1, 2], [0]), 1)).toBe('preferred-not-available');
    const elected = electPreferred(back, live([0, 1, 2]), 1);
    expect(elected).toMatchObject({ leader: 0, isr: [1, 2, 0], leaderEpoch: 2, partitionEpoch: 3 });
    expect(electPreferred(elected as PartitionState, live([0, 1, 2]), 1)).toBe('already-preferred');
  });

  it('computes the high watermark over the ISR only', () => {
    const s = withIsr(initialState([0, 1, 2], live([0, 1, 2]), 1), [0, 1]);
    expect(highWatermark(s, 10, new Map([[1, 7], [2, 3]]))).toBe(7);
    expect(highWatermark(s, 5, new Map([[1, 7]]))).toBe(5);
    expect(highWatermark(s, 5, new Map())).toBe(-1);
  });
});

// ---------------------------------------------------------------------------------------------
// The model.

interface Rec {
  offset: number;
  epoch: number;
  id: number;
}

interface ModelBroker {
  id: number;
  process: 'running' | 'paused' | 'down';
  /** Counts restarts: a restarted process starts from its high-watermark checkpoint. */
  incarnation: number;
  log: Rec[];
  hw: number;
  /** The partition state as this broker last learned it (the watch brings changes late). */
  known: PartitionState;
  role: 'leader' | 'follower' | 'offline';
  /** Leader: every append commits at once (the ISR is the leader alone). */
  autoCommit: boolean;
  /** Leader: the followers' log end offsets as their fetch offsets tell (-1 before the first). */
  followerLeo: Map<number, number>;
  epochStartOffset: number;
  /** Leader: an ISR change sent to the store as compare-and-set, not answered yet. */
  isrUpdate: { from: PartitionState; next: PartitionState } | null;
  /** Leader: the follower of the ISR expansion in flight, whom the high watermark waits for too. */
  joining: number | null;
  /** Leader: acks=all produces waiting for the high watermark to pass them. */
  waiters: { end: number; id: number }[];
  /** Follower: has not asked the leader where its epoch ends since it learned this leader epoch. */
  needsTruncation: boolean;
}

interface Model {
  brokers: ModelBroker[];
  replicas: number[];
  /** What the metadata store holds. */
  store: PartitionState;
  /** Brokers whose session is live. */
  registered: Set<number>;
  shuttingDown: Set<number>;
  unclean: boolean;
  minInsync: number;
  nextId: number;
  /** offset -> record id of every record a leader's high watermark passed. */
  committed: Map<number, number>;
  /** record id -> offset of every acks=all produce acknowledged without error. */
  acked: Map<number, number>;
  uncleanElections: number;
  /** Whether a lost record fails the run, or is only counted (to check the other promises past it). */
  durability: 'enforce' | 'count';
  losses: number;
  /** Records followers cut from diverged tails. */
  truncated: number;
  trace: string[];
}

/** A broken promise: the property fails with it. */
class Violation extends Error {
  constructor(
    readonly kind: 'structure' | 'durability',
    message: string,
  ) {
    super(message);
  }
}

function violation(m: Model, kind: 'structure' | 'durability', message: string): never {
  throw new Violation(kind, `${message}\n  store: ${JSON.stringify(m.store)}\n  trace:\n    ${m.trace.join('\n    ')}`);
}

/** Committed data lost or overwritten. */
function lost(m: Model, message: string): void {
  if (m.durability === 'enforce') violation(m, 'durability', message);
  m.losses++;
}

const leo = (b: ModelBroker) => b.log.length;
const latestEpoch = (log: readonly Rec[]) => (log.length > 0 ? log[log.length - 1]!.epoch : -1);

/** The log's leader-epoch cache (the real one; held in memory only: nothing here saves it). */
function epochCache(log: readonly Rec[]): LeaderEpochCache {
  const entries = log.filter((r, i) => i === 0 || log[i - 1]!.epoch !== r.epoch).map((r) => ({ epoch: r.epoch, startOffset: r.offset }));
  return new LeaderEpochCache('', entries);
}

const endOffsetForEpoch = (log: readonly Rec[], epoch: number) => epochCache(log).endOffsetFor(epoch, log.length);

function followerLog(b: ModelBroker): FollowerLog {
  return { logStartOffset: 0, logEndOffset: leo(b), highWatermark: b.hw, latestEpoch: latestEpoch(b.log), endOffsetForEpoch: (epoch) => endOffsetForEpoch(b.log, epoch) };
}

function liveness(m: Model): Liveness {
  return { alive: m.registered, shuttingDown: new Set([...m.shuttingDown].filter((id) => m.registered.has(id))) };
}

function newModel(brokerCount: number, minInsync: number, durability: Model['durability']): Model {
  const replicas = Array.from({ length: brokerCount }, (_, i) => i);
  const registered = new Set(replicas);
  const store = initialState(replicas, { alive: registered, shuttingDown: new Set() }, CONTROLLER_EPOCH);
  const m: Model = {
    brokers: [],
    replicas,
    store,
    registered,
    shuttingDown: new Set(),
    unclean: false,
    minInsync,
    nextId: 1,
    committed: new Map(),
    acked: new Map(),
    uncleanElections: 0,
    durability,
    losses: 0,
    truncated: 0,
    trace: [],
  };
  for (const id of replicas) {
    const b: ModelBroker = {
      id,
      process: 'running',
      incarnation: 0,
      log: [],
      hw: 0,
      known: store,
      role: 'offline',
      autoCommit: false,
      followerLeo: new Map(),
      epochStartOffset: 0,
      isrUpdate: null,
      joining: null,
      waiters: [],
      needsTruncation: false,
    };
    m.brokers.push(b);
    takeUp(m, b, store);
  }
  return m;
}

/** A compare-and-set write that won: the structural promises of every change are checked here. */
function writeStore(m: Model, next: PartitionState): void {
  const prev = m.store;
  if (next.partitionEpoch !== prev.partitionEpoch + 1) violation(m, 'structure', `partition epoch went ${prev.partitionEpoch} -> ${next.partitionEpoch}`);
  if (next.leaderEpoch < prev.leaderEpoch) violation(m, 'structure', `leader epoch went back ${prev.leaderEpoch} -> ${next.leaderEpoch}`);
  if ((next.leader !== prev.leader) !== (next.leaderEpoch > prev.leaderEpoch)) violation(m, 'structure', `leader ${prev.leader} -> ${next.leader} with leader epoch ${prev.leaderEpoch} -> ${next.leaderEpoch}`);
  if (next.isr.length === 0) violation(m, 'structure', 'empty ISR');
  if (new Set(next.isr).size !== next.isr.length || next.isr.some((id) => !next.replicas.includes(id))) violation(m, 'structure', `ISR ${next.isr} is not a set of replicas`);
  if (next.leader !== -1 && !next.isr.includes(next.leader)) violation(m, 'structure', `leader ${next.leader} outside the ISR ${next.isr}`);
  m.store = next;
}

// --- the leader's side, as replica-manager.ts does it ----------------------------------------

/** Moves the high watermark forward (never back, at most to the log end); records what it commits. */
function advanceHw(m: Model, b: ModelBroker, offset: number): void {
  const hw = Math.min(offset, leo(b));
  if (hw <= b.hw) return;
  if (b.role === 'leader') {
    for (let o = b.hw; o < hw; o++) {
      const id = b.log[o]!.id;
      const before = m.committed.get(o);
      if (before !== undefined && before !== id) lost(m, `offset ${o} committed twice: record ${before}, then record ${id} (by broker ${b.id})`);
      m.committed.set(o, id);
    }
  }
  b.hw = hw;
}

function completeWaiters(m: Model, b: ModelBroker): void {
  const remaining: ModelBroker['waiters'] = [];
  for (const w of b.waiters) {
    if (w.end <= b.hw) {
      // commitOutcome: acknowledged only while the ISR holds min.insync.replicas.
      if (b.known.isr.length >= m.minInsync) m.acked.set(w.id, w.end - 1);
    } else remaining.push(w);
  }
  b.waiters = remaining;
}

/** The ISR and the follower joining it: what the high watermark waits for. */
function maximalIsr(b: ModelBroker): number[] {
  return b.joining === null || b.known.isr.includes(b.joining) ? b.known.isr : [...b.known.isr, b.joining];
}

function updateHighWatermark(m: Model, b: ModelBroker): void {
  if (b.role !== 'leader') return;
  if (!b.autoCommit) advanceHw(m, b, highWatermark({ ...b.known, isr: maximalIsr(b) }, leo(b), b.followerLeo));
  completeWaiters(m, b);
}

function leaderStateChanged(m: Model, b: ModelBroker): void {
  for (const id of m.replicas) if (id !== b.id && !b.followerLeo.has(id)) b.followerLeo.set(id, -1);
  const isr = maximalIsr(b);
  b.autoCommit = isr.length === 1 && isr[0] === b.id;
  if (b.autoCommit) advanceHw(m, b, leo(b));
  updateHighWatermark(m, b);
}

function becomeLeader(m: Model, b: ModelBroker): void {
  b.role = 'leader';
  b.epochStartOffset = leo(b);
  b.followerLeo = new Map(m.replicas.filter((id) => id !== b.id).map((id) => [id, -1]));
  leaderStateChanged(m, b);
}

function becomeFollower(b: ModelBroker): void {
  b.waiters = [];
  b.role = 'follower';
  b.autoCommit = false;
  b.needsTruncation = true;
}

/** ReplicaManager.apply: a broker takes up a partition state it learned. */
function takeUp(m: Model, b: ModelBroker, state: PartitionState): void {
  if (state.partitionEpoch <= b.known.partitionEpoch && state.leaderEpoch === b.known.leaderEpoch && b.role !== 'offline') return;
  const previous = b.known;
  const wasRole = b.role;
  b.known = state;
  if (state.leader === b.id) {
    if (wasRole !== 'leader' || previous.leaderEpoch !== state.leaderEpoch) becomeLeader(m, b);
    else leaderStateChanged(m, b);
  } else if (state.leader >= 0) {
    if (wasRole !== 'follower' || previous.leaderEpoch !== state.leaderEpoch || previous.leader !== state.leader) becomeFollower(b);
  } else if (wasRole !== 'offline') {
    b.waiters = [];
    b.role = 'offline';
  }
}

function changeIsr(b: ModelBroker, isr: number[]): void {
  if (b.isrUpdate) return;
  b.isrUpdate = { from: b.known, next: withIsr(b.known, isr) };
}

/** The store answers a leader's ISR change: compare-and-set against the state it was made on. */
function landIsrUpdate(m: Model, b: ModelBroker): void {
  const update = b.isrUpdate;
  if (!update) return;
  b.isrUpdate = null;
  if (m.store.partitionEpoch === update.from.partitionEpoch) {
    writeStore(m, update.next);
    if (b.known === update.from && b.role === 'leader') {
      b.known = update.next;
      leaderStateChanged(m, b);
    }
  }
  if (b.joining === null) return;
  b.joining = null;
  if (b.role === 'leader') leaderStateChanged(m, b);
}

function onFollowerFetch(m: Model, leader: ModelBroker, followerId: number, fetchOffset: number): void {
  if (!leader.followerLeo.has(followerId) || leader.role !== 'leader' || fetchOffset > leo(leader)) return;
  leader.followerLeo.set(followerId, fetchOffset);
  if (!leader.known.isr.includes(followerId)) {
    const l = liveness(m);
    if (l.alive.has(followerId) && !l.shuttingDown.has(followerId) && fetchOffset >= leader.hw && fetchOffset >= leader.epochStartOffset && !leader.isrUpdate) {
      leader.joining = followerId;
      leaderStateChanged(m, leader);
      changeIsr(leader, [...leader.known.isr, followerId]);
    }
  }
  updateHighWatermark(m, leader);
}

// --- the follower's side, as replica-fetcher.ts does it --------------------------------------

function truncateTo(m: Model, b: ModelBroker, offset: number): void {
  if (offset < 0) violation(m, 'structure', `follower ${b.id} told to truncate to ${offset}`);
  if (offset >= leo(b)) return;
  m.truncated += leo(b) - offset;
  b.log = b.log.slice(0, offset);
  b.hw = Math.min(b.hw, offset);
}

/** One round of the follower's fetcher: OffsetForLeaderEpoch first after a new leader epoch, then Fetch. */
function fetchStep(m: Model, f: ModelBroker, maxRecords: number): void {
  if (f.process !== 'running' || f.role !== 'follower') return;
  const leader = m.brokers[f.known.leader]!;
  // The leader answers only while it runs and leads in the follower's epoch (else FENCED / UNKNOWN_LEADER_EPOCH / NOT_LEADER: retry later).
  if (leader.process !== 'running' || leader.role !== 'leader' || leader.known.leaderEpoch !== f.known.leaderEpoch) return;
  if (f.needsTruncation) {
    const asked = latestEpoch(f.log);
    // handleOffsetForLeaderEpoch: the current epoch ends at the log end, later ones are unknown.
    const answer =
      asked > leader.known.leaderEpoch ? { epoch: -1, endOffset: -1 } : asked === leader.known.leaderEpoch ? { epoch: asked, endOffset: leo(leader) } : endOffsetForEpoch(leader.log, asked);
    const target = truncationOffset(followerLog(f), answer.epoch, answer.endOffset);
    truncateTo(m, f, target.offset);
    f.needsTruncation = !target.done;
    return;
  }
  const fetchOffset = leo(f);
  onFollowerFetch(m, leader, f.id, fetchOffset);
  if (fetchOffset > leo(leader)) {
    // OFFSET_OUT_OF_RANGE past the leader's log end (the model's logs all start at 0): cut to its high watermark, or retry.
    if (leader.hw < leo(f)) truncateTo(m, f, leader.hw);
    return;
  }
  for (const r of leader.log.slice(fetchOffset, fetchOffset + maxRecords)) f.log.push({ ...r });
  advanceHw(m, f, Math.min(leader.hw, leo(f)));
}

// --- the controller ---------------------------------------------------------------------------

function runController(m: Model): void {
  const live = liveness(m);
  const next = reconcileLeadership(m.store, live, CONTROLLER_EPOCH, m.unclean);
  if (next) {
    if (next.leader !== -1 && !m.store.isr.includes(next.leader)) m.uncleanElections++;
    writeStore(m, next);
  }
  // Once the controller has run, fenced and shutting-down brokers lead nothing and, unless they are all that is left of it, are out of the ISR.
  const canLead = (id: number) => live.alive.has(id) && !live.shuttingDown.has(id);
  const s = m.store;
  if (s.leader !== -1 && !canLead(s.leader)) violation(m, 'structure', `broker ${s.leader} leads though fenced or shutting down`);
  if (s.isr.some(canLead) && !s.isr.every(canLead)) violation(m, 'structure', `ISR ${s.isr} keeps fenced or shutting-down brokers beside live ones`);
  if (s.leader === -1 && s.isr.some(canLead)) violation(m, 'structure', `no leader though ISR member(s) of ${s.isr} can lead`);
}

// --- commands ---------------------------------------------------------------------------------

type Command =
  | { t: 'produce'; to: number | 'leader'; acks: 'all' | '1' }
  | { t: 'fetch'; b: number; max: number }
  | { t: 'fetchAll'; max: number }
  | { t: 'learn'; b: number }
  | { t: 'learnAll' }
  | { t: 'controller' }
  | { t: 'isrWrite'; b: number }
  | { t: 'shrink'; b: number; drop: number }
  | { t: 'crash'; b: number; isrWriteLands: boolean }
  | { t: 'failover'; b: number; learn: boolean }
  | { t: 'pause'; b: number }
  | { t: 'resume'; b: number }
  | { t: 'expire'; b: number }
  | { t: 'restart'; b: number; keepHw: boolean }
  | { t: 'shutdown'; b: number }
  | { t: 'stop'; b: number }
  | { t: 'preferred' }
  | { t: 'electUnclean' }
  | { t: 'unclean'; on: boolean };

function describeCommand(c: Command): string {
  const { t, ...rest } = c;
  return `${t} ${Object.entries(rest)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ')}`.trim();
}

function apply(m: Model, c: Command): void {
  // Commands name brokers 0..MAX_BROKERS-1; with fewer brokers the number wraps.
  const b = 'b' in c ? m.brokers[c.b % m.brokers.length]! : undefined;
  switch (c.t) {
    case 'produce': {
      // To the leader the store names, or (a client with stale metadata) to any broker that still believes it leads.
      const to = c.to === 'leader' ? m.brokers[m.store.leader] : m.brokers[c.to % m.brokers.length]!;
      if (!to || to.process !== 'running' || to.role !== 'leader') return;
      if (c.acks === 'all' && to.known.isr.length < m.minInsync) return; // NOT_ENOUGH_REPLICAS, nothing appended
      const id = m.nextId++;
      to.log.push({ offset: leo(to), epoch: to.known.leaderEpoch, id });
      if (to.autoCommit) advanceHw(m, to, leo(to));
      if (c.acks === 'all') {
        to.waiters.push({ end: leo(to), id });
        completeWaiters(m, to);
      }
      return;
    }
    case 'fetch':
      return fetchStep(m, b!, c.max);
    case 'fetchAll':
      for (const f of m.brokers) fetchStep(m, f, c.max);
      return;
    case 'learn':
      if (b!.process === 'running') takeUp(m, b!, m.store);
      return;
    case 'learnAll':
      for (const x of m.brokers) if (x.process === 'running') takeUp(m, x, m.store);
      return;
    case 'controller':
      return runController(m);
    case 'isrWrite':
      if (b!.process === 'running') landIsrUpdate(m, b!);
      return;
    case 'shrink': {
      // replica.lag.time.max.ms passed without a follower catching up (time is abstract here: any follower may lag).
      if (b!.process !== 'running' || b!.role !== 'leader' || b!.isrUpdate) return;
      const lagging = b!.known.isr.filter((id) => id !== b!.id && (c.drop & (1 << id)) !== 0);
      if (lagging.length > 0) changeIsr(b!, b!.known.isr.filter((id) => !lagging.includes(id)));
      return;
    }
    case 'crash':
      if (b!.process === 'down') return;
      // SIGKILL: the log stays (the page cache survives a process), everything in memory goes; an ISR change already sent may still land.
      if (c.isrWriteLands) landIsrUpdate(m, b!);
      b!.process = 'down';
      b!.isrUpdate = null;
      b!.joining = null;
      b!.waiters = [];
      return;
    case 'failover':
      // SIGKILL, the session expires, the controller moves leadership, and maybe everyone learns it.
      apply(m, { t: 'crash', b: b!.id, isrWriteLands: false });
      apply(m, { t: 'expire', b: b!.id });
      apply(m, { t: 'controller' });
      if (c.learn) apply(m, { t: 'learnAll' });
      return;
    case 'pause':
      if (b!.process === 'running') b!.process = 'paused';
      return;
    case 'resume':
      if (b!.process !== 'paused') return;
      b!.process = 'running';
      // A fenced broker registers again with a new session as soon as it runs.
      m.registered.add(b!.id);
      m.shuttingDown.delete(b!.id);
      return;
    case 'expire':
      if (b!.process !== 'running') m.registered.delete(b!.id);
      return;
    case 'restart': {
      if (b!.process !== 'down') return;
      // A restarted broker waits for its previous session to expire before it registers.
      m.registered.delete(b!.id);
      b!.process = 'running';
      b!.incarnation++;
      // The high-watermark checkpoint may be older than what the broker had in memory.
      if (!c.keepHw) b!.hw = 0;
      m.registered.add(b!.id);
      m.shuttingDown.delete(b!.id);
      b!.role = 'offline';
      b!.followerLeo = new Map();
      takeUp(m, b!, m.store);
      return;
    }
    case 'shutdown':
      if (b!.process === 'running' && m.registered.has(b!.id)) m.shuttingDown.add(b!.id);
      return;
    case 'stop':
      // The end of a controlled shutdown: the broker deletes its registration as it exits.
      if (b!.process !== 'running' || !m.shuttingDown.has(b!.id)) return;
      b!.process = 'down';
      b!.isrUpdate = null;
      b!.joining = null;
      b!.waiters = [];
      m.registered.delete(b!.id);
      m.shuttingDown.delete(b!.id);
      return;
    case 'preferred': {
      const next = electPreferred(m.store, liveness(m), CONTROLLER_EPOCH);
      if (typeof next !== 'string') writeStore(m, next);
      return;
    }
    case 'electUnclean': {
      // ElectLeaders UNCLEAN, whatever unclean.leader.election.enable says.
      const next = electUnclean(m.store, liveness(m), CONTROLLER_EPOCH);
      if (typeof next === 'string') return;
      if (!m.store.isr.includes(next.leader)) m.uncleanElections++;
      writeStore(m, next);
      return;
    }
    case 'unclean':
      m.unclean = c.on;
      return;
  }
}

/** The current leader: the store names it and it has taken the leadership up in that epoch. */
function currentLeader(m: Model): ModelBroker | undefined {
  if (m.store.leader < 0) return undefined;
  const b = m.brokers[m.store.leader]!;
  return b.role === 'leader' && b.known.leaderEpoch === m.store.leaderEpoch && b.process !== 'down' ? b : undefined;
}

/** The promises that must hold after every step. */
function checkInvariants(m: Model, hwFloors: Map<string, number>): void {
  for (const b of m.brokers) {
    if (b.role !== 'leader' || b.process === 'down') continue;
    // A leader's high watermark never goes back while it leads in one epoch (a restart starts from its checkpoint).
    const key = `${b.id}/${b.incarnation}/${b.known.leaderEpoch}`;
    const floor = hwFloors.get(key) ?? -1;
    if (b.hw < floor) violation(m, 'structure', `leader ${b.id} moved its high watermark back ${floor} -> ${b.hw}`);
    hwFloors.set(key, b.hw);
  }
  const leader = currentLeader(m);
  if (leader) {
    for (const id of m.store.isr) {
      const member = m.brokers[id]!;
      if (leader.hw > leo(member)) lost(m, `high watermark ${leader.hw} of leader ${leader.id} is past the log end ${leo(member)} of ISR member ${id}`);
    }
  }
  // Everything committed is in the log of every ISR member (whichever of them leads next has it) ...
  for (const id of m.store.isr) {
    const log = m.brokers[id]!.log;
    for (const [offset, rid] of m.committed) {
      if (log[offset]?.id !== rid) lost(m, `committed record ${rid} at offset ${offset} is not in the log of ISR member ${id} (has ${log[offset]?.id ?? 'nothing'})`);
    }
  }
  // ... and every acknowledged acks=all record is in the current leader's log at its offset.
  if (leader) {
    for (const [rid, offset] of m.acked) {
      if (leader.log[offset]?.id !== rid) lost(m, `acknowledged record ${rid} at offset ${offset} lost: leader ${leader.id} has ${leader.log[offset]?.id ?? 'nothing'} there`);
    }
  }
}

/**
 * Every fault healed: all brokers run and are registered, the controller, the metadata, the ISR
 * writes and the fetchers get as many turns as they need. The partition must then have a leader,
 * every replica the leader's log, an ISR of all replicas and everything committed.
 */
function heal(m: Model): void {
  for (const b of m.brokers) {
    if (b.process === 'paused') apply(m, { t: 'resume', b: b.id });
    if (m.shuttingDown.has(b.id)) apply(m, { t: 'stop', b: b.id });
    if (b.process === 'down') apply(m, { t: 'restart', b: b.id, keepHw: true });
  }
  for (let round = 0; round < 20; round++) {
    apply(m, { t: 'controller' });
    for (const b of m.brokers) {
      apply(m, { t: 'learn', b: b.id });
      apply(m, { t: 'isrWrite', b: b.id });
      apply(m, { t: 'fetch', b: b.id, max: 1000 });
    }
  }
  const leader = currentLeader(m);
  if (!leader) violation(m, 'structure', 'no leader after every broker came back');
  for (const b of m.brokers) {
    const same = b.log.length === leader.log.length && b.log.every((r, i) => r.id === leader.log[i]!.id && r.epoch === leader.log[i]!.epoch);
    if (!same) violation(m, 'structure', `replica ${b.id} did not converge to leader ${leader.id}'s log: ${JSON.stringify(b.log)} vs ${JSON.stringify(leader.log)}`);
  }
  if (m.store.isr.length !== m.replicas.length) violation(m, 'structure', `ISR ${m.store.isr} did not grow back to every replica`);
  if (leader.hw !== leo(leader)) violation(m, 'structure', `high watermark ${leader.hw} stuck below the log end ${leo(leader)}`);
}

function run(brokerCount: number, minInsync: number, commands: Command[], durability: Model['durability'] = 'enforce'): Model {
  const m = newModel(brokerCount, minInsync, durability);
  const hwFloors = new Map<string, number>();
  for (const c of commands) {
    m.trace.push(describeCommand(c));
    apply(m, c);
    checkInvariants(m, hwFloors);
  }
  m.trace.push('heal');
  heal(m);
  checkInvariants(m, hwFloors);
  return m;
}

const MAX_BROKERS = 4;

function commandArb(withUnclean: boolean): fc.Arbitrary<Command> {
  const broker = fc.integer({ min: 0, max: MAX_BROKERS - 1 });
  const weighted: fc.WeightedArbitrary<Command>[] = [
    { weight: 8, arbitrary: fc.record({ t: fc.constant('produce' as const), to: fc.oneof(fc.constant('leader' as const), broker), acks: fc.constantFrom('all' as const, '1' as const) }) },
    { weight: 6, arbitrary: fc.record({ t: fc.constant('fetch' as const), b: broker, max: fc.integer({ min: 1, max: 3 }) }) },
    { weight: 4, arbitrary: fc.record({ t: fc.constant('fetchAll' as const), max: fc.integer({ min: 1, max: 3 }) }) },
    { weight: 4, arbitrary: fc.record({ t: fc.constant('learn' as const), b: broker }) },
    { weight: 2, arbitrary: fc.constant({ t: 'learnAll' as const }) },
    { weight: 5, arbitrary: fc.constant({ t: 'controller' as const }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('isrWrite' as const), b: broker }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('shrink' as const), b: broker, drop: fc.integer({ min: 1, max: (1 << MAX_BROKERS) - 1 }) }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('crash' as const), b: broker, isrWriteLands: fc.boolean() }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('failover' as const), b: broker, learn: fc.boolean() }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('pause' as const), b: broker }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('resume' as const), b: broker }) },
    { weight: 4, arbitrary: fc.record({ t: fc.constant('expire' as const), b: broker }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('restart' as const), b: broker, keepHw: fc.boolean() }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('shutdown' as const), b: broker }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('stop' as const), b: broker }) },
    { weight: 2, arbitrary: fc.constant({ t: 'preferred' as const }) },
  ];
  if (withUnclean) {
    weighted.push({ weight: 2, arbitrary: fc.record({ t: fc.constant('unclean' as const), on: fc.boolean() }) });
    weighted.push({ weight: 1, arbitrary: fc.constant({ t: 'electUnclean' as const }) });
  }
  return fc.oneof(...weighted);
}

const scenarioArb = (withUnclean: boolean) =>
  fc.record({
    brokers: fc.integer({ min: 3, max: MAX_BROKERS }),
    minInsync: fc.integer({ min: 1, max: 3 }),
    commands: fc.array(commandArb(withUnclean), { minLength: 1, maxLength: 100, size: 'max' }),
  });

type Scenario = { brokers: number; minInsync: number; commands: Command[] };

/** Sequences that broke a promise once: they run before the random ones, every time. */
const knownCases: Scenario[] = [
  {
    // An ISR expansion is in flight when a record arrives: the high watermark must wait for the
    // joining follower too, or it passes the follower's log end before the follower joins.
    brokers: 3,
    minInsync: 2,
    commands: [
      { t: 'shrink', b: 0, drop: 1 << 2 },
      { t: 'isrWrite', b: 0 },
      { t: 'fetchAll', max: 3 },
      { t: 'fetch', b: 2, max: 3 },
      { t: 'produce', to: 'leader', acks: 'all' },
      { t: 'fetch', b: 1, max: 3 },
      { t: 'fetch', b: 1, max: 3 },
      { t: 'isrWrite', b: 0 },
    ],
  },
  {
    // A zombie leader's record reaches a follower that then leads: the other follower holds only
    // later epochs than the new leader's answer and must cut its whole log (not to offset -1).
    brokers: 3,
    minInsync: 1,
    commands: [
      { t: 'shutdown', b: 0 },
      { t: 'controller' },
      { t: 'learn', b: 1 },
      { t: 'produce', to: 1, acks: 'all' },
      { t: 'produce', to: 1, acks: 'all' },
      { t: 'produce', to: 0, acks: 'all' },
      { t: 'fetch', b: 2, max: 1 },
      { t: 'shutdown', b: 1 },
      { t: 'fetch', b: 2, max: 1 },
      { t: 'controller' },
      { t: 'stop', b: 0 },
    ],
  },
  {
    // A new leader's high watermark lags the old one's: a follower at that high watermark but
    // short of the new leader's epoch start must not join the ISR (KAFKA-7128).
    brokers: 4,
    minInsync: 1,
    commands: [
      { t: 'shrink', b: 0, drop: 1 << 2 },
      { t: 'isrWrite', b: 0 },
      { t: 'fetchAll', max: 3 },
      { t: 'produce', to: 'leader', acks: '1' },
      { t: 'produce', to: 'leader', acks: '1' },
      { t: 'fetch', b: 1, max: 3 },
      { t: 'fetch', b: 3, max: 3 },
      { t: 'fetch', b: 1, max: 3 },
      { t: 'fetch', b: 3, max: 3 },
      { t: 'failover', b: 0, learn: true },
      { t: 'fetch', b: 2, max: 1 },
      { t: 'fetch', b: 2, max: 1 },
      { t: 'isrWrite', b: 1 },
    ],
  },
];

/** Sequences with unclean elections after which the replicas once failed to converge. */
const knownUncleanCases: Scenario[] = [
  {
    // The unclean leader's log is empty: it answers an older epoch with its log end (where its own
    // epoch starts), and the follower cuts its log there, not at its own high watermark past it.
    brokers: 3,
    minInsync: 1,
    commands: [
      { t: 'failover', b: 1, learn: false },
      { t: 'crash', b: 0, isrWriteLands: false },
      { t: 'expire', b: 0 },
      { t: 'unclean', on: true },
      { t: 'controller' },
      { t: 'learnAll' },
      { t: 'produce', to: 2, acks: 'all' },
      { t: 'pause', b: 2 },
      { t: 'expire', b: 2 },
      { t: 'restart', b: 0, keepHw: false },
      { t: 'controller' },
      { t: 'crash', b: 0, isrWriteLands: false },
    ],
  },
  {
    // A follower holds only an epoch older than all of the unclean leader's: the leader's answer
    // (that epoch, ending where its first epoch starts) makes it cut everything it holds.
    brokers: 3,
    minInsync: 1,
    commands: [
      { t: 'unclean', on: true },
      { t: 'pause', b: 0 },
      { t: 'expire', b: 0 },
      { t: 'failover', b: 2, learn: true },
      { t: 'produce', to: 'leader', acks: 'all' },
      { t: 'restart', b: 2, keepHw: false },
      { t: 'failover', b: 1, learn: true },
      { t: 'produce', to: 2, acks: 'all' },
      { t: 'produce', to: 0, acks: 'all' },
    ],
  },
  {
    // As the first, with the unclean leader appending before the follower fetches: the follower's
    // offset is then within the leader's log, and only the epoch answer tells it diverged.
    brokers: 4,
    minInsync: 1,
    commands: [
      { t: 'failover', b: 1, learn: false },
      { t: 'produce', to: 'leader', acks: 'all' },
      { t: 'unclean', on: true },
      { t: 'failover', b: 3, learn: false },
      { t: 'fetchAll', max: 1 },
      { t: 'fetchAll', max: 1 },
      { t: 'fetchAll', max: 1 },
      { t: 'restart', b: 3, keepHw: false },
      { t: 'learnAll' },
      { t: 'failover', b: 0, learn: false },
      { t: 'failover', b: 2, learn: false },
      { t: 'learn', b: 3 },
      { t: 'restart', b: 0, keepHw: true },
      { t: 'fetchAll', max: 1 },
      { t: 'produce', to: 'leader', acks: 'all' },
    ],
  },
  {
    // The new leader answers with an epoch the follower never had (1, between the follower's 0
    // and 3): the follower cuts to the end of its epoch 0 and must ask again about that one.
    brokers: 3,
    minInsync: 1,
    commands: [
      { t: 'produce', to: 'leader', acks: 'all' },
      { t: 'shutdown', b: 2 },
      { t: 'failover', b: 0, learn: false },
      { t: 'learnAll' },
      { t: 'produce', to: 1, acks: 'all' },
      { t: 'unclean', on: true },
      { t: 'failover', b: 1, learn: false },
      { t: 'restart', b: 0, keepHw: false },
      { t: 'controller' },
      { t: 'learn', b: 0 },
      { t: 'restart', b: 1, keepHw: false },
      { t: 'produce', to: 0, acks: 'all' },
      { t: 'failover', b: 0, learn: false },
    ],
  },
];

function property(withUnclean: boolean, durability: Model['durability'] = 'enforce') {
  return fc.property(scenarioArb(withUnclean), ({ brokers, minInsync, commands }) => {
    run(brokers, minInsync, commands, durability);
  });
}

describe('partition state machine model (fast-check)', () => {
  it('explores what matters: acknowledged records, failovers and diverged logs', () => {
    const scenarios = fc.sample(scenarioArb(false), { numRuns: 500, seed: 8 });
    let ackedThenFailover = 0;
    let truncating = 0;
    for (const { brokers, minInsync, commands } of scenarios) {
      const m = run(brokers, minInsync, commands);
      if (m.acked.size > 0 && m.store.leaderEpoch >= 2) ackedThenFailover++;
      if (m.truncated > 0) truncating++;
    }
    // Not a timing figure: how many of 500 random runs (a fixed seed) reach the states the durability promises are about.
    expect(ackedThenFailover).toBeGreaterThanOrEqual(20);
    expect(truncating).toBeGreaterThanOrEqual(80);
  });

  it('keeps every promise through random faults with unclean.leader.election.enable=false', () => {
    fc.assert(property(false), { numRuns: 5000, examples: knownCases.map((c) => [c]) });
  });

  it('keeps the structural promises with unclean elections too, and the replicas converge after them', () => {
    fc.assert(property(true, 'count'), { numRuns: 2000, examples: knownUncleanCases.map((c) => [c]) });
  });

  it('finds committed data lost once unclean elections are allowed: the durability properties are not vacuous', () => {
    const result = fc.check(property(true), { numRuns: 3000 });
    expect(result.failed).toBe(true);
    expect((result.errorInstance as Violation).kind).toBe('durability');
    // The shrunk counterexample needs an unclean election to lose anything.
    const [{ commands }] = result.counterexample!;
    expect(commands.some((c) => (c.t === 'unclean' && c.on) || c.t === 'electUnclean')).toBe(true);
  });

  it('loses an acknowledged record in a hand-written unclean election, and keeps it in the clean one', () => {
    const scenario: Command[] = [
      // Broker 2 falls behind and leaves the ISR; 0 and 1 commit record 1 with acks=all.
      { t: 'shrink', b: 0, drop: 1 << 2 },
      { t: 'isrWrite', b: 0 },
      { t: 'learn', b: 1 },
      { t: 'learn', b: 2 },
      { t: 'produce', to: 0, acks: 'all' },
      { t: 'fetch', b: 1, max: 1 },
      { t: 'fetch', b: 1, max: 1 },
      { t: 'fetch', b: 1, max: 1 },
      // 0 and 1 die; 2, out of sync with an empty log, is all that is left.
      { t: 'crash', b: 0, isrWriteLands: false },
      { t: 'crash', b: 1, isrWriteLands: false },
      { t: 'expire', b: 0 },
      { t: 'expire', b: 1 },
      { t: 'controller' },
    ];
    const uncleanRun = () => run(3, 2, [...scenario, { t: 'unclean', on: true }, { t: 'controller' }, { t: 'learn', b: 2 }]);
    expect(uncleanRun).toThrow(/record 1 at offset 0 .*(lost|not in the log of ISR member 2)/);
    const m = run(3, 2, scenario);
    expect(m.acked.get(1)).toBe(0);
    expect(m.uncleanElections).toBe(0);
  });
});
