// reconcile(namespace/name) of a KafkaCluster, step by step: apply the desired objects, observe
// the brokers (readiness, version, what is wrong), roll brokers whose pods run an old template
// (a failing one first, else those safe to stop, as operator/roll/ plans), collect ConfigMap versions no
// pod uses, and report it all in status, with a Warning Event when a failure appears.
import type { Logger } from 'pino';
import { API_VERSION, type KafkaCluster, type KafkaClusterStatus } from '../crds/types.js';
import { sameStatus, setCondition, verdict } from '../conditions.js';
import type { ReconcileResult, Reconciler } from '../controller/controller.js';
import { type Kube, KubeError, type KubernetesObject } from '../kube.js';
import { reportDegraded } from './degraded.js';
import { applyDynamicConfig, reportDynamicConfig } from './dynamic-config.js';
import { type RollTarget, readRollFacts } from '../roll/oracle.js';
import { planRoll } from '../roll/planner.js';
import { type BrokerFailure, brokerFailure, type PodStatus } from './pod-failures.js';
import { bootstrapAddress, configMapName, DEFAULT_MAX_PARALLEL, desiredResources, meta, names, nodeReaderBindingName, type OperatorSettings, selectorLabels } from './resources.js';
import { type MovesResult, type Operation, PartitionMoves } from './partition-moves.js';
import { STORE_LABEL } from '../../broker/metadata/kubernetes-store.js';
import { withTimeout } from '../deadline.js';
import { validateCluster } from './validation.js';
import { listenerStatus } from './listeners.js';
import { type BrokerAddress, replicationAddress } from '../broker-connection.js';
import { type CertificatePlan, type OperatorIdentity, type Secret, operatorIdentity, planCertificates, secretNames } from '../tls/cluster-certificates.js';
import { claimTemplateTooSmall, expandClaims } from './volumes.js';

interface Pod extends KubernetesObject {
  metadata: { name: string; namespace: string; uid: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec?: { volumes?: Array<{ configMap?: { name: string } }> };
  status?: PodStatus & { conditions?: Array<{ type: string; status: string }>; podIP?: string };
}

interface StatefulSet extends KubernetesObject {
  spec?: {
    replicas?: number;
    template?: { spec?: { volumes?: Array<{ configMap?: { name: string } }> } };
    volumeClaimTemplates?: Array<{ spec?: { resources?: { requests?: { storage?: string } } } }>;
  };
  status?: { observedGeneration?: number; updateRevision?: string; currentRevision?: string };
}

type BrokerStatus = NonNullable<KafkaClusterStatus['brokers']>[number];

/** A roll's progress: brokers done and left, why it waits, and whether a disruption budget is what holds it. */
interface RollStatus {
  done: number[];
  left: number[];
  waiting: string | null;
  evictionBlocked?: boolean;
}

/** Why the cluster is Degraded: the reason and message of its Degraded condition. */
interface Fault {
  reason: string;
  message: string;
}

export const isReady = (pod: Pod) => !pod.metadata.deletionTimestamp && (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
const ordinal = (pod: Pod) => Number(pod.metadata.name.slice(pod.metadata.name.lastIndexOf('-') + 1));
const selector = (cluster: string) => Object.entries(selectorLabels(cluster)).map(([k, v]) => `${k}=${v}`).join(',');
const configMapsOf = (spec: { volumes?: Array<{ configMap?: { name: string } }> } | undefined) => (spec?.volumes ?? []).flatMap((v) => (v.configMap ? [v.configMap.name] : []));

/** Each ready broker's id and where the operator reaches it: its replication listener, with the operator's certificate. */
const brokerAddresses = (kc: KafkaCluster, pods: Pod[], identity: OperatorIdentity): Array<BrokerAddress & { id: number }> =>
  pods.filter((p) => isReady(p) && p.status?.podIP).map((p) => ({ id: ordinal(p), ...replicationAddress(kc, p.metadata.name, p.status!.podIP!, identity) }));

/** The broker pods of a cluster, by ordinal. */
export async function brokerPods(kube: Kube, namespace: string, cluster: string): Promise<Pod[]> {
  const pods = await kube.list<Pod>('v1', 'Pod', namespace, selector(cluster));
  return pods.sort((a, b) => ordinal(a) - ordinal(b));
}

/** How long a step of partition moves may take before the reconcile goes on without it. */
const MOVES_TIMEOUT_MS = 20_000;

/** A refusal by the API server that repeating the same request cannot fix (invalid, forbidden). */
const isRefusal = (err: unknown): err is KubeError => err instanceof KubeError && err.status >= 400 && err.status < 500 && err.status !== 409 && err.status !== 429;

export class ClusterReconciler implements Reconciler {
  readonly name = 'kafkacluster';
  /** Broker versions by cluster key, then pod uid: a pod's image, and so its version, never changes. */
  private readonly versions = new Map<string, Map<string, string>>();
  private readonly moves: PartitionMoves;

  constructor(
    private readonly kube: Kube,
    private readonly logger: Logger,
    private readonly settings: OperatorSettings = {},
  ) {
    this.moves = new PartitionMoves(kube, logger);
  }

  async reconcile(key: string): Promise<ReconcileResult | void> {
    const [namespace, name] = key.split('/') as [string, string];
    const kc = await this.kube.getOrNull<KafkaCluster & KubernetesObject>(API_VERSION, 'KafkaCluster', namespace, name);
    // Gone or going: the objects it owns are garbage-collected through their owner references;
    // the cluster-scoped node-reader binding, which it cannot own, is deleted here.
    if (!kc || kc.metadata.deletionTimestamp) {
      this.versions.delete(key);
      const binding = await this.kube.getOrNull<KubernetesObject>('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', undefined, nodeReaderBindingName(namespace, name));
      if (binding) await this.kube.delete(binding);
      return kc ? undefined : this.collectMetadata(namespace, name);
    }

    // Nothing is applied or rolled while the spec cannot work.
    const problems = validateCluster(kc, this.settings);
    if (problems.length > 0) return reportDegraded(this.kube, kc, 'InvalidConfig', `the spec cannot be applied: ${problems.join('; ')}`);

    // certificates → partition moves → apply → observe → roll → collect → dynamic settings → report
    const existing = await this.kube.getOrNull<StatefulSet>('apps/v1', 'StatefulSet', namespace, names(name).statefulSet);
    // Every broker the StatefulSet has or will have gets a certificate before its pod starts.
    const certificates = await this.certificates(kc, Math.max(kc.spec.replicas, existing?.spec?.replicas ?? 0));
    const identity = operatorIdentity(certificates.secrets.find((s) => s.metadata?.name === secretNames(name).operator))!;
    const moves = existing ? await this.movePartitions(kc, existing, identity) : null;
    const scaleDownBlocked = moves?.scaleDownBlocked ?? null;
    // A scale-down waits until the brokers it removes hold nothing: until then the StatefulSet keeps its size.
    const shrinking = existing?.spec?.replicas !== undefined && existing.spec.replicas > kc.spec.replicas;
    const desiredReplicas = kc.spec.replicas;
    if (shrinking && !moves?.scaleDownReady) kc.spec.replicas = existing!.spec!.replicas!;
    // A larger spec.storage.size: the StatefulSet is replaced without its pods (its claim
    // template cannot change); the next reconcile creates the new one, which adopts them.
    if (claimTemplateTooSmall(kc, existing)) {
      // Being deleted already (the orphaning takes a moment): wait for it to go.
      if (existing!.metadata?.deletionTimestamp) return { requeueAfterMs: 1000 };
      await this.kube.delete(existing!, { propagationPolicy: 'Orphan' });
      this.logger.info({ cluster: key, size: kc.spec.storage.size }, 'replacing the StatefulSet (keeping its pods) for a larger volume claim template');
      await this.kube.event(kc, 'Normal', 'VolumesExpanding', `broker volumes grow to ${kc.spec.storage.size}: the StatefulSet is replaced, its pods keep running`);
      return { requeueAfterMs: 1000 };
    }
    // No StatefulSet but pods: one being replaced (above), not a new cluster.
    const applyFault = await this.apply(kc, !existing && (kc.status?.replicas ?? 0) === 0);
    const volumes = applyFault ? null : await expandClaims(this.kube, kc);
    const sts = await this.kube.getOrNull<StatefulSet>('apps/v1', 'StatefulSet', namespace, names(name).statefulSet);
    const pods = await brokerPods(this.kube, namespace, name);
    const brokers = await this.observe(kc, pods);
    // The StatefulSet controller has seen the template that was just applied: its revisions are current.
    const updateRevision = sts?.status?.observedGeneration === sts?.metadata?.generation ? sts?.status?.updateRevision : undefined;
    const onOldTemplate = (p: Pod) => p.metadata.labels?.['controller-revision-hash'] !== updateRevision && !p.metadata.deletionTimestamp;
    let roll: RollStatus | null = null;
    if (!applyFault && updateRevision) {
      roll = await this.roll(kc, pods, brokers, onOldTemplate, identity);
      await this.collectConfigMaps(kc, sts, pods);
    }
    const dynamicConfig = await applyDynamicConfig(kc, brokerAddresses(kc, pods, identity), this.logger);
    await reportDynamicConfig(this.kube, kc, dynamicConfig, this.logger);
    // Pods exist but the StatefulSet controller has not seen the newest template yet: a roll may be coming.
    const outdated = updateRevision ? pods.filter(onOldTemplate).length : sts && pods.length > 0 ? null : 0;
    const specFault =
      applyFault ?? (scaleDownBlocked ? { reason: 'ScaleDownBlocked', message: scaleDownBlocked } : volumes?.refused ? { reason: 'VolumeExpansionFailed', message: volumes.refused } : null);
    const result = await this.report(kc, pods.length, brokers, specFault, outdated, roll, dynamicConfig.failed.size > 0, volumes?.pending.length ?? 0, moves, desiredReplicas, certificates);
    // Come back when the next certificate is due, or in an hour at the latest (timers take at most 24 days; the resync comes sooner anyway).
    const renewInMs = certificates.nextRenewal ? Math.min(3_600_000, Math.max(1000, certificates.nextRenewal.getTime() - Date.now())) : undefined;
    if (renewInMs !== undefined && (!result || !result.requeueAfterMs || renewInMs < result.requeueAfterMs)) return { requeueAfterMs: renewInMs };
    return result;
  }

  /**
   * The cluster's CAs and certificates (tls/cluster-certificates.ts) brought up to date in their
   * Secrets: issued when missing, renewed before they expire or on a new samsa.dev/force-renew.
   * A renewed certificate changes only its Secret: the kubelet updates the mounted files and the
   * brokers load them, so nothing restarts.
   */
  private async certificates(kc: KafkaCluster & KubernetesObject, replicas: number): Promise<CertificatePlan> {
    const { namespace, name } = kc.metadata;
    const existing = new Map<string, Secret | null>();
    for (const secretName of Object.values(secretNames(name))) existing.set(secretName, await this.kube.getOrNull<Secret & KubernetesObject>('v1', 'Secret', namespace, secretName));
    const plan = planCertificates(kc, existing, replicas);
    for (const secret of plan.secrets) {
      const secretName = secret.metadata!.name!;
      await this.kube.apply({ ...secret, metadata: { ...meta(kc, secretName), ...secret.metadata } } as KubernetesObject);
    }
    const cluster = `${namespace}/${name}`;
    const firstTime = [...existing.values()].every((s) => s === null);
    for (const i of plan.issued) this.logger.info({ cluster, certificate: i.name, reason: i.why, notAfter: i.notAfter.toISOString() }, 'issued a certificate');
    if (firstTime) await this.kube.event(kc, 'Normal', 'CertificatesCreated', `created the cluster and clients CAs and ${plan.issued.length - 2} certificate(s)`);
    else if (plan.issued.length > 0) {
      await this.kube.event(kc, 'Normal', 'CertificatesRenewed', `issued ${plan.issued.map((i) => `${i.name} (${i.why}; expires ${i.notAfter.toISOString()})`).join(', ')}: the brokers load the new files without a restart`);
    }
    return plan;
  }

  /**
   * A step of the partition moves (partition-moves.ts), given the brokers as they are before this
   * pass applies anything; null when the brokers cannot be asked now (the next pass tries again).
   */
  private async movePartitions(kc: KafkaCluster & KubernetesObject, sts: StatefulSet, identity: OperatorIdentity): Promise<MovesResult | null> {
    const pods = await brokerPods(this.kube, kc.metadata.namespace!, kc.metadata.name);
    const current = sts.status?.updateRevision;
    // No plan starts while a broker is down or on an old template: a roll or a restart is under way.
    const settled = pods.length === sts.spec?.replicas && pods.every((p) => isReady(p) && p.metadata.labels?.['controller-revision-hash'] === current);
    const addresses = brokerAddresses(kc, pods, identity);
    try {
      return await withTimeout(this.moves.reconcile(kc, addresses, sts.spec?.replicas ?? 0, settled), MOVES_TIMEOUT_MS, 'partition moves');
    } catch (err) {
      this.logger.warn({ cluster: `${kc.metadata.namespace}/${kc.metadata.name}`, err }, 'partition moves: the brokers could not be asked; retrying');
      return null;
    }
  }

  /** Server-side applies every desired object; a refusal by the API server becomes the cluster's fault. */
  private async apply(kc: KafkaCluster & KubernetesObject, firstTime: boolean): Promise<Fault | null> {
    for (const obj of desiredResources(kc, this.settings)) {
      try {
        await this.kube.apply(obj);
      } catch (err) {
        if (!isRefusal(err)) throw err;
        this.logger.warn({ cluster: `${kc.metadata.namespace}/${kc.metadata.name}`, kind: obj.kind, name: obj.metadata?.name, err: err.message }, 'the API server refused an object of the cluster');
        return { reason: 'ApplyFailed', message: err.message };
      }
    }
    if (firstTime) await this.kube.event(kc, 'Normal', 'Created', `created the broker StatefulSet, services and config for ${kc.spec.replicas} broker(s)`);
    return null;
  }

  /**
   * Restarts the brokers whose pods run an old template that operator/roll/planner.ts lets go now
   * (a failing one first; otherwise only brokers safe to stop, after the previous one caught up,
   * the controller last), asking the brokers what it needs (operator/roll/oracle.ts). The pods'
   * revisions are the roll's state, so a restarted operator carries on where it was.
   * Returns what is done and left, and why the roll waits: for the brokers, or for a disruption budget.
   */
  private async roll(kc: KafkaCluster & KubernetesObject, pods: Pod[], brokers: BrokerStatus[], onOldTemplate: (p: Pod) => boolean, identity: OperatorIdentity): Promise<RollStatus> {
    const failing = (p: Pod) => Boolean(brokers.find((b) => b.pod === p.metadata.name)?.reason);
    // A pod being deleted is not done: it waits as not ready until its replacement is.
    const targets: RollTarget[] = pods.map((p) => ({
      id: ordinal(p),
      outdated: onOldTemplate(p) || Boolean(p.metadata.deletionTimestamp),
      ready: isReady(p),
      failing: failing(p),
      endpoint: isReady(p) && p.status?.podIP ? { host: p.status.podIP, httpPort: kc.spec.http.port, kafka: replicationAddress(kc, p.metadata.name, p.status.podIP, identity) } : null,
    }));
    if (!targets.some((t) => t.outdated)) return { done: targets.map((t) => t.id), left: [], waiting: null };
    const rollingUpdate = { parallelism: kc.spec.rollingUpdate?.parallelism ?? 'none', maxParallel: kc.spec.rollingUpdate?.maxParallel ?? DEFAULT_MAX_PARALLEL };
    const plan = planRoll(await readRollFacts(targets, kc.spec.replicas, rollingUpdate));
    let waiting = plan.waiting;
    for (const { id, why } of plan.restart) {
      const refused = await this.restart(kc, pods.find((p) => ordinal(p) === id)!, why);
      if (refused) {
        waiting = refused;
        break;
      }
    }
    if (waiting) this.logger.info({ cluster: `${kc.metadata.namespace}/${kc.metadata.name}`, waiting, left: plan.left }, 'rolling restart waits');
    return { done: plan.done, left: plan.left, waiting, evictionBlocked: waiting !== null && waiting !== plan.waiting };
  }

  /**
   * The one place a broker pod is restarted for a roll: evicted through the Eviction API, so
   * PodDisruptionBudgets (ours and the user's) hold; its StatefulSet creates it again from the
   * new template. Returns why it must wait when a budget refuses the eviction.
   */
  private async restart(kc: KafkaCluster & KubernetesObject, pod: Pod, why: string): Promise<string | null> {
    // Evicted with the pod's own terminationGracePeriodSeconds, which validation keeps above controlled.shutdown.timeout.ms.
    const cluster = `${kc.metadata.namespace}/${kc.metadata.name}`;
    const eviction = await this.kube.evict(pod);
    if (!eviction.evicted) {
      this.logger.info({ cluster, pod: pod.metadata.name, reason: eviction.message }, 'eviction refused; retrying later');
      return `cannot restart ${pod.metadata.name} yet: ${eviction.message}`;
    }
    this.logger.info({ cluster, pod: pod.metadata.name }, 'restarting broker with the new template');
    await this.kube.event(kc, 'Normal', 'RollingRestart', `restarting ${pod.metadata.name} ${why}`);
    return null;
  }

  /**
   * The cluster metadata in the Kubernetes API (the brokers' store: ConfigMaps and Leases
   * labelled with the cluster's name) lives as long as the data it describes: after the
   * KafkaCluster is gone, it is kept while any broker volume is, so that a cluster created again
   * on kept volumes finds its topics; once the volumes are gone too, it is deleted.
   */
  private async collectMetadata(namespace: string, name: string): Promise<ReconcileResult | void> {
    const claims = await this.kube.list<KubernetesObject>('v1', 'PersistentVolumeClaim', namespace, selector(name));
    if (claims.some((c) => !c.metadata?.deletionTimestamp)) return;
    if (claims.length > 0) return { requeueAfterMs: 2000 };
    const store = `${STORE_LABEL}=${name}`;
    let deleted = 0;
    for (const [apiVersion, kind] of [['v1', 'ConfigMap'], ['coordination.k8s.io/v1', 'Lease']] as const) {
      for (const obj of await this.kube.list<KubernetesObject>(apiVersion, kind, namespace, store)) deleted += (await this.kube.delete(obj)) ? 1 : 0;
    }
    if (deleted > 0) this.logger.info({ cluster: `${namespace}/${name}`, objects: deleted }, 'deleted the cluster metadata: the cluster and its volumes are gone');
  }

  /** Deletes the cluster's ConfigMap versions that neither the template nor any pod (old revisions included) mounts. */
  private async collectConfigMaps(kc: KafkaCluster & KubernetesObject, sts: StatefulSet | null, pods: Pod[]): Promise<void> {
    const inUse = new Set([configMapName(kc), ...configMapsOf(sts?.spec?.template?.spec), ...pods.flatMap((p) => configMapsOf(p.spec))]);
    const prefix = names(kc.metadata.name).config;
    const configMaps = await this.kube.list<KubernetesObject>('v1', 'ConfigMap', kc.metadata.namespace, selector(kc.metadata.name));
    for (const cm of configMaps) {
      const cmName = cm.metadata!.name!;
      const owned = cm.metadata?.ownerReferences?.some((o) => o.uid === kc.metadata.uid);
      if (owned && (cmName === prefix || cmName.startsWith(`${prefix}-`)) && !inUse.has(cmName)) {
        await this.kube.delete(cm);
        this.logger.info({ cluster: `${kc.metadata.namespace}/${kc.metadata.name}`, configMap: cmName }, 'deleted a config version no broker uses');
      }
    }
  }

  /** The version a ready broker reports, read once per pod from its /v1/broker. */
  private async version(kc: KafkaCluster, pod: Pod, known: Map<string, string>): Promise<string | undefined> {
    if (known.has(pod.metadata.uid)) return known.get(pod.metadata.uid);
    if (!isReady(pod) || !pod.status?.podIP) return undefined;
    try {
      const res = await fetch(`http://${pod.status.podIP}:${kc.spec.http.port}/v1/broker`, { signal: AbortSignal.timeout(2000) });
      return res.ok ? ((await res.json()) as { version?: string }).version : undefined;
    } catch {
      // Not reachable now: the next reconcile asks again.
      return undefined;
    }
  }

  /** Each broker: readiness, the version it reports, and what is wrong with it. */
  private async observe(kc: KafkaCluster & KubernetesObject, pods: Pod[]): Promise<BrokerStatus[]> {
    const previous = new Map((kc.status?.brokers ?? []).map((b) => [b.pod, b]));
    const clusterKey = `${kc.metadata.namespace}/${kc.metadata.name}`;
    const known = this.versions.get(clusterKey) ?? new Map<string, string>();
    const versionsNow = new Map<string, string>();
    const brokers: BrokerStatus[] = [];
    for (const pod of pods) {
      const failure: BrokerFailure | null = brokerFailure(pod.status, previous.get(pod.metadata.name));
      const version = await this.version(kc, pod, known);
      if (version !== undefined) versionsNow.set(pod.metadata.uid, version);
      brokers.push({ id: ordinal(pod), pod: pod.metadata.name, ready: isReady(pod), ...(version ? { version } : {}), ...(failure ?? {}) });
    }
    this.versions.set(clusterKey, versionsNow);
    return brokers;
  }

  /**
   * Status from what was observed. `specFault`: what keeps the spec from being carried out (the
   * API server refused an object, a scale-down was refused); `outdated` counts pods on an old
   * template, null while unknown; `roll`: the roll's progress and why it waits (for the brokers or a disruption budget);
   * `retry`: something the next reconcile must try again.
   */
  private async report(
    kc: KafkaCluster & KubernetesObject,
    podCount: number,
    brokers: BrokerStatus[],
    specFault: Fault | null,
    outdated: number | null,
    roll: RollStatus | null,
    retry: boolean,
    growingVolumes: number,
    moves: MovesResult | null,
    desiredReplicas: number,
    certificates: CertificatePlan,
  ): Promise<ReconcileResult | void> {
    const evictionBlocked = roll?.evictionBlocked ? roll.waiting : null;
    const rollWaiting = roll?.evictionBlocked ? null : (roll?.waiting ?? null);
    const ready = brokers.filter((b) => b.ready).length;
    const failing = brokers.filter((b) => b.reason);
    const fault: Fault | null = specFault ?? (failing.length > 0 ? { reason: failing[0]!.reason!, message: failing.map((b) => `${b.pod}: ${b.message}`).join('; ') } : null);
    const versions = [...new Set(brokers.flatMap((b) => (b.version ? [b.version] : [])))].sort();

    const status: KafkaClusterStatus = {
      observedGeneration: kc.metadata.generation,
      replicas: podCount,
      readyReplicas: ready,
      brokers,
      bootstrap: bootstrapAddress(kc),
      listeners: listenerStatus(kc),
      certificates: certificates.status,
      ...(versions.length > 0 ? { version: versions.join(', ') } : {}),
      ...(roll && roll.left.length > 0 ? { roll: { done: roll.done, left: roll.left, ...(roll.waiting ? { waiting: roll.waiting } : {}) } } : {}),
    };
    const operation: Operation | null =
      moves?.operation ??
      (roll && roll.left.length > 0
        ? { type: 'RollingRestart', reason: 'brokers run an old pod template', progress: `${roll.done.length}/${roll.done.length + roll.left.length} brokers` }
        : null);
    if (operation) status.operation = operation;
    const lastRequest = moves?.answeredRequest ?? kc.status?.rebalance?.lastRequest;
    const imbalance = moves?.imbalance ?? kc.status?.rebalance?.imbalance;
    if (lastRequest !== undefined || imbalance) status.rebalance = { ...(lastRequest !== undefined ? { lastRequest } : {}), ...(imbalance ? { imbalance } : {}) };
    // While a scale-down drains brokers the StatefulSet (and kc.spec.replicas here) keeps its size.
    const shrinking = podCount > desiredReplicas;
    const rolling = outdated === null || outdated > 0;
    const allReady = !fault && outdated === 0 && ready === kc.spec.replicas && podCount === desiredReplicas && growingVolumes === 0;
    const generation = kc.metadata.generation;
    if (fault) status.conditions = verdict(kc.status?.conditions, 'failed', fault.reason, fault.message, generation);
    else if (allReady) status.conditions = verdict(kc.status?.conditions, 'ready', 'BrokersReady', `all ${kc.spec.replicas} broker(s) are ready`, generation);
    else if (evictionBlocked) status.conditions = verdict(kc.status?.conditions, 'progressing', 'EvictionBlocked', evictionBlocked, generation);
    else if (rollWaiting && outdated) status.conditions = verdict(kc.status?.conditions, 'progressing', 'RollWaiting', `${outdated} broker(s) still to restart; ${rollWaiting}`, generation);
    else if (shrinking && !rolling) status.conditions = verdict(kc.status?.conditions, 'progressing', 'ScalingDown', moves?.operation ? `${moves.operation.reason}: ${moves.operation.progress}` : `removing ${podCount - desiredReplicas} broker(s)`, generation);
    else if (growingVolumes > 0 && !rolling) status.conditions = verdict(kc.status?.conditions, 'progressing', 'VolumesExpanding', `${growingVolumes} broker volume(s) growing to ${kc.spec.storage.size}`, generation);
    else if (rolling) status.conditions = verdict(kc.status?.conditions, 'progressing', 'RollingRestart', outdated === null ? 'waiting for the StatefulSet controller to see the new template' : `${outdated} broker(s) still to restart with the new template`, generation);
    else status.conditions = verdict(kc.status?.conditions, 'progressing', 'BrokersStarting', `${ready} of ${kc.spec.replicas} broker(s) ready`, generation);

    // Ready while partitions move onto or between ready brokers; Reconciling says what moves.
    if (allReady && moves?.operation) status.conditions = setCondition(status.conditions, 'Reconciling', 'True', 'MovingPartitions', `${moves.operation.reason}: ${moves.operation.progress}`, generation);
    if (!sameStatus(status, kc.status)) {
      const wasReady = kc.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
      await this.kube.mergePatch(kc, { status: withRemovals(status, kc.status) }, 'status');
      if (allReady && !wasReady) await this.kube.event(kc, 'Normal', 'Ready', `all ${kc.spec.replicas} broker(s) are ready`);
      // One Warning per failure, not one per reconcile: only when the failure is new or another.
      if (fault && faultKey(status) !== faultKey(kc.status)) await this.kube.event(kc, 'Warning', fault.reason, fault.message);
      const shown = kc.status?.conditions?.find((c) => c.type === 'Ready');
      if (!fault && evictionBlocked && (shown?.reason !== 'EvictionBlocked' || shown.message !== evictionBlocked)) await this.kube.event(kc, 'Warning', 'EvictionBlocked', evictionBlocked);
    }
    // Ready, and every ready broker's version known: nothing to wait for.
    if (allReady && brokers.every((b) => b.version) && !retry && !operation) return;
    // A spec fault waits for a change of the spec (which triggers a reconcile) or this retry.
    return { requeueAfterMs: specFault ? 30_000 : 2000 };
  }
}

/**
 * What identifies a failure for its Event: the reason and the failing brokers; for a refused
 * apply, the API server's message. A crash loop's changing last log line is not a new failure.
 */
/** Faults of the spec rather than of brokers: the message says all there is. */
const SPEC_FAULTS = new Set(['ApplyFailed', 'ScaleDownBlocked', 'VolumeExpansionFailed']);

function faultKey(status: KafkaClusterStatus | undefined): string {
  const degraded = status?.conditions?.find((c) => c.type === 'Degraded');
  if (degraded?.status !== 'True') return '';
  if (SPEC_FAULTS.has(degraded.reason)) return `${degraded.reason}|${degraded.message}`;
  const failing = (status?.brokers ?? []).filter((b) => b.reason).map((b) => `${b.pod}=${b.reason}`);
  return `${degraded.reason}|${failing.join(',')}`;
}

/** A merge patch replaces what it names and keeps the rest: status fields that went away are nulled. */
function withRemovals(next: KafkaClusterStatus, previous: KafkaClusterStatus | undefined): Record<string, unknown> {
  const patch: Record<string, unknown> = { ...next };
  for (const k of Object.keys(previous ?? {})) if (!(k in next)) patch[k] = null;
  return patch;
}
