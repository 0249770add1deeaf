// Where a KafkaUser's clients connect: the cluster's listener whose authentication is the
// user's, at the cluster's bootstrap Service, and the CA certificate a TLS client trusts.
import type { KafkaCluster, KafkaUserSpec } from '../crds/types.js';
import type { Kube, KubernetesObject } from '../kube.js';
import type { ClientListener } from './secret.js';

/** A listener of spec.listeners: a name, a port, TLS or not, and how clients authenticate. */
interface ListenerSpec {
  name: string;
  port: number;
  tls?: boolean;
  authentication?: 'none' | 'scram-sha-512' | 'tls';
}

/**
 * The cluster's listener for users authenticating as `authentication`, null when it has none.
 * A cluster whose spec.listeners is not a list has only its plaintext listener, which
 * authenticates no one.
 */
export function clientListener(cluster: KafkaCluster, authentication: KafkaUserSpec['authentication']['type']): ClientListener | null {
  const listeners: unknown = cluster.spec.listeners;
  if (!Array.isArray(listeners)) return null;
  const listener = (listeners as ListenerSpec[]).find((l) => l.authentication === authentication);
  if (!listener) return null;
  // The bootstrap Service, as status.bootstrap names it for the first listener.
  return { bootstrap: `${cluster.metadata.name}.${cluster.metadata.namespace}.svc:${listener.port}`, tls: listener.tls ?? false };
}

/** The Secret holding the cluster CA's certificate (ca.crt), which brokers' certificates chain to. */
export const clusterCaCertSecret = (cluster: string) => `${cluster}-cluster-ca-cert`;

/** The cluster CA's certificate (PEM), or null while the cluster has none. */
export async function clusterCaCertificate(kube: Kube, cluster: KafkaCluster): Promise<string | null> {
  const secret = await kube.getOrNull<KubernetesObject & { data?: Record<string, string> }>('v1', 'Secret', cluster.metadata.namespace, clusterCaCertSecret(cluster.metadata.name));
  const pem = secret?.data?.['ca.crt'];
  return pem ? Buffer.from(pem, 'base64').toString('utf8') : null;
}
