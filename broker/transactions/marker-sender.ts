// Delivers a transaction's markers: each partition's COMMIT/ABORT control batch goes to that
// partition's leader, written here directly when this broker leads it, else with WriteTxnMarkers
// over the inter-broker listener (one request per broker, the brokers in parallel). Partitions
// whose leader moved or was not ready are retried until done; a deleted topic's are dropped.
import type { ConnectionOptions } from 'node:tls';
import type { Logger } from 'pino';
import type { ClusterView } from '../metadata/cluster-view.js';
import type { TopicRegistry } from '../metadata/topic-registry.js';
import { KafkaConnection } from '../protocol/client.js';
import { ErrorCode } from '../protocol/errors.js';
import { writeTxnMarkersApi } from '../protocol/messages/index.js';
import { type SaslCredentials, authenticateSasl } from '../protocol/sasl-client.js';
import type { MarkerSender, TxnMarkers } from './coordinator.js';

const RETRY_BACKOFF_MS = 100;
const WRITE_TXN_MARKERS_VERSION = 1;

type Target = { topic: string; partition: number };
/** What one broker did with its partitions' markers: those to try again, and how many were written. */
type Outcome = { retry: Target[]; written: number };

export interface MarkerWrite {
  producerId: number;
  producerEpoch: number;
  commit: boolean;
  coordinatorEpoch: number;
}

export class TxnMarkerSender implements MarkerSender {
  private readonly connections = new Map<number, Promise<KafkaConnection>>();
  private closed = false;

  constructor(
    private readonly nodeId: number,
    private readonly view: ClusterView,
    private readonly registry: TopicRegistry,
    /** Another broker's inter-broker listener with this broker's TLS/SASL settings for it (ReplicaManager.interBrokerEndpoint). */
    private readonly endpoint: (nodeId: number) => { host: string; port: number; tls?: ConnectionOptions; sasl?: SaslCredentials } | undefined,
    /** Writes one marker at a partition this broker leads and waits for its ISR: an error code. */
    private readonly writeLocally: (marker: MarkerWrite, topic: string, partition: number) => Promise<number>,
    private readonly logger: Logger,
    private readonly onWritten: (count: number, result: 'commit' | 'abort') => void = () => {},
  ) {}

  async send(markers: TxnMarkers, current: () => boolean): Promise<void> {
    const marker: MarkerWrite = { producerId: markers.producerId, producerEpoch: markers.producerEpoch, commit: markers.commit, coordinatorEpoch: markers.coordinatorEpoch };
    let pending: Target[] = markers.partitions;
    let attempt = 0;
    while (pending.length > 0 && current() && !this.closed) {
      if (attempt++ > 0) await new Promise((resolve) => setTimeout(resolve, RETRY_BACKOFF_MS).unref());
      const byLeader = new Map<number, Target[]>();
      const retry: Target[] = [];
      for (const p of pending) {
        const topic = this.registry.get(p.topic);
        if (!topic || !topic.partitions[p.partition]) {
          this.logger.info({ transactionalId: markers.transactionalId, topic: p.topic, partition: p.partition }, 'transaction marker dropped: the partition was deleted');
          continue;
        }
        const leader = this.view.partition(topic, p.partition)?.state.leader ?? -1;
        if (leader < 0) retry.push(p);
        else byLeader.set(leader, [...(byLeader.get(leader) ?? []), p]);
      }
      const outcomes = await Promise.all([...byLeader].map(([leader, targets]) => (leader === this.nodeId ? this.writeHere(marker, targets) : this.writeAt(leader, marker, targets))));
      let written = 0;
      for (const o of outcomes) {
        retry.push(...o.retry);
        written += o.written;
      }
      if (written > 0) this.onWritten(written, markers.commit ? 'commit' : 'abort');
      if (retry.length > 0 && attempt % 50 === 1) {
        this.logger.warn({ transactionalId: markers.transactionalId, partitions: retry.map((t) => `${t.topic}-${t.partition}`), attempt }, 'transaction markers not written yet; retrying');
      }
      pending = retry;
    }
  }

  private async writeHere(marker: MarkerWrite, targets: Target[]): Promise<Outcome> {
    const codes = await Promise.all(targets.map((t) => this.writeLocally(marker, t.topic, t.partition)));
    return this.outcome(targets, (_, i) => codes[i]!);
  }

  private async writeAt(leader: number, marker: MarkerWrite, targets: Target[]): Promise<Outcome> {
    const topics = new Map<string, number[]>();
    for (const t of targets) topics.set(t.topic, [...(topics.get(t.topic) ?? []), t.partition]);
    let response;
    try {
      const connection = await this.connect(leader);
      response = await connection.send(writeTxnMarkersApi, WRITE_TXN_MARKERS_VERSION, {
        markers: [{ producerId: marker.producerId, producerEpoch: marker.producerEpoch, transactionResult: marker.commit, coordinatorEpoch: marker.coordinatorEpoch, topics: [...topics].map(([name, partitionIndexes]) => ({ name, partitionIndexes })) }],
      });
    } catch (err) {
      this.logger.warn({ err, broker: leader }, 'cannot send transaction markers to a broker; retrying');
      this.disconnect(leader);
      return { retry: targets, written: 0 };
    }
    const codes = new Map<string, number>();
    for (const m of response.markers) for (const t of m.topics) for (const p of t.partitions) codes.set(`${t.name}\0${p.partitionIndex}`, p.errorCode);
    return this.outcome(targets, (t) => codes.get(`${t.topic}\0${t.partition}`) ?? ErrorCode.UNKNOWN_SERVER_ERROR);
  }

  private outcome(targets: Target[], codeOf: (t: Target, i: number) => number): Outcome {
    const out: Outcome = { retry: [], written: 0 };
    targets.forEach((t, i) => {
      const code = codeOf(t, i);
      if (code === ErrorCode.NONE) out.written++;
      // The partition has seen a later epoch of this producer: this transaction was ended there already.
      else if (code === ErrorCode.INVALID_PRODUCER_EPOCH) this.logger.warn({ topic: t.topic, partition: t.partition }, 'transaction marker refused: the partition has a newer producer epoch');
      else out.retry.push(t);
    });
    return out;
  }

  private connect(nodeId: number): Promise<KafkaConnection> {
    let connection = this.connections.get(nodeId);
    if (!connection) {
      const endpoint = this.endpoint(nodeId);
      if (!endpoint) return Promise.reject(new Error(`broker ${nodeId} is not registered, or has no inter-broker listener`));
      connection = (async () => {
        const c = await KafkaConnection.open(endpoint.host, endpoint.port, `samsa-txn-markers-${this.nodeId}`, { tls: endpoint.tls });
        if (endpoint.sasl) {
          try {
            await authenticateSasl(c, endpoint.sasl);
          } catch (err) {
            await c.close();
            throw err;
          }
        }
        void c.closed.then(() => {
          if (this.connections.get(nodeId) === connection) this.connections.delete(nodeId);
        });
        return c;
      })();
      this.connections.set(nodeId, connection);
    }
    return connection;
  }

  private disconnect(nodeId: number): void {
    const connection = this.connections.get(nodeId);
    this.connections.delete(nodeId);
    void connection?.then((c) => c.close()).catch(() => {});
  }

  close(): void {
    this.closed = true;
    for (const id of [...this.connections.keys()]) this.disconnect(id);
  }
}
