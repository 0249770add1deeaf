// Moving partitions for a KafkaCluster, one step per reconcile, through the built-in planner and
// executor (operator/rebalance/): onto new brokers after a scale-up, off the brokers a scale-down
// removes (the StatefulSet shrinks only once they hold nothing), and on a rebalance asked for by
// the `samsa.dev/rebalance` annotation or, with `spec.rebalance.mode: automatic`, whenever the
// imbalance passes the threshold.
//
// The plan lives in the cluster, not in memory: a ConfigMap `<cluster>-partition-moves` owned by
// the KafkaCluster holds it while it is carried out, and the executor works out from the plan and
// the brokers' own state what is done, what is moving and what is left. An operator that restarts
// (or another replica that takes the lead) carries on the same plan without repeating a move.
import type { Logger } from 'pino';
import { type Address, readClusterState, plannerInput } from '../rebalance/cluster-state.js';
import { type ExecutorOptions, ReassignmentExecutor, type Progress } from '../rebalance/executor.js';
import { DEFAULT_TOLERANCE, imbalance, type Move, plan, type Tolerance, withinTolerance } from '../rebalance/planner.js';
import type { KafkaCluster, KafkaClusterStatus } from '../crds/types.js';
import type { Kube, KubernetesObject } from '../kube.js';

export const REBALANCE_ANNOTATION = 'samsa.dev/rebalance';
export const SKIP_SCALEDOWN_CHECK = 'samsa.dev/skip-broker-scaledown-check';
const PLAN_KEY = 'plan.json';
const DEFAULT_MAX_IN_FLIGHT = 5;

export type Operation = NonNullable<KafkaClusterStatus['operation']>;
type OperationType = 'ScaleUp' | 'ScaleDown' | 'Rebalance';

/** A plan being carried out, as kept in its ConfigMap. */
interface StoredPlan {
  type: OperationType;
  reason: string;
  startedAt: string;
  moves: Move[];
}

export interface MovesResult {
  /** The operation in flight, for status; null when none. */
  operation: Operation | null;
  /** The brokers a scale-down removes hold nothing (or the check is skipped): the StatefulSet may shrink. */
  scaleDownReady: boolean;
  /** Why the scale-down cannot go ahead (a topic needs more brokers), or null. */
  scaleDownBlocked: string | null;
  /** The rebalance request (annotation value) answered by this pass, to remember in status. */
  answeredRequest: string | null;
  /** The imbalance figures last measured. */
  imbalance: { replicas: number; leaders: number; bytes: number } | null;
}

const planName = (cluster: string) => `${cluster}-partition-moves`;

/** How a cluster's partitions move (spec.rebalance, with defaults): for its moves and its topics' replication-factor changes alike. */
export function executorOptions(kc: KafkaCluster): ExecutorOptions {
  return { maxInFlight: kc.spec.rebalance?.maxPartitionMovesInFlight ?? DEFAULT_MAX_IN_FLIGHT, throttleBytesPerSecond: kc.spec.rebalance?.throttleBytesPerSecond ?? null };
}

/**
 * One executor per key (a cluster, a topic) and plan, so that its measured rate spans reconcile
 * passes; a plan with another start time gets a new one.
 */
export class Executors {
  private readonly byKey = new Map<string, { startedAt: string; executor: ReassignmentExecutor }>();

  for(key: string, startedAt: string, moves: readonly Move[], brokers: readonly Address[], options: ExecutorOptions): ReassignmentExecutor {
    let entry = this.byKey.get(key);
    if (!entry || entry.startedAt !== startedAt) {
      entry = { startedAt, executor: new ReassignmentExecutor(moves, brokers, options) };
      this.byKey.set(key, entry);
    }
    return entry.executor;
  }

  forget(key: string): void {
    this.byKey.delete(key);
  }
}

/** What the spec asks of rebalancing, with defaults. */
function rebalanceSpec(kc: KafkaCluster) {
  const r = kc.spec.rebalance;
  const tolerance: Tolerance = {
    ...DEFAULT_TOLERANCE,
    ...(r?.threshold?.replicas !== undefined ? { replicas: r.threshold.replicas } : {}),
    ...(r?.threshold?.leaders !== undefined ? { leaders: r.threshold.leaders } : {}),
    ...(r?.threshold?.bytes !== undefined ? { bytes: r.threshold.bytes } : {}),
  };
  return {
    mode: r?.mode ?? 'on-demand',
    tolerance,
    executor: executorOptions(kc),
  };
}

function describe(progress: Progress): string {
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  const total = progress.partitionsDone + progress.partitionsInFlight + progress.partitionsLeft;
  const eta = progress.etaSeconds !== null ? `, ETA ${Math.ceil(progress.etaSeconds)}s` : '';
  return `${progress.partitionsDone}/${total} partitions, ${mib(progress.bytesMoved)} moved, ${mib(progress.bytesLeft)} left${eta}`;
}

export class PartitionMoves {
  private readonly executors = new Executors();

  constructor(
    private readonly kube: Kube,
    private readonly logger: Logger,
  ) {}

  /**
   * One pass: a step of the plan in flight, or a new plan when one is needed. `brokers` are the
   * ready brokers' addresses; `settled` says whether every broker is up on the current template
   * (no plan starts while a roll or a restart is under way); `statefulSetReplicas` is its size now.
   */
  async reconcile(kc: KafkaCluster & KubernetesObject, brokers: Address[], statefulSetReplicas: number, settled: boolean): Promise<MovesResult> {
    const key = `${kc.metadata.namespace}/${kc.metadata.name}`;
    const result: MovesResult = { operation: null, scaleDownReady: false, scaleDownBlocked: null, answeredRequest: null, imbalance: null };
    const scalingDown = statefulSetReplicas > kc.spec.replicas;
    if (scalingDown && kc.metadata.annotations?.[SKIP_SCALEDOWN_CHECK] === 'true') result.scaleDownReady = true;
    if (brokers.length === 0) return result;
    const spec = rebalanceSpec(kc);

    const stored = await this.kube.getOrNull<KubernetesObject & { data?: Record<string, string> }>('v1', 'ConfigMap', kc.metadata.namespace, planName(kc.metadata.name));
    if (stored) {
      const current = JSON.parse(stored.data?.[PLAN_KEY] ?? '{}') as StoredPlan;
      const step = await this.executors.for(key, current.startedAt, current.moves, brokers, spec.executor).step();
      for (const error of step.errors) this.logger.warn({ cluster: key, error }, 'a partition move was refused; retrying');
      if (!step.progress.finished) {
        result.operation = {
          type: current.type,
          reason: current.reason,
          startedAt: current.startedAt,
          progress: describe(step.progress),
          partitionsDone: step.progress.partitionsDone,
          partitionsInFlight: step.progress.partitionsInFlight,
          partitionsLeft: step.progress.partitionsLeft,
          bytesMoved: step.progress.bytesMoved,
          bytesLeft: step.progress.bytesLeft,
          ...(step.progress.etaSeconds !== null ? { etaSeconds: Math.ceil(step.progress.etaSeconds) } : {}),
        };
        return result;
      }
      await this.kube.delete(stored);
      this.executors.forget(key);
      const seconds = ((Date.now() - Date.parse(current.startedAt)) / 1000).toFixed(0);
      this.logger.info({ cluster: key, type: current.type, partitions: current.moves.length, bytes: step.progress.bytesMoved, seconds }, 'partition moves finished');
      await this.kube.event(kc, 'Normal', 'PartitionsMoved', `${current.type}: moved ${current.moves.length} partition(s), ${(step.progress.bytesMoved / 2 ** 20).toFixed(1)} MiB, in ${seconds}s`);
    }

    // While a broker is down or a roll is under way nothing new is planned (a scale-down aside),
    // so the cluster is not read: a stopped broker would hold those reads, and the reconcile.
    if (!settled && !scalingDown) return result;
    const state = await readClusterState(brokers);
    const removed = scalingDown ? Array.from({ length: statefulSetReplicas - kc.spec.replicas }, (_, i) => kc.spec.replicas + i) : [];
    const clusterBrokers = state.brokers.filter((b) => b.id < Math.max(statefulSetReplicas, kc.spec.replicas)).map(({ id, rack }) => ({ id, rack }));
    const input = plannerInput(state, { brokers: clusterBrokers, tolerance: spec.tolerance, ...(removed.length > 0 ? { remove: removed } : {}) });
    const figures = imbalance(input);
    result.imbalance = { replicas: figures.replicas, leaders: figures.leaders, bytes: Number(figures.bytes.toFixed(3)) };

    let wanted: { type: OperationType; reason: string } | null = null;
    if (scalingDown && !result.scaleDownReady) {
      const held = state.partitions.filter((p) => p.replicas.some((id) => removed.includes(id)));
      if (held.length === 0) result.scaleDownReady = true;
      else wanted = { type: 'ScaleDown', reason: `moving ${held.length} partition(s) off broker(s) ${removed.join(', ')} before they are removed` };
    } else if (!scalingDown && settled) {
      const request = kc.metadata.annotations?.[REBALANCE_ANNOTATION];
      const empty = clusterBrokers.filter((b) => !state.partitions.some((p) => p.replicas.includes(b.id)));
      if (request !== undefined && request !== kc.status?.rebalance?.lastRequest && spec.mode !== 'off') {
        wanted = { type: 'Rebalance', reason: `asked for by the ${REBALANCE_ANNOTATION} annotation ("${request}")` };
        result.answeredRequest = request;
      } else if (empty.length > 0 && state.partitions.length >= clusterBrokers.length && spec.mode !== 'off') {
        wanted = { type: 'ScaleUp', reason: `moving partitions onto new broker(s) ${empty.map((b) => b.id).join(', ')}` };
      } else if (spec.mode === 'automatic' && !withinTolerance(figures, spec.tolerance)) {
        wanted = { type: 'Rebalance', reason: `imbalance beyond the threshold (replicas ±${figures.replicas}, leaders ±${figures.leaders}, bytes ±${(figures.bytes * 100).toFixed(0)}%)` };
      }
    }
    if (!wanted) return result;

    const planned = plan(input);
    if (!planned.ok) {
      if (wanted.type === 'ScaleDown') result.scaleDownBlocked = `scaling down from ${statefulSetReplicas} to ${kc.spec.replicas} broker(s) is refused: ${planned.reason}`;
      else this.logger.warn({ cluster: key, reason: planned.reason }, 'no plan for the partition moves');
      return result;
    }
    if (planned.moves.length === 0) {
      if (wanted.type === 'ScaleDown') result.scaleDownReady = true;
      return result;
    }
    const stored2: StoredPlan = { ...wanted, startedAt: new Date().toISOString(), moves: planned.moves };
    await this.kube.create({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: planName(kc.metadata.name),
        namespace: kc.metadata.namespace,
        labels: { 'app.kubernetes.io/instance': kc.metadata.name, 'app.kubernetes.io/managed-by': 'samsa-operator' },
        ownerReferences: [{ apiVersion: kc.apiVersion, kind: kc.kind, name: kc.metadata.name, uid: kc.metadata.uid!, controller: true, blockOwnerDeletion: true }],
      },
      data: { [PLAN_KEY]: JSON.stringify(stored2) },
    } as KubernetesObject);
    const bytes = planned.moves.reduce((n, m) => n + m.bytes, 0);
    this.logger.info({ cluster: key, type: wanted.type, partitions: planned.moves.length, bytes }, 'partition moves planned');
    await this.kube.event(kc, 'Normal', wanted.type === 'ScaleDown' ? 'DrainingBrokers' : wanted.type === 'ScaleUp' ? 'ScalingUp' : 'Rebalancing', `${wanted.reason}: ${planned.moves.length} partition move(s), ${(bytes / 2 ** 20).toFixed(1)} MiB to copy`);
    const progress: Progress = { partitionsDone: 0, partitionsInFlight: 0, partitionsLeft: planned.moves.length, bytesMoved: 0, bytesLeft: bytes, bytesPerSecond: null, etaSeconds: null, finished: false };
    result.operation = { type: wanted.type, reason: wanted.reason, startedAt: stored2.startedAt, progress: describe(progress), partitionsDone: 0, partitionsInFlight: 0, partitionsLeft: planned.moves.length, bytesMoved: 0, bytesLeft: bytes };
    return result;
  }
}
