// What an operator asks of one broker about the cluster's partitions: would stopping it now take
// a partition below min.insync.replicas or offline (shutdown safety), is it caught up (no
// under-replicated partition it holds a replica of), and the replication figures of its metrics.
// The rules are pure functions over partition states; PartitionHealth feeds them this broker's
// cluster view (every partition of the cluster) and its local replicas.
import type { BrokerConfig } from '../config.js';
import type { Liveness, PartitionState } from '../controller/partition-state.js';
import type { ClusterView } from '../metadata/cluster-view.js';
import type { TopicRegistry } from '../metadata/topic-registry.js';
import type { ReplicaManager, ReplicationMetrics } from './replica-manager.js';

/** A partition of the cluster as the view has it, with its topic's min.insync.replicas. */
export interface ClusterPartition {
  topic: string;
  partition: number;
  state: PartitionState;
  minInsyncReplicas: number;
}

export interface ShutdownBlocker {
  topic: string;
  partition: number;
  /** would-go-offline: no other live ISR member could lead; would-go-under-min-isr: fewer than min.insync.replicas would remain. */
  reason: 'would-go-offline' | 'would-go-under-min-isr';
  isr: number[];
  minInsyncReplicas: number;
}

export interface LaggingPartition {
  topic: string;
  partition: number;
  /** not-in-isr: this broker's replica is out of sync; under-replicated: another replica is. */
  reason: 'not-in-isr' | 'under-replicated';
  leader: number;
  replicas: number[];
  isr: number[];
}

/** Replicas a partition needs in its ISR: during a reassignment, the ones being added are still catching up and do not count (as in Kafka). */
function requiredReplicas(state: PartitionState): number[] {
  return state.replicas.filter((id) => !state.adding.includes(id));
}

/**
 * The partitions that stopping `nodeId` would take below their min.insync.replicas or offline:
 * those whose ISR holds it and whose other ISR members that can stay in it (registered, not in
 * controlled shutdown) number fewer than min.insync.replicas.
 */
export function shutdownBlockers(nodeId: number, partitions: Iterable<ClusterPartition>, live: Liveness): ShutdownBlocker[] {
  const out: ShutdownBlocker[] = [];
  for (const { topic, partition, state, minInsyncReplicas } of partitions) {
    if (!state.isr.includes(nodeId)) continue;
    const remaining = state.isr.filter((id) => id !== nodeId && live.alive.has(id) && !live.shuttingDown.has(id)).length;
    if (remaining >= minInsyncReplicas && remaining > 0) continue;
    out.push({ topic, partition, reason: remaining === 0 ? 'would-go-offline' : 'would-go-under-min-isr', isr: [...state.isr], minInsyncReplicas });
  }
  return out;
}

/** The partitions `nodeId` holds a replica of that are not fully in sync: it is out of their ISR, or another replica is. */
export function laggingPartitions(nodeId: number, partitions: Iterable<ClusterPartition>): LaggingPartition[] {
  const out: LaggingPartition[] = [];
  for (const { topic, partition, state } of partitions) {
    if (!state.replicas.includes(nodeId)) continue;
    let reason: LaggingPartition['reason'];
    if (!state.isr.includes(nodeId)) reason = 'not-in-isr';
    else if (requiredReplicas(state).some((id) => !state.isr.includes(id))) reason = 'under-replicated';
    else continue;
    out.push({ topic, partition, reason, leader: state.leader, replicas: [...state.replicas], isr: [...state.isr] });
  }
  return out;
}

/** Partitions with no leader, or a leader that is no longer registered (until the controller moves it). */
export function offlinePartitionCount(partitions: Iterable<ClusterPartition>, live: Liveness): number {
  let n = 0;
  for (const { state } of partitions) if (state.leader < 0 || !live.alive.has(state.leader)) n++;
  return n;
}

/** What this broker's metrics report of the replicas it holds. */
export interface ReplicaFigures {
  /** Partitions it holds a replica of (by the cluster's assignment). */
  replicas: number;
  leaders: number;
  /** Led by it, with a required replica missing from the ISR. */
  underReplicated: number;
  /** Led by it, with fewer ISR members than min.insync.replicas. */
  underMinIsr: number;
  /** Largest leader LEO − follower LEO over the followers of the partitions it leads (in records). */
  maxFollowerLag: number;
}

/** The view, local replicas and controller behind the operator endpoints and replication metrics. */
export interface ReplicationHealth {
  readonly counts: ReplicationMetrics;
  figures(): ReplicaFigures;
  /** Offline partitions of the whole cluster when this broker is the active controller, else 0 (a sum over brokers is the cluster's count). */
  offlinePartitions(): number;
  controllerActive(): boolean;
}

export class PartitionHealth implements ReplicationHealth {
  constructor(
    private readonly nodeId: number,
    private readonly config: BrokerConfig,
    private readonly registry: TopicRegistry,
    private readonly view: ClusterView,
    private readonly replicas: ReplicaManager,
    private readonly isController: () => boolean,
  ) {}

  get counts(): ReplicationMetrics {
    return this.replicas.counts;
  }

  /** Every partition of the cluster, as this broker's view has it. */
  *partitions(): Generator<ClusterPartition> {
    for (const topic of this.registry.all()) {
      const minInsyncReplicas = Number(this.config.topicValue('min.insync.replicas', topic.configs).value);
      for (let p = 0; p < topic.partitions.length; p++) {
        const current = this.view.partition(topic, p);
        if (current) yield { topic: topic.name, partition: p, state: current.state, minInsyncReplicas };
      }
    }
  }

  shutdownBlockers(): ShutdownBlocker[] {
    return shutdownBlockers(this.nodeId, this.partitions(), this.view.liveness());
  }

  laggingPartitions(): LaggingPartition[] {
    return laggingPartitions(this.nodeId, this.partitions());
  }

  offlinePartitions(): number {
    return this.isController() ? offlinePartitionCount(this.partitions(), this.view.liveness()) : 0;
  }

  controllerActive(): boolean {
    return this.isController();
  }

  figures(): ReplicaFigures {
    const figures: ReplicaFigures = { replicas: 0, leaders: 0, underReplicated: 0, underMinIsr: 0, maxFollowerLag: 0 };
    for (const replica of this.replicas.all()) {
      figures.replicas++;
      if (replica.role !== 'leader') continue;
      const { state } = replica;
      figures.leaders++;
      if (requiredReplicas(state).some((id) => !state.isr.includes(id))) figures.underReplicated++;
      if (state.isr.length < replica.log.config.minInsyncReplicas) figures.underMinIsr++;
      const leo = replica.log.logEndOffset;
      // A follower that has not fetched since this leadership began has no known LEO; it shows as under-replicated once out of the ISR.
      for (const follower of replica.followers.values()) if (follower.leo >= 0) figures.maxFollowerLag = Math.max(figures.maxFollowerLag, leo - follower.leo);
    }
    return figures;
  }
}
