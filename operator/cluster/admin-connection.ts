// The operator's admin connection to a KafkaCluster: a ready broker that answers, tried in turn
// (the brokers share their metadata, so each one answers for all), over its internal replication
// listener with the operator's certificate (broker-connection.ts), a super user when the
// authorizer is on. Reconcilers take it as a function.
import type { Logger } from 'pino';
import type { KafkaConnection } from '../../broker/protocol/client.js';
import { metadataApi } from '../../broker/protocol/messages/index.js';
import type { KafkaCluster } from '../crds/types.js';
import { openBrokerConnection, readOperatorIdentity, replicationAddress } from '../broker-connection.js';
import { withTimeout } from '../deadline.js';
import type { Kube, KubernetesObject } from '../kube.js';
import { brokerPods, isReady } from './reconciler.js';

type Cluster = KafkaCluster & KubernetesObject;

/** A connection to a broker of the cluster; null when no ready broker answers. */
export type ConnectToCluster = (cluster: Cluster) => Promise<KafkaConnection | null>;

// How long a broker gets to answer a connection and a Metadata request before it counts as down.
const PROBE_TIMEOUT_MS = 10_000;

export function adminConnection(kube: Kube, logger: Logger): ConnectToCluster {
  return async (cluster) => {
    const namespace = cluster.metadata.namespace;
    const identity = await readOperatorIdentity(kube, namespace, cluster.metadata.name);
    // No certificate yet: the cluster reconciler has not issued it, and no broker runs without it.
    if (!identity) return null;
    const pods = (await brokerPods(kube, namespace, cluster.metadata.name)).filter((p) => isReady(p) && p.status?.podIP);
    for (const pod of pods) {
      let conn: KafkaConnection | undefined;
      try {
        conn = await withTimeout(openBrokerConnection(replicationAddress(cluster, pod.metadata.name, pod.status!.podIP!, identity), 'samsa-operator'), PROBE_TIMEOUT_MS, `connecting to ${pod.metadata.name}`);
        await withTimeout(conn.send(metadataApi, 12, { topics: [], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }), PROBE_TIMEOUT_MS, `Metadata of ${pod.metadata.name}`);
        return conn;
      } catch (err) {
        logger.info({ err, pod: pod.metadata.name, cluster: `${namespace}/${cluster.metadata.name}` }, 'broker did not answer; trying another');
        void conn?.close();
      }
    }
    return null;
  };
}
