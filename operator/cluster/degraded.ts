// Degraded=True on a KafkaCluster with a reason and message, and one Warning Event per change
// of them: a reconcile that finds the same problem again writes and announces nothing.
import type { KafkaCluster } from '../crds/types.js';
import { verdict } from '../conditions.js';
import type { Kube, KubernetesObject } from '../kube.js';

/** Whether the cluster already reports exactly this problem. */
function alreadyDegraded(kc: KafkaCluster, reason: string, message: string): boolean {
  const degraded = kc.status?.conditions?.find((c) => c.type === 'Degraded');
  return degraded?.status === 'True' && degraded.reason === reason && degraded.message === message && degraded.observedGeneration === kc.metadata.generation;
}

/** Sets Ready=False, Reconciling=False, Degraded=True with `reason`, and warns once. */
export async function reportDegraded(kube: Kube, kc: KafkaCluster & KubernetesObject, reason: string, message: string): Promise<void> {
  if (alreadyDegraded(kc, reason, message)) return;
  const conditions = verdict(kc.status?.conditions, 'failed', reason, message, kc.metadata.generation);
  await kube.mergePatch(kc, { status: { observedGeneration: kc.metadata.generation, conditions } }, 'status');
  await kube.event(kc, 'Warning', reason, message);
}
