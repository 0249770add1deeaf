// What request handlers see of the broker.
import type { Logger } from 'pino';
import type { BrokerConfig } from './config.js';
import type { BrokerMetrics } from './metrics.js';
import type { DynamicBrokerConfigs } from './metadata/dynamic-configs.js';
import type { TopicRecord, TopicRegistry } from './metadata/topic-registry.js';
import type { ProducerIdAllocator } from './metadata/producer-ids.js';
import type { GroupCoordinator } from './groups/coordinator.js';
import type { TransactionCoordinator } from './transactions/coordinator.js';
import type { TxnMarkerWriter } from './transactions/marker-writer.js';
import type { LogManager } from './storage/log-manager.js';
import type { TopicService } from './topics.js';
import type { ClusterView } from './metadata/cluster-view.js';
import type { Controller } from './controller/controller.js';
import type { ReplicaManager } from './replication/replica-manager.js';
import type { KafkaPrincipal } from './security/principal.js';
import type { Authorizer } from './security/authorizer.js';
import type { ScramCredentials } from './security/scram-credentials.js';
import type { ClientQuotas } from './security/quota-manager.js';

export interface BrokerNode {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

export interface BrokerContext {
  readonly nodeId: number;
  readonly config: BrokerConfig;
  /** Where the dynamic layers of `config` are kept. */
  readonly dynamicConfigs: DynamicBrokerConfigs;
  readonly registry: TopicRegistry;
  readonly topics: TopicService;
  readonly logs: LogManager;
  readonly metrics: BrokerMetrics;
  readonly logger: Logger;
  readonly producerIds: ProducerIdAllocator;
  readonly groups: GroupCoordinator;
  /** The transaction coordinator of the transactional ids whose __transaction_state partitions this broker leads. */
  readonly transactions: TransactionCoordinator;
  /** Writes transaction markers at partitions this broker leads. */
  readonly txnMarkers: TxnMarkerWriter;
  /** Brokers, controller and partition states of the cluster. */
  readonly view: ClusterView;
  /** This broker's replicas: which partitions it leads or follows. */
  readonly replicas: ReplicaManager;
  readonly controller: Controller;
  /** The ACL authorizer; null when authorizer.class.name is empty (every request allowed). */
  readonly authorizer: Authorizer | null;
  /** Live brokers of the cluster as clients of `listener` reach them (brokers without that listener left out). */
  brokers(listener: string): BrokerNode[];
  /** One live broker, as clients of `listener` reach it; undefined when it has no such listener. */
  broker(nodeId: number, listener: string): BrokerNode | undefined;
  /** The SCRAM credentials of every user (security/scram/ in the metadata store). */
  readonly scramCredentials: ScramCredentials;
  /** Client quotas: stored per user / client id, enforced per connection. */
  readonly quotas: ClientQuotas;
  /** Broker acting as controller for admin requests. */
  controllerId(): number;
  /** Creates a topic with broker defaults when auto-creation is on; undefined when it is off. */
  autoCreateTopic(name: string): Promise<TopicRecord | undefined>;
}

/** Per-request facts handlers may need besides the body. */
export interface RequestContext {
  apiVersion: number;
  clientId: string | null;
  /** The client's address, as group descriptions show it. */
  clientHost: string;
  /** Who the connection is authenticated as (ANONYMOUS without authentication). */
  principal: KafkaPrincipal;
  /** The listener the request arrived on, by its name in `listeners` (e.g. PLAINTEXT). */
  listenerName: string;
}
