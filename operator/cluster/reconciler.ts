// reconcile(namespace/name) of a KafkaCluster: apply the desired objects, restart brokers whose
// pods run an old template one at a time (only while all others are ready), and report the
// brokers, their readiness and the bootstrap address in status.
import type { Logger } from 'pino';
import { API_VERSION, type KafkaCluster, type KafkaClusterStatus } from '../crds/types.js';
import { verdict } from '../conditions.js';
import type { ReconcileResult, Reconciler } from '../controller/controller.js';
import type { Kube, KubernetesObject } from '../kube.js';
import { alreadyDegraded, reportDegraded } from './degraded.js';
import { applyDynamicConfig, reportDynamicConfig } from './dynamic-config.js';
import { bootstrapAddress, desiredResources, names, selectorLabels } from './resources.js';
import { type BrokerAddress, scaleDownBlocker } from './scale-down.js';
import { validateCluster } from './validation.js';

interface Pod extends KubernetesObject {
  metadata: { name: string; namespace: string; labels?: Record<string, string>; deletionTimestamp?: string };
  status?: { conditions?: Array<{ type: string; status: string }>; podIP?: string };
}

interface StatefulSet extends KubernetesObject {
  spec?: { replicas?: number };
  status?: { updateRevision?: string; currentRevision?: string };
}

export const isReady = (pod: Pod) => !pod.metadata.deletionTimestamp && (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
const ordinal = (pod: Pod) => Number(pod.metadata.name.slice(pod.metadata.name.lastIndexOf('-') + 1));
const selector = (cluster: string) => Object.entries(selectorLabels(cluster)).map(([k, v]) => `${k}=${v}`).join(',');

/** Each broker's id and, when it is ready, the address to reach it at. */
const brokerAddresses = (pods: Pod[]): BrokerAddress[] => pods.map((p) => ({ id: ordinal(p), host: isReady(p) ? (p.status?.podIP ?? null) : null }));

/** The broker pods of a cluster, by ordinal. */
export async function brokerPods(kube: Kube, namespace: string, cluster: string): Promise<Pod[]> {
  const pods = await kube.list<Pod>('v1', 'Pod', namespace, selector(cluster));
  return pods.sort((a, b) => ordinal(a) - ordinal(b));
}

export class ClusterReconciler implements Reconciler {
  readonly name = 'kafkacluster';

  constructor(
    private readonly kube: Kube,
    private readonly logger: Logger,
  ) {}

  async reconcile(key: string): Promise<ReconcileResult | void> {
    const [namespace, name] = key.split('/') as [string, string];
    const kc = await this.kube.getOrNull<KafkaCluster & KubernetesObject>(API_VERSION, 'KafkaCluster', namespace, name);
    // Gone or going: the objects it owns are garbage-collected through their owner references.
    if (!kc || kc.metadata.deletionTimestamp) return;

    // Nothing is applied or rolled while the spec cannot work.
    const problems = validateCluster(kc);
    if (problems.length > 0) return reportDegraded(this.kube, kc, 'InvalidConfig', `the spec cannot be applied: ${problems.join('; ')}`);

    const existing = await this.kube.getOrNull<StatefulSet>('apps/v1', 'StatefulSet', namespace, names(name).statefulSet);
    const firstTime = !existing;
    const scaleDownBlocked = await scaleDownBlocker(kc, existing?.spec?.replicas ?? 0, async () => brokerAddresses(await brokerPods(this.kube, namespace, name)));
    // A refused scale-down keeps the current size for the rest of this reconcile.
    if (scaleDownBlocked) kc.spec.replicas = existing!.spec!.replicas!;
    for (const obj of desiredResources(kc)) await this.kube.apply(obj);
    if (firstTime) await this.kube.event(kc, 'Normal', 'Created', `created the broker StatefulSet, services and config for ${kc.spec.replicas} broker(s)`);

    const sts = await this.kube.get<StatefulSet>('apps/v1', 'StatefulSet', namespace, names(name).statefulSet);
    const pods = await brokerPods(this.kube, namespace, name);
    const updateRevision = sts.status?.updateRevision;
    const outdated = updateRevision ? pods.filter((p) => p.metadata.labels?.['controller-revision-hash'] !== updateRevision && !p.metadata.deletionTimestamp) : [];
    const ready = pods.filter(isReady);
    let rolling = false;
    if (outdated.length > 0) {
      rolling = true;
      // One broker at a time, the highest ordinal first, and only while every broker is ready.
      if (ready.length === pods.length && pods.length === kc.spec.replicas) {
        const victim = outdated[outdated.length - 1]!;
        await this.kube.delete(victim);
        this.logger.info({ cluster: key, pod: victim.metadata.name }, 'restarting broker with the new template');
        await this.kube.event(kc, 'Normal', 'RollingRestart', `restarting ${victim.metadata.name} to apply the new pod template`);
      }
    }

    const dynamicConfig = await applyDynamicConfig(kc, brokerAddresses(ready).filter((b): b is { id: number; host: string } => b.host !== null), this.logger);
    await reportDynamicConfig(this.kube, kc, dynamicConfig, this.logger);

    const status: KafkaClusterStatus = {
      observedGeneration: kc.metadata.generation,
      replicas: pods.length,
      readyReplicas: ready.length,
      brokers: pods.map((p) => ({ id: ordinal(p), pod: p.metadata.name, ready: isReady(p) })),
      bootstrap: bootstrapAddress(kc),
    };
    const allReady = !rolling && ready.length === kc.spec.replicas && pods.length === kc.spec.replicas;
    status.conditions = allReady
      ? verdict(kc.status?.conditions, 'ready', 'BrokersReady', `all ${kc.spec.replicas} broker(s) are ready`, kc.metadata.generation)
      : verdict(
          kc.status?.conditions,
          'progressing',
          rolling ? 'RollingRestart' : 'BrokersStarting',
          rolling ? `${outdated.length} broker(s) still to restart with the new template` : `${ready.length} of ${kc.spec.replicas} broker(s) ready`,
          kc.metadata.generation,
        );
    const warnScaleDown = scaleDownBlocked !== null && !alreadyDegraded(kc, 'ScaleDownBlocked', scaleDownBlocked);
    if (scaleDownBlocked) status.conditions = verdict(kc.status?.conditions, 'failed', 'ScaleDownBlocked', scaleDownBlocked, kc.metadata.generation);
    const wasReady = kc.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
    if (JSON.stringify(stripTimes(status)) !== JSON.stringify(stripTimes(kc.status ?? {}))) {
      await this.kube.mergePatch(kc, { status }, 'status');
      if (allReady && !wasReady && !scaleDownBlocked) await this.kube.event(kc, 'Normal', 'Ready', `all ${kc.spec.replicas} broker(s) are ready`);
    }
    if (warnScaleDown) await this.kube.event(kc, 'Warning', 'ScaleDownBlocked', scaleDownBlocked);
    return allReady && dynamicConfig.failed.size === 0 ? undefined : { requeueAfterMs: 2000 };
  }
}

function stripTimes(status: KafkaClusterStatus): unknown {
  return { ...status, conditions: status.conditions?.map(({ lastTransitionTime: _t, ...rest }) => rest) };
}
