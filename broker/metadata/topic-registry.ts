// Topics as records in the MetadataStore under "topics/<name>": id, partition assignments and
// config overrides. This is the cluster's truth; brokers keep logs for what it lists.
import { randomBytes } from 'node:crypto';
import type { MetadataStore } from './metadata-store.js';

export interface PartitionAssignment {
  partition: number;
  replicas: number[];
  leader: number;
  leaderEpoch: number;
}

export interface TopicRecord {
  name: string;
  /** Kafka topic id (UUID) in base64url, as the wire protocol's uuid fields carry it. */
  id: string;
  partitions: PartitionAssignment[];
  configs: Record<string, string>;
}

const TOPIC_PREFIX = 'topics/';
const CLUSTER_ID_KEY = 'cluster/id';

export function newUuid(): string {
  return randomBytes(16).toString('base64url');
}

export class TopicRegistry {
  private readonly topics = new Map<string, { record: TopicRecord; version: number }>();
  private readonly byId = new Map<string, TopicRecord>();
  clusterId = '';

  constructor(private readonly store: MetadataStore) {}

  /** Loads every topic and the cluster id (created on first start). */
  async load(): Promise<void> {
    const existing = await this.store.get(CLUSTER_ID_KEY);
    if (existing) this.clusterId = existing.value;
    else {
      this.clusterId = newUuid();
      await this.store.put(CLUSTER_ID_KEY, this.clusterId, 0);
    }
    for (const [, stored] of await this.store.list(TOPIC_PREFIX)) {
      const record = JSON.parse(stored.value) as TopicRecord;
      this.remember(record, stored.version);
    }
  }

  private remember(record: TopicRecord, version: number): void {
    const previous = this.topics.get(record.name);
    if (previous) this.byId.delete(previous.record.id);
    this.topics.set(record.name, { record, version });
    this.byId.set(record.id, record);
  }

  get(name: string): TopicRecord | undefined {
    return this.topics.get(name)?.record;
  }

  getById(id: string): TopicRecord | undefined {
    return this.byId.get(id);
  }

  all(): TopicRecord[] {
    return [...this.topics.values()].map((t) => t.record);
  }

  /** Creates a topic; fails with VersionConflictError if it exists already. */
  async create(record: TopicRecord): Promise<void> {
    const version = await this.store.put(TOPIC_PREFIX + record.name, JSON.stringify(record), 0);
    this.remember(record, version);
  }

  /** Replaces a topic's record, compare-and-set against the version this broker last saw. */
  async update(record: TopicRecord): Promise<void> {
    const current = this.topics.get(record.name);
    if (!current) throw new Error(`topic ${record.name} does not exist`);
    const version = await this.store.put(TOPIC_PREFIX + record.name, JSON.stringify(record), current.version);
    this.remember(record, version);
  }

  async delete(name: string): Promise<void> {
    const current = this.topics.get(name);
    if (!current) return;
    await this.store.delete(TOPIC_PREFIX + name, current.version);
    this.topics.delete(name);
    this.byId.delete(current.record.id);
  }
}
