// ListOffsets (earliest, latest, max timestamp, by timestamp) and OffsetForLeaderEpoch.
import type { BrokerContext } from '../context.js';
import { ErrorCode } from '../protocol/errors.js';
import type { ListOffsetsRequest, ListOffsetsResponse, OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse } from '../protocol/messages/index.js';
import type { ListOffsetsPartitionResponse } from '../protocol/messages/list-offsets-response.js';
import type { EpochEndOffset } from '../protocol/messages/offset-for-leader-epoch-response.js';

const LATEST = -1;
const EARLIEST = -2;
const MAX_TIMESTAMP = -3;
const EARLIEST_LOCAL = -4;
const LATEST_TIERED = -5;

/** Consumers see only committed records: a record past the high watermark is no match yet. */
function committed(found: { offset: number; timestamp: number } | null, highWatermark: number): { offset: number; timestamp: number } | null {
  return found && found.offset < highWatermark ? found : null;
}

export function handleListOffsets(broker: BrokerContext, req: ListOffsetsRequest): ListOffsetsResponse {
  const topics = req.topics.map((t) => {
    const topic = broker.registry.get(t.name);
    const partitions = t.partitions.map((p): ListOffsetsPartitionResponse => {
      const out = { partitionIndex: p.partitionIndex, errorCode: ErrorCode.NONE as number, oldStyleOffsets: [] as number[], timestamp: -1, offset: -1, leaderEpoch: -1 };
      const assignment = topic?.partitions[p.partitionIndex];
      const log = topic && assignment ? broker.logs.get(topic.name, p.partitionIndex) : undefined;
      if (!topic || !assignment || !log) {
        const offline = topic && assignment && broker.logs.offlineReason(topic.name, p.partitionIndex) !== null;
        return { ...out, errorCode: offline ? ErrorCode.KAFKA_STORAGE_ERROR : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
      }
      if (p.currentLeaderEpoch >= 0 && p.currentLeaderEpoch !== assignment.leaderEpoch) {
        return { ...out, errorCode: p.currentLeaderEpoch > assignment.leaderEpoch ? ErrorCode.UNKNOWN_LEADER_EPOCH : ErrorCode.FENCED_LEADER_EPOCH };
      }
      let found: { offset: number; timestamp: number } | null;
      switch (p.timestamp) {
        case LATEST:
          found = { offset: log.highWatermark, timestamp: -1 };
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
          found = committed(log.maxTimestampRecord(), log.highWatermark);
          break;
        default:
          if (p.timestamp < 0) return { ...out, errorCode: ErrorCode.INVALID_REQUEST };
          found = committed(log.offsetForTimestamp(p.timestamp), log.highWatermark);
      }
      if (!found) return { ...out, leaderEpoch: assignment.leaderEpoch };
      return { ...out, oldStyleOffsets: [found.offset], timestamp: found.timestamp, offset: found.offset, leaderEpoch: assignment.leaderEpoch };
    });
    return { name: t.name, partitions };
  });
  return { throttleTimeMs: 0, topics };
}

export function handleOffsetForLeaderEpoch(broker: BrokerContext, req: OffsetForLeaderEpochRequest): OffsetForLeaderEpochResponse {
  const topics = req.topics.map((t) => {
    const topic = broker.registry.get(t.topic);
    const partitions = t.partitions.map((p): EpochEndOffset => {
      const assignment = topic?.partitions[p.partition];
      const log = topic && assignment ? broker.logs.get(topic.name, p.partition) : undefined;
      if (!topic || !assignment || !log) {
        const offline = topic && assignment && broker.logs.offlineReason(topic.name, p.partition) !== null;
        return { errorCode: offline ? ErrorCode.KAFKA_STORAGE_ERROR : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, partition: p.partition, leaderEpoch: -1, endOffset: -1 };
      }
      if (p.currentLeaderEpoch >= 0 && p.currentLeaderEpoch !== assignment.leaderEpoch) {
        const code = p.currentLeaderEpoch > assignment.leaderEpoch ? ErrorCode.UNKNOWN_LEADER_EPOCH : ErrorCode.FENCED_LEADER_EPOCH;
        return { errorCode: code, partition: p.partition, leaderEpoch: -1, endOffset: -1 };
      }
      // An epoch later than the current one is unknown. The current one ends at the log end,
      // even before a batch carries it (Kafka records it when leadership starts); earlier ones
      // end where the leader-epoch cache says (KIP-279).
      if (p.leaderEpoch > assignment.leaderEpoch) return { errorCode: ErrorCode.NONE, partition: p.partition, leaderEpoch: -1, endOffset: -1 };
      const found = p.leaderEpoch === assignment.leaderEpoch ? { epoch: p.leaderEpoch, endOffset: log.logEndOffset } : log.endOffsetForEpoch(p.leaderEpoch);
      return { errorCode: ErrorCode.NONE, partition: p.partition, leaderEpoch: found.epoch, endOffset: found.endOffset };
    });
    return { topic: t.topic, partitions };
  });
  return { throttleTimeMs: 0, topics };
}
