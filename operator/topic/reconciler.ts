// reconcile(namespace/name) of a KafkaTopic, through the Kafka admin protocol against any ready
// broker of its cluster (the brokers share their metadata, so each one answers for all): create
// the topic (or adopt one that exists), raise its partitions, make its config overrides match the
// spec, carry a replicationFactor change out by reassignment (replication-factor.ts), and delete
// it when the resource goes (finalizer). Lowering partitions is refused with a
// condition: Kafka cannot do it.
//
// Several KafkaTopics may name the same topic: the oldest (then the first by name) manages it;
// the others report ResourceConflict, change nothing, and their deletion leaves the topic alone.
import type { Logger } from 'pino';
import type { KafkaConnection } from '../../broker/protocol/client.js';
import { ErrorCode } from '../../broker/protocol/errors.js';
import {
  createPartitionsApi,
  createTopicsApi,
  deleteTopicsApi,
  describeConfigsApi,
  incrementalAlterConfigsApi,
  metadataApi,
} from '../../broker/protocol/messages/index.js';
import { API_VERSION, type KafkaCluster, type KafkaTopic, type KafkaTopicStatus } from '../crds/types.js';
import { sameStatus, verdict } from '../conditions.js';
import type { ReconcileResult, Reconciler } from '../controller/controller.js';
import type { Kube, KubernetesObject } from '../kube.js';
import type { ConnectToCluster } from '../cluster/admin-connection.js';
import { brokerPods, isReady } from '../cluster/reconciler.js';
import { readOperatorIdentity, replicationAddress } from '../broker-connection.js';
import { stepReplicationFactor } from './replication-factor.js';

export const TOPIC_FINALIZER = 'samsa.dev/topic';
const TOPIC_RESOURCE = 2;
const DYNAMIC_TOPIC_CONFIG = 1;
const SET = 0;
const DELETE = 1;

type Topic = KafkaTopic & KubernetesObject;
type Cluster = KafkaCluster & KubernetesObject;

/** The name a KafkaTopic gives its topic in Kafka. */
export const kafkaTopicName = (t: KafkaTopic) => t.spec.topicName ?? t.metadata.name;

export class TopicReconciler implements Reconciler {
  readonly name = 'kafkatopic';

  constructor(
    private readonly kube: Kube,
    private readonly logger: Logger,
    /** How the operator reaches the brokers (cluster/admin-connection.ts). */
    private readonly connect: ConnectToCluster,
  ) {}

  /** The KafkaTopic that manages the topic: the oldest of those naming it in the same cluster. */
  private async owner(topic: Topic): Promise<Topic> {
    const all = await this.kube.list<Topic>(API_VERSION, 'KafkaTopic', topic.metadata.namespace);
    const same = all.filter((t) => t.spec.clusterRef.name === topic.spec.clusterRef.name && kafkaTopicName(t) === kafkaTopicName(topic));
    const age = (t: Topic) => Date.parse(t.metadata.creationTimestamp ?? '') || 0;
    same.sort((a, b) => age(a) - age(b) || (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
    return same[0] ?? topic;
  }

  async reconcile(key: string): Promise<ReconcileResult | void> {
    const [namespace, name] = key.split('/') as [string, string];
    const topic = await this.kube.getOrNull<Topic>(API_VERSION, 'KafkaTopic', namespace, name);
    if (!topic) return;
    const topicName = kafkaTopicName(topic);
    const finalizers = topic.metadata.finalizers ?? [];
    const owner = await this.owner(topic);
    const conflicting = owner.metadata.name !== topic.metadata.name;
    const cluster = await this.kube.getOrNull<Cluster>(API_VERSION, 'KafkaCluster', namespace, topic.spec.clusterRef.name);

    if (topic.metadata.deletionTimestamp) {
      if (!finalizers.includes(TOPIC_FINALIZER)) return;
      // A KafkaTopic that does not manage the topic leaves it alone when it goes.
      if (!conflicting && cluster && !cluster.metadata.deletionTimestamp) {
        const conn = await this.connect(cluster);
        if (!conn) return { requeueAfterMs: 5000 };
        try {
          const res = await conn.send(deleteTopicsApi, 6, { topics: [{ name: topicName, topicId: 'AAAAAAAAAAAAAAAAAAAAAA' }], topicNames: [], timeoutMs: 30_000 });
          const code = res.responses[0]!.errorCode;
          if (code !== ErrorCode.NONE && code !== ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) throw new Error(`deleting topic ${topicName}: ${res.responses[0]!.errorMessage ?? `error ${code}`}`);
        } finally {
          await conn.close();
        }
        this.logger.info({ topic: key, kafkaTopic: topicName }, 'deleted topic');
      }
      await this.kube.mergePatch(topic, { metadata: { finalizers: finalizers.filter((f) => f !== TOPIC_FINALIZER), resourceVersion: topic.metadata.resourceVersion } });
      return;
    }
    if (!finalizers.includes(TOPIC_FINALIZER)) {
      await this.kube.mergePatch(topic, { metadata: { finalizers: [...finalizers, TOPIC_FINALIZER], resourceVersion: topic.metadata.resourceVersion } });
    }

    if (conflicting) {
      return this.status(topic, {}, 'failed', 'ResourceConflict', `KafkaTopic ${owner.metadata.name} (the oldest KafkaTopic for topic ${topicName} in cluster ${topic.spec.clusterRef.name}) manages the topic; this one changes nothing`);
    }
    if (!cluster) return this.status(topic, {}, 'progressing', 'ClusterNotFound', `KafkaCluster ${topic.spec.clusterRef.name} does not exist`, 10_000);
    const conn = await this.connect(cluster);
    if (!conn) return this.status(topic, {}, 'progressing', 'BrokersNotReady', `no broker of ${cluster.metadata.name} is ready`, 5000);
    try {
      return await this.converge(topic, topicName, conn, cluster);
    } finally {
      await conn.close();
    }
  }

  private async converge(topic: Topic, topicName: string, conn: KafkaConnection, cluster: Cluster): Promise<ReconcileResult | void> {
    const spec = topic.spec;
    const meta = await conn.send(metadataApi, 12, { topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: topicName }], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
    const existing = meta.topics[0]!;
    let topicId = existing.topicId;
    let partitions = existing.partitions.length;
    // While a replication-factor change is carried out, partitions differ: the smallest counts.
    let replicationFactor = Math.min(...existing.partitions.map((p) => p.replicaNodes.length));
    if (existing.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) {
      const res = await conn.send(createTopicsApi, 7, {
        topics: [{ name: topicName, numPartitions: spec.partitions, replicationFactor: spec.replicationFactor, assignments: [], configs: Object.entries(spec.config ?? {}).map(([name, value]) => ({ name, value })) }],
        timeoutMs: 30_000,
        validateOnly: false,
      });
      const created = res.topics[0]!;
      if (created.errorCode !== ErrorCode.NONE) return this.status(topic, {}, 'failed', 'CreateFailed', created.errorMessage ?? `CreateTopics error ${created.errorCode}`, 30_000);
      topicId = created.topicId;
      partitions = created.numPartitions;
      replicationFactor = created.replicationFactor;
      await this.kube.event(topic, 'Normal', 'Created', `created topic ${topicName} with ${partitions} partition(s) and replication factor ${created.replicationFactor}`);
    } else if (existing.errorCode !== ErrorCode.NONE) {
      return this.status(topic, {}, 'failed', 'MetadataFailed', `Metadata for ${topicName} failed with error ${existing.errorCode}`, 10_000);
    } else {
      if (!topic.status?.topicId) await this.kube.event(topic, 'Normal', 'Adopted', `topic ${topicName} already existed with ${partitions} partition(s); now managed by this resource`);
      if (spec.partitions < partitions) {
        return this.status(topic, { topicId, partitions, replicationFactor }, 'failed', 'PartitionsCannotDecrease', `the topic has ${partitions} partitions; Kafka cannot lower that to ${spec.partitions}`);
      }
      if (spec.partitions > partitions) {
        const res = await conn.send(createPartitionsApi, 3, { topics: [{ name: topicName, count: spec.partitions, assignments: null }], timeoutMs: 30_000, validateOnly: false });
        const r = res.results[0]!;
        if (r.errorCode !== ErrorCode.NONE) return this.status(topic, { topicId, partitions, replicationFactor }, 'failed', 'PartitionsFailed', r.errorMessage ?? `CreatePartitions error ${r.errorCode}`, 30_000);
        await this.kube.event(topic, 'Normal', 'PartitionsAdded', `raised partitions of ${topicName} from ${partitions} to ${spec.partitions}`);
        partitions = spec.partitions;
      }
      const failure = await this.alignConfigs(topic, topicName, conn);
      if (failure) return this.status(topic, { topicId, partitions, replicationFactor }, 'failed', 'ConfigRejected', failure, 30_000);
      const largest = Math.max(...existing.partitions.map((p) => p.replicaNodes.length));
      if (topic.status?.reassignment || replicationFactor !== spec.replicationFactor || largest !== spec.replicationFactor) {
        const changing = await this.changeReplicationFactor(topic, topicName, cluster, { topicId, partitions, replicationFactor });
        if (changing) return changing;
        replicationFactor = spec.replicationFactor;
      }
    }
    return this.status(topic, { topicId, partitions, replicationFactor, reassignment: undefined }, 'ready', 'TopicReady', `topic ${topicName} has ${partitions} partition(s), replication factor ${replicationFactor} and the specified config`);
  }

  /** A step of a replication-factor change (replication-factor.ts); undefined once it is done. */
  private async changeReplicationFactor(topic: Topic, topicName: string, cluster: Cluster, facts: Pick<KafkaTopicStatus, 'topicId' | 'partitions' | 'replicationFactor'>): Promise<ReconcileResult | void | undefined> {
    const key = `${topic.metadata.namespace}/${topic.metadata.name}`;
    const pods = (await brokerPods(this.kube, topic.metadata.namespace!, cluster.metadata.name)).filter((p) => isReady(p) && p.status?.podIP);
    const identity = await readOperatorIdentity(this.kube, topic.metadata.namespace!, cluster.metadata.name);
    const brokers = identity ? pods.map((p) => ({ id: Number(p.metadata.name.slice(p.metadata.name.lastIndexOf('-') + 1)), ...replicationAddress(cluster, p.metadata.name, p.status!.podIP!, identity) })) : [];
    const step = await stepReplicationFactor(key, cluster, topicName, topic.spec.replicationFactor, topic.status?.reassignment, brokers, this.logger);
    if (step.state === 'refused') return this.status(topic, { ...facts, reassignment: undefined }, 'failed', 'ReplicationFactorRefused', step.reason, 30_000);
    if (step.state === 'moving') {
      if (!topic.status?.reassignment) await this.kube.event(topic, 'Normal', 'ReplicationFactorChanging', `changing the replication factor of ${topicName} to ${topic.spec.replicationFactor}: ${step.reassignment.moves.length} partition(s) to move`);
      return this.status(topic, { ...facts, reassignment: step.reassignment }, 'progressing', 'ReplicationFactorChanging', `replication factor ${facts.replicationFactor} → ${topic.spec.replicationFactor}: ${step.reassignment.progress}`, 2000);
    }
    if (step.moved > 0) await this.kube.event(topic, 'Normal', 'ReplicationFactorChanged', `${topicName} has replication factor ${topic.spec.replicationFactor}: ${step.moved} partition(s) moved`);
    return undefined;
  }

  /** Makes the topic's overrides equal spec.config; returns the broker's refusal, if any. */
  private async alignConfigs(topic: Topic, topicName: string, conn: KafkaConnection): Promise<string | null> {
    const described = await conn.send(describeConfigsApi, 4, { resources: [{ resourceType: TOPIC_RESOURCE, resourceName: topicName, configurationKeys: null }], includeSynonyms: false, includeDocumentation: false });
    const current = new Map(described.results[0]!.configs.filter((c) => c.configSource === DYNAMIC_TOPIC_CONFIG).map((c) => [c.name, c.value]));
    const desired = topic.spec.config ?? {};
    const changes = [
      ...Object.entries(desired).filter(([k, v]) => current.get(k) !== v).map(([name, value]) => ({ name, configOperation: SET, value })),
      ...[...current.keys()].filter((k) => !(k in desired)).map((name) => ({ name, configOperation: DELETE, value: null })),
    ];
    if (changes.length === 0) return null;
    const res = await conn.send(incrementalAlterConfigsApi, 1, { resources: [{ resourceType: TOPIC_RESOURCE, resourceName: topicName, configs: changes }], validateOnly: false });
    const r = res.responses[0]!;
    if (r.errorCode !== ErrorCode.NONE) return r.errorMessage ?? `IncrementalAlterConfigs error ${r.errorCode}`;
    await this.kube.event(topic, 'Normal', 'ConfigChanged', `changed ${changes.map((c) => c.name).join(', ')} of ${topicName}`);
    return null;
  }

  /**
   * Writes status when it says something new (facts carry over from the last status) and gives a
   * Warning Event when a failure's reason or message changes, not at every reconcile.
   */
  private async status(topic: Topic, facts: Pick<KafkaTopicStatus, 'topicId' | 'partitions' | 'replicationFactor' | 'reassignment'>, state: 'ready' | 'progressing' | 'failed', reason: string, message: string, requeueAfterMs?: number): Promise<ReconcileResult | void> {
    const previous = topic.status?.conditions?.find((c) => c.type === 'Ready');
    const status: KafkaTopicStatus = {
      ...topic.status,
      observedGeneration: topic.metadata.generation,
      ...facts,
      conditions: verdict(topic.status?.conditions, state, reason, message, topic.metadata.generation),
    };
    if (!sameStatus(status, topic.status)) {
      // A merge patch keeps what it does not name: fields now undefined are nulled.
      const patch: Record<string, unknown> = { ...status };
      for (const k of Object.keys(topic.status ?? {})) if (patch[k] === undefined) patch[k] = null;
      await this.kube.mergePatch(topic, { status: patch }, 'status');
    }
    if (state === 'failed' && (previous?.reason !== reason || previous.message !== message)) await this.kube.event(topic, 'Warning', reason, message);
    return requeueAfterMs ? { requeueAfterMs } : undefined;
  }
}
