// MetadataStore in process memory: a single node's store, and the base of the file store.
// Ephemeral keys live beside the durable entries, never in them, so the file store never
// persists them: a restart ends every session, as a lost etcd lease would.
import {
  type MetadataStore,
  type Session,
  SessionLostError,
  type StoredValue,
  type Watch,
  type WatchListener,
  VersionConflictError,
} from './metadata-store.js';

export class MemoryMetadataStore implements MetadataStore {
  /** Durable keys: what the file store persists. */
  protected readonly entries = new Map<string, StoredValue>();
  private readonly ephemeral = new Map<string, { stored: StoredValue; session: MemorySession }>();
  private readonly sessions = new Set<MemorySession>();
  private readonly watchers = new Set<{ prefix: string; listener: WatchListener }>();
  private nextVersion = 1;

  async get(key: string): Promise<StoredValue | undefined> {
    return this.current(key);
  }

  async list(prefix: string): Promise<Map<string, StoredValue>> {
    return this.under(prefix);
  }

  async put(key: string, value: string, expectedVersion?: number): Promise<number> {
    this.check(key, expectedVersion);
    const previous = this.entries.get(key);
    const stored = { value, version: this.nextVersion++ };
    this.entries.set(key, stored);
    try {
      await this.persist();
    } catch (err) {
      // What could not be made durable did not happen.
      if (previous) this.entries.set(key, previous);
      else this.entries.delete(key);
      throw err;
    }
    this.ephemeral.delete(key);
    this.notify(key, stored);
    return stored.version;
  }

  async delete(key: string, expectedVersion?: number): Promise<boolean> {
    this.check(key, expectedVersion);
    const previous = this.entries.get(key);
    if (!previous) {
      if (!this.ephemeral.delete(key)) return false;
      this.notify(key, undefined);
      return true;
    }
    this.entries.delete(key);
    try {
      await this.persist();
    } catch (err) {
      this.entries.set(key, previous);
      throw err;
    }
    this.notify(key, undefined);
    return true;
  }

  async watch(prefix: string, listener: WatchListener): Promise<Watch> {
    // Snapshot and subscription in one synchronous step: no change can fall between them.
    const snapshot = this.under(prefix);
    const watcher = { prefix, listener };
    this.watchers.add(watcher);
    return { snapshot, stop: () => this.watchers.delete(watcher) };
  }

  async openSession(ttlMs: number): Promise<MemorySession> {
    if (!(ttlMs > 0)) throw new RangeError(`session TTL must be positive, got ${ttlMs}`);
    const session = new MemorySession(this, ttlMs);
    this.sessions.add(session);
    return session;
  }

  async close(): Promise<void> {
    for (const session of [...this.sessions]) await session.close();
    this.watchers.clear();
  }

  /** Makes the current durable entries durable; a no-op in memory. */
  protected async persist(): Promise<void> {}

  protected restore(entries: Iterable<[string, StoredValue]>): void {
    for (const [key, value] of entries) {
      this.entries.set(key, value);
      this.nextVersion = Math.max(this.nextVersion, value.version + 1);
    }
  }

  /** MemorySession.put: the key leaves the durable entries (if it was there) and belongs to `session`. */
  async putEphemeral(session: MemorySession, key: string, value: string, expectedVersion?: number): Promise<number> {
    this.check(key, expectedVersion);
    const stored = { value, version: this.nextVersion++ };
    this.ephemeral.set(key, { stored, session });
    if (this.entries.delete(key)) await this.persist();
    this.notify(key, stored);
    return stored.version;
  }

  /** Deletes what `session` still owns and forgets it. */
  endSession(session: MemorySession): void {
    this.sessions.delete(session);
    for (const [key, owner] of [...this.ephemeral]) {
      if (owner.session !== session) continue;
      this.ephemeral.delete(key);
      this.notify(key, undefined);
    }
  }

  private under(prefix: string): Map<string, StoredValue> {
    const out = new Map<string, StoredValue>();
    for (const [key, value] of this.entries) if (key.startsWith(prefix)) out.set(key, value);
    for (const [key, { stored }] of this.ephemeral) if (key.startsWith(prefix)) out.set(key, stored);
    return out;
  }

  private current(key: string): StoredValue | undefined {
    return this.ephemeral.get(key)?.stored ?? this.entries.get(key);
  }

  private check(key: string, expectedVersion: number | undefined): void {
    if (expectedVersion === undefined) return;
    const actual = this.current(key)?.version ?? 0;
    if (actual !== expectedVersion) throw new VersionConflictError(key, expectedVersion, actual);
  }

  private notify(key: string, value: StoredValue | undefined): void {
    for (const { prefix, listener } of this.watchers) if (key.startsWith(prefix)) listener(key, value);
  }
}

/**
 * A session of the in-process store: renewed every third of its TTL by a timer, expired by
 * another when no renewal came for the TTL. In one process the holder and the store stop
 * together, so only stopKeepAlive() (below) makes a memory session expire.
 */
export class MemorySession implements Session {
  private readonly lostListeners: ((err: Error) => void)[] = [];
  private renewal: NodeJS.Timeout | undefined;
  private expiry: NodeJS.Timeout | undefined;
  private ended = false;
  lost = false;

  constructor(
    private readonly store: MemoryMetadataStore,
    readonly ttlMs: number,
  ) {
    this.renew();
    this.renewal = setInterval(() => this.renew(), ttlMs / 3).unref();
  }

  async put(key: string, value: string, expectedVersion?: number): Promise<number> {
    if (this.ended) throw new SessionLostError(`session is ${this.lost ? 'lost' : 'closed'}; cannot write ${key}`);
    return this.store.putEphemeral(this, key, value, expectedVersion);
  }

  onLost(listener: (err: Error) => void): void {
    this.lostListeners.push(listener);
  }

  /**
   * Stops renewing, as a holder that hangs would: the session expires after its TTL. The
   * contract test's stand-in for SIGSTOP of a holder, which cannot stop half of one process.
   */
  stopKeepAlive(): void {
    clearInterval(this.renewal);
  }

  async close(): Promise<void> {
    if (this.ended) return;
    this.end();
  }

  private renew(): void {
    clearTimeout(this.expiry);
    this.expiry = setTimeout(() => this.expire(), this.ttlMs).unref();
  }

  private expire(): void {
    if (this.ended) return;
    this.lost = true;
    this.end();
    const err = new SessionLostError(`session expired: no renewal for ${this.ttlMs} ms`);
    for (const listener of this.lostListeners) listener(err);
  }

  private end(): void {
    this.ended = true;
    clearInterval(this.renewal);
    clearTimeout(this.expiry);
    this.store.endSession(this);
  }
}
