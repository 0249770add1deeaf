// ListOffsets (earliest, latest, max timestamp, by timestamp) and OffsetForLeaderEpoch, both
// answered by the partition's leader only (followers ask it OffsetForLeaderEpoch before they
// truncate). read_committed consumers (isolation_level 1) see offsets below the last stable
// offset only.
import type { BrokerContext } from '../context.js';
import type { TopicRecord } from '../metadata/topic-registry.js';
import type { PartitionReplica } from '../replication/replica-manager.js';
import { ErrorCode } from '../protocol/errors.js';
import type { ListOffsetsRequest, ListOffsetsResponse, OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse } from '../protocol/messages/index.js';
import type { ListOffsetsPartitionResponse } from '../protocol/messages/list-offsets-response.js';
import type { EpochEndOffset } from '../protocol/messages/offset-for-leader-epoch-response.js';

const LATEST = -1;
const EARLIEST = -2;
const MAX_TIMESTAMP = -3;
const EARLIEST_LOCAL = -4;
const LATEST_TIERED = -5;
const READ_COMMITTED = 1;

/** Consumers see only committed records: a record past the high watermark (or the LSO) is no match yet. */
function committed(found: { offset: number; timestamp: number } | null, visibleEnd: number): { offset: number; timestamp: number } | null {
  return found && found.offset < visibleEnd ? found : null;
}

/** The leader's replica of a partition, or the error code a request for it gets. */
export function leaderReplica(broker: BrokerContext, topic: TopicRecord | undefined, partition: number, currentLeaderEpoch: number): PartitionReplica | number {
  if (!topic || !topic.partitions[partition]) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
  if (broker.logs.offlineReason(topic.name, partition) !== null) return ErrorCode.KAFKA_STORAGE_ERROR;
  const replica = broker.replicas.replica(topic.name, partition);
  if (!replica || replica.role !== 'leader' || !broker.logs.get(topic.name, partition)) return ErrorCode.NOT_LEADER_OR_FOLLOWER;
  if (currentLeaderEpoch >= 0 && currentLeaderEpoch !== replica.leaderEpoch) {
    return currentLeaderEpoch > replica.leaderEpoch ? ErrorCode.UNKNOWN_LEADER_EPOCH : ErrorCode.FENCED_LEADER_EPOCH;
  }
  return replica;
}

export function handleListOffsets(broker: BrokerContext, req: ListOffsetsRequest): ListOffsetsResponse {
  const topics = req.topics.map((t) => {
    const topic = broker.registry.get(t.name);
    const partitions = t.partitions.map((p): ListOffsetsPartitionResponse => {
      const out = { partitionIndex: p.partitionIndex, errorCode: ErrorCode.NONE as number, oldStyleOffsets: [] as number[], timestamp: -1, offset: -1, leaderEpoch: -1 };
      const replica = leaderReplica(broker, topic, p.partitionIndex, p.currentLeaderEpoch);
      if (typeof replica === 'number') return { ...out, errorCode: replica };
      const log = replica.log;
      const visibleEnd = req.isolationLevel === READ_COMMITTED ? log.lastStableOffset : log.highWatermark;
      let found: { offset: number; timestamp: number } | null;
      switch (p.timestamp) {
        case LATEST:
          // A replica (replica id >= 0) asks where the leader's log ends; consumers get the high watermark (read_committed: the LSO).
          found = { offset: req.replicaId >= 0 ? log.logEndOffset : visibleEnd, timestamp: -1 };
          break;
        case EARLIEST:
        case EARLIEST_LOCAL:
          found = { offset: log.logStartOffset, timestamp: -1 };
          break;
        case LATEST_TIERED:
          // Nothing is tiered: Kafka answers with the offset before the log start.
          found = { offset: log.logStartOffset - 1, timestamp: -1 };
          break;
        case MAX_TIMESTAMP:
          found = committed(log.maxTimestampRecord(), visibleEnd);
          break;
        default:
          if (p.timestamp < 0) return { ...out, errorCode: ErrorCode.INVALID_REQUEST };
          found = committed(log.offsetForTimestamp(p.timestamp), visibleEnd);
      }
      if (!found) return { ...out, leaderEpoch: replica.leaderEpoch };
      return { ...out, oldStyleOffsets: [found.offset], timestamp: found.timestamp, offset: found.offset, leaderEpoch: replica.leaderEpoch };
    });
    return { name: t.name, partitions };
  });
  return { throttleTimeMs: 0, topics };
}

export function handleOffsetForLeaderEpoch(broker: BrokerContext, req: OffsetForLeaderEpochRequest): OffsetForLeaderEpochResponse {
  const topics = req.topics.map((t) => {
    const topic = broker.registry.get(t.topic);
    const partitions = t.partitions.map((p): EpochEndOffset => {
      const replica = leaderReplica(broker, topic, p.partition, p.currentLeaderEpoch);
      if (typeof replica === 'number') return { errorCode: replica, partition: p.partition, leaderEpoch: -1, endOffset: -1 };
      // An epoch later than the current one is unknown. The current one ends at the log end,
      // even before a batch carries it (Kafka records it when leadership starts); earlier ones
      // end where the leader-epoch cache says (KIP-279).
      if (p.leaderEpoch > replica.leaderEpoch) return { errorCode: ErrorCode.NONE, partition: p.partition, leaderEpoch: -1, endOffset: -1 };
      const found = p.leaderEpoch === replica.leaderEpoch ? { epoch: p.leaderEpoch, endOffset: replica.log.logEndOffset } : replica.log.endOffsetForEpoch(p.leaderEpoch);
      return { errorCode: ErrorCode.NONE, partition: p.partition, leaderEpoch: found.epoch, endOffset: found.endOffset };
    });
    return { topic: t.topic, partitions };
  });
  return { throttleTimeMs: 0, topics };
}
