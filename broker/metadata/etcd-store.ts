// MetadataStore on etcd (v3 API, through the etcd3 client): the cluster store. Keys live under
// one prefix, so several clusters can share an etcd. A key's version is its mod_revision;
// compare-and-set is a transaction comparing it; sessions are leases kept alive by the client.
//
// Reconnects are etcd3's: calls retry on another endpoint (its default policy: three retries,
// a per-host circuit breaker), bounded here by a deadline per call; watch streams reconnect with
// backoff and resume from the revision after the last change delivered; lease keep-alives
// restart on a new stream. A session is declared lost by its own deadline (below), not by
// etcd3's, which fires only after twice the TTL.
import { Etcd3, EtcdLeaseInvalidError, type IKeyValue, type Lease, type Namespace, type Watcher } from 'etcd3';
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

export interface EtcdTarget {
  /** host:port of each etcd member. */
  endpoints: string[];
  /** Key prefix without slashes at either end, e.g. "samsa/dev": keys are "/samsa/dev/<key>". */
  prefix: string;
}

const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/;

/** Parses `etcd://host:port[,host:port...]/prefix`. */
export function parseEtcdUrl(url: string): EtcdTarget {
  const bad = (why: string) => new Error(`invalid etcd URL "${url}": ${why} (expected etcd://host:port[,host:port...]/prefix)`);
  const match = /^etcd:\/\/([^/]*)(\/.*)?$/.exec(url);
  if (!match) throw bad('it must start with etcd://');
  const hosts = match[1] ?? '';
  if (hosts === '') throw bad('no endpoint');
  const endpoints = hosts.split(',').map((endpoint) => {
    const hostPort = HOST_PORT.exec(endpoint);
    const port = Number(hostPort?.[2]);
    if (!hostPort || port < 1 || port > 65535) throw bad(`endpoint "${endpoint}" is not host:port`);
    return endpoint;
  });
  const prefix = (match[2] ?? '').replace(/^\/+|\/+$/g, '');
  if (prefix === '') throw bad('no key prefix');
  if (prefix.split('/').some((part) => part === '')) throw bad(`key prefix "${prefix}" has an empty segment`);
  return { endpoints, prefix };
}

export interface EtcdStoreOptions {
  /** Deadline of each call, retries included (default 5000). */
  requestTimeoutMs?: number;
}

export class EtcdMetadataStore implements MetadataStore {
  private readonly client: Etcd3;
  private readonly kv: Namespace;
  private readonly requestTimeoutMs: number;
  private readonly endpoints: string;
  private readonly watchers = new Set<Watcher>();
  private readonly sessions = new Set<EtcdSession>();

  constructor(target: EtcdTarget, options: EtcdStoreOptions = {}) {
    this.requestTimeoutMs = options.requestTimeoutMs ?? 5000;
    this.endpoints = target.endpoints.join(',');
    this.client = new Etcd3({ hosts: target.endpoints.map((endpoint) => `http://${endpoint}`) });
    this.kv = this.client.namespace(`/${target.prefix}/`);
  }

  static fromUrl(url: string, options?: EtcdStoreOptions): EtcdMetadataStore {
    return new EtcdMetadataStore(parseEtcdUrl(url), options);
  }

  async get(key: string): Promise<StoredValue | undefined> {
    const res = await this.reach(() => this.kv.get(key).options(this.callOptions()).exec());
    return res.kvs[0] && stored(res.kvs[0]);
  }

  async list(prefix: string): Promise<Map<string, StoredValue>> {
    return (await this.scan(prefix)).entries;
  }

  async put(key: string, value: string, expectedVersion?: number): Promise<number> {
    return this.write(key, value, expectedVersion, undefined);
  }

  async delete(key: string, expectedVersion?: number): Promise<boolean> {
    if (expectedVersion === undefined) {
      const res = await this.reach(() => this.kv.delete().key(key).options(this.callOptions()).exec());
      return Number(res.deleted) > 0;
    }
    const res = await this.reach(() => this.kv.if(key, 'Mod', '==', expectedVersion).then(this.kv.delete().key(key)).else(this.kv.get(key)).options(this.callOptions()).commit());
    if (!res.succeeded) throw conflict(key, expectedVersion, res.responses[0]?.response_range?.kvs[0]);
    return Number(res.responses[0]?.response_delete_range?.deleted ?? 0) > 0;
  }

  async watch(prefix: string, listener: WatchListener, onBroken?: (err: Error) => void): Promise<Watch> {
    const { entries, revision } = await this.scan(prefix);
    // etcd3 resumes a reconnected watch from the latest header revision it saw, which can be
    // past events not yet delivered (a watch catching up gets them in chunks); keep the
    // resume point at the change after the last one delivered.
    let next = revision + 1;
    const watcher = this.kv.watch().prefix(prefix).startRevision(String(next)).watcher();
    const resumeFromNext = () => (watcher.request.start_revision = String(next));
    watcher.on('connected', resumeFromNext);
    watcher.on('data', resumeFromNext);
    watcher.on('put', (kv) => {
      next = Number(kv.mod_revision) + 1;
      listener(kv.key.toString(), stored(kv));
    });
    watcher.on('delete', (kv) => {
      next = Number(kv.mod_revision) + 1;
      listener(kv.key.toString(), undefined);
    });
    watcher.on('error', (err: Error) => {
      this.watchers.delete(watcher);
      onBroken?.(err);
    });
    this.watchers.add(watcher);
    await new Promise<void>((resolve, reject) => {
      watcher.once('connected', () => resolve());
      watcher.once('error', reject);
    });
    return {
      snapshot: entries,
      stop: () => {
        this.watchers.delete(watcher);
        void watcher.cancel().catch(() => {});
      },
    };
  }

  async openSession(ttlMs: number): Promise<Session> {
    if (!(ttlMs > 0)) throw new RangeError(`session TTL must be positive, got ${ttlMs}`);
    // etcd leases count whole seconds (and etcd raises a TTL below its minimum, ~2 s by default).
    const ttlSeconds = Math.ceil(ttlMs / 1000);
    const requestedAt = performance.now();
    const lease = this.client.lease(ttlSeconds);
    try {
      await lease.grant();
    } catch (err) {
      lease.release();
      throw err;
    }
    const session = new EtcdSession(this, lease, ttlSeconds * 1000, requestedAt);
    this.sessions.add(session);
    return session;
  }

  async close(): Promise<void> {
    // Not awaited: a cancel waits for a reachable etcd; closing the client ends the stream anyway.
    for (const watcher of this.watchers) void watcher.cancel().catch(() => {});
    this.watchers.clear();
    for (const session of [...this.sessions]) await session.close();
    this.client.close();
  }

  /** gRPC options of one call: its deadline. (This and the two below serve EtcdSession.) */
  callOptions(): { deadline: Date } {
    return { deadline: new Date(Date.now() + this.requestTimeoutMs) };
  }

  forget(session: EtcdSession): void {
    this.sessions.delete(session);
  }

  /** Writes `key`, bound to `lease` when given, compare-and-set on its mod_revision when expected. */
  async write(key: string, value: string, expectedVersion: number | undefined, lease: string | undefined): Promise<number> {
    const put = this.kv.put(key).value(value);
    if (lease !== undefined) put.lease(lease);
    if (expectedVersion === undefined) {
      const res = await this.reach(() => put.options(this.callOptions()).exec());
      return Number(res.header.revision);
    }
    const res = await this.reach(() => this.kv.if(key, 'Mod', '==', expectedVersion).then(put).else(this.kv.get(key)).options(this.callOptions()).commit());
    if (!res.succeeded) throw conflict(key, expectedVersion, res.responses[0]?.response_range?.kvs[0]);
    return Number(res.header.revision);
  }

  /** Runs one call; a failure to reach etcd becomes MetadataUnavailableError (a lease etcd no longer knows stays what it is). */
  private async reach<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof EtcdLeaseInvalidError) throw err;
      throw new MetadataUnavailableError(`the cluster metadata store (etcd ${this.endpoints}) did not answer: ${(err as Error).message}`, err);
    }
  }

  private async scan(prefix: string): Promise<{ entries: Map<string, StoredValue>; revision: number }> {
    const res = await this.reach(() => this.kv.getAll().prefix(prefix).options(this.callOptions()).exec());
    const entries = new Map<string, StoredValue>();
    for (const kv of res.kvs) entries.set(kv.key.toString(), stored(kv));
    return { entries, revision: Number(res.header.revision) };
  }
}

/**
 * A lease kept alive by etcd3 (every third of the TTL). It is lost when no keep-alive was
 * confirmed for the TTL, counted from when the last confirmed one was sent: etcd restarted the
 * lease no earlier than that, so the holder stops acting before etcd can let another take over.
 */
class EtcdSession implements Session {
  private readonly lostListeners: ((err: Error) => void)[] = [];
  private readonly unconfirmed: number[] = [];
  private deadline: NodeJS.Timeout | undefined;
  private ended = false;
  lost = false;

  constructor(
    private readonly store: EtcdMetadataStore,
    private readonly lease: Lease,
    readonly ttlMs: number,
    grantRequestedAt: number,
  ) {
    this.confirmed(grantRequestedAt);
    // A new keep-alive stream: answers to fires on the old one will not come.
    lease.on('keepaliveEstablished', () => (this.unconfirmed.length = 0));
    lease.on('keepaliveFired', () => this.unconfirmed.push(performance.now()));
    lease.on('keepaliveSucceeded', () => {
      const sentAt = this.unconfirmed.shift();
      if (sentAt !== undefined) this.confirmed(sentAt);
    });
    lease.on('lost', (err) => this.markLost(err));
  }

  async put(key: string, value: string, expectedVersion?: number): Promise<number> {
    if (this.ended) throw new SessionLostError(`session is ${this.lost ? 'lost' : 'closed'}; cannot write ${key}`);
    try {
      return await this.store.write(key, value, expectedVersion, await this.lease.grant());
    } catch (err) {
      if (!(err instanceof EtcdLeaseInvalidError)) throw err;
      this.markLost(err);
      throw new SessionLostError(`session lease expired; cannot write ${key}`);
    }
  }

  onLost(listener: (err: Error) => void): void {
    this.lostListeners.push(listener);
  }

  async close(): Promise<void> {
    if (this.ended) return;
    this.end();
    await this.revoke();
  }

  private confirmed(sentAt: number): void {
    clearTimeout(this.deadline);
    const left = sentAt + this.ttlMs - performance.now();
    this.deadline = setTimeout(() => this.markLost(new SessionLostError(`no keep-alive confirmed by etcd for ${this.ttlMs} ms`)), left).unref();
  }

  private markLost(err: Error): void {
    if (this.ended) return;
    this.lost = true;
    this.end();
    // Revoke so that its keys go now if etcd is reachable; else they expire with the lease.
    void this.revoke();
    for (const listener of this.lostListeners) listener(err);
  }

  private end(): void {
    this.ended = true;
    clearTimeout(this.deadline);
    this.store.forget(this);
  }

  /** Best effort: an unreachable etcd expires the lease by itself after the TTL. */
  private async revoke(): Promise<void> {
    await this.lease.revoke(this.store.callOptions()).catch(() => this.lease.release());
  }
}

function stored(kv: IKeyValue): StoredValue {
  return { value: kv.value.toString(), version: Number(kv.mod_revision) };
}

function conflict(key: string, expected: number, current: IKeyValue | undefined): VersionConflictError {
  return new VersionConflictError(key, expected, current ? Number(current.mod_revision) : 0);
}
