// Produce: validate each partition's record set (batch headers, then every record, inflating
// compressed batches), stamp offsets into the batch headers and append them to the leader's log.
// acks=0 gets no response; acks=1 is answered once the batches are in the leader's log; acks=all
// once every in-sync replica has them (the high watermark passed them). Only the partition's
// leader takes writes: other brokers answer NOT_LEADER_OR_FOLLOWER with the current leader.
// Internal topics are written by the broker only, and so are transaction markers (control batches).
import type { BrokerContext, RequestContext } from '../context.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import type { ProduceRequest, ProduceResponse } from '../protocol/messages/index.js';
import type { PartitionProduceResponse } from '../protocol/messages/produce-response.js';
import { leaderEndpoints } from './leader-endpoints.js';
import { validateClientBatches } from '../records/record-batch.js';
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

export async function handleProduce(broker: BrokerContext, req: ProduceRequest, ctx: RequestContext): Promise<ProduceResponse | null> {
  const acks = req.acks;
  const responses: ProduceResponse['responses'] = [];
  const commits: Promise<void>[] = [];
  const leaders = new Set<number>();
  const validAcks = acks === 0 || acks === 1 || acks === -1;
  // v12 is v11 but, within a transaction, also adds the partition to it (KIP-890 part 2). That is
  // transactions v2, which this broker does not enable (no transaction.version feature), so a
  // transactional producer may not use v12 here; refusing it keeps records out of a transaction
  // that would never end them.
  const implicitAdd = ctx.apiVersion >= 12 && req.transactionalId !== null;
  for (const topicData of req.topicData) {
    const topic = broker.registry.get(topicData.name);
    const partitionResponses: PartitionProduceResponse[] = [];
    for (const pd of topicData.partitionData) {
      if (implicitAdd) {
        partitionResponses.push(failed(pd.index, ErrorCode.UNSUPPORTED_VERSION, 'Produce v12 within a transaction needs transactions v2 (transaction.version 2), which this broker does not enable: use Produce v11 or below'));
        continue;
      }
      if (!validAcks) {
        partitionResponses.push(failed(pd.index, ErrorCode.INVALID_REQUIRED_ACKS, `acks must be 0, 1 or -1, got ${acks}`));
        continue;
      }
      if (isInternalTopic(topicData.name)) {
        partitionResponses.push(failed(pd.index, ErrorCode.INVALID_TOPIC_EXCEPTION, `Cannot append to internal topic ${topicData.name}`));
        continue;
      }
      const assignment = topic?.partitions[pd.index];
      const replica = topic && assignment ? broker.replicas.replica(topic.name, pd.index) : undefined;
      if (topic && assignment && replica?.role !== 'leader' && broker.logs.offlineReason(topic.name, pd.index) === null) {
        const state = broker.view.partition(topic, pd.index)!.state;
        if (state.leader >= 0) leaders.add(state.leader);
        broker.metrics.produceRejected(topic.name, ErrorCode.NOT_LEADER_OR_FOLLOWER);
        partitionResponses.push({
          ...failed(pd.index, ErrorCode.NOT_LEADER_OR_FOLLOWER, `broker ${broker.nodeId} is not the leader of ${topic.name}-${pd.index}; the leader is ${state.leader}`),
          currentLeader: { leaderId: state.leader, leaderEpoch: state.leaderEpoch },
        });
        continue;
      }
      const log = replica ? broker.logs.get(topic!.name, pd.index) : undefined;
      if (!topic || !log || !assignment || !replica) {
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
        const isr = replica.state.isr.length;
        if (acks === -1 && isr < log.config.minInsyncReplicas) {
          throw new KafkaError(ErrorCode.NOT_ENOUGH_REPLICAS, `${isr} in-sync replica(s) of ${topic.name}-${pd.index}, min.insync.replicas is ${log.config.minInsyncReplicas}`);
        }
        const batches = validateClientBatches(pd.records, { maxMessageBytes: log.config.maxMessageBytes });
        // As Kafka: transactional records come with the transactional id (whose WRITE the authorizer checks).
        if (req.transactionalId === null && batches.some((b) => b.transactional)) {
          throw new KafkaError(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, 'transactional records must come with the producer\'s transactional id');
        }
        // Compaction works by key: a compacted topic refuses records without one, as Kafka does.
        await checkBatchRecords(pd.records, batches, { compacted: log.config.compact, maxMessageBytes: log.config.maxMessageBytes });
        // Inflating a compressed batch yields the event loop: the partition may be gone or led elsewhere since.
        if (broker.logs.get(topic.name, pd.index) !== log) {
          throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `unknown topic or partition ${topicData.name}-${pd.index}`);
        }
        if (replica.role !== 'leader') throw new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `broker ${broker.nodeId} is no longer the leader of ${topic.name}-${pd.index}`);
        const result = log.append(pd.records, batches, replica.leaderEpoch);
        if (!result.duplicate) {
          let records = 0;
          for (const b of batches) records += b.recordCount;
          broker.metrics.recordsIn(topic.name, records, pd.records.length);
        }
        const response: PartitionProduceResponse = {
          index: pd.index,
          errorCode: ErrorCode.NONE,
          baseOffset: result.baseOffset,
          logAppendTimeMs: result.logAppendTime,
          logStartOffset: log.logStartOffset,
          recordErrors: [],
          errorMessage: null,
          currentLeader: { leaderId: -1, leaderEpoch: -1 },
        };
        partitionResponses.push(response);
        if (acks === -1) {
          const name = topic.name;
          commits.push(
            broker.replicas.waitForCommit(replica, result.lastOffset + 1, req.timeoutMs).then((code) => {
              if (code === ErrorCode.NONE) return;
              broker.metrics.produceRejected(name, code);
              Object.assign(response, failed(pd.index, code, commitFailure(code, name, pd.index)));
            }),
          );
        }
      } catch (err) {
        if (!(err instanceof KafkaError)) throw err;
        broker.metrics.produceRejected(topic.name, err.code);
        partitionResponses.push(failed(pd.index, err.code, err.message, err instanceof RecordValidationError ? err.recordErrors : []));
      }
    }
    responses.push({ name: topicData.name, partitionResponses });
  }
  if (acks === 0) return null;
  await Promise.all(commits);
  return { responses, throttleTimeMs: 0, nodeEndpoints: leaderEndpoints(broker, leaders, ctx.listenerName) };
}

function commitFailure(code: number, topic: string, partition: number): string {
  switch (code) {
    case ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND:
      return `the records were written to ${topic}-${partition}, but the ISR shrank below min.insync.replicas before they were replicated`;
    case ErrorCode.REQUEST_TIMED_OUT:
      return `the in-sync replicas of ${topic}-${partition} did not replicate the records within the request timeout`;
    default:
      return `leadership of ${topic}-${partition} moved before the records were replicated`;
  }
}
