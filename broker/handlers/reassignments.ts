// AlterPartitionReassignments and ListPartitionReassignments (KIP-455, kafka-reassign-partitions.sh).
// Any broker handles them: a reassignment is started, replaced or cancelled by a compare-and-set
// on the partition's state (controller/reassignment.ts); the controller completes it once the new
// replicas are in sync. A refused partition is left as it was.
import type { BrokerContext } from '../context.js';
import type { VersionedState } from '../metadata/cluster-view.js';
import { VersionConflictError } from '../metadata/metadata-store.js';
import type { TopicRecord } from '../metadata/topic-registry.js';
import { cancelReassignment, reassigning, ReassignmentError, startReassignment, validateTarget } from '../controller/reassignment.js';
import type { PartitionState } from '../controller/partition-state.js';
import { ErrorCode } from '../protocol/errors.js';
import type { AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse } from '../protocol/messages/index.js';
import type { ReassignablePartitionResponse } from '../protocol/messages/alter-partition-reassignments-response.js';
import type { OngoingTopicReassignment } from '../protocol/messages/list-partition-reassignments-response.js';

/** Compare-and-set attempts before a partition that keeps changing (ISR updates) is answered with a retriable error. */
const ATTEMPTS = 10;

const result = (partitionIndex: number, errorCode: number, errorMessage: string | null): ReassignablePartitionResponse => ({ partitionIndex, errorCode, errorMessage });

async function reassignPartition(broker: BrokerContext, topic: TopicRecord, partition: number, target: number[] | null): Promise<ReassignablePartitionResponse> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const current: VersionedState | undefined = broker.view.partition(topic, partition);
    if (!current) return result(partition, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Unable to find partition ${topic.name}-${partition}.`);
    const epoch = Math.max(current.state.controllerEpoch, broker.controller.epoch, 0);
    let next: PartitionState | null;
    try {
      if (target === null) next = cancelReassignment(current.state, broker.view.liveness(), epoch);
      else {
        validateTarget(target, new Set(broker.view.brokers.keys()));
        next = startReassignment(current.state, target, epoch);
      }
    } catch (err) {
      if (!(err instanceof ReassignmentError)) throw err;
      return result(partition, err.reason === 'no-reassignment' ? ErrorCode.NO_REASSIGNMENT_IN_PROGRESS : ErrorCode.INVALID_REPLICA_ASSIGNMENT, err.message);
    }
    if (!next) return result(partition, ErrorCode.NONE, null);
    try {
      await broker.view.writePartition(topic, partition, next, current.version);
    } catch (err) {
      if (!(err instanceof VersionConflictError)) throw err;
      // A concurrent change (an ISR update) won: the watch brings it, then this is recomputed from it.
      await new Promise((resolve) => setTimeout(resolve, 50 * (attempt + 1)));
      continue;
    }
    broker.logger.info({ topic: topic.name, partition, target, replicas: next.replicas, adding: next.adding, removing: next.removing, leader: next.leader }, target === null ? 'reassignment cancelled' : 'reassignment started');
    return result(partition, ErrorCode.NONE, null);
  }
  return result(partition, ErrorCode.NOT_CONTROLLER, `${topic.name}-${partition} kept changing concurrently; retry`);
}

export async function handleAlterPartitionReassignments(broker: BrokerContext, req: AlterPartitionReassignmentsRequest): Promise<AlterPartitionReassignmentsResponse> {
  const responses: AlterPartitionReassignmentsResponse['responses'] = [];
  for (const t of req.topics) {
    const topic = broker.registry.get(t.name);
    const partitions: ReassignablePartitionResponse[] = [];
    for (const p of t.partitions) {
      if (!topic || !topic.partitions[p.partitionIndex]) partitions.push(result(p.partitionIndex, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Unable to find partition ${t.name}-${p.partitionIndex}.`));
      else partitions.push(await reassignPartition(broker, topic, p.partitionIndex, p.replicas));
    }
    responses.push({ name: t.name, partitions });
  }
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, responses };
}

/** The reassignments in flight, of every partition or of those asked for (unknown ones are left out, as in Kafka). */
export function handleListPartitionReassignments(broker: BrokerContext, req: ListPartitionReassignmentsRequest): ListPartitionReassignmentsResponse {
  const wanted =
    req.topics === null
      ? broker.registry.all().map((topic) => ({ topic, partitions: topic.partitions.map((p) => p.partition) }))
      : req.topics.flatMap((t) => {
          const topic = broker.registry.get(t.name);
          return topic ? [{ topic, partitions: t.partitionIndexes }] : [];
        });
  const topics: OngoingTopicReassignment[] = [];
  for (const { topic, partitions } of wanted) {
    const ongoing: OngoingTopicReassignment['partitions'] = [];
    for (const p of partitions) {
      const state = broker.view.partition(topic, p)?.state;
      if (state && reassigning(state)) ongoing.push({ partitionIndex: p, replicas: state.replicas, addingReplicas: state.adding, removingReplicas: state.removing });
    }
    if (ongoing.length > 0) topics.push({ name: topic.name, partitions: ongoing });
  }
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, topics };
}
