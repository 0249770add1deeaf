// The one interface behind which cluster metadata lives. Backends: memory and a file for a
// single node; the Kubernetes API and etcd for clusters. It is a versioned key-value store with
// compare-and-set writes and prefix watches: the common ground of etcd and Kubernetes objects.

export interface StoredValue {
  value: string;
  /** Increases on every write of the key; 0 means "does not exist" in expectations. */
  version: number;
}

export type WatchListener = (key: string, value: StoredValue | undefined) => void;

export interface MetadataStore {
  get(key: string): Promise<StoredValue | undefined>;
  list(prefix: string): Promise<Map<string, StoredValue>>;
  /** Writes `value`; with `expectedVersion`, only if the key's version matches (0: absent). */
  put(key: string, value: string, expectedVersion?: number): Promise<number>;
  /** Deletes the key; with `expectedVersion`, only if its version matches. False if absent. */
  delete(key: string, expectedVersion?: number): Promise<boolean>;
  /** Calls `listener` for every later change under `prefix`; returns the unsubscribe function. */
  watch(prefix: string, listener: WatchListener): () => void;
  close(): Promise<void>;
}

export class VersionConflictError extends Error {
  override name = 'VersionConflictError';
  constructor(
    readonly key: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`metadata key ${key} is at version ${actual}, expected ${expected}`);
  }
}
