// A small Kubernetes REST client on the credentials of @kubernetes/client-node's KubeConfig:
// get, list, server-side apply, status writes, deletes, events and informers. Paths are built
// from apiVersion/kind through a fixed table of the resources the operator touches.
import { request } from 'node:https';
import { request as httpRequest } from 'node:http';
import { type KubeConfig, type KubernetesObject as ClientObject, makeInformer, type Informer, type ObjectCache } from '@kubernetes/client-node';

/** A Kubernetes object as JSON gives it (timestamps are strings). */
export interface KubernetesObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    generateName?: string;
    namespace?: string;
    uid?: string;
    generation?: number;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    finalizers?: string[];
    deletionTimestamp?: string;
    ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string; controller?: boolean; blockOwnerDeletion?: boolean }>;
  };
}

export const FIELD_MANAGER = 'samsa-operator';

interface ResourceInfo {
  plural: string;
  namespaced: boolean;
}

const RESOURCES: Record<string, ResourceInfo> = {
  'v1/Pod': { plural: 'pods', namespaced: true },
  'v1/Service': { plural: 'services', namespaced: true },
  'v1/ConfigMap': { plural: 'configmaps', namespaced: true },
  'v1/ServiceAccount': { plural: 'serviceaccounts', namespaced: true },
  'v1/PersistentVolumeClaim': { plural: 'persistentvolumeclaims', namespaced: true },
  'v1/Event': { plural: 'events', namespaced: true },
  'v1/Node': { plural: 'nodes', namespaced: false },
  'v1/PersistentVolume': { plural: 'persistentvolumes', namespaced: false },
  'storage.k8s.io/v1/StorageClass': { plural: 'storageclasses', namespaced: false },
  'v1/Namespace': { plural: 'namespaces', namespaced: false },
  'apps/v1/StatefulSet': { plural: 'statefulsets', namespaced: true },
  'policy/v1/PodDisruptionBudget': { plural: 'poddisruptionbudgets', namespaced: true },
  'rbac.authorization.k8s.io/v1/Role': { plural: 'roles', namespaced: true },
  'rbac.authorization.k8s.io/v1/RoleBinding': { plural: 'rolebindings', namespaced: true },
  'rbac.authorization.k8s.io/v1/ClusterRole': { plural: 'clusterroles', namespaced: false },
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': { plural: 'clusterrolebindings', namespaced: false },
  'coordination.k8s.io/v1/Lease': { plural: 'leases', namespaced: true },
  'apiextensions.k8s.io/v1/CustomResourceDefinition': { plural: 'customresourcedefinitions', namespaced: false },
  'samsa.dev/v1alpha1/KafkaCluster': { plural: 'kafkaclusters', namespaced: true },
  'samsa.dev/v1alpha1/KafkaTopic': { plural: 'kafkatopics', namespaced: true },
};

export class KubeError extends Error {
  override name = 'KubeError';
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    /** The messages of the Status's details.causes (e.g. which disruption budget refused an eviction). */
    readonly causes: string[] = [],
  ) {
    super(message);
  }
}

// The API server's (500) answer for a pod that more than one PodDisruptionBudget selects.
const MULTIPLE_BUDGETS = /more than one PodDisruptionBudget/;

/** What became of an eviction: done (or the pod was gone already), or refused for now and why. */
export type Eviction = { evicted: true } | { evicted: false; message: string };

export const isNotFound = (err: unknown) => err instanceof KubeError && err.status === 404;
export const isConflict = (err: unknown) => err instanceof KubeError && err.status === 409;

/** The collection path of a kind, in one namespace (or all, or cluster-scoped). */
export function collectionPath(apiVersion: string, kind: string, namespace?: string): string {
  const info = RESOURCES[`${apiVersion}/${kind}`];
  if (!info) throw new Error(`unknown resource ${apiVersion}/${kind}`);
  const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  return info.namespaced && namespace ? `${base}/namespaces/${namespace}/${info.plural}` : `${base}/${info.plural}`;
}

export function objectPath(obj: { apiVersion?: string; kind?: string; metadata?: { name?: string; namespace?: string } }): string {
  return `${collectionPath(obj.apiVersion!, obj.kind!, obj.metadata?.namespace)}/${encodeURIComponent(obj.metadata!.name!)}`;
}

export class Kube {
  constructor(readonly config: KubeConfig) {}

  async request<T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const cluster = this.config.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    const url = new URL(path, cluster.server);
    const options: import('node:https').RequestOptions = { method, headers: { accept: 'application/json' } };
    await this.config.applyToHTTPSOptions(options);
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    if (payload !== undefined) options.headers = { ...options.headers, 'content-type': contentType, 'content-length': Buffer.byteLength(payload) };
    const send = url.protocol === 'https:' ? request : httpRequest;
    return new Promise<T>((resolve, reject) => {
      const req = send(url, options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          const parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
          if ((res.statusCode ?? 500) >= 400) {
            const causes = ((parsed.details as { causes?: Array<{ message?: string }> } | undefined)?.causes ?? []).flatMap((c) => (c.message ? [c.message] : []));
            reject(new KubeError(res.statusCode ?? 500, String(parsed.reason ?? ''), String(parsed.message ?? text), causes));
          } else resolve(parsed as T);
        });
      });
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  get<T extends KubernetesObject>(apiVersion: string, kind: string, namespace: string | undefined, name: string): Promise<T> {
    return this.request<T>('GET', `${collectionPath(apiVersion, kind, namespace)}/${encodeURIComponent(name)}`);
  }

  async getOrNull<T extends KubernetesObject>(apiVersion: string, kind: string, namespace: string | undefined, name: string): Promise<T | null> {
    try {
      return await this.get<T>(apiVersion, kind, namespace, name);
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async list<T extends KubernetesObject>(apiVersion: string, kind: string, namespace?: string, labelSelector?: string): Promise<T[]> {
    return (await this.listWithVersion<T>(apiVersion, kind, namespace, labelSelector)).items;
  }

  /** A list and the resourceVersion a watch continues from. */
  async listWithVersion<T extends KubernetesObject>(apiVersion: string, kind: string, namespace?: string, labelSelector?: string): Promise<{ items: T[]; resourceVersion: string }> {
    const query = labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : '';
    const list = await this.request<{ items: T[]; metadata: { resourceVersion: string } }>('GET', collectionPath(apiVersion, kind, namespace) + query);
    return { items: list.items.map((item) => ({ apiVersion, kind, ...item })), resourceVersion: list.metadata.resourceVersion };
  }

  /** Server-side apply: the operator owns exactly the fields it sends. */
  apply<T extends KubernetesObject>(obj: T): Promise<T> {
    return this.request<T>('PATCH', `${objectPath(obj)}?fieldManager=${FIELD_MANAGER}&force=true`, obj, 'application/apply-patch+yaml');
  }

  create<T extends KubernetesObject>(obj: T, query = ''): Promise<T> {
    return this.request<T>('POST', collectionPath(obj.apiVersion!, obj.kind!, obj.metadata?.namespace) + query, obj);
  }

  /** JSON merge patch of an object (or of its status subresource). */
  mergePatch<T extends KubernetesObject>(obj: KubernetesObject, patch: unknown, subresource = ''): Promise<T> {
    return this.request<T>('PATCH', objectPath(obj) + (subresource ? `/${subresource}` : ''), patch, 'application/merge-patch+json');
  }

  async delete(obj: KubernetesObject, options: { propagationPolicy?: 'Background' | 'Foreground' | 'Orphan'; gracePeriodSeconds?: number } = {}): Promise<boolean> {
    try {
      await this.request('DELETE', objectPath(obj), { kind: 'DeleteOptions', apiVersion: 'v1', ...options });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /**
   * Deletes a pod through the Eviction API (policy/v1), so that PodDisruptionBudgets hold. The API
   * server answers 429 while an eviction would violate a budget (or one is not yet computed), and
   * refuses to evict a pod that more than one budget selects: not evicted, with the API server's
   * reason; try again later.
   */
  async evict(pod: KubernetesObject): Promise<Eviction> {
    const { name, namespace } = pod.metadata!;
    const eviction = { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace } };
    try {
      await this.request('POST', `${objectPath({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace } })}/eviction`, eviction);
      return { evicted: true };
    } catch (err) {
      if (isNotFound(err)) return { evicted: true };
      if (err instanceof KubeError && (err.status === 429 || MULTIPLE_BUDGETS.test(err.message))) return { evicted: false, message: [err.message, ...err.causes].join(' ') };
      throw err;
    }
  }

  /** A core/v1 Event on an object, as kubectl describe shows them. */
  async event(involved: KubernetesObject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const now = new Date().toISOString();
    const meta = involved.metadata!;
    await this.create({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `${meta.name}.`, namespace: meta.namespace },
      involvedObject: { apiVersion: involved.apiVersion, kind: involved.kind, name: meta.name, namespace: meta.namespace, uid: meta.uid },
      type,
      reason,
      message,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
      source: { component: FIELD_MANAGER },
      reportingComponent: FIELD_MANAGER,
    });
  }

  /** List+watch of a kind (all namespaces), reconnecting on its own, with a local cache. */
  informer<T extends KubernetesObject>(apiVersion: string, kind: string, labelSelector?: string): Informer<T & ClientObject> & ObjectCache<T & ClientObject> {
    return makeInformer<T & ClientObject>(
      this.config,
      collectionPath(apiVersion, kind),
      async () => {
        const { items, resourceVersion } = await this.listWithVersion<T & ClientObject>(apiVersion, kind, undefined, labelSelector);
        return { apiVersion, kind: `${kind}List`, metadata: { resourceVersion }, items };
      },
      labelSelector,
    );
  }
}
