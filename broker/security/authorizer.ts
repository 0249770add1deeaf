// The authorizer: may this request's principal, from this host, perform an operation on a
// resource? Kafka's StandardAuthorizer semantics: super users may do anything; otherwise the ACLs
// of every pattern that applies to the resource (its literal name, the wildcard "*", each prefix)
// whose principal (or "User:*") and host (or "*") match decide; a DENY for the operation (or ALL)
// wins over any ALLOW; an ALLOW of the operation, of ALL, or of an operation that implies it
// (READ/WRITE/DELETE/ALTER imply DESCRIBE, ALTER_CONFIGS implies DESCRIBE_CONFIGS) allows; a
// resource with no ACL at all is allowed only with allow.everyone.if.no.acl.found. Decisions are
// cached per (principal, host, operation, resource) until any ACL changes, so a check on the
// produce/fetch path is one map lookup. The principal and host come from the request's context only.
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { RequestContext } from '../context.js';
import type { BrokerConfig } from '../config.js';
import { principalString } from './principal.js';
import type { AclStore } from './acl-store.js';
import {
  type AccessControlEntry,
  AclOperation,
  AclPermission,
  PatternType,
  WILDCARD_HOST,
  WILDCARD_PRINCIPAL,
  WILDCARD_RESOURCE,
  operationName,
  resourceTypeName,
} from './acls.js';

/** Kafka 4's authorizer class, the value of authorizer.class.name that turns ACLs on. */
export const STANDARD_AUTHORIZER = 'org.apache.kafka.metadata.authorizer.StandardAuthorizer';

const CACHE_LIMIT = 100_000;

/** The operations an ALLOW of `op` grants besides `op` itself. */
function grants(allowed: number, wanted: number): boolean {
  if (allowed === AclOperation.ALL || allowed === wanted) return true;
  if (wanted === AclOperation.DESCRIBE) return allowed === AclOperation.READ || allowed === AclOperation.WRITE || allowed === AclOperation.DELETE || allowed === AclOperation.ALTER;
  return wanted === AclOperation.DESCRIBE_CONFIGS && allowed === AclOperation.ALTER_CONFIGS;
}

/** A client address as ACLs name it: IPv4 clients of a dual-stack socket without "::ffff:". */
export function aclHost(clientHost: string): string {
  return clientHost.startsWith('::ffff:') && clientHost.includes('.') ? clientHost.slice(7) : clientHost;
}

function entryApplies(e: AccessControlEntry, principal: string, host: string): boolean {
  return (e.principal === principal || e.principal === WILDCARD_PRINCIPAL) && (e.host === host || e.host === WILDCARD_HOST);
}

/**
 * The decision for one principal and host, from the entries of the patterns that apply to the
 * resource: 'deny', 'allow', or 'none' when the resource has no ACL at all.
 */
export function decide(patterns: readonly (readonly AccessControlEntry[])[], principal: string, host: string, operation: number): 'allow' | 'deny' | 'none' {
  let allowed = false;
  let any = false;
  for (const entries of patterns) {
    for (const e of entries) {
      any = true;
      if (!entryApplies(e, principal, host)) continue;
      if (e.permission === AclPermission.DENY) {
        if (e.operation === AclOperation.ALL || e.operation === operation) return 'deny';
      } else if (grants(e.operation, operation)) allowed = true;
    }
  }
  return allowed ? 'allow' : any ? 'deny' : 'none';
}

export class Authorizer {
  private readonly superUsers: ReadonlySet<string>;
  private readonly allowIfNoAcl: boolean;
  private readonly cache = new Map<string, boolean>();
  private readonly denials: Counter<'operation' | 'resource_type'>;

  constructor(
    readonly acls: AclStore,
    config: BrokerConfig,
    private readonly logger: Logger,
    registry: Registry,
  ) {
    this.superUsers = new Set(
      config
        .get('super.users')
        .split(';')
        .map((s) => s.trim())
        .filter(Boolean),
    );
    this.allowIfNoAcl = config.bool('allow.everyone.if.no.acl.found');
    this.denials = new Counter({
      name: 'samsa_authorizer_denials_total',
      help: 'Requests (or parts of them) refused by the authorizer, by operation and resource type.',
      labelNames: ['operation', 'resource_type'],
      registers: [registry],
    });
    acls.onChange(() => this.cache.clear());
  }

  /**
   * Whether the request's principal may perform `operation` on the resource. A refusal is logged
   * (Kafka's authorizer log) and counted unless `logIfDenied` is false: filtering a listing
   * (Metadata of all topics) hides what it may not see without calling that a refusal.
   */
  authorize(ctx: RequestContext, operation: number, resourceType: number, name: string, logIfDenied = true): boolean {
    const principal = principalString(ctx.principal);
    const host = aclHost(ctx.clientHost);
    const key = `${principal}\u0000${host}\u0000${operation}\u0000${resourceType}\u0000${name}`;
    let allowed = this.cache.get(key);
    if (allowed === undefined) {
      allowed = this.superUsers.has(principal) || this.evaluate(principal, host, operation, resourceType, name);
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(key, allowed);
    }
    if (!allowed && logIfDenied) this.denied(principal, host, operation, resourceType, name);
    return allowed;
  }

  private denied(principal: string, host: string, operation: number, resourceType: number, name: string): void {
    const op = operationName(operation);
    const type = resourceTypeName(resourceType);
    this.denials.inc({ operation: op, resource_type: type });
    this.logger.info({ principal, operation: op, resourceType: type, resourceName: name, host }, 'authorization denied');
  }

  private evaluate(principal: string, host: string, operation: number, resourceType: number, name: string): boolean {
    const decision = decide(this.acls.entriesFor(resourceType, name), principal, host, operation);
    return decision === 'allow' || (decision === 'none' && this.allowIfNoAcl);
  }

  /**
   * Whether the principal may perform `operation` on some resource of the type (Kafka's
   * authorizeByResourceType, e.g. WRITE on any topic for an idempotent producer): an ALLOW on a
   * pattern that no DENY of the same principal and host covers.
   */
  authorizeAny(ctx: RequestContext, operation: number, resourceType: number): boolean {
    // A name no ACL is likely to name: super users, and allow.everyone.if.no.acl.found where no ACL of the type applies.
    if (this.authorize(ctx, operation, resourceType, 'hardcode', false)) return true;
    const principal = principalString(ctx.principal);
    const host = aclHost(ctx.clientHost);
    const denyLiterals = new Set<string>();
    const denyPrefixes: string[] = [];
    const allows: { name: string; prefixed: boolean }[] = [];
    for (const { pattern, entries } of this.acls.patternsOf(resourceType)) {
      for (const e of entries) {
        if (!entryApplies(e, principal, host) || (e.operation !== AclOperation.ALL && e.operation !== operation && !(e.permission === AclPermission.ALLOW && grants(e.operation, operation)))) continue;
        const prefixed = pattern.patternType === PatternType.PREFIXED;
        if (e.permission === AclPermission.DENY) {
          if (!prefixed && pattern.name === WILDCARD_RESOURCE) return this.refuseAny(principal, host, operation, resourceType);
          if (prefixed) denyPrefixes.push(pattern.name);
          else denyLiterals.add(pattern.name);
        } else allows.push({ name: pattern.name, prefixed });
      }
    }
    const deniedByPrefix = (name: string) => denyPrefixes.some((p) => name.startsWith(p));
    for (const a of allows) {
      if (a.prefixed ? !deniedByPrefix(a.name) : (a.name === WILDCARD_RESOURCE || !denyLiterals.has(a.name)) && !deniedByPrefix(a.name)) return true;
    }
    return this.refuseAny(principal, host, operation, resourceType);
  }

  private refuseAny(principal: string, host: string, operation: number, resourceType: number): false {
    this.denied(principal, host, operation, resourceType, WILDCARD_RESOURCE);
    return false;
  }

  /** Kafka's authorized-operations bit field: bit n set when operation n is allowed on the resource. */
  authorizedOperations(ctx: RequestContext, resourceType: number, name: string, operations: readonly number[]): number {
    let bits = 0;
    for (const op of operations) if (this.authorize(ctx, op, resourceType, name, false)) bits |= 1 << op;
    return bits;
  }
}
