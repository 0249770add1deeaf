// DeleteRecords: the partition's leader moves its log start offset up to the requested offset
// (-1: the high watermark), which deletes the records below it, then waits up to timeout_ms for
// the partition's low watermark (the lowest log start offset among the replicas on live brokers,
// which followers report in their fetches) to reach it. Refused for internal topics
// (INVALID_TOPIC_EXCEPTION), for topics whose cleanup.policy lacks delete (POLICY_VIOLATION), and
// past the high watermark (OFFSET_OUT_OF_RANGE), as Kafka does.
import type { BrokerContext } from '../context.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import type { DeleteRecordsRequest, DeleteRecordsResponse } from '../protocol/messages/index.js';
import type { DeleteRecordsPartitionResult } from '../protocol/messages/delete-records-response.js';
import type { DeleteRecordsPartition } from '../protocol/messages/delete-records-request.js';
import { isInternalTopic } from '../topics.js';

/** The offset that asks for every committed record to go. */
const HIGH_WATERMARK = -1;

async function deletePartitionRecords(broker: BrokerContext, topicName: string, p: DeleteRecordsPartition, timeoutMs: number): Promise<DeleteRecordsPartitionResult> {
  const failed = (errorCode: number) => ({ partitionIndex: p.partitionIndex, lowWatermark: -1, errorCode });
  const topic = broker.registry.get(topicName);
  if (!topic || !topic.partitions[p.partitionIndex]) return failed(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  if (isInternalTopic(topicName)) return failed(ErrorCode.INVALID_TOPIC_EXCEPTION);
  if (broker.logs.offlineReason(topicName, p.partitionIndex) !== null) return failed(ErrorCode.KAFKA_STORAGE_ERROR);
  const replica = broker.replicas.replica(topicName, p.partitionIndex);
  if (!replica || replica.role !== 'leader') return failed(ErrorCode.NOT_LEADER_OR_FOLLOWER);
  const log = replica.log;
  if (!log.config.delete) return failed(ErrorCode.POLICY_VIOLATION);
  const offset = p.offset === HIGH_WATERMARK ? log.highWatermark : p.offset;
  if (offset < 0) return failed(ErrorCode.OFFSET_OUT_OF_RANGE);
  try {
    if (log.advanceLogStart(offset)) {
      broker.logger.info({ topic: topicName, partition: p.partitionIndex, logStartOffset: log.logStartOffset, highWatermark: log.highWatermark }, 'records deleted');
    }
  } catch (err) {
    if (err instanceof KafkaError) return failed(err.code);
    throw err;
  }
  const errorCode = await broker.replicas.waitForLowWatermark(replica, offset, timeoutMs);
  return { partitionIndex: p.partitionIndex, lowWatermark: errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER ? -1 : broker.replicas.lowWatermark(replica), errorCode };
}

export async function handleDeleteRecords(broker: BrokerContext, req: DeleteRecordsRequest): Promise<DeleteRecordsResponse> {
  const topics = await Promise.all(
    req.topics.map(async (t) => ({ name: t.name, partitions: await Promise.all(t.partitions.map((p) => deletePartitionRecords(broker, t.name, p, req.timeoutMs))) })),
  );
  return { throttleTimeMs: 0, topics };
}
