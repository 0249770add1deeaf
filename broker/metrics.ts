// Prometheus metrics of one broker, on its own registry (served at /metrics).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ReplicationHealth } from './replication/partition-health.js';
import type { LogManager } from './storage/log-manager.js';
import { BROKER_VERSION } from './version.js';

export class BrokerMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'api'>;
  private readonly requestErrors: Counter<'api'>;
  private readonly latency: Histogram<'api'>;
  private readonly bytesInTotal: Counter<'topic'>;
  private readonly messagesInTotal: Counter<'topic'>;
  private readonly bytesOutTotal: Counter;
  private readonly rejected: Counter<'topic' | 'code'>;
  private readonly offsetsSkipped: Counter;
  readonly connections: Gauge;
  readonly connectionsTotal: Counter;
  readonly closedForBadFrames: Counter<'reason'>;
  readonly connectionsClosed: Counter<'reason'>;
  readonly authentications: Counter<'listener' | 'mechanism' | 'reauthentication'>;
  readonly failedAuthentications: Counter<'listener' | 'mechanism'>;

  constructor(logs: LogManager) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'samsa_' });
    this.requests = new Counter({ name: 'samsa_requests_total', help: 'Requests handled, by API.', labelNames: ['api'], registers });
    this.requestErrors = new Counter({ name: 'samsa_request_failures_total', help: 'Requests that failed in the broker (connection closed), by API.', labelNames: ['api'], registers });
    this.latency = new Histogram({
      name: 'samsa_request_duration_seconds',
      help: 'Time from a request being read to its response being queued, by API.',
      labelNames: ['api'],
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    });
    this.bytesInTotal = new Counter({ name: 'samsa_bytes_in_total', help: 'Record bytes appended, by topic.', labelNames: ['topic'], registers });
    this.messagesInTotal = new Counter({ name: 'samsa_messages_in_total', help: 'Records appended, by topic.', labelNames: ['topic'], registers });
    this.bytesOutTotal = new Counter({ name: 'samsa_bytes_out_total', help: 'Record bytes sent to fetchers.', registers });
    this.rejected = new Counter({ name: 'samsa_produce_rejected_total', help: 'Partition writes refused, by topic and Kafka error code.', labelNames: ['topic', 'code'], registers });
    this.offsetsSkipped = new Counter({ name: 'samsa_offsets_load_skipped_records_total', help: 'Records of __consumer_offsets that start-up replay could not read and skipped.', registers });
    this.connections = new Gauge({ name: 'samsa_connections', help: 'Open client connections.', registers });
    this.connectionsTotal = new Counter({ name: 'samsa_connections_total', help: 'Client connections accepted.', registers });
    this.closedForBadFrames = new Counter({ name: 'samsa_connections_closed_bad_request_total', help: 'Connections closed for an oversized, garbage or unsupported request.', labelNames: ['reason'], registers });
    this.connectionsClosed = new Counter({
      name: 'samsa_connections_closed_total',
      help: 'Connections the broker closed for a timeout (idle, read_timeout, session_expired: SASL session past connections.max.reauth.ms) or refused at accept over a limit (max_connections, max_connections_per_ip).',
      labelNames: ['reason'],
      registers,
    });
    for (const reason of ['idle', 'read_timeout', 'max_connections', 'max_connections_per_ip', 'session_expired']) this.connectionsClosed.inc({ reason }, 0);
    this.authentications = new Counter({ name: 'samsa_successful_authentication_total', help: 'SASL authentications (and KIP-368 re-authentications) that succeeded, by listener and mechanism.', labelNames: ['listener', 'mechanism', 'reauthentication'], registers });
    this.failedAuthentications = new Counter({ name: 'samsa_failed_authentication_total', help: 'SASL authentications that failed (the connection was closed), by listener and mechanism ("unsupported" when the handshake named a mechanism not enabled).', labelNames: ['listener', 'mechanism'], registers });
    // Which Samsa this broker runs, as Prometheus' build_info convention has it.
    new Gauge({ name: 'samsa_build_info', help: 'Always 1; the labels say which Samsa runs.', labelNames: ['version'], registers }).set({ version: BROKER_VERSION }, 1);
    new Gauge({
      name: 'samsa_partitions',
      help: 'Partitions whose logs this broker holds.',
      registers,
      collect() {
        let n = 0;
        for (const [, list] of logs.all()) for (const log of list) if (log) n++;
        this.set(n);
      },
    });
    new Gauge({
      name: 'samsa_log_dir_offline',
      help: '1 when the log directory is offline after a failed write (its partitions answer KAFKA_STORAGE_ERROR), else 0.',
      registers,
      collect() {
        this.set(logs.offline === null ? 0 : 1);
      },
    });
    new Gauge({
      name: 'samsa_offline_partitions',
      help: 'Partitions that answer KAFKA_STORAGE_ERROR: all of an offline log directory, or ones that could not be opened at start.',
      registers,
      collect() {
        this.set(logs.offlinePartitionCount);
      },
    });
    new Counter({
      name: 'samsa_storage_errors_total',
      help: 'Failed log-directory operations (append: a write, roll or flush; open: a partition at start; close: sealing at shutdown).',
      labelNames: ['operation'],
      registers,
      collect() {
        this.reset();
        for (const [operation, n] of logs.storageErrors) this.inc({ operation }, n);
      },
    });
    new Gauge({
      name: 'samsa_open_transactions',
      help: 'Producer transactions open in the partitions this broker holds (leaders and followers): each holds its partition\'s last stable offset back.',
      registers,
      collect() {
        let n = 0;
        for (const [, list] of logs.all()) for (const log of list) if (log) n += log.openTransactions;
        this.set(n);
      },
    });
    new Gauge({
      name: 'samsa_log_size_bytes',
      help: 'Bytes on disk in partition logs, by topic.',
      labelNames: ['topic'],
      registers,
      collect() {
        this.reset();
        for (const [topic, list] of logs.all()) this.set({ topic }, list.reduce((sum, log) => sum + log.size, 0));
      },
    });
  }

  request(api: string, seconds: number): void {
    this.requests.inc({ api });
    this.latency.observe({ api }, seconds);
  }

  requestFailed(api: string): void {
    this.requestErrors.inc({ api });
  }

  recordsIn(topic: string, records: number, bytes: number): void {
    this.messagesInTotal.inc({ topic }, records);
    this.bytesInTotal.inc({ topic }, bytes);
  }

  bytesOut(bytes: number): void {
    if (bytes > 0) this.bytesOutTotal.inc(bytes);
  }

  produceRejected(topic: string, code: number): void {
    this.rejected.inc({ topic, code: String(code) });
  }

  offsetsRecordSkipped(): void {
    this.offsetsSkipped.inc();
  }

  /** Replication and controller figures, read at each scrape (Kafka's ReplicaManager and KafkaController metrics). */
  trackReplication(health: ReplicationHealth): void {
    const registers = [this.registry];
    const gauge = (name: string, help: string, value: () => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(value());
        },
      });
    gauge('samsa_replica_partitions', 'Partitions this broker holds a replica of, by the assignment (Kafka: PartitionCount).', () => health.figures().replicas);
    gauge('samsa_leader_partitions', 'Partitions this broker leads (Kafka: LeaderCount).', () => health.figures().leaders);
    gauge('samsa_under_replicated_partitions', 'Partitions this broker leads whose ISR lacks one of their replicas (Kafka: UnderReplicatedPartitions).', () => health.figures().underReplicated);
    gauge('samsa_under_min_isr_partitions', 'Partitions this broker leads whose ISR is smaller than min.insync.replicas: acks=all produces to them fail (Kafka: UnderMinIsrPartitionCount).', () => health.figures().underMinIsr);
    gauge('samsa_replica_max_lag_messages', 'Largest lag in records (leader log end offset - follower log end offset) of a follower of a partition this broker leads.', () => health.figures().maxFollowerLag);
    gauge('samsa_active_controller', '1 on the broker that is the active controller, else 0: the sum over a cluster is 1 (Kafka: ActiveControllerCount).', () => (health.controllerActive() ? 1 : 0));
    gauge('samsa_controller_offline_partitions', 'Partitions of the cluster without a live leader, reported by the active controller only, 0 elsewhere (Kafka: OfflinePartitionsCount).', () => health.offlinePartitions());
    new Counter({
      name: 'samsa_isr_shrinks_total',
      help: 'Times this broker, as a leader, removed lagging followers from an ISR (Kafka: IsrShrinksPerSec).',
      registers,
      collect() {
        this.reset();
        this.inc(health.counts.isrShrinks);
      },
    });
    new Counter({
      name: 'samsa_isr_expands_total',
      help: 'Times this broker, as a leader, added a caught-up follower back to an ISR (Kafka: IsrExpandsPerSec).',
      registers,
      collect() {
        this.reset();
        this.inc(health.counts.isrExpands);
      },
    });
  }

  /** The transaction coordinator: ids it coordinates by state (read at each scrape), markers written, timed-out transactions, expired ids. */
  trackTransactions(countByState: () => ReadonlyMap<string, number>, states: readonly string[]): TransactionMetrics {
    const registers = [this.registry];
    new Gauge({
      name: 'samsa_transactions',
      help: 'Transactional ids this broker coordinates, by state (Empty, Ongoing, PrepareCommit, ... as Kafka names them).',
      labelNames: ['state'],
      registers,
      collect() {
        const counts = countByState();
        for (const state of states) this.set({ state }, counts.get(state) ?? 0);
      },
    });
    const markers = new Counter({ name: 'samsa_transaction_markers_written_total', help: 'Transaction markers written for transactions this broker coordinates, by result (commit, abort).', labelNames: ['result'], registers });
    for (const result of ['commit', 'abort']) markers.inc({ result }, 0);
    const timedOut = new Counter({ name: 'samsa_transactions_timed_out_total', help: 'Open transactions aborted because they passed their transaction.timeout.ms.', registers });
    const expired = new Counter({ name: 'samsa_transactional_ids_expired_total', help: 'Transactional ids removed after transactional.id.expiration.ms without a transaction.', registers });
    return {
      markersWritten: (count, result) => markers.inc({ result }, count),
      timedOut: () => timedOut.inc(),
      expired: () => expired.inc(),
    };
  }
}

export interface TransactionMetrics {
  markersWritten(count: number, result: 'commit' | 'abort'): void;
  timedOut(): void;
  expired(): void;
}
