// Where a KafkaUser's clients connect: the cluster's listener whose authentication is the
// user's (status.listeners: the bootstrap Service and its port), and the cluster CA's
// certificate a TLS client trusts.
import type { KafkaCluster, KafkaUserSpec } from '../crds/types.js';
import type { Kube, KubernetesObject } from '../kube.js';
import { CA_CERT_KEY, secretNames } from '../tls/cluster-certificates.js';
import type { ClientListener } from './secret.js';

/** The cluster's listener for users authenticating as `authentication` (status.listeners), null when it has none. */
export function clientListener(cluster: KafkaCluster, authentication: KafkaUserSpec['authentication']['type']): ClientListener | null {
  const listener = (cluster.status?.listeners ?? []).find((l) => l.authentication === authentication);
  return listener ? { bootstrap: listener.bootstrap, tls: listener.tls } : null;
}

/** The cluster CA's certificate (PEM), or null while the cluster has none. */
export async function clusterCaCertificate(kube: Kube, cluster: KafkaCluster): Promise<string | null> {
  const secret = await kube.getOrNull<KubernetesObject & { data?: Record<string, string> }>('v1', 'Secret', cluster.metadata.namespace, secretNames(cluster.metadata.name).clusterCaCert);
  const pem = secret?.data?.[CA_CERT_KEY];
  return pem ? Buffer.from(pem, 'base64').toString('utf8') : null;
}
