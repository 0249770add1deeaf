// The one interface behind which cluster metadata lives. Backends: memory and a file for a
// single node; etcd and the Kubernetes API for clusters. It is a versioned key-value
// store with compare-and-set writes, list-then-watch, and sessions that own ephemeral keys: the
// common ground of etcd (revisions, leases, watches) and Kubernetes objects (resourceVersion,
// Lease objects, watches). It has no multi-key transactions, which Kubernetes lacks: a caller
// that must fence a write on another key (a controller on its epoch) does so with a
// compare-and-set on the key it writes.

import { ErrorCode, KafkaError } from '../protocol/errors.js';

export interface StoredValue {
  value: string;
  /**
   * The key's version: 0 means "absent" in expectations; every write of any key gets a version
   * greater than every version before it in this store, so a version is never reused, not even
   * after the key was deleted and created again (no ABA for compare-and-set).
   * memory/file: a store-wide counter. etcd: the key's `mod_revision` (the cluster revision of its
   * last write; etcd's per-key `version` is not used because it restarts at 1 after a delete).
   * Kubernetes: the object's `resourceVersion` (for a Lease, that of the write that set its
   * value: renewals do not change a version).
   */
  version: number;
}

/** A change under a watched prefix: the new value, or undefined when the key was deleted or expired. */
export type WatchListener = (key: string, value: StoredValue | undefined) => void;

export interface Watch {
  /** The keys under the prefix when the watch started; the listener gets every change after them, in order. */
  readonly snapshot: Map<string, StoredValue>;
  stop(): void;
}

/**
 * A liveness-bound owner of ephemeral keys. The store deletes every key written through a
 * session when the session is closed or expires (no renewal reached the store for its TTL), and
 * watchers see those deletions like any other. etcd: a lease kept alive by the client, the keys
 * attached to it. Kubernetes: a Lease object per key renewed by its holder; the backend must
 * treat an expired one as absent (in get, list, compare-and-set) and report it deleted to
 * watchers, since the API server expires nothing by itself.
 */
export interface Session {
  readonly ttlMs: number;
  /**
   * Writes an ephemeral key owned by this session, with the same compare-and-set as
   * MetadataStore.put (so `expectedVersion` 0 is create-if-absent: the way to take a key that
   * another holder owns only once it has expired). A later plain MetadataStore.put of the key
   * makes it durable again. Rejects with SessionLostError once the session is lost or closed.
   */
  put(key: string, value: string, expectedVersion?: number): Promise<number>;
  /**
   * Calls `listener` once when the session is lost: renewal failed for the TTL (measured from
   * the last renewal the store confirmed, counted from when it was sent, so it fires no later
   * than the store expires it), or the store reports the session gone. The holder must then
   * stop acting on what the session owned (fencing): another holder may already own it.
   */
  onLost(listener: (err: Error) => void): void;
  readonly lost: boolean;
  /** Ends the session: its keys are deleted now. onLost listeners are not called. */
  close(): Promise<void>;
}

export interface MetadataStore {
  get(key: string): Promise<StoredValue | undefined>;
  list(prefix: string): Promise<Map<string, StoredValue>>;
  /** Writes `value`; with `expectedVersion`, only if the key's version matches (0: absent). */
  put(key: string, value: string, expectedVersion?: number): Promise<number>;
  /** Deletes the key; with `expectedVersion`, only if its version matches. False if absent. */
  delete(key: string, expectedVersion?: number): Promise<boolean>;
  /**
   * Lists `prefix` and watches it from that very point: no change is missed between the two and
   * none from before is delivered. `onBroken` is called if the watch can no longer deliver every
   * change (etcd compacted past where it would resume; Kubernetes "410 Gone"): watch again.
   */
  watch(prefix: string, listener: WatchListener, onBroken?: (err: Error) => void): Promise<Watch>;
  /** Starts a session whose keys expire `ttlMs` after the last renewal that reached the store. */
  openSession(ttlMs: number): Promise<Session>;
  /** Stops watches and closes sessions (deleting their keys). */
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

/**
 * The store did not answer (unreachable, no quorum, past the call's deadline). A KafkaError so
 * that a request needing a metadata change gets a retriable code (REQUEST_TIMED_OUT) and says why.
 */
export class MetadataUnavailableError extends KafkaError {
  override name = 'MetadataUnavailableError';
  constructor(message: string, cause?: unknown) {
    super(ErrorCode.REQUEST_TIMED_OUT, message);
    if (cause !== undefined) this.cause = cause;
  }
}

export class SessionLostError extends Error {
  override name = 'SessionLostError';
}
