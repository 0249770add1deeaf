// Growing spec.storage.size. A StatefulSet's volumeClaimTemplates cannot change, so a larger
// size replaces the StatefulSet without its pods (deleted with propagation Orphan; the new one
// adopts the running pods, whose template is unchanged, so nothing restarts) and new brokers get
// claims of the new size. Existing claims are expanded in place, where their StorageClass allows
// it (allowVolumeExpansion); where it does not, the claims keep their size and the cluster says why.
import type { KafkaCluster } from '../crds/types.js';
import { type Kube, KubeError, type KubernetesObject } from '../kube.js';
import { selectorLabels } from './resources.js';

const UNITS: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };

/** Bytes of a Kubernetes quantity such as 10Gi, 500M or 1e9. */
export function quantityBytes(quantity: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(?:e([0-9]+)|([kMGTPE]i?|Ki))?$/.exec(quantity.trim());
  if (!m) throw new Error(`"${quantity}" is not a storage quantity`);
  if (m[2] !== undefined) return Number(m[1]) * 10 ** Number(m[2]);
  const unit = UNITS[m[3] ?? ''];
  if (unit === undefined) throw new Error(`"${quantity}" has an unknown unit`);
  return Number(m[1]) * unit;
}

interface Claim extends KubernetesObject {
  spec: { storageClassName?: string; resources?: { requests?: { storage?: string } } };
  status?: { phase?: string; capacity?: { storage?: string } };
}

interface StatefulSetClaims extends KubernetesObject {
  spec?: { volumeClaimTemplates?: Array<{ spec?: { resources?: { requests?: { storage?: string } } } }> };
}

/** The claim size in a StatefulSet's template, when it has one. */
export const templateClaimSize = (sts: StatefulSetClaims | null): string | undefined => sts?.spec?.volumeClaimTemplates?.[0]?.spec?.resources?.requests?.storage;

/** Whether the StatefulSet must be replaced (without its pods) for its claim template to grow. */
export function claimTemplateTooSmall(kc: KafkaCluster, sts: StatefulSetClaims | null): boolean {
  const size = templateClaimSize(sts);
  return size !== undefined && quantityBytes(size) < quantityBytes(kc.spec.storage.size);
}

export interface VolumeExpansion {
  /** Claims asked to grow in this pass. */
  resized: string[];
  /** Claims asked to grow whose volume has not grown yet. */
  pending: string[];
  /** Why some claims cannot grow (their StorageClass forbids it, the API server refused), or null. */
  refused: string | null;
}

/** Asks every broker claim smaller than the spec's size to grow, where its StorageClass allows it. */
export async function expandClaims(kube: Kube, kc: KafkaCluster): Promise<VolumeExpansion> {
  const want = quantityBytes(kc.spec.storage.size);
  const selector = Object.entries(selectorLabels(kc.metadata.name)).map(([k, v]) => `${k}=${v}`).join(',');
  const claims = await kube.list<Claim>('v1', 'PersistentVolumeClaim', kc.metadata.namespace, selector);
  const result: VolumeExpansion = { resized: [], pending: [], refused: null };
  const refusals: string[] = [];
  const classes = new Map<string, boolean>();
  for (const claim of claims) {
    const name = claim.metadata!.name!;
    const requested = claim.spec.resources?.requests?.storage;
    const capacity = claim.status?.capacity?.storage;
    if (requested !== undefined && quantityBytes(requested) >= want) {
      if (capacity !== undefined && quantityBytes(capacity) < want) result.pending.push(name);
      continue;
    }
    const className = claim.spec.storageClassName ?? '';
    if (!classes.has(className)) classes.set(className, await expandable(kube, className));
    if (!classes.get(className)) {
      refusals.push(`${name}: StorageClass ${className || '(none)'} does not allow volume expansion`);
      continue;
    }
    // Only a bound claim can grow; an unbound one is waited for.
    if (claim.status?.phase !== 'Bound') {
      result.pending.push(name);
      continue;
    }
    try {
      await kube.mergePatch(claim, { spec: { resources: { requests: { storage: kc.spec.storage.size } } } });
      result.resized.push(name);
      result.pending.push(name);
    } catch (err) {
      if (!(err instanceof KubeError) || err.status >= 500) throw err;
      refusals.push(`${name}: ${err.message}`);
    }
  }
  if (refusals.length > 0) result.refused = `the broker volumes cannot grow to ${kc.spec.storage.size}: ${refusals.join('; ')}`;
  return result;
}

async function expandable(kube: Kube, className: string): Promise<boolean> {
  if (className === '') return false;
  const sc = await kube.getOrNull<KubernetesObject & { allowVolumeExpansion?: boolean }>('storage.k8s.io/v1', 'StorageClass', undefined, className);
  return sc?.allowVolumeExpansion === true;
}
