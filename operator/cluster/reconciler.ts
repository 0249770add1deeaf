// reconcile(namespace/name) of a KafkaCluster: apply the desired objects, restart brokers whose
// pods run an old template one at a time (only while all others are ready), and report the
// brokers, their readiness and the bootstrap address in status.
import type { Logger } from 'pino';
import { API_VERSION, type KafkaCluster, type KafkaClusterStatus } from '../crds/types.js';
import { verdict } from '../conditions.js';
import type { ReconcileResult, Reconciler } from '../controller/controller.js';
import type { Kube, KubernetesObject } from '../kube.js';
import { bootstrapAddress, desiredResources, names, selectorLabels } from './resources.js';

interface Pod extends KubernetesObject {
  metadata: { name: string; namespace: string; labels?: Record<string, string>; deletionTimestamp?: string };
  status?: { conditions?: Array<{ type: string; status: string }>; podIP?: string };
}

interface StatefulSet extends KubernetesObject {
  status?: { updateRevision?: string; currentRevision?: string };
}

export const isReady = (pod: Pod) => !pod.metadata.deletionTimestamp && (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
const ordinal = (pod: Pod) => Number(pod.metadata.name.slice(pod.metadata.name.lastIndexOf('-') + 1));
const selector = (cluster: string) => Object.entries(selectorLabels(cluster)).map(([k, v]) => `${k}=${v}`).join(',');

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

    const firstTime = !(await this.kube.getOrNull('apps/v1', 'StatefulSet', namespace, names(name).statefulSet));
    for (const obj of desiredResources(kc)) await this.kube.apply(obj);
    if (firstTime) await this.kube.event(kc, 'Normal', 'Created', `created the broker StatefulSet, services and config for ${kc.spec.replicas} broker(s)`);

    const sts = await this.kube.get<StatefulSet>('apps/v1', 'StatefulSet', namespace, names(name).statefulSet);
    const pods = await brokerPods(this.kube, namespace, name);
    const updateRevision = sts.status?.updateRevision;
    const outdated = updateRevision ? pods.filter((p) => p.metadata.labels?.['controller-revision-hash'] !== updateRevision && !p.metadata.deletionTimestamp) : [];
    const ready = pods.filter(isReady);
    let rolling = false;
    let evictionBlocked: string | undefined;
    if (outdated.length > 0) {
      rolling = true;
      // One broker at a time, the highest ordinal first, and only while every broker is ready.
      if (ready.length === pods.length && pods.length === kc.spec.replicas) {
        const victim = outdated[outdated.length - 1]!;
        // Through the Eviction API, so that PodDisruptionBudgets (ours and the user's) hold.
        const eviction = await this.kube.evict(victim);
        if (eviction.evicted) {
          this.logger.info({ cluster: key, pod: victim.metadata.name }, 'restarting broker with the new template');
          await this.kube.event(kc, 'Normal', 'RollingRestart', `restarting ${victim.metadata.name} to apply the new pod template`);
        } else {
          evictionBlocked = `cannot restart ${victim.metadata.name} yet: ${eviction.message}`;
          this.logger.info({ cluster: key, pod: victim.metadata.name, reason: eviction.message }, 'eviction refused; retrying later');
          const shown = kc.status?.conditions?.find((c) => c.type === 'Ready');
          if (shown?.reason !== 'EvictionBlocked' || shown.message !== evictionBlocked) await this.kube.event(kc, 'Warning', 'EvictionBlocked', evictionBlocked);
        }
      }
    }

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
          evictionBlocked ? 'EvictionBlocked' : rolling ? 'RollingRestart' : 'BrokersStarting',
          evictionBlocked ?? (rolling ? `${outdated.length} broker(s) still to restart with the new template` : `${ready.length} of ${kc.spec.replicas} broker(s) ready`),
          kc.metadata.generation,
        );
    const wasReady = kc.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
    if (JSON.stringify(stripTimes(status)) !== JSON.stringify(stripTimes(kc.status ?? {}))) {
      await this.kube.mergePatch(kc, { status }, 'status');
      if (allReady && !wasReady) await this.kube.event(kc, 'Normal', 'Ready', `all ${kc.spec.replicas} broker(s) are ready`);
    }
    return allReady ? undefined : { requeueAfterMs: 2000 };
  }
}

function stripTimes(status: KafkaClusterStatus): unknown {
  return { ...status, conditions: status.conditions?.map(({ lastTransitionTime: _t, ...rest }) => rest) };
}
