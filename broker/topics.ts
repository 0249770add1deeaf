// Topic lifecycle as the admin APIs see it: create, delete, add partitions, change configs.
// Checks requests as Kafka does and reports failures as KafkaError with Kafka's codes; the
// registry (MetadataStore) is written first, then the logs on disk follow it.
import { type BrokerConfig, ConfigError, resolveLogConfig, validateTopicConfigs } from './config.js';
import { ErrorCode, KafkaError } from './protocol/errors.js';
import { VersionConflictError } from './metadata/metadata-store.js';
import { type PartitionAssignment, type TopicRecord, TopicRegistry, newUuid } from './metadata/topic-registry.js';
import type { LogManager } from './storage/log-manager.js';

const MAX_TOPIC_NAME = 249;
const LEGAL_TOPIC_NAME = /^[a-zA-Z0-9._-]+$/;

/** Kafka's internal topics: written by the broker only; never deleted or resized by clients. */
const INTERNAL_TOPICS: ReadonlySet<string> = new Set(['__consumer_offsets', '__transaction_state', '__share_group_state']);

export const isInternalTopic = (name: string): boolean => INTERNAL_TOPICS.has(name);

/** Metric names replace '.' with '_', so Kafka refuses a topic that differs from another only there. */
const collisionName = (name: string): string => name.replaceAll('.', '_');

export function validateTopicName(name: string): void {
  if (name.length === 0) throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, 'topic name is empty');
  if (name === '.' || name === '..') throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, `topic name cannot be "${name}"`);
  if (name.length > MAX_TOPIC_NAME) throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, `topic name is longer than ${MAX_TOPIC_NAME} characters`);
  if (!LEGAL_TOPIC_NAME.test(name)) {
    throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, `topic name "${name}" may only contain ASCII letters, digits, '.', '_' and '-'`);
  }
}

export interface CreateTopicRequest {
  name: string;
  /** -1 for the broker default (num.partitions). */
  numPartitions: number;
  /** -1 for the broker default (default.replication.factor). */
  replicationFactor: number;
  /** Explicit replica lists by partition; empty to let the broker assign. */
  assignments: number[][];
  configs: Record<string, string>;
}

export class TopicService {
  constructor(
    readonly registry: TopicRegistry,
    private readonly logs: LogManager,
    private readonly config: BrokerConfig,
    /** Ids of the brokers that can hold replicas. */
    private readonly brokerIds: () => number[],
  ) {}

  /** Opens the logs of every topic in the registry (broker start). */
  openAll(): void {
    for (const topic of this.registry.all()) {
      const config = resolveLogConfig(this.config, topic.configs);
      for (const p of topic.partitions) this.logs.open(topic.name, p.partition, config);
    }
  }

  /** Checks the name of a topic to create: legal, and not colliding with another topic on '.'/'_'. */
  validateNewName(name: string): void {
    validateTopicName(name);
    if (!/[._]/.test(name)) return;
    const normalized = collisionName(name);
    const existing = this.registry.all().find((t) => t.name !== name && collisionName(t.name) === normalized);
    if (existing) throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, `Topic '${name}' collides with existing topic: ${existing.name}`);
  }

  /** Checks a create request and returns the record it would write. */
  plan(request: CreateTopicRequest): TopicRecord {
    this.validateNewName(request.name);
    if (this.registry.get(request.name)) throw new KafkaError(ErrorCode.TOPIC_ALREADY_EXISTS, `topic "${request.name}" already exists`);
    let configs: Record<string, string>;
    try {
      configs = validateTopicConfigs(request.configs);
    } catch (err) {
      if (err instanceof ConfigError) throw new KafkaError(ErrorCode.INVALID_CONFIG, err.message);
      throw err;
    }
    const brokers = this.brokerIds();
    let partitions: PartitionAssignment[];
    if (request.assignments.length > 0) {
      if (request.numPartitions !== -1 || request.replicationFactor !== -1) {
        throw new KafkaError(ErrorCode.INVALID_REQUEST, 'give either replica assignments or numPartitions/replicationFactor, not both');
      }
      partitions = request.assignments.map((replicas, partition) => this.checkReplicas(replicas, partition, brokers));
    } else {
      const count = request.numPartitions === -1 ? this.config.int('num.partitions') : request.numPartitions;
      const rf = request.replicationFactor === -1 ? this.config.int('default.replication.factor') : request.replicationFactor;
      if (count <= 0) throw new KafkaError(ErrorCode.INVALID_PARTITIONS, `number of partitions must be larger than 0, got ${count}`);
      if (rf <= 0) throw new KafkaError(ErrorCode.INVALID_REPLICATION_FACTOR, `replication factor must be larger than 0, got ${rf}`);
      if (rf > brokers.length) {
        throw new KafkaError(ErrorCode.INVALID_REPLICATION_FACTOR, `replication factor ${rf} is larger than the ${brokers.length} available broker(s)`);
      }
      partitions = this.assign(0, count, rf, brokers);
    }
    return { name: request.name, id: newUuid(), partitions, configs };
  }

  private checkReplicas(replicas: number[], partition: number, brokers: number[]): PartitionAssignment {
    if (replicas.length === 0) throw new KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `partition ${partition} has no replicas`);
    if (new Set(replicas).size !== replicas.length) throw new KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `partition ${partition} lists a replica twice`);
    for (const id of replicas) {
      if (!brokers.includes(id)) throw new KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `partition ${partition} names unknown broker ${id}`);
    }
    return { partition, replicas, leader: replicas[0]!, leaderEpoch: 0 };
  }

  /** Round-robin replica placement starting at a rotating broker, like Kafka's rack-unaware assignment. */
  private assign(first: number, count: number, rf: number, brokers: number[]): PartitionAssignment[] {
    const sorted = [...brokers].sort((a, b) => a - b);
    const out: PartitionAssignment[] = [];
    for (let p = first; p < first + count; p++) {
      const replicas = Array.from({ length: rf }, (_, r) => sorted[(p + r) % sorted.length]!);
      out.push({ partition: p, replicas, leader: replicas[0]!, leaderEpoch: 0 });
    }
    return out;
  }

  async create(request: CreateTopicRequest): Promise<TopicRecord> {
    const record = this.plan(request);
    try {
      await this.registry.create(record);
    } catch (err) {
      if (err instanceof VersionConflictError) throw new KafkaError(ErrorCode.TOPIC_ALREADY_EXISTS, `topic "${request.name}" already exists`);
      throw err;
    }
    const config = resolveLogConfig(this.config, record.configs);
    for (const p of record.partitions) this.logs.open(record.name, p.partition, config, true);
    return record;
  }

  async delete(name: string): Promise<TopicRecord> {
    if (isInternalTopic(name)) throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, `Cannot delete internal topic ${name}`);
    if (!this.config.bool('delete.topic.enable')) throw new KafkaError(ErrorCode.TOPIC_DELETION_DISABLED, 'topic deletion is disabled (delete.topic.enable=false)');
    const record = this.registry.get(name);
    if (!record) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic "${name}" does not exist`);
    await this.registry.delete(name);
    this.logs.deleteTopic(name);
    return record;
  }

  /** Raises a topic's partition count; lowering it is refused as Kafka does. */
  async createPartitions(name: string, count: number, assignments: number[][] | null, validateOnly: boolean): Promise<void> {
    // Groups map to offsets-topic partitions by their count: changing it would strand them.
    if (isInternalTopic(name)) throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, `Cannot change the partition count of internal topic ${name}`);
    const record = this.registry.get(name);
    if (!record) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic "${name}" does not exist`);
    const current = record.partitions.length;
    if (count < current) throw new KafkaError(ErrorCode.INVALID_PARTITIONS, `topic "${name}" has ${current} partitions; the count can only grow, not shrink to ${count}`);
    if (count === current) throw new KafkaError(ErrorCode.INVALID_PARTITIONS, `topic "${name}" already has ${current} partitions`);
    const brokers = this.brokerIds();
    const rf = record.partitions[0]!.replicas.length;
    let added: PartitionAssignment[];
    if (assignments && assignments.length > 0) {
      if (assignments.length !== count - current) {
        throw new KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `${count - current} new partitions need ${count - current} assignments, got ${assignments.length}`);
      }
      added = assignments.map((replicas, i) => this.checkReplicas(replicas, current + i, brokers));
    } else {
      added = this.assign(current, count - current, Math.min(rf, brokers.length), brokers);
    }
    if (validateOnly) return;
    const updated: TopicRecord = { ...record, partitions: [...record.partitions, ...added] };
    await this.registry.update(updated);
    const config = resolveLogConfig(this.config, updated.configs);
    for (const p of added) this.logs.open(name, p.partition, config, true);
  }

  /** Replaces a topic's config overrides (already validated by the caller). */
  async setConfigs(name: string, configs: Record<string, string>): Promise<void> {
    const record = this.registry.get(name);
    if (!record) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic "${name}" does not exist`);
    await this.registry.update({ ...record, configs });
    this.logs.setConfig(name, resolveLogConfig(this.config, configs));
  }
}
