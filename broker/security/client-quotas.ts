// Client quotas as Kafka names them: per user (the principal's name), per client id, or per
// user and client id, each name possibly "<default>" (null on the wire). One metadata key per
// entity, "security/quotas/users/<user>[/clients/<client-id>]" or
// "security/quotas/clients/<client-id>" (names URL-encoded, the default as "<default>"), holding
// a JSON object of quota key → value. Every broker follows them with a list-then-watch, as
// dynamic-configs.ts does for broker settings, so a quota set through one broker applies on all.
import type { Logger } from 'pino';
import { ErrorCode } from '../protocol/errors.js';
import type { MetadataStore, StoredValue } from '../metadata/metadata-store.js';
import { PrefixFollower } from '../metadata/prefix-follower.js';
import { VersionConflictError } from '../metadata/metadata-store.js';

const PREFIX = 'security/quotas/';
const DEFAULT_NAME = '<default>';

/** The quota keys enforced here (Kafka's QuotaConfigs names) and whether each must be a whole number. */
export const QUOTA_KEYS = {
  producer_byte_rate: { integer: true },
  consumer_byte_rate: { integer: true },
  request_percentage: { integer: false },
} as const;
export type QuotaKey = keyof typeof QUOTA_KEYS;
export type QuotaValues = Partial<Record<QuotaKey, number>>;

export const USER = 'user';
export const CLIENT_ID = 'client-id';

/** A quota entity: a name per entity type present, null for that type's default. */
export interface QuotaEntity {
  user?: string | null;
  clientId?: string | null;
}

/** A refusal as Kafka answers it: an error code and its message. */
export interface QuotaError {
  code: number;
  message: string;
}

const encodeName = (name: string | null): string => (name === null ? DEFAULT_NAME : encodeURIComponent(name));
const decodeName = (part: string): string | null => (part === DEFAULT_NAME ? null : decodeURIComponent(part));

/** The path of an entity under the prefix, e.g. "users/alice/clients/<default>". */
export function entityPath(entity: QuotaEntity): string {
  if (entity.user !== undefined) {
    const user = `users/${encodeName(entity.user)}`;
    return entity.clientId !== undefined ? `${user}/clients/${encodeName(entity.clientId)}` : user;
  }
  return `clients/${encodeName(entity.clientId ?? null)}`;
}

/** The entity a path names; undefined for a path this broker did not write. */
export function parseEntityPath(path: string): QuotaEntity | undefined {
  const [kind, name, sub, clientName, ...rest] = path.split('/');
  if (name === undefined || rest.length > 0) return undefined;
  if (kind === 'users' && sub === undefined) return { user: decodeName(name) };
  if (kind === 'users' && sub === 'clients' && clientName !== undefined) return { user: decodeName(name), clientId: decodeName(clientName) };
  if (kind === 'clients' && sub === undefined) return { clientId: decodeName(name) };
  return undefined;
}

/** Reads a request's entity (type/name pairs) as Kafka's controller validates it. */
export function validateEntity(components: readonly { entityType: string; entityName: string | null }[]): QuotaEntity | QuotaError {
  if (components.length === 0) return { code: ErrorCode.INVALID_REQUEST, message: 'Invalid empty client quota entity' };
  const entity: QuotaEntity = {};
  for (const { entityType, entityName } of components) {
    if (entityType !== USER && entityType !== CLIENT_ID) {
      const message = entityType === 'ip' ? 'IP quotas (connection_creation_rate) are not supported by this broker' : `Unhandled client quota entity type: ${entityType}`;
      return { code: ErrorCode.INVALID_REQUEST, message };
    }
    const field = entityType === USER ? 'user' : 'clientId';
    if (entity[field] !== undefined) return { code: ErrorCode.INVALID_REQUEST, message: `Invalid client quota entity, duplicate entity entry ${entityType}` };
    if (entityName === '') return { code: ErrorCode.INVALID_REQUEST, message: `Empty ${entityType} not supported` };
    entity[field] = entityName;
  }
  return entity;
}

/** Checks one quota key and value; null when they may be stored. */
export function validateQuota(key: string, value: number, remove: boolean): QuotaError | null {
  if (key === 'controller_mutation_rate') return { code: ErrorCode.INVALID_REQUEST, message: 'controller_mutation_rate is not enforced by this broker and cannot be set' };
  if (!Object.hasOwn(QUOTA_KEYS, key)) return { code: ErrorCode.INVALID_REQUEST, message: `Invalid configuration key ${key}` };
  if (remove) return null;
  if (!Number.isFinite(value) || value <= 0) return { code: ErrorCode.INVALID_REQUEST, message: `Quota ${key} must be greater than 0` };
  if (QUOTA_KEYS[key as QuotaKey].integer && (!Number.isInteger(value) || value > Number.MAX_SAFE_INTEGER)) {
    return { code: ErrorCode.INVALID_REQUEST, message: `Quota ${key} must be a whole number of bytes per second, not ${value}` };
  }
  return null;
}

/** Which quota applies to a client, and whose sensor it shares: the tags Kafka puts on its metrics. */
export interface ResolvedQuota {
  bound: number;
  /** The user whose sensor this is, '' when the quota is not per user. */
  user: string;
  /** The client id whose sensor this is, '' when the quota is not per client id. */
  clientId: string;
}

/**
 * Kafka's precedence of the eight levels, first match wins per quota key:
 * /users/<user>/clients/<client-id>, /users/<user>/clients/<default>, /users/<user>,
 * /users/<default>/clients/<client-id>, /users/<default>/clients/<default>, /users/<default>,
 * /clients/<client-id>, /clients/<default>. A default level gives each user (or client id) a
 * quota of its own, so the sensor is named by the client's actual user and client id.
 */
export function resolveQuota(quotas: ReadonlyMap<string, QuotaValues>, key: QuotaKey, user: string, clientId: string): ResolvedQuota | undefined {
  const levels: [QuotaEntity, boolean, boolean][] = [
    [{ user, clientId }, true, true],
    [{ user, clientId: null }, true, true],
    [{ user }, true, false],
    [{ user: null, clientId }, true, true],
    [{ user: null, clientId: null }, true, true],
    [{ user: null }, true, false],
    [{ clientId }, false, true],
    [{ clientId: null }, false, true],
  ];
  for (const [entity, byUser, byClient] of levels) {
    const bound = quotas.get(entityPath(entity))?.[key];
    if (bound !== undefined) return { bound, user: byUser ? user : '', clientId: byClient ? clientId : '' };
  }
  return undefined;
}

/** One component of a DescribeClientQuotas filter (match type 0: this name, 1: the default, 2: any). */
export interface QuotaFilterComponent {
  entityType: string;
  matchType: number;
  match: string | null;
}

export const MATCH_EXACT = 0;
export const MATCH_DEFAULT = 1;
export const MATCH_ANY = 2;

/** Whether an entity passes a filter (strict: it has no entity type the filter does not name). */
export function matchesFilter(entity: QuotaEntity, components: readonly QuotaFilterComponent[], strict: boolean): boolean {
  const types = (entity.user !== undefined ? 1 : 0) + (entity.clientId !== undefined ? 1 : 0);
  if (strict && types !== components.length) return false;
  for (const c of components) {
    const name = c.entityType === USER ? entity.user : entity.clientId;
    if (name === undefined) return false;
    if (c.matchType === MATCH_EXACT && name !== c.match) return false;
    if (c.matchType === MATCH_DEFAULT && name !== null) return false;
  }
  return true;
}

/** Checks a filter as Kafka does; null when it may be used. */
export function validateFilter(components: readonly QuotaFilterComponent[]): QuotaError | null {
  const seen = new Set<string>();
  for (const c of components) {
    if (c.entityType !== USER && c.entityType !== CLIENT_ID) return { code: ErrorCode.INVALID_REQUEST, message: `Invalid entity type ${c.entityType}` };
    if (seen.has(c.entityType)) return { code: ErrorCode.INVALID_REQUEST, message: `Entity type ${c.entityType} cannot appear more than once in the filter.` };
    seen.add(c.entityType);
    if (c.matchType !== MATCH_EXACT && c.matchType !== MATCH_DEFAULT && c.matchType !== MATCH_ANY) return { code: ErrorCode.INVALID_REQUEST, message: `Unknown match type ${c.matchType}` };
    if (c.matchType === MATCH_EXACT && c.match === null) return { code: ErrorCode.INVALID_REQUEST, message: `Exact match of ${c.entityType} needs a name` };
  }
  return null;
}

/** One change of an entity's quotas: set a key to a value, or remove it. */
export interface QuotaOp {
  key: QuotaKey;
  value: number;
  remove: boolean;
}

/** The stored quotas of every entity, as this broker last saw them, and the writes to them. */
export class ClientQuotaStore {
  private readonly stored = new Map<string, StoredValue>();
  /** Entity path → its quotas. */
  private readonly values = new Map<string, QuotaValues>();
  private readonly listeners: (() => void)[] = [];
  private readonly follower: PrefixFollower;

  constructor(
    private readonly store: MetadataStore,
    private readonly logger: Logger,
  ) {
    this.follower = new PrefixFollower(store, PREFIX, 'client quota', {
      listed: (snapshot) => {
        for (const key of [...this.stored.keys()]) if (!snapshot.has(key)) this.apply(key, undefined, false);
        for (const [key, value] of snapshot) this.apply(key, value, false);
        this.notify();
      },
      changed: (key, value) => this.apply(key, value, true),
    }, logger);
  }

  /** Calls `listener` after any entity's quotas changed (here or through another broker). */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Every entity's quotas by path. */
  get quotas(): ReadonlyMap<string, QuotaValues> {
    return this.values;
  }

  /** Lists every entity's quotas and follows changes. */
  load(): Promise<void> {
    return this.follower.start();
  }

  private apply(key: string, value: StoredValue | undefined, live: boolean): void {
    const path = key.slice(PREFIX.length);
    const current = this.stored.get(key);
    if (!value && !current) return;
    if (value) {
      if (current && current.version >= value.version) return;
      this.stored.set(key, value);
      const parsed = parseStoredQuotas(value.value);
      if (parsed) this.values.set(path, parsed);
      else this.logger.warn({ key }, 'ignoring unreadable stored client quotas');
    } else {
      this.stored.delete(key);
      this.values.delete(path);
    }
    if (live) {
      this.logger.info({ entity: path, quotas: this.values.get(path) ?? null }, 'client quotas changed');
      this.notify();
    }
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }

  /** Applies `ops` to an entity's stored quotas (compare-and-set, retried when another broker wrote between). */
  async alter(entity: QuotaEntity, ops: readonly QuotaOp[]): Promise<void> {
    const key = PREFIX + entityPath(entity);
    for (let attempt = 0; ; attempt++) {
      const current = await this.store.get(key);
      const values: QuotaValues = (current && parseStoredQuotas(current.value)) || {};
      for (const op of ops) {
        if (op.remove) delete values[op.key];
        else values[op.key] = op.value;
      }
      try {
        if (Object.keys(values).length > 0) {
          const value = JSON.stringify(values);
          const version = await this.store.put(key, value, current?.version ?? 0);
          this.apply(key, { value, version }, true);
        } else if (current) {
          await this.store.delete(key, current.version);
          if (this.stored.has(key)) this.apply(key, undefined, true);
        }
        return;
      } catch (err) {
        if (!(err instanceof VersionConflictError) || attempt >= 4) throw err;
      }
    }
  }

  stop(): void {
    this.follower.stop();
  }
}

function parseStoredQuotas(text: string): QuotaValues | undefined {
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    const values: QuotaValues = {};
    for (const key of Object.keys(QUOTA_KEYS) as QuotaKey[]) {
      const value = parsed[key];
      if (typeof value === 'number' && value > 0) values[key] = value;
    }
    return values;
  } catch {
    return undefined;
  }
}
