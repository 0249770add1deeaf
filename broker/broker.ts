// One broker process: metadata store, topic registry, logs, Kafka listener, HTTP endpoints.
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { BrokerConfig } from './config.js';
import type { BrokerContext, BrokerNode } from './context.js';
import { BrokerMetrics } from './metrics.js';
import { DynamicBrokerConfigs } from './metadata/dynamic-configs.js';
import { FileMetadataStore } from './metadata/file-store.js';
import type { MetadataStore } from './metadata/metadata-store.js';
import { type TopicRecord, TopicRegistry } from './metadata/topic-registry.js';
import { ProducerIdAllocator } from './metadata/producer-ids.js';
import { GroupCoordinator, OFFSETS_TOPIC } from './groups/coordinator.js';
import { KafkaError } from './protocol/errors.js';
import { createHttpServer } from './server/http-server.js';
import { KafkaServer, listenerSettings } from './server/kafka-server.js';
import { LogManager } from './storage/log-manager.js';
import { TopicService, isInternalTopic } from './topics.js';
import { BROKER_VERSION } from './version.js';

export interface BrokerOptions {
  host: string;
  port: number;
  /** Host and port clients are told to connect to; default to the listener's. */
  advertisedHost?: string;
  advertisedPort?: number;
  httpHost: string;
  httpPort: number;
  dataDir: string;
  config: BrokerConfig;
  /** The root logger, without a `component`: the broker and its HTTP server each bind theirs. */
  logger: Logger;
  /** Defaults to the embedded file store in the data directory. */
  store?: MetadataStore;
}

export class Broker implements BrokerContext {
  readonly nodeId: number;
  readonly config: BrokerConfig;
  readonly dynamicConfigs: DynamicBrokerConfigs;
  readonly logger: Logger;
  readonly logs: LogManager;
  readonly metrics: BrokerMetrics;
  readonly registry: TopicRegistry;
  readonly topics: TopicService;
  readonly producerIds: ProducerIdAllocator;
  readonly groups: GroupCoordinator;
  private offsetExpiryTimer: NodeJS.Timeout | undefined;
  private readonly store: MetadataStore;
  private readonly kafka: KafkaServer;
  private readonly http: FastifyInstance;
  private readonly creating = new Map<string, Promise<TopicRecord | undefined>>();
  private state: 'starting' | 'ready' | 'stopping' = 'starting';
  kafkaPort = 0;
  httpPort = 0;

  constructor(private readonly options: BrokerOptions) {
    this.config = options.config;
    this.nodeId = options.config.int('node.id');
    this.logger = options.logger.child({ component: 'broker' });
    this.logs = new LogManager(options.dataDir, this.logger);
    this.metrics = new BrokerMetrics(this.logs);
    this.store = options.store ?? new FileMetadataStore(join(options.dataDir, 'metadata.json'));
    this.registry = new TopicRegistry(this.store);
    this.dynamicConfigs = new DynamicBrokerConfigs(this.store, this.nodeId, this.config, this.logger);
    this.producerIds = new ProducerIdAllocator(this.store);
    this.topics = new TopicService(this.registry, this.logs, this.config, () => [this.nodeId]);
    this.groups = new GroupCoordinator(this.config, this.topics, this.logs, this.logger, () => this.metrics.offsetsRecordSkipped());
    this.kafka = new KafkaServer(this, listenerSettings(this.config), this.logger);
    this.http = createHttpServer(
      {
        notReadyReason: () => this.notReadyReason(),
        identity: () => ({ nodeId: this.nodeId, clusterId: this.registry.clusterId || null, version: BROKER_VERSION }),
      },
      this.metrics.registry,
      options.logger,
    );
  }

  async start(): Promise<void> {
    const started = Date.now();
    await this.http.listen({ host: this.options.httpHost, port: this.options.httpPort });
    const address = this.http.server.address();
    this.httpPort = typeof address === 'object' && address ? address.port : this.options.httpPort;
    await this.registry.load();
    // Dynamic broker settings first: the logs open with the defaults they give.
    await this.dynamicConfigs.load();
    this.topics.openAll();
    this.groups.load();
    this.offsetExpiryTimer = setInterval(() => {
      try {
        this.groups.expireOffsets();
      } catch (err) {
        // E.g. the offsets log is offline after a failed write; the next pass tries again.
        this.logger.error({ err }, 'offset expiry failed');
      }
    }, this.config.int('log.retention.check.interval.ms'));
    this.offsetExpiryTimer.unref();
    this.logs.startRetention(this.config.int('log.retention.check.interval.ms'));
    this.logs.startCleaner(this.config.int('log.cleaner.backoff.ms'));
    this.logs.startFlusher(this.config.int('log.flush.scheduler.interval.ms'));
    this.kafkaPort = await this.kafka.listen(this.options.host, this.options.port);
    this.state = 'ready';
    this.logger.info(
      {
        nodeId: this.nodeId,
        version: BROKER_VERSION,
        clusterId: this.registry.clusterId,
        kafka: `${this.options.host}:${this.kafkaPort}`,
        http: `${this.options.httpHost}:${this.httpPort}`,
        dataDir: this.options.dataDir,
        topics: this.registry.all().length,
        cleanStart: this.logs.recoveredCleanly,
        startupMs: Date.now() - started,
      },
      'broker ready',
    );
  }

  /**
   * Null when ready. An offline log directory makes the broker unready (no new clients are sent
   * to it) but not unhealthy: a restart does not free a disk, so /healthz stays ok.
   */
  private notReadyReason(): string | null {
    if (this.state !== 'ready') return this.state;
    const offline = this.logs.offline;
    return offline === null ? null : `log directory offline: ${offline}`;
  }

  async stop(): Promise<void> {
    if (this.state === 'stopping') return;
    this.state = 'stopping';
    this.logger.info('broker stopping');
    await this.kafka.close();
    clearInterval(this.offsetExpiryTimer);
    this.groups.close();
    this.logs.close();
    await this.store.close();
    await this.http.close();
    this.logger.info('broker stopped cleanly');
  }

  brokers(): BrokerNode[] {
    return [{ nodeId: this.nodeId, host: this.options.advertisedHost ?? this.options.host, port: this.options.advertisedPort ?? this.kafkaPort, rack: null }];
  }

  controllerId(): number {
    return this.nodeId;
  }

  autoCreateTopic(name: string): Promise<TopicRecord | undefined> {
    if (!this.config.bool('auto.create.topics.enable')) return Promise.resolve(undefined);
    // Internal topics never get a client's defaults: the offsets topic is created as the coordinator needs it.
    if (name === OFFSETS_TOPIC) return this.groups.ensureOffsetsTopic().then(() => this.registry.get(name));
    if (isInternalTopic(name)) return Promise.resolve(undefined);
    // Concurrent requests for one unknown topic share a single creation.
    let pending = this.creating.get(name);
    if (!pending) {
      pending = this.topics
        .create({ name, numPartitions: -1, replicationFactor: -1, assignments: [], configs: {} })
        .then((record) => {
          this.logger.info({ topic: name, partitions: record.partitions.length }, 'topic auto-created');
          return record;
        })
        .catch((err: unknown) => {
          if (err instanceof KafkaError) return this.registry.get(name);
          throw err;
        })
        .finally(() => this.creating.delete(name));
      this.creating.set(name, pending);
    }
    return pending;
  }
}
