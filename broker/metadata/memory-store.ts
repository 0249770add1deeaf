// MetadataStore in process memory: a single node's store, and the base of the file store.
import { type MetadataStore, type StoredValue, type WatchListener, VersionConflictError } from './metadata-store.js';

export class MemoryMetadataStore implements MetadataStore {
  protected readonly entries = new Map<string, StoredValue>();
  private readonly watchers = new Set<{ prefix: string; listener: WatchListener }>();
  private nextVersion = 1;

  async get(key: string): Promise<StoredValue | undefined> {
    return this.entries.get(key);
  }

  async list(prefix: string): Promise<Map<string, StoredValue>> {
    const out = new Map<string, StoredValue>();
    for (const [key, value] of this.entries) if (key.startsWith(prefix)) out.set(key, value);
    return out;
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
    this.notify(key, stored);
    return stored.version;
  }

  async delete(key: string, expectedVersion?: number): Promise<boolean> {
    this.check(key, expectedVersion);
    const previous = this.entries.get(key);
    if (!previous || !this.entries.delete(key)) return false;
    try {
      await this.persist();
    } catch (err) {
      this.entries.set(key, previous);
      throw err;
    }
    this.notify(key, undefined);
    return true;
  }

  watch(prefix: string, listener: WatchListener): () => void {
    const watcher = { prefix, listener };
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  async close(): Promise<void> {
    this.watchers.clear();
  }

  /** Makes the current entries durable; a no-op in memory. */
  protected async persist(): Promise<void> {}

  protected restore(entries: Iterable<[string, StoredValue]>): void {
    for (const [key, value] of entries) {
      this.entries.set(key, value);
      this.nextVersion = Math.max(this.nextVersion, value.version + 1);
    }
  }

  private check(key: string, expectedVersion: number | undefined): void {
    if (expectedVersion === undefined) return;
    const actual = this.entries.get(key)?.version ?? 0;
    if (actual !== expectedVersion) throw new VersionConflictError(key, expectedVersion, actual);
  }

  private notify(key: string, value: StoredValue | undefined): void {
    for (const { prefix, listener } of this.watchers) if (key.startsWith(prefix)) listener(key, value);
  }
}
