// Topic lifecycle as the admin APIs see it: create, delete, add partitions, change configs.
// Checks requests as Kafka does and reports failures as KafkaError with Kafka's codes. New
// partitions are opened on disk before they are recorded in the registry (MetadataStore), and
// removed again when recording fails, so the broker never records a partition it cannot open.
import { type BrokerConfig, ConfigError, resolveLogConfig, validateTopicConfigs } from './config.js';
import { ErrorCode, KafkaError } from './protocol/errors.js';
import { VersionConflictError } from './metadata/metadata-store.js';
import { type PartitionAssignment, type TopicRecord, TopicRegistry, newUuid } from './metadata/topic-registry.js';
import type { LogManager } from './storage/log-manager.js';
import { type PlacementBroker, placeReplicas } from './controller/placement.js';
import { KafkaStorageError, describeIoError } from './storage/storage-error.js';

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

/** Kafka (4.0) refuses a request that would create more partitions than this in one go. */
export const MAX_PARTITIONS_PER_REQUEST = 10_000;

/** Refuses a CreateTopics/CreatePartitions request adding more than MAX_PARTITIONS_PER_REQUEST in total. */
export function checkRequestPartitions(total: number): void {
  if (total > MAX_PARTITIONS_PER_REQUEST) {
    throw new KafkaError(ErrorCode.POLICY_VIOLATION, `the request adds ${total} partitions; at most ${MAX_PARTITIONS_PER_REQUEST} may be added in one request`);
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
  /** Topics being created or grown right now: their new logs are open but not yet recorded. */
  private readonly creating = new Set<string>();

  constructor(
    readonly registry: TopicRegistry,
    private readonly logs: LogManager,
    private readonly config: BrokerConfig,
    private readonly nodeId: number,
    /** The live brokers new replicas may be placed on. */
    private readonly liveBrokers: () => PlacementBroker[],
    /** Whether this broker holds a replica of the partition now (its state's replica list). */
    private readonly holdsReplica: (topic: TopicRecord, partition: number) => boolean,
  ) {}

  /** Opens the logs of every partition this broker holds a replica of (broker start); what cannot be opened stays offline. */
  openAll(): void {
    const partitions = this.registry.all().flatMap((topic) => {
      const config = resolveLogConfig(this.config, topic.configs);
      return topic.partitions.filter((p) => this.holdsReplica(topic, p.partition)).map((p) => ({ topic: topic.name, topicId: topic.id, partition: p.partition, config }));
    });
    this.logs.openExisting(partitions);
  }

  private brokerIds(): number[] {
    return this.liveBrokers().map((b) => b.id);
  }

  /**
   * Refuses `adding` partitions past max.partitions, or past max.broker.partitions or the
   * descriptor budget when `local` of them would be this broker's (POLICY_VIOLATION).
   */
  private checkPartitionLimits(adding: number, local: number): void {
    let cluster = 0;
    for (const topic of this.registry.all()) cluster += topic.partitions.length;
    const maxPartitions = this.config.int('max.partitions');
    if (cluster + adding > maxPartitions) {
      throw new KafkaError(ErrorCode.POLICY_VIOLATION, `${adding} more partition(s) would exceed max.partitions=${maxPartitions}: the cluster has ${cluster}`);
    }
    const held = this.logs.partitionCount;
    const maxBroker = this.config.int('max.broker.partitions');
    if (held + local > maxBroker) {
      throw new KafkaError(ErrorCode.POLICY_VIOLATION, `${local} more partition(s) would exceed max.broker.partitions=${maxBroker}: this broker holds ${held}`);
    }
    this.logs.checkFdBudget(local);
  }

  private local(partitions: PartitionAssignment[]): PartitionAssignment[] {
    return partitions.filter((p) => p.replicas.includes(this.nodeId));
  }

  /**
   * Opens this broker's replicas of new partitions from empty directories before they are
   * recorded; on failure removes those it opened. The other replicas' brokers open theirs when
   * they see the topic.
   */
  private openNew(record: TopicRecord, partitions: PartitionAssignment[]): void {
    const name = record.name;
    partitions = this.local(partitions);
    if (partitions.length === 0) return;
    if (this.logs.offline !== null) throw new KafkaStorageError(`cannot add partitions: the log directory is offline (${this.logs.offline})`);
    const config = resolveLogConfig(this.config, record.configs);
    for (const p of partitions) {
      try {
        this.logs.open(name, p.partition, config, true, record.id);
      } catch (err) {
        this.discard(name, partitions[0]!.partition);
        throw new KafkaStorageError(`cannot open the log of partition ${name}-${p.partition}: ${describeIoError(err)}`, err);
      }
    }
  }

  private discard(name: string, fromPartition: number): void {
    if (fromPartition === 0) this.logs.deleteTopic(name);
    else this.logs.deletePartitionsFrom(name, fromPartition);
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
      this.checkPartitionLimits(partitions.length, this.local(partitions).length);
    } else {
      const count = request.numPartitions === -1 ? this.config.int('num.partitions') : request.numPartitions;
      const rf = request.replicationFactor === -1 ? this.config.int('default.replication.factor') : request.replicationFactor;
      if (count <= 0) throw new KafkaError(ErrorCode.INVALID_PARTITIONS, `number of partitions must be larger than 0, got ${count}`);
      if (rf <= 0) throw new KafkaError(ErrorCode.INVALID_REPLICATION_FACTOR, `replication factor must be larger than 0, got ${rf}`);
      if (rf > brokers.length) {
        throw new KafkaError(ErrorCode.INVALID_REPLICATION_FACTOR, `replication factor ${rf} is larger than the ${brokers.length} available broker(s)`);
      }
      partitions = this.assign(0, count, rf);
      this.checkPartitionLimits(count, this.local(partitions).length);
    }
    return { name: request.name, id: newUuid(), partitions, configs };
  }

  private checkReplicas(replicas: number[], partition: number, brokers: number[]): PartitionAssignment {
    if (replicas.length === 0) throw new KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `partition ${partition} has no replicas`);
    if (new Set(replicas).size !== replicas.length) throw new KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `partition ${partition} lists a replica twice`);
    for (const id of replicas) {
      if (!brokers.includes(id)) throw new KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `partition ${partition} names unknown broker ${id}`);
    }
    return { partition, replicas };
  }

  /** Places `count` new partitions from `first` on the live brokers (rack-aware, controller/placement.ts). */
  private assign(first: number, count: number, rf: number): PartitionAssignment[] {
    return placeReplicas(this.liveBrokers(), count, rf).map((replicas, i) => ({ partition: first + i, replicas }));
  }

  async create(request: CreateTopicRequest): Promise<TopicRecord> {
    const record = this.plan(request);
    if (this.creating.has(record.name)) throw new KafkaError(ErrorCode.TOPIC_ALREADY_EXISTS, `topic "${request.name}" is being created`);
    this.creating.add(record.name);
    try {
      this.openNew(record, record.partitions);
      try {
        await this.registry.create(record);
      } catch (err) {
        this.discard(record.name, 0);
        if (err instanceof VersionConflictError) throw new KafkaError(ErrorCode.TOPIC_ALREADY_EXISTS, `topic "${request.name}" already exists`);
        throw err;
      }
    } finally {
      this.creating.delete(record.name);
    }
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
      if (rf > brokers.length) {
        throw new KafkaError(ErrorCode.INVALID_REPLICATION_FACTOR, `the topic's replication factor ${rf} is larger than the ${brokers.length} available broker(s)`);
      }
      added = this.assign(current, count - current, rf);
    }
    this.checkPartitionLimits(count - current, this.local(added).length);
    if (validateOnly) return;
    const updated: TopicRecord = { ...record, partitions: [...record.partitions, ...added] };
    if (this.creating.has(name)) throw new KafkaError(ErrorCode.INVALID_PARTITIONS, `partitions of topic "${name}" are being added by another request; retry`);
    this.creating.add(name);
    try {
      this.openNew(updated, added);
      try {
        await this.registry.update(updated);
      } catch (err) {
        this.discard(name, current);
        throw err;
      }
    } finally {
      this.creating.delete(name);
    }
  }

  /** Re-resolves every topic's log settings, after a broker setting that gives their defaults changed. */
  refreshLogConfigs(): void {
    for (const topic of this.registry.all()) this.logs.setConfig(topic.name, resolveLogConfig(this.config, topic.configs));
  }

  /** Replaces a topic's config overrides (already validated by the caller). */
  async setConfigs(name: string, configs: Record<string, string>): Promise<void> {
    const record = this.registry.get(name);
    if (!record) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic "${name}" does not exist`);
    await this.registry.update({ ...record, configs });
    this.logs.setConfig(name, resolveLogConfig(this.config, configs));
  }
}
