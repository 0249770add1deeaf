// Metadata, DescribeCluster and DescribeTopicPartitions: live brokers, the controller, topics with
// partition leaders, replicas, ISRs and offline replicas, the same from every broker of the cluster.
import type { BrokerContext, RequestContext } from '../context.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import type {
  MetadataRequest,
  MetadataResponse,
  DescribeClusterRequest,
  DescribeClusterResponse,
  DescribeTopicPartitionsRequest,
  DescribeTopicPartitionsResponse,
} from '../protocol/messages/index.js';
import type { DescribeTopicPartitionsResponseTopic } from '../protocol/messages/describe-topic-partitions-response.js';
import type { MetadataResponseTopic } from '../protocol/messages/metadata-response.js';
import type { TopicRecord } from '../metadata/topic-registry.js';

const NOT_REQUESTED = -2147483648;
const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA';
// With no authorizer every operation is allowed: READ..ALTER_CONFIGS, bits 3-8, 10, 11 of Kafka's AclOperation.
const ALL_TOPIC_OPERATIONS = [3, 4, 5, 6, 7, 8, 10, 11].reduce((bits, op) => bits | (1 << op), 0);
const ALL_CLUSTER_OPERATIONS = [4, 5, 7, 8, 9, 10, 11, 12].reduce((bits, op) => bits | (1 << op), 0);

export function describeTopic(broker: BrokerContext, topic: TopicRecord, includeOperations: boolean): MetadataResponseTopic {
  return {
    errorCode: ErrorCode.NONE,
    name: topic.name,
    topicId: topic.id,
    isInternal: topic.name.startsWith('__'),
    partitions: topic.partitions.map((p) => {
      const { state } = broker.view.partition(topic, p.partition)!;
      // A replica is offline when its broker is not registered, or (this broker) its log is offline.
      const localOffline = broker.logs.offlineReason(topic.name, p.partition) !== null;
      const offlineReplicas = state.replicas.filter((id) => !broker.view.brokers.has(id) || (id === broker.nodeId && localOffline));
      const leaderId = offlineReplicas.includes(state.leader) ? -1 : state.leader;
      return {
        errorCode: leaderId === -1 ? ErrorCode.LEADER_NOT_AVAILABLE : ErrorCode.NONE,
        partitionIndex: p.partition,
        leaderId,
        leaderEpoch: state.leaderEpoch,
        replicaNodes: state.replicas,
        isrNodes: state.isr,
        offlineReplicas,
      };
    }),
    topicAuthorizedOperations: includeOperations ? ALL_TOPIC_OPERATIONS : NOT_REQUESTED,
  };
}

function topicError(errorCode: number, name: string | null, topicId = ZERO_UUID): MetadataResponseTopic {
  return { errorCode, name, topicId, isInternal: false, partitions: [], topicAuthorizedOperations: NOT_REQUESTED };
}

export async function handleMetadata(broker: BrokerContext, req: MetadataRequest, ctx: RequestContext): Promise<MetadataResponse> {
  // Before v4 there is no flag: auto-creation follows the broker setting alone.
  const mayCreate = ctx.apiVersion < 4 || req.allowAutoTopicCreation;
  let topics: MetadataResponseTopic[];
  if (req.topics === null || (ctx.apiVersion === 0 && req.topics.length === 0)) {
    topics = broker.registry.all().map((t) => describeTopic(broker, t, req.includeTopicAuthorizedOperations));
  } else {
    topics = [];
    for (const wanted of req.topics) {
      if (wanted.name === null) {
        const byId = broker.registry.getById(wanted.topicId);
        topics.push(byId ? describeTopic(broker, byId, req.includeTopicAuthorizedOperations) : topicError(ErrorCode.UNKNOWN_TOPIC_ID, null, wanted.topicId));
        continue;
      }
      let topic = broker.registry.get(wanted.name);
      if (!topic && mayCreate) {
        try {
          broker.topics.validateNewName(wanted.name);
          topic = await broker.autoCreateTopic(wanted.name);
        } catch (err) {
          if (!(err instanceof KafkaError)) throw err;
          topic = broker.registry.get(wanted.name);
          if (!topic) {
            topics.push(topicError(err.code, wanted.name));
            continue;
          }
        }
      }
      topics.push(topic ? describeTopic(broker, topic, req.includeTopicAuthorizedOperations) : topicError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, wanted.name));
    }
  }
  return {
    throttleTimeMs: 0,
    brokers: broker.brokers(ctx.listenerName),
    clusterId: broker.registry.clusterId,
    controllerId: broker.controllerId(),
    topics,
    clusterAuthorizedOperations: req.includeClusterAuthorizedOperations ? ALL_CLUSTER_OPERATIONS : NOT_REQUESTED,
    // v13's top-level error (KIP-1102): nothing here fails the whole request; topics carry their own errors.
    errorCode: ErrorCode.NONE,
  };
}

/** DescribeCluster's endpoint types (KIP-919). */
const EndpointType = { BROKER: 1, CONTROLLER: 2 } as const;

/**
 * The brokers of the cluster (KIP-919: only on a broker endpoint; Samsa has no controller
 * endpoints, its controller is one of the brokers). v2's include_fenced_brokers (KIP-1073) adds
 * nothing: a broker whose session expired is fenced by losing its registration, so every broker
 * Samsa knows is unfenced.
 */
export function handleDescribeCluster(broker: BrokerContext, req: DescribeClusterRequest, ctx: RequestContext): DescribeClusterResponse {
  const response: DescribeClusterResponse = {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    endpointType: req.endpointType,
    clusterId: broker.registry.clusterId,
    controllerId: broker.controllerId(),
    brokers: [],
    clusterAuthorizedOperations: req.includeClusterAuthorizedOperations ? ALL_CLUSTER_OPERATIONS : NOT_REQUESTED,
  };
  if (req.endpointType === EndpointType.CONTROLLER) {
    return { ...response, errorCode: ErrorCode.MISMATCHED_ENDPOINT_TYPE, errorMessage: 'This is a broker endpoint; Samsa has no controller endpoints (its controller is one of the brokers).' };
  }
  if (req.endpointType !== EndpointType.BROKER) {
    return { ...response, errorCode: ErrorCode.UNSUPPORTED_ENDPOINT_TYPE, errorMessage: `Unknown endpoint type ${req.endpointType}: 1 is brokers, 2 is controllers.` };
  }
  response.brokers = broker.brokers(ctx.listenerName).map((b) => ({ brokerId: b.nodeId, host: b.host, port: b.port, rack: b.rack, isFenced: false }));
  return response;
}

/**
 * DescribeTopicPartitions (KIP-966; Kafka 4's kafka-topics --describe): topics by name (all when
 * none is named) in name order, at most `responsePartitionLimit` partitions per response, with a
 * cursor to go on from.
 */
export function handleDescribeTopicPartitions(broker: BrokerContext, req: DescribeTopicPartitionsRequest): DescribeTopicPartitionsResponse {
  const names = (req.topics.length > 0 ? req.topics.map((t) => t.name) : broker.registry.all().map((t) => t.name)).sort();
  const limit = req.responsePartitionLimit > 0 ? req.responsePartitionLimit : 2000;
  const topics: DescribeTopicPartitionsResponseTopic[] = [];
  let budget = limit;
  let nextCursor: DescribeTopicPartitionsResponse['nextCursor'] = null;
  for (const name of names) {
    if (req.cursor && name < req.cursor.topicName) continue;
    const topic = broker.registry.get(name);
    if (!topic) {
      topics.push({ errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name, topicId: ZERO_UUID, isInternal: false, partitions: [], topicAuthorizedOperations: NOT_REQUESTED });
      continue;
    }
    const described = describeTopic(broker, topic, false);
    const first = req.cursor && name === req.cursor.topicName ? req.cursor.partitionIndex : 0;
    const partitions = described.partitions.slice(first);
    if (budget <= 0 || partitions.length > budget) {
      nextCursor = { topicName: name, partitionIndex: first + Math.max(0, budget) };
      partitions.length = Math.max(0, budget);
    }
    budget -= partitions.length;
    if (partitions.length > 0 || !nextCursor) {
      topics.push({
        errorCode: ErrorCode.NONE,
        name,
        topicId: topic.id,
        isInternal: described.isInternal,
        partitions: partitions.map((p) => ({ ...p, eligibleLeaderReplicas: [], lastKnownElr: [] })),
        topicAuthorizedOperations: ALL_TOPIC_OPERATIONS,
      });
    }
    if (nextCursor) break;
  }
  return { throttleTimeMs: 0, topics, nextCursor };
}
