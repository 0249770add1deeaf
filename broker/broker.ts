// One broker process: metadata store, topic registry, logs, Kafka listeners, HTTP endpoints.
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { BrokerConfig } from './config.js';
import type { BrokerContext, BrokerNode } from './context.js';
import { BrokerMetrics } from './metrics.js';
import { DynamicBrokerConfigs } from './metadata/dynamic-configs.js';
import { ClientQuotas } from './security/quota-manager.js';
import { FileMetadataStore } from './metadata/file-store.js';
import type { MetadataStore } from './metadata/metadata-store.js';
import { type BrokerEndpoint, ClusterView, endpointOf } from './metadata/cluster-view.js';
import { BrokerRegistrar } from './metadata/broker-registration.js';
import { Controller } from './controller/controller.js';
import { ReplicaManager } from './replication/replica-manager.js';
import { PartitionHealth } from './replication/partition-health.js';
import { type TopicRecord, TopicRegistry } from './metadata/topic-registry.js';
import { ProducerIdAllocator } from './metadata/producer-ids.js';
import { GroupCoordinator, OFFSETS_TOPIC } from './groups/coordinator.js';
import { TransactionCoordinator } from './transactions/coordinator.js';
import { TransactionStateTopic } from './transactions/transaction-state-topic.js';
import { TxnMarkerSender } from './transactions/marker-sender.js';
import { TxnMarkerWriter } from './transactions/marker-writer.js';
import { TRANSACTION_STATE_TOPIC, TxnState } from './transactions/transaction-log-records.js';
import { KafkaError } from './protocol/errors.js';
import { createHttpServer } from './server/http-server.js';
import { KafkaServer, listenerSettings } from './server/kafka-server.js';
import { type Listener, type ListenerPlan, planListeners } from './security/listeners.js';
import { ListenerTls, TlsMetrics, listenerTlsSettings } from './security/tls.js';
import { LogManager } from './storage/log-manager.js';
import { TopicService, isInternalTopic } from './topics.js';
import { BROKER_VERSION } from './version.js';
import { AclStore } from './security/acl-store.js';
import { Authorizer } from './security/authorizer.js';
import { ScramCredentials } from './security/scram-credentials.js';
import { usesSasl } from './security/listener-security.js';
import { interBrokerSaslCredentials } from './security/sasl/sasl-config.js';
import { type ScramSeed, seedScramCredential } from './security/scram-seed.js';

export interface BrokerOptions {
  /** The one PLAINTEXT listener's address when the `listeners` setting is not given. */
  host: string;
  port: number;
  /** Host and port clients are told to use (without `listeners`); default to the listener's. */
  advertisedHost?: string;
  advertisedPort?: number;
  httpHost: string;
  httpPort: number;
  dataDir: string;
  config: BrokerConfig;
  /** The root logger, without a `component`: the broker and its HTTP server each bind theirs. */
  logger: Logger;
  /** The cluster's store (main.ts opens the one --metadata names, see metadata/store-url.ts); without it, the embedded file store in the data directory. */
  store?: MetadataStore;
  /** SCRAM credentials stored at start unless already there (--add-scram). */
  scramSeeds?: readonly ScramSeed[];
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
  readonly transactions: TransactionCoordinator;
  readonly txnMarkers: TxnMarkerWriter;
  private readonly txnMarkerSender: TxnMarkerSender;
  readonly view: ClusterView;
  readonly replicas: ReplicaManager;
  readonly controller: Controller;
  readonly authorizer: Authorizer | null;
  readonly scramCredentials: ScramCredentials;
  readonly quotas: ClientQuotas;
  private readonly health: PartitionHealth;
  private readonly registrar: BrokerRegistrar;
  private offsetExpiryTimer: NodeJS.Timeout | undefined;
  private readonly store: MetadataStore;
  private readonly listeners: ListenerPlan;
  private readonly kafka: { listener: Listener; server: KafkaServer; tls?: ListenerTls }[];
  private readonly http: FastifyInstance;
  private readonly creating = new Map<string, Promise<TopicRecord | undefined>>();
  private state: 'starting' | 'ready' | 'stopping' = 'starting';
  /** Port of the first listener, once bound. */
  kafkaPort = 0;
  /** Bound port of each listener, by name. */
  readonly listenerPorts = new Map<string, number>();
  httpPort = 0;

  constructor(private readonly options: BrokerOptions) {
    this.config = options.config;
    this.nodeId = options.config.int('node.id');
    this.logger = options.logger.child({ component: 'broker' });
    // Settings that do not fit together fail here (ConfigError), before anything is opened.
    this.listeners = planListeners(this.config, options);
    const tlsListeners = this.listeners.listeners.filter((l) => l.protocol === 'SSL' || l.protocol === 'SASL_SSL').map((l) => ({ name: l.name, settings: listenerTlsSettings(this.config, l.name) }));
    this.logs = new LogManager(options.dataDir, this.logger);
    this.metrics = new BrokerMetrics(this.logs);
    const tlsMetrics = new TlsMetrics(this.metrics.registry);
    // Key and trust store files are read here: a file that cannot be used stops the start (TlsFileError).
    const tlsByListener = new Map(tlsListeners.map((l) => [l.name, new ListenerTls(l.settings, tlsMetrics, this.logger)]));
    this.store = options.store ?? new FileMetadataStore(join(options.dataDir, 'metadata.json'));
    this.registry = new TopicRegistry(this.store);
    this.view = new ClusterView(this.store, this.logger, (name) => this.registry.get(name));
    this.registry.onChange((name) => {
      this.view.changed();
      // Config overrides changed through another broker apply to the logs here too.
      this.topics.refreshLogConfig(name);
      // A topic this broker just created is led here before the request that created it is answered.
      if (this.state === 'ready') this.replicas.reconcile();
    });
    this.replicas = new ReplicaManager(this.nodeId, this.config, this.logs, this.registry, this.view, options.logger.child({ component: 'replication' }));
    this.controller = new Controller(this.nodeId, this.store, this.view, this.registry, this.config, options.logger.child({ component: 'controller' }));
    this.view.onChange(() => this.replicas.reconcile());
    this.health = new PartitionHealth(this.nodeId, this.config, this.registry, this.view, this.replicas, () => this.controller.active);
    this.metrics.trackReplication(this.health);
    const rack = this.config.get('broker.rack');
    this.registrar = new BrokerRegistrar(
      this.store,
      {
        nodeId: this.nodeId,
        // Known once the listeners are bound; registration happens after that.
        host: '',
        port: 0,
        rack: rack === '' ? null : rack,
        httpPort: 0,
      },
      this.config.int('broker.session.timeout.ms'),
      this.logger,
    );
    this.registrar.onSession((session) => this.controller.useSession(session));
    this.dynamicConfigs = new DynamicBrokerConfigs(this.store, this.nodeId, this.config, this.logger);
    // Set through another broker: topics without an override take the new defaults.
    this.dynamicConfigs.onChange(() => this.topics.refreshLogConfigs());
    this.quotas = new ClientQuotas(this.store, this.config, this.metrics, this.logger.child({ component: 'quotas' }));
    this.producerIds = new ProducerIdAllocator(this.store);
    this.authorizer =
      this.config.get('authorizer.class.name') === ''
        ? null
        : new Authorizer(new AclStore(this.store, this.logger), this.config, options.logger.child({ component: 'authorizer' }), this.metrics.registry);
    this.scramCredentials = new ScramCredentials(this.store, this.logger);
    this.topics = new TopicService(
      this.registry,
      this.logs,
      this.config,
      this.nodeId,
      () => [...this.view.brokers.values()].map((b) => ({ id: b.nodeId, rack: b.rack })),
      (topic, partition) => this.view.partition(topic, partition)?.state.replicas.includes(this.nodeId) ?? false,
    );
    this.groups = new GroupCoordinator(
      this.config,
      this.topics,
      this.logs,
      this.logger,
      () => this.view.brokers.size,
      (partition) => {
        const replica = this.replicas.replica(OFFSETS_TOPIC, partition);
        if (replica?.role !== 'leader') return undefined;
        const timeoutMs = this.config.int('offsets.commit.timeout.ms');
        return { log: replica.log, leaderEpoch: replica.leaderEpoch, committed: (offset: number) => this.replicas.waitForCommit(replica, offset, timeoutMs) };
      },
      () => this.metrics.offsetsRecordSkipped(),
    );
    // The coordinator of a group is the leader of its offsets partition: groups move with leadership.
    this.replicas.onLeadershipChange((topic, partition, leading) => {
      if (topic !== OFFSETS_TOPIC) return;
      if (leading) this.groups.loadPartition(partition);
      else this.groups.unloadPartition(partition);
    });
    // The coordinator of a transactional id is the leader of its __transaction_state partition.
    const txnLogger = options.logger.child({ component: 'transactions' });
    const requestTimeoutMs = () => this.config.int('request.timeout.ms');
    const txnMetrics = this.metrics.trackTransactions(() => this.transactions.countByState(), Object.keys(TxnState));
    this.txnMarkers = new TxnMarkerWriter(this.replicas, this.registry, this.groups, requestTimeoutMs);
    this.txnMarkerSender = new TxnMarkerSender(this.nodeId, this.view, this.registry, (nodeId) => this.replicas.interBrokerEndpoint(nodeId), (marker, topic, partition) => this.txnMarkers.write(marker, topic, partition), txnLogger, txnMetrics.markersWritten);
    const txnStateTopic = new TransactionStateTopic(this.config, this.topics, this.logs, txnLogger, () => this.view.brokers.size, (partition) => {
      const replica = this.replicas.replica(TRANSACTION_STATE_TOPIC, partition);
      if (replica?.role !== 'leader') return undefined;
      return { log: replica.log, leaderEpoch: replica.leaderEpoch, committed: (offset: number) => this.replicas.waitForCommit(replica, offset, requestTimeoutMs()) };
    });
    this.transactions = new TransactionCoordinator(this.config, txnStateTopic, () => this.producerIds.allocate(), this.txnMarkerSender, txnLogger, txnMetrics);
    this.replicas.onLeadershipChange((topic, partition, leading) => {
      if (topic !== TRANSACTION_STATE_TOPIC) return;
      if (leading) this.transactions.loadPartition(partition);
      else this.transactions.unloadPartition(partition);
    });
    const interBrokerTls = tlsByListener.get(this.listeners.interBroker);
    const interBroker = this.listeners.listeners.find((l) => l.name === this.listeners.interBroker)!;
    this.replicas.useInterBrokerListener(
      interBroker.name,
      interBrokerTls ? () => interBrokerTls.clientOptions() : undefined,
      usesSasl(interBroker.protocol) ? interBrokerSaslCredentials(this.config, interBroker.name) : undefined,
    );
    const settings = listenerSettings(this.config);
    this.kafka = this.listeners.listeners.map((listener) => {
      const tls = tlsByListener.get(listener.name);
      const logger = this.logger.child({ listener: listener.name });
      return { listener, tls, server: new KafkaServer(this, settings, logger, { name: listener.name, securityProtocol: listener.protocol, saslMechanisms: this.config.listenerValue(listener.name, 'sasl.enabled.mechanisms').split(','), tls: tls && { files: tls, metrics: tlsMetrics } }) };
    });
    this.http = createHttpServer(
      {
        notReadyReason: () => this.notReadyReason(),
        identity: () => ({ nodeId: this.nodeId, clusterId: this.registry.clusterId || null, version: BROKER_VERSION }),
        // Before start-up has loaded the view it is empty, and during shutdown it goes stale: no answer rather than a wrong one.
        clusterUnknownReason: () => (this.state === 'ready' ? null : this.state),
        shutdownBlockers: () => this.health.shutdownBlockers(),
        laggingPartitions: () => this.health.laggingPartitions(),
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
    await this.view.start();
    // Dynamic broker settings first: the logs open with the defaults they give.
    await this.dynamicConfigs.load();
    // Every ACL is known before the first request is served.
    await this.authorizer?.acls.load();
    await this.scramCredentials.load();
    for (const seed of this.options.scramSeeds ?? []) {
      if (await seedScramCredential(this.scramCredentials, seed)) this.logger.info({ user: seed.user, mechanism: seed.mechanism, iterations: seed.iterations }, 'stored SCRAM credential from --add-scram');
    }
    await this.quotas.load();
    this.topics.openAll();
    this.replicas.start();
    this.transactions.start();
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
    const endpoints: BrokerEndpoint[] = [];
    for (const { listener, server, tls } of this.kafka) {
      const port = await server.listen(listener.host, listener.port);
      this.listenerPorts.set(listener.name, port);
      endpoints.push({ listener: listener.name, securityProtocol: listener.protocol, host: listener.advertisedHost, port: listener.advertisedPort || port });
      tls?.startReloading();
    }
    this.kafkaPort = this.listenerPorts.get(this.listeners.listeners[0]!.name)!;
    // Other brokers and clients are sent here once registered, so the listeners are up first.
    this.registrar.setEndpoints(endpoints, this.listeners.interBroker, this.httpPort);
    await this.registrar.register();
    this.state = 'ready';
    this.logger.info(
      {
        nodeId: this.nodeId,
        version: BROKER_VERSION,
        clusterId: this.registry.clusterId,
        kafka: `${this.listeners.listeners[0]!.host}:${this.kafkaPort}`,
        listeners: Object.fromEntries(this.kafka.map(({ listener }) => [listener.name, { protocol: listener.protocol, bound: `${listener.host}:${this.listenerPorts.get(listener.name)}` }])),
        interBrokerListener: this.listeners.interBroker,
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
    if (!this.registrar.registered) return 'not registered in the cluster metadata store';
    const offline = this.logs.offline;
    return offline === null ? null : `log directory offline: ${offline}`;
  }

  async stop(): Promise<void> {
    if (this.state === 'stopping') return;
    const wasReady = this.state === 'ready';
    this.state = 'stopping';
    this.logger.info('broker stopping');
    if (wasReady) await this.controlledShutdown();
    await Promise.all(this.kafka.map(({ server }) => server.close()));
    this.replicas.stop();
    this.controller.stop();
    await this.registrar.close().catch((err: unknown) => this.logger.warn({ err }, 'cannot end the cluster session; it expires by itself'));
    this.view.stop();
    this.registry.stop();
    this.dynamicConfigs.stop();
    this.authorizer?.acls.stop();
    this.scramCredentials.stop();
    this.quotas.stop();
    clearInterval(this.offsetExpiryTimer);
    this.groups.close();
    this.transactions.close();
    this.txnMarkerSender.close();
    this.logs.close();
    await this.store.close();
    await this.http.close();
    this.logger.info('broker stopped cleanly');
  }

  /**
   * Controlled shutdown: marked as shutting down, the broker waits (up to
   * controlled.shutdown.timeout.ms) until the controller has moved every leadership that has
   * another in-sync replica to take it, so clients see only retriable errors when it stops.
   */
  private async controlledShutdown(): Promise<void> {
    if (!this.config.bool('controlled.shutdown.enable')) return;
    if (![...this.view.brokers.keys()].some((id) => id !== this.nodeId) || this.replicas.leadershipsToMove() === 0) return;
    const started = Date.now();
    const deadline = started + this.config.int('controlled.shutdown.timeout.ms');
    try {
      await this.registrar.beginShutdown();
    } catch (err) {
      this.logger.warn({ err }, 'cannot announce controlled shutdown; stopping without moving leaderships');
      return;
    }
    this.logger.info({ leaderships: this.replicas.leadershipsToMove() }, 'controlled shutdown: moving leaderships away');
    while (this.replicas.leadershipsToMove() > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    const left = this.replicas.leadershipsToMove();
    if (left > 0) this.logger.warn({ leaderships: left, waitedMs: Date.now() - started }, 'controlled shutdown timed out; stopping with leaderships left');
    else this.logger.info({ waitedMs: Date.now() - started }, 'controlled shutdown: leaderships moved');
  }

  /** Registered brokers of the cluster as clients of `listener` reach them (Kafka leaves out those without it). */
  brokers(listener: string): BrokerNode[] {
    const out: BrokerNode[] = [];
    for (const b of [...this.view.brokers.values()].sort((x, y) => x.nodeId - y.nodeId)) {
      const e = endpointOf(b, listener);
      if (e) out.push({ nodeId: b.nodeId, host: e.host, port: e.port, rack: b.rack });
    }
    return out;
  }

  broker(nodeId: number, listener: string): BrokerNode | undefined {
    const b = this.view.brokers.get(nodeId);
    const e = b && endpointOf(b, listener);
    return e && { nodeId: b.nodeId, host: e.host, port: e.port, rack: b.rack };
  }

  controllerId(): number {
    return this.view.controller?.nodeId ?? -1;
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
