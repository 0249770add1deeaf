// DescribeProducers (KIP-664): the producers a partition's leader knows from its producer state
// (epoch, last sequence and timestamp, the coordinator epoch of their last marker, the first
// offset of their open transaction), what kafka-transactions.sh describe-producers shows and
// what an operator needs to find a transaction that holds the last stable offset back.
import type { BrokerContext } from '../context.js';
import { ErrorCode } from '../protocol/errors.js';
import type { DescribeProducersRequest, DescribeProducersResponse } from '../protocol/messages/index.js';
import type { PartitionResponse } from '../protocol/messages/describe-producers-response.js';
import { leaderReplica } from './offsets.js';

const NOT_LEADER_MESSAGE = 'this broker is not the leader of the partition';

export function handleDescribeProducers(broker: BrokerContext, req: DescribeProducersRequest): DescribeProducersResponse {
  const topics = req.topics.map((t) => {
    const topic = broker.registry.get(t.name);
    const partitions = t.partitionIndexes.map((partitionIndex): PartitionResponse => {
      const replica = leaderReplica(broker, topic, partitionIndex, -1);
      if (typeof replica === 'number') {
        const errorMessage = replica === ErrorCode.NOT_LEADER_OR_FOLLOWER ? NOT_LEADER_MESSAGE : replica === ErrorCode.KAFKA_STORAGE_ERROR ? broker.logs.offlineReason(t.name, partitionIndex) : null;
        return { partitionIndex, errorCode: replica, errorMessage, activeProducers: [] };
      }
      return { partitionIndex, errorCode: ErrorCode.NONE, errorMessage: null, activeProducers: replica.log.producers.describe() };
    });
    return { name: t.name, partitions };
  });
  return { throttleTimeMs: 0, topics };
}
