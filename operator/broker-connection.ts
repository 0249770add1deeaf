// How the operator reaches a broker's Kafka protocol: the internal replication listener of the
// broker's pod (TLS, port 9091), presenting the operator's client certificate of the cluster CA
// and checking the broker's certificate against the cluster CA and the pod's DNS name. Every
// Kafka connection the operator makes (topics, dynamic settings, partition moves, the roll's
// questions) is opened here.
import type { ConnectionOptions } from 'node:tls';
import { KafkaConnection } from '../broker/protocol/client.js';
import { type KafkaCluster, REPLICATION_PORT } from './crds/types.js';
import type { Kube } from './kube.js';
import { brokerServerName, type OperatorIdentity, operatorIdentity, type Secret, secretNames } from './tls/cluster-certificates.js';

/** A broker's Kafka endpoint and, for TLS, what to present and trust. */
export interface BrokerAddress {
  host: string;
  port: number;
  tls?: ConnectionOptions;
}

export function openBrokerConnection(address: BrokerAddress, clientId: string): Promise<KafkaConnection> {
  return KafkaConnection.open(address.host, address.port, clientId, address.tls ? { tls: address.tls } : {});
}

/** The operator's certificate for a cluster, from the Secret the cluster reconciler keeps; null until it exists. */
export async function readOperatorIdentity(kube: Kube, namespace: string, cluster: string): Promise<OperatorIdentity | null> {
  return operatorIdentity(await kube.getOrNull<Secret & { metadata: { name: string } }>('v1', 'Secret', namespace, secretNames(cluster).operator));
}

/** A broker pod's replication listener at its pod address, checked against its DNS name (which its certificate carries). */
export function replicationAddress(kc: KafkaCluster, pod: string, podIP: string, identity: OperatorIdentity): BrokerAddress {
  return { host: podIP, port: REPLICATION_PORT, tls: { key: identity.key, cert: identity.cert, ca: identity.ca, servername: brokerServerName(kc, pod) } };
}
