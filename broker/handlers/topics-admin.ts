// CreateTopics, DeleteTopics and CreatePartitions: every topic gets its own result, so one bad
// entry never fails the others.
import type { BrokerContext } from '../context.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import type {
  CreateTopicsRequest,
  CreateTopicsResponse,
  DeleteTopicsRequest,
  DeleteTopicsResponse,
  CreatePartitionsRequest,
  CreatePartitionsResponse,
} from '../protocol/messages/index.js';
import type { CreatableTopicResult } from '../protocol/messages/create-topics-response.js';
import type { DeletableTopicResult } from '../protocol/messages/delete-topics-response.js';
import { topicConfigDefs } from '../config.js';
import { ConfigSource } from './configs.js';
import { checkRequestPartitions } from '../topics.js';

const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA';

function asError(err: unknown): KafkaError {
  if (err instanceof KafkaError) return err;
  throw err;
}

function createResult(name: string, errorCode: number, errorMessage: string | null): CreatableTopicResult {
  return { name, topicId: ZERO_UUID, errorCode, errorMessage, topicConfigErrorCode: 0, numPartitions: -1, replicationFactor: -1, configs: null };
}

export async function handleCreateTopics(broker: BrokerContext, req: CreateTopicsRequest): Promise<CreateTopicsResponse> {
  const seen = new Map<string, number>();
  for (const t of req.topics) seen.set(t.name, (seen.get(t.name) ?? 0) + 1);
  const topics: CreatableTopicResult[] = [];
  try {
    checkRequestPartitions(req.topics.reduce((n, t) => n + (t.assignments.length || (t.numPartitions === -1 ? broker.config.int('num.partitions') : Math.max(0, t.numPartitions))), 0));
  } catch (err) {
    const e = asError(err);
    return { throttleTimeMs: 0, topics: req.topics.map((t) => createResult(t.name, e.code, e.message)) };
  }
  for (const t of req.topics) {
    if (seen.get(t.name)! > 1) {
      topics.push(createResult(t.name, ErrorCode.INVALID_REQUEST, `topic "${t.name}" appears more than once in the request`));
      continue;
    }
    const configs: Record<string, string> = {};
    for (const c of t.configs) if (c.value !== null) configs[c.name] = c.value;
    const request = {
      name: t.name,
      numPartitions: t.numPartitions,
      replicationFactor: t.replicationFactor,
      assignments: [...t.assignments].sort((a, b) => a.partitionIndex - b.partitionIndex).map((a) => a.brokerIds),
      configs,
    };
    try {
      const record = req.validateOnly ? broker.topics.plan(request) : await broker.topics.create(request);
      broker.logger.info({ topic: t.name, partitions: record.partitions.length, validateOnly: req.validateOnly }, 'topic created');
      topics.push({
        name: t.name,
        topicId: req.validateOnly ? ZERO_UUID : record.id,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        topicConfigErrorCode: 0,
        numPartitions: record.partitions.length,
        replicationFactor: record.partitions[0]!.replicas.length,
        configs: topicConfigDefs.map((def) => {
          const { value, source } = broker.config.topicValue(def.name, record.configs);
          return { name: def.name, value, readOnly: false, configSource: ConfigSource[source], isSensitive: false };
        }),
      });
    } catch (err) {
      const e = asError(err);
      topics.push(createResult(t.name, e.code, e.message));
    }
  }
  return { throttleTimeMs: 0, topics };
}

export async function handleDeleteTopics(broker: BrokerContext, req: DeleteTopicsRequest, apiVersion: number): Promise<DeleteTopicsResponse> {
  const wanted = apiVersion >= 6 ? req.topics : req.topicNames.map((name) => ({ name, topicId: ZERO_UUID }));
  const responses: DeletableTopicResult[] = [];
  for (const w of wanted) {
    const name = w.name ?? broker.registry.getById(w.topicId)?.name ?? null;
    if (name === null) {
      responses.push({ name: null, topicId: w.topicId, errorCode: ErrorCode.UNKNOWN_TOPIC_ID, errorMessage: `no topic has id ${w.topicId}` });
      continue;
    }
    try {
      const record = await broker.topics.delete(name);
      broker.logger.info({ topic: name }, 'topic deleted');
      responses.push({ name, topicId: record.id, errorCode: ErrorCode.NONE, errorMessage: null });
    } catch (err) {
      const e = asError(err);
      responses.push({ name, topicId: w.topicId, errorCode: e.code, errorMessage: e.message });
    }
  }
  return { throttleTimeMs: 0, responses };
}

export async function handleCreatePartitions(broker: BrokerContext, req: CreatePartitionsRequest): Promise<CreatePartitionsResponse> {
  const results: CreatePartitionsResponse['results'] = [];
  try {
    checkRequestPartitions(req.topics.reduce((n, t) => n + Math.max(0, t.count - (broker.registry.get(t.name)?.partitions.length ?? t.count)), 0));
  } catch (err) {
    const e = asError(err);
    return { throttleTimeMs: 0, results: req.topics.map((t) => ({ name: t.name, errorCode: e.code, errorMessage: e.message })) };
  }
  for (const t of req.topics) {
    try {
      await broker.topics.createPartitions(t.name, t.count, t.assignments?.map((a) => a.brokerIds) ?? null, req.validateOnly);
      if (!req.validateOnly) broker.logger.info({ topic: t.name, partitions: t.count }, 'partitions added');
      results.push({ name: t.name, errorCode: ErrorCode.NONE, errorMessage: null });
    } catch (err) {
      const e = asError(err);
      results.push({ name: t.name, errorCode: e.code, errorMessage: e.message });
    }
  }
  return { throttleTimeMs: 0, results };
}
