// The operator's Kubernetes client, on @kubernetes/client-node 2.x: KubernetesObjectApi finds each
// kind's path by discovery (one APIResourceList per apiVersion, cached for the life of the Kube) and
// reads, lists and deletes; CoreV1Api evicts pods and writes events; makeInformer lists and watches.
// What client-node cannot do, done on its own request machinery (same paths, credentials and HTTP):
// - Keep objects as the API server's JSON. Its typed models (built-in kinds) turn timestamps into
//   Dates on the way in, and on the way out rename or drop keys (a CRD schema's
//   x-kubernetes-preserve-unknown-fields, default and enum vanish) and fields newer than the models.
//   So responses are parsed as JSON (processResponse), and the bodies of create, apply, merge patch
//   and replace are sent as given (JsonObjectApi.write) rather than through KubernetesObjectApi's
//   create/patch/replace, which serialize through those models.
// - Subresources: the generic API addresses objects only, so a status write is a merge patch of the
//   object's discovered path + /status.
// Errors become KubeError with the status code, reason, message and causes of the API's Status.
import {
  ApiException,
  CoreV1Api,
  HttpMethod,
  KubernetesObjectApi,
  PatchStrategy,
  makeInformer,
  type KubeConfig,
  type KubernetesObject as ClientObject,
  type Informer,
  type ObjectCache,
  type ResponseContext,
} from '@kubernetes/client-node';

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
    creationTimestamp?: string;
    deletionTimestamp?: string;
    ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string; controller?: boolean; blockOwnerDeletion?: boolean }>;
  };
}

export const FIELD_MANAGER = 'samsa-operator';

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

/** A KubeError from the Status an API server answered with (JSON text or an object). */
function statusError(code: number, body: unknown): KubeError {
  let status: { reason?: unknown; message?: unknown; details?: { causes?: Array<{ message?: string }> } } = {};
  if (typeof body === 'string') {
    try {
      status = JSON.parse(body) as typeof status;
    } catch {
      status = { message: body };
    }
  } else if (body && typeof body === 'object') status = body as typeof status;
  const causes = (status.details?.causes ?? []).flatMap((c) => (c.message ? [c.message] : []));
  return new KubeError(code, String(status.reason ?? ''), String(status.message || `HTTP ${code}`), causes);
}

/** client-node's ApiException (from its typed APIs) as a KubeError; other errors as they are. */
function kubeError(err: unknown): unknown {
  return err instanceof ApiException ? statusError(err.code, err.body) : err;
}

type Header = { apiVersion?: string; kind?: string; metadata?: { name?: string; namespace?: string } };

/** KubernetesObjectApi that keeps objects as the API server's JSON (see the top of this file). */
class JsonObjectApi extends KubernetesObjectApi {
  /** The collection path of a kind, in one namespace (or all, or cluster-scoped), by discovery. */
  collectionPath(apiVersion: string, kind: string, namespace?: string): Promise<string> {
    return this.specUriPath({ apiVersion, kind, metadata: { namespace } }, 'list');
  }

  /** A request with a JSON body as given, to an object's path (or its collection's, or a subresource). */
  async write<T>(method: HttpMethod, obj: Header, action: 'create' | 'patch' | 'replace', body: unknown, contentType: string, query: Record<string, string> = {}, subresource = ''): Promise<T> {
    const { apiVersion, kind, metadata } = obj;
    const path = await this.specUriPath({ apiVersion, kind, metadata: { name: metadata?.name, namespace: metadata?.namespace } }, action);
    const request = this.configuration.baseServer.makeRequestContext(subresource ? `${path}/${subresource}` : path, method);
    request.setHeaderParam('Accept', 'application/json');
    request.setHeaderParam('Content-Type', contentType);
    for (const [key, value] of Object.entries(query)) request.setQueryParam(key, value);
    request.setBody(JSON.stringify(body));
    return (await this.requestPromise(request)) as T;
  }

  protected override async processResponse<T extends ClientObject>(response: ResponseContext): Promise<T> {
    const text = await response.body.text();
    if (response.httpStatusCode >= 400) throw statusError(response.httpStatusCode, text);
    return (text ? JSON.parse(text) : {}) as T;
  }
}

export class Kube {
  private readonly objects: JsonObjectApi;
  /** The typed core/v1 API (evictions, events; the test kubelet's bindings and TokenRequests). */
  readonly core: CoreV1Api;

  constructor(readonly config: KubeConfig) {
    this.objects = config.makeApiClient(JsonObjectApi);
    this.core = config.makeApiClient(CoreV1Api);
  }

  get<T extends KubernetesObject>(apiVersion: string, kind: string, namespace: string | undefined, name: string): Promise<T> {
    return this.objects.read({ apiVersion, kind, metadata: { name, namespace } }) as Promise<T>;
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
    const list = await this.objects.list<T & ClientObject>(apiVersion, kind, namespace, undefined, undefined, undefined, undefined, labelSelector);
    // A list's items come without apiVersion and kind.
    return { items: list.items.map((item) => ({ apiVersion, kind, ...item })), resourceVersion: list.metadata?.resourceVersion ?? '' };
  }

  /** Server-side apply: the operator owns exactly the fields it sends. */
  apply<T extends KubernetesObject>(obj: T): Promise<T> {
    return this.objects.write<T>(HttpMethod.PATCH, obj, 'patch', obj, PatchStrategy.ServerSideApply, { fieldManager: FIELD_MANAGER, force: 'true' });
  }

  /** Creates an object; query adds parameters such as ?fieldValidation=Strict. */
  create<T extends KubernetesObject>(obj: T, query = ''): Promise<T> {
    return this.objects.write<T>(HttpMethod.POST, obj, 'create', obj, 'application/json', Object.fromEntries(new URLSearchParams(query)));
  }

  /** Replaces an object (PUT): a conflict if its resourceVersion is not the stored one. */
  replace<T extends KubernetesObject>(obj: T): Promise<T> {
    return this.objects.write<T>(HttpMethod.PUT, obj, 'replace', obj, 'application/json');
  }

  /** JSON merge patch of an object (or of its status subresource). */
  mergePatch<T extends KubernetesObject>(obj: KubernetesObject, patch: unknown, subresource = ''): Promise<T> {
    return this.objects.write<T>(HttpMethod.PATCH, obj, 'patch', patch, PatchStrategy.MergePatch, {}, subresource);
  }

  async delete(obj: KubernetesObject, options: { propagationPolicy?: 'Background' | 'Foreground' | 'Orphan'; gracePeriodSeconds?: number } = {}): Promise<boolean> {
    const { apiVersion, kind, metadata } = obj;
    try {
      await this.objects.delete({ apiVersion, kind, metadata: { name: metadata?.name, namespace: metadata?.namespace } }, undefined, undefined, options.gracePeriodSeconds, undefined, options.propagationPolicy);
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
    const name = pod.metadata!.name!;
    const namespace = pod.metadata!.namespace!;
    try {
      await this.core.createNamespacedPodEviction({ name, namespace, body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace } } });
      return { evicted: true };
    } catch (thrown) {
      const err = kubeError(thrown);
      if (isNotFound(err)) return { evicted: true };
      if (err instanceof KubeError && (err.status === 429 || MULTIPLE_BUDGETS.test(err.message))) return { evicted: false, message: [err.message, ...err.causes].join(' ') };
      throw err;
    }
  }

  /** A core/v1 Event on an object, as kubectl describe shows them. */
  async event(involved: KubernetesObject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const now = new Date();
    const meta = involved.metadata!;
    const namespace = meta.namespace!;
    await this.core
      .createNamespacedEvent({
        namespace,
        body: {
          metadata: { generateName: `${meta.name}.`, namespace },
          involvedObject: { apiVersion: involved.apiVersion, kind: involved.kind, name: meta.name, namespace, uid: meta.uid },
          type,
          reason,
          message,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
          source: { component: FIELD_MANAGER },
          reportingComponent: FIELD_MANAGER,
        },
      })
      .catch((err: unknown) => {
        throw kubeError(err);
      });
  }

  /** List+watch of a kind (all namespaces), reconnecting on its own, with a local cache. */
  async informer<T extends KubernetesObject>(apiVersion: string, kind: string, labelSelector?: string): Promise<Informer<T & ClientObject> & ObjectCache<T & ClientObject>> {
    return makeInformer<T & ClientObject>(
      this.config,
      await this.objects.collectionPath(apiVersion, kind),
      async () => {
        const { items, resourceVersion } = await this.listWithVersion<T & ClientObject>(apiVersion, kind, undefined, labelSelector);
        return { apiVersion, kind: `${kind}List`, metadata: { resourceVersion }, items };
      },
      labelSelector,
    );
  }
}
