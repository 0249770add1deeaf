// What this broker does for each partition it holds a replica of, derived from the partition
// states in the cluster view: lead it (take produces, track what each follower has, advance the
// high watermark over the ISR, shrink and expand the ISR), follow it (a fetcher per leader), or
// hold it offline (no leader). It opens the logs of replicas assigned to this broker and deletes
// those that are no longer assigned.
//
// ISR changes are made by the leader as compare-and-set on the partition state it leads in (as
// in Kafka's ZooKeeper era; KRaft leaders ask the controller): a leader that was replaced meanwhile
// fails the write. A new ISR is used only once the store accepted it.
import type { Logger } from 'pino';
import { type BrokerConfig, resolveLogConfig } from '../config.js';
import { highWatermark, withIsr, type PartitionState } from '../controller/partition-state.js';
import type { ConnectionOptions } from 'node:tls';
import type { SaslCredentials } from '../protocol/sasl-client.js';
import { type ClusterView, endpointOf } from '../metadata/cluster-view.js';
import { VersionConflictError } from '../metadata/metadata-store.js';
import type { TopicRecord, TopicRegistry } from '../metadata/topic-registry.js';
import { ErrorCode } from '../protocol/errors.js';
import type { LogManager } from '../storage/log-manager.js';
import type { PartitionLog } from '../storage/partition-log.js';
import { type FollowedPartition, ReplicaFetcher } from './replica-fetcher.js';
import { listsReplica, ReplicationQuota } from './replication-quota.js';

interface FollowerProgress {
  /** The follower's log end offset: the offset of its last fetch. */
  leo: number;
  /** The follower's log start offset, as its last fetch said (-1 before one): the low watermark counts it. */
  logStartOffset: number;
  /** Last time it had everything the leader had (Kafka's lastCaughtUpTimeMs). */
  lastCaughtUpMs: number;
  lastFetchMs: number;
  leaderLeoAtLastFetch: number;
}

interface CommitWaiter {
  offset: number;
  resolve: (errorCode: number) => void;
  timer: NodeJS.Timeout;
}

export class PartitionReplica {
  role: 'leader' | 'follower' | 'offline' = 'offline';
  /** The followers' progress while this broker leads. */
  readonly followers = new Map<number, FollowerProgress>();
  /** Where this broker's leadership began: a follower rejoins the ISR only once past it. */
  epochStartOffset = 0;
  isrUpdateInFlight = false;
  /**
   * The follower of an ISR expansion sent to the store and not answered yet. Until it is, the
   * high watermark waits for that follower too (Kafka's maximal ISR, KIP-497): else it could pass
   * the follower's log end, and the follower then join an ISR while missing committed records.
   */
  joining: number | null = null;
  waiters: CommitWaiter[] = [];
  /** DeleteRecords requests waiting for every live replica's log start to reach their offset. */
  lowWatermarkWaiters: CommitWaiter[] = [];

  constructor(
    public topic: TopicRecord,
    readonly partition: number,
    readonly log: PartitionLog,
    public state: PartitionState,
    public version: number,
  ) {}

  get leaderEpoch(): number {
    return this.state.leaderEpoch;
  }

  /** The replicas the high watermark waits for: the ISR, and a follower about to join it. */
  get maximalIsr(): number[] {
    const isr = this.state.isr;
    return this.joining === null || isr.includes(this.joining) ? isr : [...isr, this.joining];
  }
}

export interface ReplicationMetrics {
  isrShrinks: number;
  isrExpands: number;
}

export class ReplicaManager {
  private readonly replicas = new Map<string, PartitionReplica>();
  private readonly fetchers = new Map<number, ReplicaFetcher>();
  private readonly shrinkTimer: NodeJS.Timeout;
  readonly counts: ReplicationMetrics = { isrShrinks: 0, isrExpands: 0 };
  /** Set by start(): until then the view is still loading and the broker has not opened its logs. */
  private started = false;
  private stopped = false;
  private readonly leadershipListeners: ((topic: string, partition: number, leading: boolean) => void)[] = [];

  /** Calls `listener` when this broker starts or stops leading a partition (the group coordinator follows its offsets partitions). */
  onLeadershipChange(listener: (topic: string, partition: number, leading: boolean) => void): void {
    this.leadershipListeners.push(listener);
  }

  private leadershipChanged(replica: PartitionReplica, leading: boolean): void {
    for (const listener of this.leadershipListeners) {
      try {
        listener(replica.topic.name, replica.partition, leading);
      } catch (err) {
        this.logger.error({ err, topic: replica.topic.name, partition: replica.partition }, 'leadership change listener failed');
      }
    }
  }

  /** The listener followers fetch from (inter.broker.listener.name), with TLS options when it is SSL. */
  private interBroker: { listener: string; tls?: () => ConnectionOptions; sasl?: SaslCredentials } = { listener: 'PLAINTEXT' };

  /** Replication throttles: bytes sent to out-of-sync followers of throttled replicas, and fetched as one. */
  readonly leaderQuota: ReplicationQuota;
  readonly followerQuota: ReplicationQuota;

  constructor(
    private readonly nodeId: number,
    private readonly config: BrokerConfig,
    private readonly logs: LogManager,
    private readonly registry: TopicRegistry,
    private readonly view: ClusterView,
    private readonly logger: Logger,
  ) {
    this.leaderQuota = new ReplicationQuota(() => config.int('leader.replication.throttled.rate'));
    this.followerQuota = new ReplicationQuota(() => config.int('follower.replication.throttled.rate'));
    const lagMs = config.int('replica.lag.time.max.ms');
    this.shrinkTimer = setInterval(() => this.shrinkIsrs(), Math.max(50, Math.min(lagMs / 2, 2 ** 31 - 1)));
    this.shrinkTimer.unref();
  }

  /** Followers connect to leaders on `listener`, with TLS when `tls` is given (read at each connect: reloaded certificates apply). */
  useInterBrokerListener(listener: string, tls?: () => ConnectionOptions, sasl?: SaslCredentials): void {
    this.interBroker = { listener, tls, sasl };
  }

  /** Where this broker reaches another one: its inter-broker listener, with this broker's TLS and SASL settings for it (followers, transaction markers). */
  interBrokerEndpoint(nodeId: number): { host: string; port: number; tls?: ConnectionOptions; sasl?: SaslCredentials } | undefined {
    const b = this.view.brokers.get(nodeId);
    const e = b && endpointOf(b, this.interBroker.listener);
    return e && { ...e, tls: this.interBroker.tls?.(), sasl: this.interBroker.sasl };
  }

  /** This broker's replica of a partition, if it holds one. */
  replica(topic: string, partition: number): PartitionReplica | undefined {
    return this.replicas.get(`${topic}\0${partition}`);
  }

  all(): Iterable<PartitionReplica> {
    return this.replicas.values();
  }

  /**
   * Takes up the replicas once the broker has loaded the cluster view and opened its logs. View
   * changes that arrive while it loads are not acted on: the partition states are not all known
   * yet (a replica would take up an initial state it left long ago), and a log opened here before
   * the broker opens it would be opened twice, two objects appending to the same files.
   */
  start(): void {
    this.started = true;
    this.reconcile();
  }

  /** Brings every local replica's role in line with the partition states (called on every change). */
  reconcile(): void {
    if (!this.started || this.stopped) return;
    const seen = new Set<string>();
    for (const topic of this.registry.all()) {
      for (let p = 0; p < topic.partitions.length; p++) {
        const current = this.view.partition(topic, p);
        if (!current || !current.state.replicas.includes(this.nodeId)) continue;
        const key = `${topic.name}\0${p}`;
        seen.add(key);
        try {
          this.apply(key, topic, p, current.state, current.version);
        } catch (err) {
          this.logger.error({ err, topic: topic.name, partition: p }, 'cannot take up a replica');
        }
      }
    }
    for (const [key, replica] of this.replicas) {
      if (seen.has(key)) continue;
      this.drop(replica);
      this.replicas.delete(key);
      // The topic was deleted, or this broker is no longer among the partition's replicas.
      const topic = this.registry.get(replica.topic.name);
      if (!topic || topic.id !== replica.topic.id) this.logs.deleteTopic(replica.topic.name);
      else this.logs.deletePartition(replica.topic.name, replica.partition);
    }
  }

  private apply(key: string, topic: TopicRecord, partition: number, state: PartitionState, version: number): void {
    let replica = this.replicas.get(key);
    if (replica && replica.topic.id !== topic.id) {
      this.drop(replica);
      this.replicas.delete(key);
      replica = undefined;
    }
    if (!replica) {
      let log = this.logs.get(topic.name, partition);
      if (!log) {
        if (this.logs.offlineReason(topic.name, partition) !== null) return;
        log = this.logs.open(topic.name, partition, resolveLogConfig(this.config, topic.configs), false, topic.id);
      }
      replica = new PartitionReplica(topic, partition, log, state, -1);
      this.replicas.set(key, replica);
    }
    replica.topic = topic;
    if (version <= replica.version && replica.state.leaderEpoch === state.leaderEpoch && replica.role !== 'offline') return;
    const previous = replica.state;
    const wasRole = replica.role;
    replica.state = state;
    replica.version = version;
    if (state.leader === this.nodeId) {
      if (wasRole !== 'leader' || previous.leaderEpoch !== state.leaderEpoch) this.becomeLeader(replica);
      else this.leaderStateChanged(replica);
    } else if (state.leader >= 0) {
      if (wasRole !== 'follower' || previous.leaderEpoch !== state.leaderEpoch || previous.leader !== state.leader) this.becomeFollower(replica);
    } else if (wasRole !== 'offline') {
      this.stopFollowing(replica);
      this.failWaiters(replica, ErrorCode.NOT_LEADER_OR_FOLLOWER);
      replica.role = 'offline';
      if (wasRole === 'leader') this.leadershipChanged(replica, false);
    }
  }

  private becomeLeader(replica: PartitionReplica): void {
    this.stopFollowing(replica);
    replica.role = 'leader';
    replica.epochStartOffset = replica.log.logEndOffset;
    replica.followers.clear();
    const now = Date.now();
    // Followers in the ISR get a full lag period to show up before they can be dropped.
    for (const id of replica.state.replicas) {
      if (id !== this.nodeId) replica.followers.set(id, { leo: -1, logStartOffset: -1, lastCaughtUpMs: replica.state.isr.includes(id) ? now : 0, lastFetchMs: 0, leaderLeoAtLastFetch: 0 });
    }
    this.logger.info({ topic: replica.topic.name, partition: replica.partition, leaderEpoch: replica.leaderEpoch, isr: replica.state.isr, logEndOffset: replica.log.logEndOffset }, 'leading partition');
    this.leaderStateChanged(replica);
    this.leadershipChanged(replica, true);
  }

  /** The ISR may have changed: the high watermark is recomputed over it. */
  private leaderStateChanged(replica: PartitionReplica): void {
    for (const id of replica.state.replicas) {
      if (id !== this.nodeId && !replica.followers.has(id)) replica.followers.set(id, { leo: -1, logStartOffset: -1, lastCaughtUpMs: 0, lastFetchMs: 0, leaderLeoAtLastFetch: 0 });
    }
    for (const id of [...replica.followers.keys()]) if (!replica.state.replicas.includes(id)) replica.followers.delete(id);
    const isr = replica.maximalIsr;
    const alone = isr.length === 1 && isr[0] === this.nodeId;
    replica.log.autoCommit = alone;
    if (alone) replica.log.setHighWatermark(replica.log.logEndOffset);
    this.updateHighWatermark(replica);
    this.completeLowWatermarkWaiters(replica);
  }

  private becomeFollower(replica: PartitionReplica): void {
    this.stopFollowing(replica);
    this.failWaiters(replica, ErrorCode.NOT_LEADER_OR_FOLLOWER);
    const wasLeader = replica.role === 'leader';
    replica.role = 'follower';
    if (wasLeader) this.leadershipChanged(replica, false);
    replica.followers.clear();
    replica.log.autoCommit = false;
    const leader = replica.state.leader;
    let fetcher = this.fetchers.get(leader);
    if (!fetcher) {
      fetcher = new ReplicaFetcher(
        leader,
        () => this.interBrokerEndpoint(leader),
        {
          nodeId: this.nodeId,
          maxWaitMs: this.config.int('replica.fetch.wait.max.ms'),
          maxBytes: this.config.int('replica.fetch.max.bytes'),
          responseMaxBytes: this.config.int('replica.fetch.response.max.bytes'),
          backoffMs: this.config.int('replica.fetch.backoff.ms'),
          throttle: { quota: this.followerQuota, throttled: (topic, partition) => this.followerThrottled(topic, partition) },
        },
        this.logger,
      );
      this.fetchers.set(leader, fetcher);
    }
    const followed: FollowedPartition = { topic: replica.topic.name, partition: replica.partition, leaderEpoch: replica.leaderEpoch, log: replica.log, needsTruncation: true, retryAt: 0 };
    fetcher.add(followed);
    this.logger.info({ topic: replica.topic.name, partition: replica.partition, leader, leaderEpoch: replica.leaderEpoch, logEndOffset: replica.log.logEndOffset }, 'following partition');
  }

  private stopFollowing(replica: PartitionReplica): void {
    for (const [leader, fetcher] of this.fetchers) {
      fetcher.remove(replica.topic.name, replica.partition);
      if (fetcher.partitions.size === 0) {
        fetcher.stop();
        this.fetchers.delete(leader);
      }
    }
  }

  private drop(replica: PartitionReplica): void {
    this.stopFollowing(replica);
    this.failWaiters(replica, ErrorCode.NOT_LEADER_OR_FOLLOWER);
    const wasLeader = replica.role === 'leader';
    replica.role = 'offline';
    if (wasLeader) this.leadershipChanged(replica, false);
  }

  /** Whether this leader's answers to `follower` for the partition are held to the leader quota: listed and out of sync. */
  leaderThrottled(replica: PartitionReplica, follower: number): boolean {
    return !replica.state.isr.includes(follower) && listsReplica(replica.topic.configs, 'leader.replication.throttled.replicas', replica.partition, this.nodeId);
  }

  /** Whether this broker's fetching of the partition is held to the follower quota: listed and out of sync. */
  private followerThrottled(topic: string, partition: number): boolean {
    const replica = this.replica(topic, partition);
    return !!replica && !replica.state.isr.includes(this.nodeId) && listsReplica(replica.topic.configs, 'follower.replication.throttled.replicas', partition, this.nodeId);
  }

  /** A follower fetched from `fetchOffset`: that is its log end offset; `logStartOffset` is its log start. */
  onFollowerFetch(replica: PartitionReplica, followerId: number, fetchOffset: number, logStartOffset: number, now = Date.now()): void {
    const progress = replica.followers.get(followerId);
    if (!progress || replica.role !== 'leader') return;
    progress.logStartOffset = logStartOffset;
    this.completeLowWatermarkWaiters(replica);
    const leo = replica.log.logEndOffset;
    // Past the log end the fetch is answered OFFSET_OUT_OF_RANGE: that follower's log diverged from this one, it is no progress.
    if (fetchOffset > leo) return;
    if (fetchOffset >= leo) progress.lastCaughtUpMs = now;
    else if (fetchOffset >= progress.leaderLeoAtLastFetch) progress.lastCaughtUpMs = Math.max(progress.lastCaughtUpMs, progress.lastFetchMs);
    progress.leo = fetchOffset;
    progress.lastFetchMs = now;
    progress.leaderLeoAtLastFetch = leo;
    if (!replica.state.isr.includes(followerId)) this.maybeExpandIsr(replica, followerId, progress);
    this.updateHighWatermark(replica);
  }

  /** Appends by this leader with followers in the ISR commit once they have fetched them. */
  private updateHighWatermark(replica: PartitionReplica): void {
    if (replica.role !== 'leader') return;
    if (!replica.log.autoCommit) {
      const leos = new Map<number, number>();
      for (const [id, p] of replica.followers) leos.set(id, p.leo);
      replica.log.setHighWatermark(highWatermark({ ...replica.state, isr: replica.maximalIsr }, replica.log.logEndOffset, leos));
    }
    this.completeWaiters(replica);
  }

  private maybeExpandIsr(replica: PartitionReplica, followerId: number, progress: FollowerProgress): void {
    const live = this.view.liveness();
    if (!live.alive.has(followerId) || live.shuttingDown.has(followerId)) return;
    if (progress.leo < replica.log.highWatermark || progress.leo < replica.epochStartOffset) return;
    if (replica.isrUpdateInFlight) return;
    // Until the store answers, the high watermark waits for the follower as for an ISR member.
    replica.joining = followerId;
    this.leaderStateChanged(replica);
    this.changeIsr(replica, [...replica.state.isr, followerId], 'expand');
  }

  /** Drops followers that have not caught up for replica.lag.time.max.ms (run on a timer). */
  private shrinkIsrs(now = Date.now()): void {
    const lagMs = this.config.int('replica.lag.time.max.ms');
    for (const replica of this.replicas.values()) {
      if (replica.role !== 'leader' || replica.isrUpdateInFlight) continue;
      const lagging = replica.state.isr.filter((id) => id !== this.nodeId && now - (replica.followers.get(id)?.lastCaughtUpMs ?? 0) > lagMs);
      if (lagging.length > 0) this.changeIsr(replica, replica.state.isr.filter((id) => !lagging.includes(id)), 'shrink');
    }
  }

  private changeIsr(replica: PartitionReplica, isr: number[], kind: 'shrink' | 'expand'): void {
    if (replica.isrUpdateInFlight) return;
    replica.isrUpdateInFlight = true;
    const from = replica.state;
    const next = withIsr(from, isr);
    void this.view
      .writePartition(replica.topic, replica.partition, next, replica.version)
      .then((version) => {
        if (kind === 'shrink') this.counts.isrShrinks++;
        else this.counts.isrExpands++;
        this.logger.info({ topic: replica.topic.name, partition: replica.partition, from: from.isr, to: isr, highWatermark: replica.log.highWatermark, logEndOffset: replica.log.logEndOffset }, kind === 'shrink' ? 'ISR shrunk' : 'ISR expanded');
        if (replica.state === from && replica.role === 'leader') {
          replica.state = next;
          replica.version = version;
          this.leaderStateChanged(replica);
        }
      })
      .catch((err: unknown) => {
        // A conflict means the state changed (a new leader, another ISR change): the watch brings it and the next pass retries.
        if (!(err instanceof VersionConflictError)) this.logger.warn({ err, topic: replica.topic.name, partition: replica.partition }, `cannot ${kind} the ISR; retrying`);
      })
      .finally(() => {
        replica.isrUpdateInFlight = false;
        if (replica.joining === null) return;
        replica.joining = null;
        if (replica.role === 'leader') this.leaderStateChanged(replica);
      });
  }

  /**
   * Resolves with an error code once `offset` (the offset after an acks=all append) is committed:
   * NONE, NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR is below min.insync.replicas by then,
   * NOT_LEADER_OR_FOLLOWER when leadership moved, REQUEST_TIMED_OUT after `timeoutMs`.
   */
  waitForCommit(replica: PartitionReplica, offset: number, timeoutMs: number): Promise<number> {
    if (replica.log.highWatermark >= offset) return Promise.resolve(this.commitOutcome(replica));
    return new Promise((resolve) => {
      const waiter: CommitWaiter = {
        offset,
        resolve,
        timer: setTimeout(() => {
          replica.waiters = replica.waiters.filter((w) => w !== waiter);
          resolve(ErrorCode.REQUEST_TIMED_OUT);
        }, Math.max(0, timeoutMs)),
      };
      replica.waiters.push(waiter);
    });
  }

  private commitOutcome(replica: PartitionReplica): number {
    return replica.state.isr.length < replica.log.config.minInsyncReplicas ? ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND : ErrorCode.NONE;
  }

  /** Called after an acks=all append and whenever the high watermark may have moved. */
  completeWaiters(replica: PartitionReplica): void {
    if (replica.waiters.length === 0) return;
    const hw = replica.log.highWatermark;
    const remaining: CommitWaiter[] = [];
    for (const w of replica.waiters) {
      if (w.offset <= hw) {
        clearTimeout(w.timer);
        w.resolve(this.commitOutcome(replica));
      } else remaining.push(w);
    }
    replica.waiters = remaining;
  }

  private failWaiters(replica: PartitionReplica, errorCode: number): void {
    for (const w of [...replica.waiters.splice(0), ...replica.lowWatermarkWaiters.splice(0)]) {
      clearTimeout(w.timer);
      w.resolve(errorCode);
    }
  }

  /**
   * The partition's low watermark (Kafka's): the lowest log start offset among its replicas on
   * live brokers, this leader's included. A follower that has not fetched since this broker
   * took the lead counts as -1.
   */
  lowWatermark(replica: PartitionReplica): number {
    const { alive } = this.view.liveness();
    let low = replica.log.logStartOffset;
    for (const [id, p] of replica.followers) if (alive.has(id) && p.logStartOffset < low) low = p.logStartOffset;
    return low;
  }

  /**
   * Resolves with an error code once the low watermark reached `offset` (DeleteRecords: every
   * live replica dropped the records below it): NONE, NOT_LEADER_OR_FOLLOWER when leadership
   * moved, REQUEST_TIMED_OUT after `timeoutMs`.
   */
  waitForLowWatermark(replica: PartitionReplica, offset: number, timeoutMs: number): Promise<number> {
    if (this.lowWatermark(replica) >= offset) return Promise.resolve(ErrorCode.NONE);
    return new Promise((resolve) => {
      const waiter: CommitWaiter = {
        offset,
        resolve,
        timer: setTimeout(() => {
          replica.lowWatermarkWaiters = replica.lowWatermarkWaiters.filter((w) => w !== waiter);
          resolve(ErrorCode.REQUEST_TIMED_OUT);
        }, Math.max(0, timeoutMs)),
      };
      replica.lowWatermarkWaiters.push(waiter);
    });
  }

  /** Called when a follower's log start or the replica set may have moved the low watermark. */
  private completeLowWatermarkWaiters(replica: PartitionReplica): void {
    if (replica.lowWatermarkWaiters.length === 0) return;
    const low = this.lowWatermark(replica);
    const remaining: CommitWaiter[] = [];
    for (const w of replica.lowWatermarkWaiters) {
      if (w.offset <= low) {
        clearTimeout(w.timer);
        w.resolve(ErrorCode.NONE);
      } else remaining.push(w);
    }
    replica.lowWatermarkWaiters = remaining;
  }

  /** Partitions this broker leads that have another in-sync replica it could hand leadership to. */
  leadershipsToMove(): number {
    let n = 0;
    for (const r of this.replicas.values()) if (r.role === 'leader' && r.state.isr.some((id) => id !== this.nodeId)) n++;
    return n;
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.shrinkTimer);
    for (const fetcher of this.fetchers.values()) fetcher.stop();
    this.fetchers.clear();
    for (const replica of this.replicas.values()) this.failWaiters(replica, ErrorCode.NOT_LEADER_OR_FOLLOWER);
  }
}
