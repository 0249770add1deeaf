// MetadataStore on the Kubernetes API: the cluster store of brokers that run under the operator,
// with nothing to run beside them. One store is a namespace and a name (the KafkaCluster's).
//
// - A durable key is a ConfigMap (value in data.value); an ephemeral key is a
//   coordination.k8s.io/v1 Lease held by the session that wrote it (value in an annotation).
//   Both kinds of a key share one object name derived from the key; the exact key is an
//   annotation; labels select the store and the key's first segment, so a watch of
//   `partitions/` lists and watches only those objects.
// - A version is a resourceVersion read as a number. Under kube-apiserver it is etcd's revision:
//   global across all objects and increasing, so a version is never reused, as the contract asks.
//   A Lease's renewals change its resourceVersion but not its value, so its version is that of
//   the last write of its value: each renewal records it in an annotation (a value write drops
//   the annotation, its own resourceVersion being the version). Watchers get value changes and
//   deletions, never renewals, and a holder's compare-and-set on its own key survives renewals.
// - Compare-and-set: create (AlreadyExists = conflict), replace carrying metadata.resourceVersion
//   (Conflict = conflict), delete with preconditions.resourceVersion; a conflict is re-read to
//   report the actual version (or retried when the change was only a renewal).
// - The API server expires nothing: a Lease is judged expired by each client the way client-go's
//   leader election does it, from when this client last saw it change, never from the holder's
//   renewTime (so clock skew between machines does not matter): it is live until
//   leaseDurationSeconds after the client first saw its current resourceVersion. A watch reports
//   it deleted then, and deletes it (on that resourceVersion, so a renewal in between wins). A
//   client that has never seen a Lease gives it a full duration, as client-go does.
import { createHash, randomUUID } from 'node:crypto';
import {
  ApiException,
  type ConfigurationOptions,
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  Observable,
  type ObservableMiddleware,
  type V1ConfigMap,
  type V1Lease,
  V1MicroTime,
  Watch as KubeWatch,
} from '@kubernetes/client-node';
import {
  MetadataUnavailableError,
  type MetadataStore,
  type Session,
  SessionLostError,
  type StoredValue,
  type Watch,
  type WatchListener,
  VersionConflictError,
} from './metadata-store.js';

export interface KubernetesTarget {
  namespace: string;
  /** The store's name: the KafkaCluster's. Prefixes object names and labels them. */
  name: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Parses `kubernetes://<namespace>/<name>`. */
export function parseKubernetesUrl(url: string): KubernetesTarget {
  const bad = (why: string) => new Error(`invalid Kubernetes store URL "${url}": ${why} (expected kubernetes://<namespace>/<name>)`);
  const match = /^kubernetes:\/\/([^/]*)(?:\/(.*))?$/.exec(url);
  if (!match) throw bad('it must start with kubernetes://');
  const namespace = match[1] ?? '';
  const name = (match[2] ?? '').replace(/\/+$/, '');
  if (namespace === '') throw bad('no namespace');
  if (!DNS_LABEL.test(namespace)) throw bad(`namespace "${namespace}" is not a DNS-1123 label (lower-case letters, digits and "-", at most 63)`);
  if (name === '') throw bad('no store name');
  if (!DNS_LABEL.test(name)) throw bad(`store name "${name}" is not a DNS-1123 label (lower-case letters, digits and "-", at most 63)`);
  return { namespace, name };
}

export interface KubernetesStoreOptions {
  /** Deadline of each API call (default 5000). */
  requestTimeoutMs?: number;
  /** Credentials; default KubeConfig.loadFromDefault(): KUBECONFIG when set, else in-cluster. */
  kubeConfig?: KubeConfig;
}

/** The label of every object of a store: its name. */
export const STORE_LABEL = 'samsa.dev/store';
const SEGMENT_LABEL = 'samsa.dev/key-segment';
const KEY_ANNOTATION = 'samsa.dev/key';
const VALUE_ANNOTATION = 'samsa.dev/value';
const VALUE_VERSION_ANNOTATION = 'samsa.dev/value-version';
// The API server ends a watch after this; it is then resumed from the last resourceVersion seen.
// Below client-node's 30 s inactivity timeout, so an idle watch is never cut by the client.
const WATCH_SECONDS = 25;
const WATCH_RETRY_MS = 1000;

const LABEL_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const shortHash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 10);

/** The object name of `key`: the store, a readable form of the key, and a hash of the exact key (DNS-1123). */
export function objectName(store: string, key: string): string {
  const readable = key.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60).replace(/-+$/, '');
  return `${store}-${readable ? `${readable}-` : ''}${shortHash(key)}`;
}

/** The segment label of a key: its first segment (up to the first "/"), hashed when not a valid label value. */
function segmentOf(key: string): string {
  const slash = key.indexOf('/');
  const segment = slash < 0 ? key : key.slice(0, slash);
  return LABEL_VALUE.test(segment) ? segment : `h-${shortHash(segment)}`;
}

type Kind = 'configmap' | 'lease';

/** What a key reads as: the newer of its ConfigMap and its live Lease. */
interface Visible {
  kind: Kind;
  value: string;
  version: number;
}

interface Objects {
  configMap: V1ConfigMap | undefined;
  lease: V1Lease | undefined;
}

const rvOf = (obj: V1ConfigMap | V1Lease) => Number(obj.metadata!.resourceVersion);

/** The version of a Lease's value: the resourceVersion of the write that set it. */
function leaseValueVersion(lease: V1Lease): number {
  const recorded = lease.metadata?.annotations?.[VALUE_VERSION_ANNOTATION];
  return recorded === undefined ? rvOf(lease) : Number(recorded);
}

/** An answer of the API server other than success; the store handles 404 and 409 itself. */
class ApiStatusError extends Error {
  override name = 'ApiStatusError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const isStatus = (err: unknown, status: number) => err instanceof ApiStatusError && err.status === status;

export class KubernetesMetadataStore implements MetadataStore {
  readonly namespace: string;
  readonly name: string;
  private readonly server: string;
  private readonly core: CoreV1Api;
  private readonly coordination: CoordinationV1Api;
  private readonly kubeWatch: KubeWatch;
  private readonly requestTimeoutMs: number;
  /** Per Lease name: the newest resourceVersion this client has seen and when it first saw it. */
  private readonly observed = new Map<string, { rv: number; at: number }>();
  private readonly watches = new Set<PrefixWatch>();
  private readonly sessions = new Set<KubernetesSession>();
  /**
   * Ids of this client's sessions that are lost or closed: their Leases are dead to this client
   * whatever their resourceVersion (a renewal sent before the loss may reach the API server after
   * it), until the session's own delete or the others' expiry removes them. Bounded: the oldest go.
   */
  private readonly endedSessions = new Set<string>();

  constructor(target: KubernetesTarget, options: KubernetesStoreOptions = {}) {
    this.namespace = target.namespace;
    this.name = target.name;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 5000;
    const config = options.kubeConfig ?? loadDefaultConfig();
    const cluster = config.getCurrentCluster();
    if (!cluster) throw new Error('the Kubernetes store has no API server: the kubeconfig names no current cluster');
    this.server = cluster.server;
    this.core = config.makeApiClient(CoreV1Api);
    this.coordination = config.makeApiClient(CoordinationV1Api);
    this.kubeWatch = new KubeWatch(config);
  }

  static fromUrl(url: string, options?: KubernetesStoreOptions): KubernetesMetadataStore {
    return new KubernetesMetadataStore(parseKubernetesUrl(url), options);
  }

  async get(key: string): Promise<StoredValue | undefined> {
    const visible = this.visible(await this.read(key));
    return visible && { value: visible.value, version: visible.version };
  }

  async list(prefix: string): Promise<Map<string, StoredValue>> {
    const { configMaps, leases } = await this.listObjects(prefix);
    return this.merge(prefix, configMaps, leases);
  }

  async put(key: string, value: string, expectedVersion?: number): Promise<number> {
    for (;;) {
      const objects = await this.read(key);
      const { configMap, lease } = objects;
      checkExpected(key, expectedVersion, this.visible(objects));
      try {
        // Made durable again: the Lease goes first, so the key is never both at once.
        if (lease) await this.deleteLease(lease);
        if (configMap) {
          // Carrying the resourceVersion read makes the replace a compare-and-set; without an expectation it need not be.
          const body = this.configMapBody(key, value, expectedVersion === undefined ? undefined : configMap.metadata!.resourceVersion);
          return rvOf(await this.call('replace configmap', () => this.core.replaceNamespacedConfigMap({ name: body.metadata!.name!, namespace: this.namespace, body }, this.options())));
        }
        const body = this.configMapBody(key, value, undefined);
        return rvOf(await this.call('create configmap', () => this.core.createNamespacedConfigMap({ namespace: this.namespace, body }, this.options())));
      } catch (err) {
        // Changed (or created, or deleted) since it was read: read again and decide again.
        if (isStatus(err, 409) || isStatus(err, 404)) continue;
        throw err;
      }
    }
  }

  async delete(key: string, expectedVersion?: number): Promise<boolean> {
    for (;;) {
      const objects = await this.read(key);
      const visible = this.visible(objects);
      checkExpected(key, expectedVersion, visible);
      // An expired Lease reads as absent; it is cleaned up all the same.
      if (!visible) {
        if (objects.lease) await this.deleteLease(objects.lease).catch(() => {});
        return false;
      }
      try {
        if (visible.kind === 'lease') await this.deleteLease(objects.lease!);
        else await this.deleteConfigMap(objects.configMap!);
        return true;
      } catch (err) {
        if (isStatus(err, 409) || isStatus(err, 404)) continue;
        throw err;
      }
    }
  }

  async watch(prefix: string, listener: WatchListener, onBroken?: (err: Error) => void): Promise<Watch> {
    const { configMaps, leases, configMapsVersion, leasesVersion } = await this.listObjects(prefix);
    const watch = new PrefixWatch(this, prefix, listener, (err) => {
      this.watches.delete(watch);
      onBroken?.(err);
    });
    const snapshot = watch.begin(configMaps, leases);
    const selector = this.selector(prefix);
    watch.follow('configmap', `/api/v1/namespaces/${this.namespace}/configmaps`, selector, configMapsVersion);
    watch.follow('lease', `/apis/coordination.k8s.io/v1/namespaces/${this.namespace}/leases`, selector, leasesVersion);
    this.watches.add(watch);
    return {
      snapshot,
      stop: () => {
        this.watches.delete(watch);
        watch.stop();
      },
    };
  }

  async openSession(ttlMs: number): Promise<Session> {
    if (!(ttlMs > 0)) throw new RangeError(`session TTL must be positive, got ${ttlMs}`);
    // Leases count whole seconds.
    const session = new KubernetesSession(this, Math.ceil(ttlMs / 1000));
    this.sessions.add(session);
    return session;
  }

  async close(): Promise<void> {
    for (const watch of this.watches) watch.stop();
    this.watches.clear();
    for (const session of [...this.sessions]) await session.close();
  }

  // ---- for KubernetesSession and PrefixWatch ----

  forget(session: KubernetesSession): void {
    this.sessions.delete(session);
    this.endedSessions.add(session.id);
    if (this.endedSessions.size > 1000) this.endedSessions.delete(this.endedSessions.values().next().value!);
  }

  /** The API server's address, for messages. */
  get apiServer(): string {
    return this.server;
  }

  /**
   * Whether a Lease is held now, judged from when this client first saw its current
   * resourceVersion (client-go's way: immune to clock skew between machines).
   */
  isLive(lease: V1Lease): boolean {
    const holder = lease.spec?.holderIdentity;
    if (!holder || this.endedSessions.has(holder)) return false;
    return performance.now() < this.expiresAt(lease);
  }

  /** When (performance.now()) this client will judge the Lease expired unless it changes. */
  expiresAt(lease: V1Lease): number {
    const name = lease.metadata!.name!;
    const rv = rvOf(lease);
    let seen = this.observed.get(name);
    if (!seen || rv > seen.rv) {
      seen = { rv, at: performance.now() };
      this.observed.set(name, seen);
    }
    return seen.at + (lease.spec?.leaseDurationSeconds ?? 0) * 1000;
  }

  async read(key: string): Promise<Objects> {
    const name = objectName(this.name, key);
    const [configMap, lease] = await Promise.all([
      this.orAbsent(this.call('read configmap', () => this.core.readNamespacedConfigMap({ name, namespace: this.namespace }, this.options()))),
      this.orAbsent(this.readLease(name)),
    ]);
    for (const obj of [configMap, lease]) {
      const holds = obj?.metadata?.annotations?.[KEY_ANNOTATION];
      if (obj && holds !== key) throw new Error(`Kubernetes object ${this.namespace}/${name} holds metadata key "${holds}", not "${key}"`);
    }
    return { configMap, lease };
  }

  /** What a key reads as: the newer of its ConfigMap and its live Lease. */
  visible({ configMap, lease }: Objects): Visible | undefined {
    const fromConfigMap: Visible | undefined = configMap && { kind: 'configmap', value: configMap.data?.value ?? '', version: rvOf(configMap) };
    const fromLease: Visible | undefined = lease && this.isLive(lease) ? { kind: 'lease', value: lease.metadata?.annotations?.[VALUE_ANNOTATION] ?? '', version: leaseValueVersion(lease) } : undefined;
    if (fromConfigMap && fromLease) return fromConfigMap.version > fromLease.version ? fromConfigMap : fromLease;
    return fromConfigMap ?? fromLease;
  }

  /** Deletes the ConfigMap if it is still at the resourceVersion seen. */
  async deleteConfigMap(cm: V1ConfigMap): Promise<void> {
    await this.call('delete configmap', () =>
      this.core.deleteNamespacedConfigMap({ name: cm.metadata!.name!, namespace: this.namespace, body: { preconditions: { resourceVersion: cm.metadata!.resourceVersion } } }, this.options()),
    );
  }

  readLease(name: string): Promise<V1Lease> {
    return this.call('read lease', () => this.coordination.readNamespacedLease({ name, namespace: this.namespace }, this.options()));
  }

  createLease(body: V1Lease): Promise<V1Lease> {
    return this.call('create lease', () => this.coordination.createNamespacedLease({ namespace: this.namespace, body }, this.options()));
  }

  replaceLease(body: V1Lease): Promise<V1Lease> {
    return this.call('replace lease', () => this.coordination.replaceNamespacedLease({ name: body.metadata!.name!, namespace: this.namespace, body }, this.options()));
  }

  /** Deletes the Lease if it is still at the resourceVersion seen; a session of this client holding it lets it go. */
  async deleteLease(lease: V1Lease): Promise<void> {
    const name = lease.metadata!.name!;
    for (const session of this.sessions) session.release(name);
    await this.call('delete lease', () =>
      this.coordination.deleteNamespacedLease({ name, namespace: this.namespace, body: { preconditions: { resourceVersion: lease.metadata!.resourceVersion } } }, this.options()),
    );
    this.observed.delete(name);
  }

  /** A Lease body for an ephemeral key written by `holder` (a fresh value: no recorded value version). */
  leaseBody(key: string, value: string, holder: string, durationSeconds: number, previous: V1Lease | undefined): V1Lease {
    const now = new V1MicroTime();
    const sameHolder = previous?.spec?.holderIdentity === holder;
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: objectName(this.name, key), namespace: this.namespace, labels: this.labels(key), annotations: { [KEY_ANNOTATION]: key, [VALUE_ANNOTATION]: value }, resourceVersion: previous?.metadata?.resourceVersion },
      spec: {
        holderIdentity: holder,
        leaseDurationSeconds: durationSeconds,
        acquireTime: sameHolder && previous?.spec?.acquireTime ? previous.spec.acquireTime : now,
        renewTime: now,
        leaseTransitions: (previous?.spec?.leaseTransitions ?? 0) + (previous && !sameHolder ? 1 : 0),
      },
    };
  }

  /** A renewal of `lease`: renewTime now, the value's version recorded (see leaseValueVersion). */
  renewalBody(lease: V1Lease): V1Lease {
    const metadata = lease.metadata!;
    return {
      ...lease,
      metadata: { ...metadata, annotations: { ...metadata.annotations, [VALUE_VERSION_ANNOTATION]: String(leaseValueVersion(lease)) } },
      spec: { ...lease.spec, renewTime: new V1MicroTime() },
    };
  }

  /** Runs one API call; an error reaching the API server becomes MetadataUnavailableError. */
  async call<T>(what: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (err) {
      if (!(err instanceof ApiException)) {
        throw new MetadataUnavailableError(`the cluster metadata store (Kubernetes API server ${this.server}) did not answer (${what}): ${(err as Error).message}`, err);
      }
      const code = err.code as number;
      const message = statusMessage(err.body);
      if (code === 429 || code >= 500) {
        throw new MetadataUnavailableError(`the cluster metadata store (Kubernetes API server ${this.server}) failed to ${what} (${code}): ${message}`, err);
      }
      throw new ApiStatusError(code, `the Kubernetes API server ${this.server} refused to ${what} in namespace ${this.namespace} (${code}): ${message}`);
    }
  }

  private async orAbsent<T>(request: Promise<T>): Promise<T | undefined> {
    try {
      return await request;
    } catch (err) {
      if (isStatus(err, 404)) return undefined;
      throw err;
    }
  }

  private labels(key: string): Record<string, string> {
    return { [STORE_LABEL]: this.name, [SEGMENT_LABEL]: segmentOf(key) };
  }

  /** The label selector of a prefix: the store, and the first segment when the prefix names it whole. */
  private selector(prefix: string): string {
    const slash = prefix.indexOf('/');
    return slash < 0 ? `${STORE_LABEL}=${this.name}` : `${STORE_LABEL}=${this.name},${SEGMENT_LABEL}=${segmentOf(prefix)}`;
  }

  private configMapBody(key: string, value: string, resourceVersion: string | undefined): V1ConfigMap {
    return {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: objectName(this.name, key), namespace: this.namespace, labels: this.labels(key), annotations: { [KEY_ANNOTATION]: key }, resourceVersion },
      data: { value },
    };
  }

  private async listObjects(prefix: string) {
    const labelSelector = this.selector(prefix);
    const [configMaps, leases] = await Promise.all([
      this.call('list configmaps', () => this.core.listNamespacedConfigMap({ namespace: this.namespace, labelSelector }, this.options())),
      this.call('list leases', () => this.coordination.listNamespacedLease({ namespace: this.namespace, labelSelector }, this.options())),
    ]);
    const under = <T extends V1ConfigMap | V1Lease>(items: T[]) => items.filter((item) => item.metadata?.annotations?.[KEY_ANNOTATION]?.startsWith(prefix));
    return {
      configMaps: under(configMaps.items),
      leases: under(leases.items),
      configMapsVersion: configMaps.metadata!.resourceVersion!,
      leasesVersion: leases.metadata!.resourceVersion!,
    };
  }

  /** The keys of listed objects, in key order, as they read (see visible). */
  merge(prefix: string, configMaps: V1ConfigMap[], leases: V1Lease[]): Map<string, StoredValue> {
    const objects = new Map<string, Objects>();
    const entry = (key: string) => objects.get(key) ?? objects.set(key, { configMap: undefined, lease: undefined }).get(key)!;
    for (const cm of configMaps) entry(cm.metadata!.annotations![KEY_ANNOTATION]!).configMap = cm;
    for (const lease of leases) entry(lease.metadata!.annotations![KEY_ANNOTATION]!).lease = lease;
    const out = new Map<string, StoredValue>();
    for (const key of [...objects.keys()].sort()) {
      if (!key.startsWith(prefix)) continue;
      const visible = this.visible(objects.get(key)!);
      if (visible) out.set(key, { value: visible.value, version: visible.version });
    }
    return out;
  }

  /** Per-call options: the call's deadline (client-node's requests have none by default). */
  private options(): ConfigurationOptions {
    const timeoutMs = this.requestTimeoutMs;
    const deadline: ObservableMiddleware = {
      pre: (context) => {
        context.setSignal(AbortSignal.timeout(timeoutMs));
        return new Observable(Promise.resolve(context));
      },
      post: (response) => new Observable(Promise.resolve(response)),
    };
    return { middleware: [deadline], middlewareMergeStrategy: 'append' };
  }

  /** Starts one watch stream of a kind and resumes it from the last resourceVersion seen when it ends. */
  streamWatch(path: string, labelSelector: string, resourceVersion: string, onEvent: (type: string, obj: V1ConfigMap | V1Lease) => void, onGone: (err: Error) => void): () => void {
    let stopped = false;
    let abort: AbortController | undefined;
    let retry: NodeJS.Timeout | undefined;
    let from = resourceVersion;
    const gone = (why: string) => {
      stopped = true;
      abort?.abort();
      onGone(new Error(`watch of ${path} (${labelSelector}) on ${this.server} cannot resume from resourceVersion ${from}: ${why}`));
    };
    const start = () => {
      void this.kubeWatch
        .watch(
          path,
          { labelSelector, resourceVersion: from, allowWatchBookmarks: true, timeoutSeconds: WATCH_SECONDS },
          (type: string, obj: V1ConfigMap | V1Lease & { code?: number; message?: string }) => {
            if (stopped) return;
            if (type === 'ERROR') {
              const status = obj as { code?: number; message?: string };
              if (status.code === 410) gone(status.message ?? '410 Gone');
              return;
            }
            from = obj.metadata?.resourceVersion ?? from;
            if (type !== 'BOOKMARK') onEvent(type, obj);
          },
          (err: { statusCode?: number; message?: string } | null) => {
            if (stopped) return;
            if (err?.statusCode === 410) return gone('410 Gone');
            // Ended by the server's timeout or a broken connection: resume where it stopped.
            retry = setTimeout(start, err ? WATCH_RETRY_MS : 0);
            retry.unref();
          },
        )
        .then((controller) => {
          abort = controller;
          if (stopped) controller.abort();
        });
    };
    start();
    return () => {
      stopped = true;
      clearTimeout(retry);
      abort?.abort();
    };
  }
}

function loadDefaultConfig(): KubeConfig {
  const config = new KubeConfig();
  config.loadFromDefault();
  return config;
}

function statusMessage(body: unknown): string {
  if (typeof body === 'string') {
    try {
      return statusMessage(JSON.parse(body));
    } catch {
      return body;
    }
  }
  const message = (body as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? message : JSON.stringify(body);
}

function checkExpected(key: string, expected: number | undefined, visible: Visible | undefined): void {
  const actual = visible?.version ?? 0;
  if (expected !== undefined && expected !== actual) throw new VersionConflictError(key, expected, actual);
}

/**
 * One list-then-watch of a prefix over ConfigMaps and Leases. Each kind's stream is in order;
 * per key, the kind that holds it now decides (a delete of the other kind's older object is not
 * a delete of the key). A Lease's renewals are not changes; its expiry is a delete, reported
 * when this client judges it expired.
 */
class PrefixWatch {
  /** Per key: the kind and version last reported. */
  private readonly current = new Map<string, { kind: Kind; version: number }>();
  private readonly expiries = new Map<string, NodeJS.Timeout>();
  private readonly streams: (() => void)[] = [];
  private stopped = false;

  constructor(
    private readonly store: KubernetesMetadataStore,
    private readonly prefix: string,
    private readonly listener: WatchListener,
    private readonly onBroken: (err: Error) => void,
  ) {}

  begin(configMaps: V1ConfigMap[], leases: V1Lease[]): Map<string, StoredValue> {
    const snapshot = this.store.merge(this.prefix, configMaps, leases);
    const byKey = new Map(leases.map((lease) => [lease.metadata!.annotations![KEY_ANNOTATION]!, lease]));
    for (const [key, stored] of snapshot) {
      const lease = byKey.get(key);
      const kind: Kind = lease && this.store.isLive(lease) && leaseValueVersion(lease) === stored.version ? 'lease' : 'configmap';
      this.current.set(key, { kind, version: stored.version });
      if (kind === 'lease') this.expireLater(key, lease!);
    }
    return snapshot;
  }

  follow(kind: Kind, path: string, selector: string, fromVersion: string): void {
    const onEvent = (type: string, obj: V1ConfigMap | V1Lease) => {
      const key = obj.metadata?.annotations?.[KEY_ANNOTATION];
      if (this.stopped || key === undefined || !key.startsWith(this.prefix)) return;
      if (kind === 'configmap') this.configMapEvent(key, type, obj as V1ConfigMap);
      else this.leaseEvent(key, type, obj as V1Lease);
    };
    this.streams.push(this.store.streamWatch(path, selector, fromVersion, onEvent, (err) => this.broken(err)));
  }

  private configMapEvent(key: string, type: string, cm: V1ConfigMap): void {
    const current = this.current.get(key);
    if (type === 'DELETED') {
      if (current?.kind === 'configmap') this.report(key, undefined);
      return;
    }
    const version = rvOf(cm);
    if (current && current.version >= version) return;
    this.report(key, { kind: 'configmap', value: cm.data?.value ?? '', version });
  }

  private leaseEvent(key: string, type: string, lease: V1Lease): void {
    const current = this.current.get(key);
    if (type === 'DELETED' || !this.store.isLive(lease)) {
      clearTimeout(this.expiries.get(key));
      this.expiries.delete(key);
      if (current?.kind === 'lease') this.report(key, undefined);
      return;
    }
    this.expireLater(key, lease);
    const version = leaseValueVersion(lease);
    // A renewal (same value version) or an older write.
    if (current && current.version >= version) return;
    this.report(key, { kind: 'lease', value: lease.metadata?.annotations?.[VALUE_ANNOTATION] ?? '', version });
  }

  private expireLater(key: string, lease: V1Lease): void {
    clearTimeout(this.expiries.get(key));
    const timer = setTimeout(() => {
      this.expiries.delete(key);
      if (this.stopped) return;
      // Timers may fire a little early by performance.now(); a renewal seen meanwhile reschedules too.
      if (this.store.isLive(lease)) return this.expireLater(key, lease);
      const current = this.current.get(key);
      if (current?.kind === 'lease' && current.version === leaseValueVersion(lease)) this.report(key, undefined);
      // Gone for everyone, unless it was renewed or taken over meanwhile (then the precondition fails).
      void this.store.deleteLease(lease).catch(() => {});
    }, Math.max(0, this.store.expiresAt(lease) - performance.now()) + 1);
    timer.unref();
    this.expiries.set(key, timer);
  }

  private report(key: string, visible: Visible | undefined): void {
    if (visible) this.current.set(key, { kind: visible.kind, version: visible.version });
    else this.current.delete(key);
    this.listener(key, visible && { value: visible.value, version: visible.version });
  }

  private broken(err: Error): void {
    if (this.stopped) return;
    this.stop();
    this.onBroken(err);
  }

  stop(): void {
    this.stopped = true;
    for (const stop of this.streams) stop();
    for (const timer of this.expiries.values()) clearTimeout(timer);
    this.expiries.clear();
  }
}

/**
 * A session: the Leases it holds, renewed every third of the TTL. It is lost when no renewal was
 * confirmed for the TTL, counted from when the last confirmed one was sent (others judge expiry
 * from when they saw that renewal, which is no earlier), or when one of its Leases was taken
 * over or deleted by another client (which judged it expired). A session holding no Lease has
 * nothing to expire, so nothing to lose.
 */
class KubernetesSession implements Session {
  readonly id = randomUUID();
  readonly ttlMs: number;
  private readonly lostListeners: ((err: Error) => void)[] = [];
  /** Lease name -> the Lease as last written. */
  private readonly held = new Map<string, V1Lease>();
  private readonly renewer: NodeJS.Timeout;
  private deadline = 0;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private renewing = false;
  private ended = false;
  lost = false;

  constructor(
    private readonly store: KubernetesMetadataStore,
    private readonly durationSeconds: number,
  ) {
    this.ttlMs = durationSeconds * 1000;
    this.confirmed(performance.now());
    this.renewer = setInterval(() => void this.renew(), this.ttlMs / 3);
    this.renewer.unref();
  }

  async put(key: string, value: string, expectedVersion?: number): Promise<number> {
    for (;;) {
      this.checkAlive(key);
      const objects = await this.store.read(key);
      checkExpected(key, expectedVersion, this.store.visible(objects));
      const { configMap, lease } = objects;
      try {
        // An ephemeral write of a durable key: the ConfigMap goes first, so the key is never both at once.
        if (configMap) await this.store.deleteConfigMap(configMap);
        this.checkAlive(key);
        const body = this.store.leaseBody(key, value, this.id, this.durationSeconds, lease);
        const written = lease ? await this.store.replaceLease(body) : await this.store.createLease(body);
        this.store.expiresAt(written);
        if (this.ended) {
          // Closed or lost while writing: the key must not outlive the session.
          await this.store.deleteLease(written).catch(() => {});
          throw new SessionLostError(`session is ${this.lost ? 'lost' : 'closed'}; cannot write ${key}`);
        }
        this.held.set(written.metadata!.name!, written);
        return rvOf(written);
      } catch (err) {
        // Changed since read (maybe only renewed by this session): read again and decide again.
        if (isStatus(err, 409) || isStatus(err, 404)) continue;
        throw err;
      }
    }
  }

  onLost(listener: (err: Error) => void): void {
    this.lostListeners.push(listener);
  }

  async close(): Promise<void> {
    if (this.ended) return;
    this.end();
    await this.deleteHeld();
  }

  /** The store deleted one of this session's Leases on the owner's behalf: no longer renewed. */
  release(name: string): void {
    this.held.delete(name);
  }

  private checkAlive(key: string): void {
    // Timers can be late (a paused process): the deadline counts even before its timer fires.
    if (!this.ended && performance.now() >= this.deadline) this.expired();
    if (this.ended) throw new SessionLostError(`session is ${this.lost ? 'lost' : 'closed'}; cannot write ${key}`);
  }

  /** A renewal sent at `sentAt` was confirmed for every held Lease: lost TTL after that unless another is. */
  private confirmed(sentAt: number): void {
    if (sentAt + this.ttlMs <= this.deadline) return;
    this.deadline = sentAt + this.ttlMs;
    clearTimeout(this.deadlineTimer);
    this.deadlineTimer = setTimeout(() => this.expired(), Math.max(0, this.deadline - performance.now()));
    this.deadlineTimer.unref();
  }

  private expired(): void {
    this.markLost(new SessionLostError(`no renewal confirmed by the Kubernetes API server ${this.store.apiServer} for ${this.ttlMs} ms`));
  }

  private async renew(): Promise<void> {
    if (this.ended || this.renewing) return;
    if (performance.now() >= this.deadline) return this.expired();
    this.renewing = true;
    const sentAt = performance.now();
    try {
      const results = await Promise.allSettled([...this.held.values()].map((lease) => this.renewOne(lease, true)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (this.ended) return;
      if (!failed) this.confirmed(sentAt);
      else if (failed.reason instanceof SessionLostError) this.markLost(failed.reason);
    } finally {
      this.renewing = false;
    }
  }

  private async renewOne(lease: V1Lease, retry: boolean): Promise<void> {
    const name = lease.metadata!.name!;
    try {
      const renewed = await this.store.replaceLease(this.store.renewalBody(lease));
      this.store.expiresAt(renewed);
      if (this.held.has(name) && !this.ended) this.held.set(name, renewed);
    } catch (err) {
      if (!this.held.has(name)) return; // deleted through this store meanwhile
      if (isStatus(err, 404)) throw new SessionLostError(`Lease ${name} was deleted by another client (judged expired)`);
      if (!isStatus(err, 409) || !retry) throw err;
      // Written since: by this session's own put (renew that), or taken over by another holder.
      const current = await this.store.readLease(name);
      if (current.spec?.holderIdentity !== this.id) throw new SessionLostError(`Lease ${name} was taken over by ${current.spec?.holderIdentity ?? 'nobody'}`);
      if (!this.held.has(name)) return;
      this.held.set(name, current);
      await this.renewOne(current, false);
    }
  }

  private markLost(err: Error): void {
    if (this.ended) return;
    this.lost = true;
    this.end();
    // Delete now if the API server answers; otherwise the others judge them expired.
    void this.deleteHeld();
    for (const listener of this.lostListeners) listener(err);
  }

  private end(): void {
    this.ended = true;
    clearInterval(this.renewer);
    clearTimeout(this.deadlineTimer);
    this.store.forget(this);
  }

  private async deleteHeld(): Promise<void> {
    const leases = [...this.held.values()];
    this.held.clear();
    await Promise.all(leases.map((lease) => this.deleteOwn(lease).catch(() => {})));
  }

  /** Deletes a Lease of this session, also when a renewal in flight changed it since. */
  private async deleteOwn(lease: V1Lease): Promise<void> {
    try {
      await this.store.deleteLease(lease);
    } catch (err) {
      if (!isStatus(err, 409)) throw err;
      const current = await this.store.readLease(lease.metadata!.name!);
      if (current.spec?.holderIdentity === this.id) await this.store.deleteLease(current);
    }
  }
}
