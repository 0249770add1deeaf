// A KafkaTopic's replicationFactor changed: the partitions get replicas added or removed by
// reassignment, through the same planner and executor as the cluster's partition moves
// (operator/rebalance/). Only the required moves are planned (no balancing of anything else),
// and the plan is kept in the KafkaTopic's status, so a restarted operator carries it on.
import type { Logger } from 'pino';
import { type Address, plannerInput, readClusterState } from '../rebalance/cluster-state.js';
import { plan } from '../rebalance/planner.js';
import type { KafkaCluster, KafkaTopicStatus } from '../crds/types.js';
import { Executors, executorOptions } from '../cluster/partition-moves.js';

export type Reassignment = NonNullable<KafkaTopicStatus['reassignment']>;

export type ReplicationFactorStep =
  | { state: 'done'; moved: number }
  | { state: 'moving'; reassignment: Reassignment }
  | { state: 'refused'; reason: string };

/** Tolerances no cluster exceeds: the planner makes only the moves the replication factor needs. */
const REQUIRED_ONLY = { replicas: Number.MAX_SAFE_INTEGER, leaders: Number.MAX_SAFE_INTEGER, bytes: Number.MAX_SAFE_INTEGER, bytesFloor: Number.MAX_SAFE_INTEGER };

const executors = new Executors();

/**
 * One step towards `replicationFactor` for `topic`: plans the moves when none are stored, else
 * carries the stored ones on. `brokers` are the cluster's ready brokers.
 */
export async function stepReplicationFactor(
  key: string,
  cluster: KafkaCluster,
  topic: string,
  replicationFactor: number,
  stored: Reassignment | undefined,
  brokers: Address[],
  logger: Logger,
): Promise<ReplicationFactorStep> {
  let reassignment = stored;
  if (!reassignment) {
    const state = await readClusterState(brokers);
    const planned = plan(plannerInput(state, { replicationFactors: new Map([[topic, replicationFactor]]), tolerance: REQUIRED_ONLY }));
    if (!planned.ok) return { state: 'refused', reason: planned.reason };
    const moves = planned.moves.filter((m) => m.topic === topic);
    if (moves.length === 0) return { state: 'done', moved: 0 };
    reassignment = { replicationFactor, startedAt: new Date().toISOString(), progress: `0/${moves.length} partitions`, moves };
    logger.info({ topic: key, replicationFactor, partitions: moves.length }, 'replication factor change planned');
  }
  const step = await executors.for(key, reassignment.startedAt, reassignment.moves, brokers, executorOptions(cluster)).step();
  for (const error of step.errors) logger.warn({ topic: key, error }, 'a replica move was refused; retrying');
  if (step.progress.finished) {
    executors.forget(key);
    return { state: 'done', moved: reassignment.moves.length };
  }
  const p = step.progress;
  return { state: 'moving', reassignment: { ...reassignment, progress: `${p.partitionsDone}/${p.partitionsDone + p.partitionsInFlight + p.partitionsLeft} partitions` } };
}
