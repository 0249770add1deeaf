// This broker's view of the cluster's shared state in the MetadataStore: live brokers
// (`brokers/<id>`, ephemeral), the active controller (`controller/active`, ephemeral) and the
// partition states (`partitions/<topic>/<n>`), each kept current by a list-then-watch. A
// partition with no stored state is in its initial state, derived from the topic's assignment:
// a new topic costs no writes until something about a partition changes. Writes go through
// compare-and-set and are applied here as soon as the store accepts them (the watch then
// delivers the same version, which changes nothing).
import type { Logger } from 'pino';
import type { SecurityProtocol } from '../security/listeners.js';
import { type PartitionState, parsePartitionState, type Liveness } from '../controller/partition-state.js';
import type { MetadataStore, StoredValue, Watch } from './metadata-store.js';
import type { TopicRecord } from './topic-registry.js';

export const BROKERS_PREFIX = 'brokers/';
export const CONTROLLER_PREFIX = 'controller/';
export const ACTIVE_CONTROLLER_KEY = 'controller/active';
export const CONTROLLER_EPOCH_KEY = 'controller/epoch';
const PARTITIONS_PREFIX = 'partitions/';

/** How one listener of a broker is reached, as `advertised.listeners` says. */
export interface BrokerEndpoint {
  listener: string;
  securityProtocol: SecurityProtocol;
  host: string;
  port: number;
}

export interface BrokerRegistration {
  nodeId: number;
  /** The inter-broker listener's endpoint (the only one of a broker registered before listeners). */
  host: string;
  port: number;
  /** One per advertised listener; absent from registrations of brokers before listeners (PLAINTEXT only). */
  endpoints?: BrokerEndpoint[];
  rack: string | null;
  httpPort: number;
  /** Random per process start: tells a restarted broker from its previous life. */
  incarnation: string;
  /** In controlled shutdown: its leaderships are being moved away. */
  shuttingDown: boolean;
}

/** The broker's endpoint on `listener`, if it has that listener. */
export function endpointOf(b: BrokerRegistration, listener: string): { host: string; port: number } | undefined {
  if (!b.endpoints) return listener === 'PLAINTEXT' ? { host: b.host, port: b.port } : undefined;
  const e = b.endpoints.find((x) => x.listener === listener);
  return e && { host: e.host, port: e.port };
}

export interface ActiveController {
  nodeId: number;
  epoch: number;
}

/** A partition's state with the store version it was read at (0: the implicit initial state). */
export interface VersionedState {
  state: PartitionState;
  version: number;
}

export const partitionKey = (topic: string, partition: number) => `${PARTITIONS_PREFIX}${topic}/${partition}`;

interface StoredPartition {
  topicId: string;
  state: PartitionState;
  version: number;
}

export function initialPartitionState(replicas: number[]): PartitionState {
  return { replicas: [...replicas], leader: replicas[0] ?? -1, leaderEpoch: 0, isr: [...replicas], partitionEpoch: 0, controllerEpoch: 0, adding: [], removing: [] };
}

export class ClusterView {
  readonly brokers = new Map<number, BrokerRegistration>();
  controller: ActiveController | null = null;
  /** "topic/n" -> stored state. */
  private readonly stored = new Map<string, StoredPartition>();
  private readonly watches: Watch[] = [];
  private stopped = false;
  private changeScheduled = false;
  private readonly listeners: (() => void)[] = [];

  constructor(
    private readonly store: MetadataStore,
    private readonly logger: Logger,
    /** The topic a partition belongs to now: a stored state of an older topic of that name is ignored. */
    private readonly topic: (name: string) => TopicRecord | undefined,
  ) {}

  /** Calls `listener` (coalesced, after the current tick) whenever brokers, controller or partition states change. */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Reports a change made elsewhere (the topic registry) to the same listeners. */
  changed(): void {
    if (this.changeScheduled || this.stopped) return;
    this.changeScheduled = true;
    setImmediate(() => {
      this.changeScheduled = false;
      for (const listener of this.listeners) listener();
    });
  }

  async start(): Promise<void> {
    await this.watch(BROKERS_PREFIX, (key, value) => this.applyBroker(key, value));
    await this.watch(CONTROLLER_PREFIX, (key, value) => this.applyController(key, value));
    await this.watch(PARTITIONS_PREFIX, (key, value) => this.applyPartition(key, value));
  }

  /** List-then-watch `prefix`; a broken watch (compaction, 410) is replaced by a new one whose snapshot replaces what was known. */
  private async watch(prefix: string, apply: (key: string, value: StoredValue | undefined) => void): Promise<void> {
    const known = new Set<string>();
    const listener = (key: string, value: StoredValue | undefined) => {
      if (value) known.add(key);
      else known.delete(key);
      apply(key, value);
      this.changed();
    };
    const begin = async (): Promise<void> => {
      const watch = await this.store.watch(prefix, listener, (err) => {
        if (this.stopped) return;
        this.logger.warn({ err, prefix }, 'metadata watch broken; listing again');
        const retry = (): void => {
          if (this.stopped) return;
          begin().catch((e: unknown) => {
            this.logger.warn({ err: e, prefix }, 'metadata watch failed to restart; retrying');
            setTimeout(retry, 1000).unref();
          });
        };
        retry();
      });
      if (this.stopped) {
        watch.stop();
        return;
      }
      this.watches.push(watch);
      for (const key of [...known]) if (!watch.snapshot.has(key)) listener(key, undefined);
      for (const [key, value] of watch.snapshot) listener(key, value);
    };
    await begin();
  }

  private applyBroker(key: string, value: StoredValue | undefined): void {
    const nodeId = Number(key.slice(BROKERS_PREFIX.length));
    if (!Number.isInteger(nodeId)) return;
    if (value) this.brokers.set(nodeId, JSON.parse(value.value) as BrokerRegistration);
    else this.brokers.delete(nodeId);
  }

  private applyController(key: string, value: StoredValue | undefined): void {
    if (key !== ACTIVE_CONTROLLER_KEY) return;
    this.controller = value ? (JSON.parse(value.value) as ActiveController) : null;
  }

  private applyPartition(key: string, value: StoredValue | undefined): void {
    const id = key.slice(PARTITIONS_PREFIX.length);
    if (!value) {
      this.stored.delete(id);
      return;
    }
    const current = this.stored.get(id);
    // The watch may deliver a write this broker already applied, after a newer one.
    if (current && current.version >= value.version) return;
    const parsed = JSON.parse(value.value) as { topicId: string; state: unknown };
    this.stored.set(id, { topicId: parsed.topicId, state: parsePartitionState(JSON.stringify(parsed.state)), version: value.version });
  }

  /** The partition's current state, or undefined when the topic or partition does not exist. */
  partition(topic: TopicRecord, partition: number): VersionedState | undefined {
    const assignment = topic.partitions[partition];
    if (!assignment) return undefined;
    const stored = this.stored.get(`${topic.name}/${partition}`);
    if (stored && stored.topicId === topic.id) return { state: stored.state, version: stored.version };
    // A state left by a deleted topic of the same name is overwritten by compare-and-set on its version.
    return { state: initialPartitionState(assignment.replicas), version: stored?.version ?? 0 };
  }

  /** Stores a partition's new state if it is still at `expectedVersion`; VersionConflictError otherwise. */
  async writePartition(topic: TopicRecord, partition: number, state: PartitionState, expectedVersion: number): Promise<number> {
    const version = await this.store.put(partitionKey(topic.name, partition), JSON.stringify({ topicId: topic.id, state }), expectedVersion);
    const id = `${topic.name}/${partition}`;
    const current = this.stored.get(id);
    if (!current || current.version < version) this.stored.set(id, { topicId: topic.id, state, version });
    this.changed();
    return version;
  }

  /** Stored states whose topic no longer exists, as "topic/n" keys. */
  orphanStates(): string[] {
    const out: string[] = [];
    for (const [id, s] of this.stored) {
      const name = id.slice(0, id.lastIndexOf('/'));
      if (this.topic(name)?.id !== s.topicId) out.push(id);
    }
    return out;
  }

  async deleteOrphan(id: string): Promise<void> {
    const s = this.stored.get(id);
    if (s) await this.store.delete(PARTITIONS_PREFIX + id, s.version);
  }

  liveness(): Liveness {
    const alive = new Set<number>();
    const shuttingDown = new Set<number>();
    for (const b of this.brokers.values()) {
      alive.add(b.nodeId);
      if (b.shuttingDown) shuttingDown.add(b.nodeId);
    }
    return { alive, shuttingDown };
  }

  stop(): void {
    this.stopped = true;
    for (const watch of this.watches.splice(0)) watch.stop();
  }
}
