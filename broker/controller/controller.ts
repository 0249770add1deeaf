// The cluster's one controller. Every broker campaigns; the one that creates the ephemeral
// `controller/active` key in its session wins and bumps the durable `controller/epoch`. While
// active it keeps every partition's leadership consistent with which brokers are live
// (reconcileLeadership: fenced and shutting-down brokers leave ISRs and leaderships), completes
// reassignments whose new replicas have joined the ISR (reassignment.ts), moves
// leadership back to preferred replicas when a broker's share is imbalanced, and removes the
// states of deleted topics. Each write is a compare-and-set on the partition's state carrying the
// controller epoch; a controller that meets a state written by a newer epoch, or loses its
// session, stops at once.
import type { Logger } from 'pino';
import { type BrokerConfig, resolveLogConfig } from '../config.js';
import { ACTIVE_CONTROLLER_KEY, CONTROLLER_EPOCH_KEY, type ActiveController, type ClusterView } from '../metadata/cluster-view.js';
import { type MetadataStore, type Session, VersionConflictError } from '../metadata/metadata-store.js';
import type { TopicRecord, TopicRegistry } from '../metadata/topic-registry.js';
import { electPreferred, reconcileLeadership, type PartitionState } from './partition-state.js';
import { completeReassignment, reassigning } from './reassignment.js';

export class Controller {
  /** The epoch this broker controls with; -1 when it is not the controller. */
  epoch = -1;
  private session: Session | null = null;
  private campaigning = false;
  private reconciling = false;
  private again = false;
  private rebalanceTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly nodeId: number,
    private readonly store: MetadataStore,
    private readonly view: ClusterView,
    private readonly registry: TopicRegistry,
    private readonly config: BrokerConfig,
    private readonly logger: Logger,
  ) {
    view.onChange(() => {
      if (this.active) this.reconcile();
      else if (this.view.controller === null) void this.campaign();
    });
    const intervalMs = config.int('leader.imbalance.check.interval.seconds') * 1000;
    if (config.bool('auto.leader.rebalance.enable') && intervalMs <= 2 ** 31 - 1) {
      this.rebalanceTimer = setInterval(() => {
        if (this.active) void this.rebalanceLeaders();
      }, intervalMs);
      this.rebalanceTimer.unref();
    }
  }

  get active(): boolean {
    return this.epoch >= 0 && this.session !== null && !this.session.lost;
  }

  /** A new registration session: campaign in it. */
  useSession(session: Session): void {
    this.session = session;
    this.epoch = -1;
    session.onLost(() => this.resign('session lost'));
    void this.campaign();
  }

  private async campaign(): Promise<void> {
    const session = this.session;
    if (this.campaigning || this.stopped || !session || session.lost || this.active) return;
    this.campaigning = true;
    try {
      const stored = await this.store.get(CONTROLLER_EPOCH_KEY);
      const epoch = (stored ? Number(stored.value) : 0) + 1;
      const claim: ActiveController = { nodeId: this.nodeId, epoch };
      try {
        await session.put(ACTIVE_CONTROLLER_KEY, JSON.stringify(claim), 0);
      } catch (err) {
        if (err instanceof VersionConflictError) return; // another broker is the controller
        throw err;
      }
      try {
        await this.store.put(CONTROLLER_EPOCH_KEY, String(epoch), stored?.version ?? 0);
      } catch (err) {
        // Only a controller bumps the epoch, so a conflict means ours is stale: step down and try again.
        await this.store.delete(ACTIVE_CONTROLLER_KEY).catch(() => {});
        throw err;
      }
      this.epoch = epoch;
      this.logger.info({ epoch }, 'elected controller');
      this.reconcile();
    } catch (err) {
      this.logger.warn({ err }, 'controller campaign failed; trying again');
      setTimeout(() => void this.campaign(), 1000).unref();
    } finally {
      this.campaigning = false;
    }
  }

  private resign(why: string): void {
    if (this.epoch < 0) return;
    this.logger.warn({ epoch: this.epoch, why }, 'no longer the controller');
    this.epoch = -1;
  }

  /** Brings every partition's leadership in line with the live brokers (coalesced: one pass at a time). */
  reconcile(): void {
    if (this.reconciling) {
      this.again = true;
      return;
    }
    this.reconciling = true;
    void this.reconcileOnce()
      .catch((err: unknown) => this.logger.warn({ err }, 'controller pass failed; the next change retries'))
      .finally(() => {
        this.reconciling = false;
        if (this.again && this.active) {
          this.again = false;
          this.reconcile();
        }
      });
  }

  private async reconcileOnce(): Promise<void> {
    const live = this.view.liveness();
    let failed = false;
    for (const topic of this.registry.all()) {
      const unclean = resolveLogConfig(this.config, topic.configs).uncleanLeaderElection;
      for (let p = 0; p < topic.partitions.length; p++) {
        if (!this.active) return;
        const current = this.view.partition(topic, p);
        if (!current) continue;
        const reconciled = reconcileLeadership(current.state, live, this.epoch, unclean);
        // A reassignment whose target replicas are all in sync completes in the same write.
        const next = completeReassignment(reconciled ?? current.state, live, this.epoch) ?? reconciled;
        if (!next) continue;
        if (!(await this.write(topic, p, current.state, next, current.version))) failed = true;
        else if (reassigning(current.state) && !reassigning(next)) this.logger.info({ topic: topic.name, partition: p, replicas: next.replicas, leader: next.leader, isr: next.isr }, 'reassignment completed');
      }
    }
    for (const orphan of this.view.orphanStates()) await this.view.deleteOrphan(orphan).catch(() => {});
    // A write lost to a concurrent change (a leader's ISR update) is recomputed from the state that won.
    if (failed) setTimeout(() => this.active && this.reconcile(), 200).unref();
  }

  /** Compare-and-set of one partition state; false when it lost to a concurrent change. */
  private async write(topic: TopicRecord, partition: number, from: PartitionState, next: PartitionState, version: number): Promise<boolean> {
    if (from.controllerEpoch > this.epoch) {
      this.resign(`partition ${topic.name}-${partition} was written by controller epoch ${from.controllerEpoch}`);
      return false;
    }
    try {
      await this.view.writePartition(topic, partition, next, version);
    } catch (err) {
      if (err instanceof VersionConflictError) return false;
      throw err;
    }
    if (next.leader !== from.leader) {
      this.logger.info({ topic: topic.name, partition, leader: next.leader, previous: from.leader, leaderEpoch: next.leaderEpoch, isr: next.isr }, next.leader === -1 ? 'partition offline: no in-sync replica can lead' : 'elected leader');
    }
    return true;
  }

  /**
   * Preferred-leader election for each partition given (all when null) whose preferred replica
   * can lead and is in sync. Any broker may run it: every change is a compare-and-set.
   */
  async electPreferredLeaders(partitions: { topic: string; partition: number }[] | null): Promise<Map<string, 'ok' | 'already-preferred' | 'preferred-not-available' | 'unknown' | 'conflict'>> {
    const out = new Map<string, 'ok' | 'already-preferred' | 'preferred-not-available' | 'unknown' | 'conflict'>();
    const live = this.view.liveness();
    const wanted = partitions ?? this.registry.all().flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partition })));
    for (const { topic: name, partition } of wanted) {
      const id = `${name}-${partition}`;
      const topic = this.registry.get(name);
      const current = topic && this.view.partition(topic, partition);
      if (!topic || !current) {
        out.set(id, 'unknown');
        continue;
      }
      const next = electPreferred(current.state, live, Math.max(current.state.controllerEpoch, this.epoch, 0));
      if (typeof next === 'string') {
        out.set(id, next);
        continue;
      }
      try {
        await this.view.writePartition(topic, partition, next, current.version);
        this.logger.info({ topic: name, partition, leader: next.leader, leaderEpoch: next.leaderEpoch }, 'preferred leader elected');
        out.set(id, 'ok');
      } catch (err) {
        if (!(err instanceof VersionConflictError)) throw err;
        out.set(id, 'conflict');
      }
    }
    return out;
  }

  /** auto.leader.rebalance.enable: preferred elections on brokers leading too few of their preferred partitions. */
  private async rebalanceLeaders(): Promise<void> {
    const threshold = this.config.int('leader.imbalance.per.broker.percentage') / 100;
    const preferredOf = new Map<number, { total: number; elsewhere: { topic: string; partition: number }[] }>();
    for (const topic of this.registry.all()) {
      for (let p = 0; p < topic.partitions.length; p++) {
        const state = this.view.partition(topic, p)?.state;
        if (!state) continue;
        const preferred = state.replicas[0]!;
        const entry = preferredOf.get(preferred) ?? { total: 0, elsewhere: [] };
        entry.total++;
        if (state.leader !== preferred) entry.elsewhere.push({ topic: topic.name, partition: p });
        preferredOf.set(preferred, entry);
      }
    }
    const due = [...preferredOf.values()].filter((e) => e.total > 0 && e.elsewhere.length / e.total > threshold).flatMap((e) => e.elsewhere);
    if (due.length === 0) return;
    const results = await this.electPreferredLeaders(due);
    const moved = [...results.values()].filter((r) => r === 'ok').length;
    if (moved > 0) this.logger.info({ moved }, 'leadership rebalanced to preferred replicas');
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.rebalanceTimer);
    this.epoch = -1;
  }
}
