// ACL bindings in the MetadataStore, one key per resource pattern:
// "security/acls/<resourceType>/<patternType>/<name>" holds that pattern's entries as JSON, written
// with compare-and-set so that concurrent CreateAcls/DeleteAcls through different brokers lose
// nothing. Every broker lists and watches the prefix (as dynamic-configs.ts does) and keeps an
// index per resource type: literal names and prefixes in maps, so the entries that apply to one
// resource are found with a few map lookups, never a scan of all ACLs.
import type { Logger } from 'pino';
import { type MetadataStore, type StoredValue, VersionConflictError } from '../metadata/metadata-store.js';
import { PrefixFollower } from '../metadata/prefix-follower.js';
import {
  type AccessControlEntry,
  type AclBinding,
  type AclBindingFilter,
  type ResourcePattern,
  AclOperation,
  AclPermission,
  PatternType,
  ResourceType,
  filterMatchesEntry,
  filterMatchesPattern,
  operationName,
  patternTypeName,
  permissionName,
  resourceTypeName,
  sameEntry,
} from './acls.js';

const PREFIX = 'security/acls/';

/** One key's value, with enum names rather than codes so that it reads well in etcd or a ConfigMap. */
interface StoredAcls {
  resourceType: string;
  patternType: string;
  name: string;
  acls: { principal: string; host: string; operation: string; permission: string }[];
}

export function aclKey(p: ResourcePattern): string {
  return `${PREFIX}${resourceTypeName(p.resourceType)}/${patternTypeName(p.patternType)}/${p.name}`;
}

function encode(pattern: ResourcePattern, entries: readonly AccessControlEntry[]): string {
  const stored: StoredAcls = {
    resourceType: resourceTypeName(pattern.resourceType),
    patternType: patternTypeName(pattern.patternType),
    name: pattern.name,
    acls: entries.map((e) => ({ principal: e.principal, host: e.host, operation: operationName(e.operation), permission: permissionName(e.permission) })),
  };
  return JSON.stringify(stored);
}

function decode(value: string): { pattern: ResourcePattern; entries: AccessControlEntry[] } {
  const stored = JSON.parse(value) as StoredAcls;
  const code = (codes: Record<string, number>, name: string) => {
    const c = codes[name];
    if (c === undefined) throw new Error(`unknown ACL enum value ${name}`);
    return c;
  };
  return {
    pattern: { resourceType: code(ResourceType, stored.resourceType), patternType: code(PatternType, stored.patternType), name: stored.name },
    entries: stored.acls.map((a) => ({ principal: a.principal, host: a.host, operation: code(AclOperation, a.operation), permission: code(AclPermission, a.permission) })),
  };
}

/** The patterns of one resource type. */
interface TypeIndex {
  literal: Map<string, readonly AccessControlEntry[]>;
  prefixed: Map<string, readonly AccessControlEntry[]>;
  /** The lengths of the prefixes in `prefixed`: a name's candidate prefixes, without a scan. */
  prefixLengths: Map<number, number>;
}

export class AclStore {
  /** Every pattern as last seen, by key: what compare-and-set expects and what DescribeAcls lists. */
  private readonly stored = new Map<string, { version: number; pattern: ResourcePattern; entries: readonly AccessControlEntry[] }>();
  private readonly index = new Map<number, TypeIndex>();
  private readonly listeners: (() => void)[] = [];
  private readonly follower: PrefixFollower;

  constructor(
    private readonly store: MetadataStore,
    private readonly logger: Logger,
  ) {
    this.follower = new PrefixFollower(store, PREFIX, 'ACL', {
      listed: (snapshot) => {
        for (const key of [...this.stored.keys()]) if (!snapshot.has(key)) this.apply(key, undefined);
        for (const [key, value] of snapshot) this.apply(key, value);
      },
      changed: (key, value) => this.apply(key, value),
    }, logger);
  }

  /** Calls `listener` after any ACL changed (here or through another broker). */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Lists every ACL and follows changes. */
  load(): Promise<void> {
    return this.follower.start();
  }

  stop(): void {
    this.follower.stop();
  }

  private apply(key: string, value: StoredValue | undefined): void {
    const current = this.stored.get(key);
    if (value && current && current.version >= value.version) return;
    if (current) this.unindex(current.pattern);
    if (value) {
      try {
        const { pattern, entries } = decode(value.value);
        this.stored.set(key, { version: value.version, pattern, entries });
        this.indexOf(pattern.resourceType)[pattern.patternType === PatternType.PREFIXED ? 'prefixed' : 'literal'].set(pattern.name, entries);
        if (pattern.patternType === PatternType.PREFIXED) {
          const lengths = this.indexOf(pattern.resourceType).prefixLengths;
          lengths.set(pattern.name.length, (lengths.get(pattern.name.length) ?? 0) + 1);
        }
      } catch (err) {
        this.logger.warn({ key, err }, 'ignoring an unreadable ACL record');
        this.stored.delete(key);
      }
    } else this.stored.delete(key);
    for (const listener of this.listeners) listener();
  }

  private indexOf(resourceType: number): TypeIndex {
    let index = this.index.get(resourceType);
    if (!index) this.index.set(resourceType, (index = { literal: new Map(), prefixed: new Map(), prefixLengths: new Map() }));
    return index;
  }

  private unindex(p: ResourcePattern): void {
    const index = this.indexOf(p.resourceType);
    if (p.patternType === PatternType.PREFIXED) {
      index.prefixed.delete(p.name);
      const n = (index.prefixLengths.get(p.name.length) ?? 1) - 1;
      if (n > 0) index.prefixLengths.set(p.name.length, n);
      else index.prefixLengths.delete(p.name.length);
    } else index.literal.delete(p.name);
  }

  /**
   * The entries of every pattern that applies to the resource `name` of `resourceType`: the
   * literal name, the wildcard "*", and each stored prefix of the name. Empty when none applies.
   */
  entriesFor(resourceType: number, name: string): (readonly AccessControlEntry[])[] {
    const index = this.index.get(resourceType);
    if (!index) return [];
    const out: (readonly AccessControlEntry[])[] = [];
    const literal = index.literal.get(name);
    if (literal) out.push(literal);
    if (name !== '*') {
      const wildcard = index.literal.get('*');
      if (wildcard) out.push(wildcard);
    }
    for (const length of index.prefixLengths.keys()) {
      if (length > name.length) continue;
      const prefixed = index.prefixed.get(name.slice(0, length));
      if (prefixed) out.push(prefixed);
    }
    return out;
  }

  /** The bindings of one resource type, by pattern (authorizeByResourceType looks at them all). */
  patternsOf(resourceType: number): { pattern: ResourcePattern; entries: readonly AccessControlEntry[] }[] {
    const index = this.index.get(resourceType);
    if (!index) return [];
    const out: { pattern: ResourcePattern; entries: readonly AccessControlEntry[] }[] = [];
    for (const [name, entries] of index.literal) out.push({ pattern: { resourceType, patternType: PatternType.LITERAL, name }, entries });
    for (const [name, entries] of index.prefixed) out.push({ pattern: { resourceType, patternType: PatternType.PREFIXED, name }, entries });
    return out;
  }

  /** Every binding a filter selects, by pattern (DescribeAcls). */
  matching(filter: AclBindingFilter): AclBinding[] {
    const out: AclBinding[] = [];
    for (const { pattern, entries } of this.stored.values()) {
      if (!filterMatchesPattern(filter, pattern)) continue;
      for (const entry of entries) if (filterMatchesEntry(filter, entry)) out.push({ pattern, entry });
    }
    return out;
  }

  /** Adds bindings (already validated); ones that exist already are left as they are. */
  async create(bindings: readonly AclBinding[]): Promise<void> {
    const byKey = new Map<string, AclBinding[]>();
    for (const b of bindings) {
      const key = aclKey(b.pattern);
      byKey.set(key, [...(byKey.get(key) ?? []), b]);
    }
    await Promise.all(
      [...byKey].map(([key, adds]) =>
        this.update(key, adds[0]!.pattern, (entries) => {
          const next = [...entries];
          for (const { entry } of adds) if (!next.some((e) => sameEntry(e, entry))) next.push(entry);
          return next;
        }),
      ),
    );
  }

  /** Removes the bindings each filter selects; answers, per filter, what it removed. */
  async delete(filters: readonly AclBindingFilter[]): Promise<AclBinding[][]> {
    const removed = filters.map(() => [] as AclBinding[]);
    // From the store itself: ACLs just created through another broker may not have been watched here yet.
    const patterns = new Map<string, ResourcePattern>();
    for (const [key, value] of await this.store.list(PREFIX)) {
      try {
        const { pattern } = decode(value.value);
        if (filters.some((f) => filterMatchesPattern(f, pattern))) patterns.set(key, pattern);
      } catch {
        // Unreadable: left alone (apply() logged it).
      }
    }
    await Promise.all(
      [...patterns].map(([key, p]) =>
        this.update(key, p, (entries, pattern) => {
          const keep: AccessControlEntry[] = [];
          const gone: { entry: AccessControlEntry; by: number[] }[] = [];
          for (const entry of entries) {
            // A binding two filters select is reported under both, as Kafka does.
            const by = filters.flatMap((f, i) => (filterMatchesPattern(f, pattern) && filterMatchesEntry(f, entry) ? [i] : []));
            if (by.length === 0) keep.push(entry);
            else gone.push({ entry, by });
          }
          return { next: keep, commit: () => gone.forEach(({ entry, by }) => by.forEach((i) => removed[i]!.push({ pattern, entry }))) };
        }),
      ),
    );
    return removed;
  }

  /**
   * Read-modify-write of one key with compare-and-set, again on a conflict with another broker.
   * `change` gets the key's current entries and gives the new ones (and, for deletions, what to
   * record once the write went through).
   */
  private async update(
    key: string,
    pattern: ResourcePattern,
    change: (entries: readonly AccessControlEntry[], pattern: ResourcePattern) => AccessControlEntry[] | { next: AccessControlEntry[]; commit: () => void },
  ): Promise<void> {
    for (;;) {
      const current = await this.store.get(key);
      const entries = current ? decode(current.value).entries : [];
      const changed = change(entries, pattern);
      const next = Array.isArray(changed) ? changed : changed.next;
      try {
        if (next.length === entries.length && next.every((e, i) => sameEntry(e, entries[i]!))) {
          // Nothing to write; what was read is newer than (or the same as) what this broker has seen.
          if (current) this.apply(key, current);
        } else if (next.length > 0) {
          const value = encode(pattern, next);
          this.apply(key, { value, version: await this.store.put(key, value, current?.version ?? 0) });
        } else if (current) {
          await this.store.delete(key, current.version);
          this.apply(key, undefined);
        }
        if (!Array.isArray(changed)) changed.commit();
        return;
      } catch (err) {
        if (!(err instanceof VersionConflictError)) throw err;
      }
    }
  }
}
