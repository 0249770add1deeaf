// Topics as records in the MetadataStore under "topics/<name>": id, initial partition assignments
// and config overrides, kept current on every broker by a list-then-watch. Leaders, ISRs and
// reassigned replica lists live in the partition states (cluster-view.ts).
import { randomBytes } from 'node:crypto';
import type { MetadataStore, StoredValue, Watch } from './metadata-store.js';

export interface PartitionAssignment {
  partition: number;
  /** The replicas the partition was created with; the partition state has the current list. */
  replicas: number[];
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
  private watch: Watch | undefined;
  private readonly listeners: ((name: string) => void)[] = [];
  clusterId = '';

  constructor(private readonly store: MetadataStore) {}

  /** Calls `listener` with the topic's name whenever another broker (or this one) creates, changes or deletes a topic. */
  onChange(listener: (name: string) => void): void {
    this.listeners.push(listener);
  }

  /** Loads every topic and the cluster id (created by the first broker to start), and follows changes. */
  async load(): Promise<void> {
    const existing = await this.store.get(CLUSTER_ID_KEY);
    if (existing) this.clusterId = existing.value;
    else {
      const id = newUuid();
      try {
        await this.store.put(CLUSTER_ID_KEY, id, 0);
        this.clusterId = id;
      } catch {
        // Another broker of the cluster created it first.
        this.clusterId = (await this.store.get(CLUSTER_ID_KEY))!.value;
      }
    }
    await this.follow();
  }

  private async follow(): Promise<void> {
    const watch = await this.store.watch(TOPIC_PREFIX, (key, value) => this.apply(key, value), () => {
      // The watch cannot deliver every change any more: list again.
      setTimeout(() => void this.follow().catch(() => setTimeout(() => void this.follow(), 1000).unref()), 100).unref();
    });
    this.watch?.stop();
    this.watch = watch;
    for (const name of [...this.topics.keys()]) if (!watch.snapshot.has(TOPIC_PREFIX + name)) this.apply(TOPIC_PREFIX + name, undefined);
    for (const [key, value] of watch.snapshot) this.apply(key, value);
  }

  private apply(key: string, value: StoredValue | undefined): void {
    const name = key.slice(TOPIC_PREFIX.length);
    const current = this.topics.get(name);
    if (!value) {
      if (!current) return;
      this.topics.delete(name);
      this.byId.delete(current.record.id);
    } else {
      // A write this broker made is applied when the store accepts it; the watch may bring it again after a newer one.
      if (current && current.version >= value.version) return;
      this.remember(JSON.parse(value.value) as TopicRecord, value.version);
    }
    for (const listener of this.listeners) listener(name);
  }

  private remember(record: TopicRecord, version: number): void {
    const previous = this.topics.get(record.name);
    if (previous) this.byId.delete(previous.record.id);
    this.topics.set(record.name, { record, version });
    this.byId.set(record.id, record);
  }

  stop(): void {
    this.watch?.stop();
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
    this.applyWritten(record, version);
  }

  private applyWritten(record: TopicRecord, version: number): void {
    const current = this.topics.get(record.name);
    if (current && current.version >= version) return;
    this.remember(record, version);
    for (const listener of this.listeners) listener(record.name);
  }

  /** Replaces a topic's record, compare-and-set against the version this broker last saw. */
  async update(record: TopicRecord): Promise<void> {
    const current = this.topics.get(record.name);
    if (!current) throw new Error(`topic ${record.name} does not exist`);
    const version = await this.store.put(TOPIC_PREFIX + record.name, JSON.stringify(record), current.version);
    this.applyWritten(record, version);
  }

  async delete(name: string): Promise<void> {
    const current = this.topics.get(name);
    if (!current) return;
    await this.store.delete(TOPIC_PREFIX + name, current.version);
    if (this.topics.get(name) !== current) return;
    this.topics.delete(name);
    this.byId.delete(current.record.id);
    for (const listener of this.listeners) listener(name);
  }
}
