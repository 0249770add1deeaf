// A scale-down removes the brokers with the highest ordinals. Brokers neither replicate nor
// reassign partitions yet, so the partitions such a broker holds would be stranded on a volume
// no broker reads. Before lowering the StatefulSet the operator asks each broker to be removed
// which topics it holds (Metadata of that broker: each broker keeps its own topics) and refuses
// while any does; the annotation samsa.dev/skip-broker-scaledown-check: "true" overrides that.
// __consumer_offsets counts: it holds the committed offsets of the groups that broker
// coordinated, and consumers would fall back to auto.offset.reset without them.
import { KafkaConnection } from '../../broker/protocol/client.js';
import { metadataApi } from '../../broker/protocol/messages/index.js';
import type { KafkaCluster } from '../crds/types.js';

export const SKIP_SCALEDOWN_CHECK = 'samsa.dev/skip-broker-scaledown-check';

/** A broker by id, and the address to ask it at: null when it is not ready. */
export interface BrokerAddress {
  id: number;
  host: string | null;
}

/** The topics a broker holds a partition of, asked of that broker. */
export async function topicsOn(host: string, port: number, id: number): Promise<string[]> {
  const conn = await KafkaConnection.open(host, port, 'samsa-operator');
  try {
    const res = await conn.send(metadataApi, 12, { topics: null, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
    return res.topics
      .filter((t) => t.partitions.some((p) => p.leaderId === id || p.replicaNodes.includes(id)))
      .map((t) => t.name!)
      .sort();
  } finally {
    await conn.close();
  }
}

/**
 * Why lowering the StatefulSet from `currentReplicas` to the spec's replicas must wait, naming
 * each broker to be removed and the topics it holds; null when it may go ahead.
 */
export async function scaleDownBlocker(kc: KafkaCluster, currentReplicas: number, brokers: () => Promise<BrokerAddress[]>): Promise<string | null> {
  if (currentReplicas <= kc.spec.replicas || kc.metadata.annotations?.[SKIP_SCALEDOWN_CHECK] === 'true') return null;
  const known = await brokers();
  const problems: string[] = [];
  for (let id = kc.spec.replicas; id < currentReplicas; id++) {
    const host = known.find((b) => b.id === id)?.host;
    if (!host) {
      problems.push(`broker ${id} is not ready, so what it holds cannot be checked`);
      continue;
    }
    try {
      const topics = await topicsOn(host, kc.spec.listeners.kafkaPort, id);
      if (topics.length > 0) problems.push(`broker ${id} holds ${topics.join(', ')}`);
    } catch (err) {
      problems.push(`broker ${id} could not be asked what it holds (${(err as Error).message})`);
    }
  }
  if (problems.length === 0) return null;
  return (
    `scaling down from ${currentReplicas} to ${kc.spec.replicas} broker(s) is on hold: brokers do not move partitions yet, so removing them would strand data. ` +
    `${problems.join('; ')}. Move or delete that data, or annotate the KafkaCluster with ${SKIP_SCALEDOWN_CHECK}: "true" to remove the brokers anyway`
  );
}
