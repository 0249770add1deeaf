// Produce: validate each partition's record set (batch headers, then every record, inflating
// compressed batches), stamp offsets into the batch headers and append them to the partition
// log. acks=0 gets no response; with one replica acks=1 and acks=all are both answered once the
// batches are in the log. Internal topics are written by the broker only.
import type { BrokerContext } from '../context.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import type { ProduceRequest, ProduceResponse } from '../protocol/messages/index.js';
import type { PartitionProduceResponse } from '../protocol/messages/produce-response.js';
import { isTransactional, validateClientBatches } from '../records/record-batch.js';
import { RecordValidationError, checkBatchRecords } from '../records/record-validator.js';
import { isInternalTopic } from '../topics.js';

function failed(index: number, errorCode: number, errorMessage: string | null, recordErrors: PartitionProduceResponse['recordErrors'] = []): PartitionProduceResponse {
  return {
    index,
    errorCode,
    baseOffset: -1,
    logAppendTimeMs: -1,
    logStartOffset: -1,
    recordErrors,
    errorMessage,
    currentLeader: { leaderId: -1, leaderEpoch: -1 },
  };
}

export async function handleProduce(broker: BrokerContext, req: ProduceRequest): Promise<ProduceResponse | null> {
  const acks = req.acks;
  const responses: ProduceResponse['responses'] = [];
  const validAcks = acks === 0 || acks === 1 || acks === -1;
  for (const topicData of req.topicData) {
    const topic = broker.registry.get(topicData.name);
    const partitionResponses: PartitionProduceResponse[] = [];
    for (const pd of topicData.partitionData) {
      if (!validAcks) {
        partitionResponses.push(failed(pd.index, ErrorCode.INVALID_REQUIRED_ACKS, `acks must be 0, 1 or -1, got ${acks}`));
        continue;
      }
      if (isInternalTopic(topicData.name)) {
        partitionResponses.push(failed(pd.index, ErrorCode.INVALID_TOPIC_EXCEPTION, `Cannot append to internal topic ${topicData.name}`));
        continue;
      }
      const log = topic ? broker.logs.get(topic.name, pd.index) : undefined;
      const assignment = topic?.partitions[pd.index];
      if (!topic || !log || !assignment) {
        const offline = topic && assignment ? broker.logs.offlineReason(topic.name, pd.index) : null;
        if (offline) broker.metrics.produceRejected(topicData.name, ErrorCode.KAFKA_STORAGE_ERROR);
        partitionResponses.push(
          offline
            ? failed(pd.index, ErrorCode.KAFKA_STORAGE_ERROR, offline)
            : failed(pd.index, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `unknown topic or partition ${topicData.name}-${pd.index}`),
        );
        continue;
      }
      try {
        if (pd.records === null) throw new KafkaError(ErrorCode.INVALID_RECORD, 'no records');
        if (acks === -1 && assignment.replicas.length < log.config.minInsyncReplicas) {
          throw new KafkaError(ErrorCode.NOT_ENOUGH_REPLICAS, `${assignment.replicas.length} in-sync replica(s), min.insync.replicas is ${log.config.minInsyncReplicas}`);
        }
        const batches = validateClientBatches(pd.records, { maxMessageBytes: log.config.maxMessageBytes });
        if (batches.some((b) => isTransactional(b.attributes))) {
          throw new KafkaError(ErrorCode.INVALID_RECORD, 'transactional batches are not supported by this broker yet');
        }
        // Compaction works by key: a compacted topic refuses records without one, as Kafka does.
        await checkBatchRecords(pd.records, batches, { compacted: log.config.compact, maxMessageBytes: log.config.maxMessageBytes });
        // Inflating a compressed batch yields the event loop: the partition may be gone since.
        if (broker.logs.get(topic.name, pd.index) !== log) {
          throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `unknown topic or partition ${topicData.name}-${pd.index}`);
        }
        const result = log.append(pd.records, batches, assignment.leaderEpoch);
        if (!result.duplicate) {
          let records = 0;
          for (const b of batches) records += b.recordCount;
          broker.metrics.recordsIn(topic.name, records, pd.records.length);
        }
        partitionResponses.push({
          index: pd.index,
          errorCode: ErrorCode.NONE,
          baseOffset: result.baseOffset,
          logAppendTimeMs: result.logAppendTime,
          logStartOffset: log.logStartOffset,
          recordErrors: [],
          errorMessage: null,
          currentLeader: { leaderId: -1, leaderEpoch: -1 },
        });
      } catch (err) {
        if (!(err instanceof KafkaError)) throw err;
        broker.metrics.produceRejected(topic.name, err.code);
        partitionResponses.push(failed(pd.index, err.code, err.message, err instanceof RecordValidationError ? err.recordErrors : []));
      }
    }
    responses.push({ name: topicData.name, partitionResponses });
  }
  if (acks === 0) return null;
  return { responses, throttleTimeMs: 0, nodeEndpoints: [] };
}
