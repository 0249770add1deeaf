// Kafka's ACL model: resource patterns, access control entries, the filters DescribeAcls and
// DeleteAcls take, and the codes the protocol gives each enum (Kafka's ResourceType, PatternType,
// AclOperation and AclPermissionType). Which ACLs apply to a request is the authorizer's job
// (authorizer.ts); this module only says what a binding is and which bindings a filter selects.

export const ResourceType = { UNKNOWN: 0, ANY: 1, TOPIC: 2, GROUP: 3, CLUSTER: 4, TRANSACTIONAL_ID: 5, DELEGATION_TOKEN: 6, USER: 7 } as const;
export const PatternType = { UNKNOWN: 0, ANY: 1, MATCH: 2, LITERAL: 3, PREFIXED: 4 } as const;
export const AclOperation = {
  UNKNOWN: 0,
  ANY: 1,
  ALL: 2,
  READ: 3,
  WRITE: 4,
  CREATE: 5,
  DELETE: 6,
  ALTER: 7,
  DESCRIBE: 8,
  CLUSTER_ACTION: 9,
  DESCRIBE_CONFIGS: 10,
  ALTER_CONFIGS: 11,
  IDEMPOTENT_WRITE: 12,
  CREATE_TOKENS: 13,
  DESCRIBE_TOKENS: 14,
} as const;
export const AclPermission = { UNKNOWN: 0, ANY: 1, DENY: 2, ALLOW: 3 } as const;

/** The one name of the CLUSTER resource. */
export const CLUSTER_NAME = 'kafka-cluster';
/** A LITERAL pattern named "*" matches every resource of its type. */
export const WILDCARD_RESOURCE = '*';
/** A principal "User:*" in an ACL matches every principal. */
export const WILDCARD_PRINCIPAL = 'User:*';
/** An ACL with host "*" matches every client address. */
export const WILDCARD_HOST = '*';

export interface ResourcePattern {
  resourceType: number;
  patternType: number;
  name: string;
}

export interface AccessControlEntry {
  principal: string;
  host: string;
  operation: number;
  permission: number;
}

export interface AclBinding {
  pattern: ResourcePattern;
  entry: AccessControlEntry;
}

/** What DescribeAcls and DeleteAcls select by: ANY (or null for names) matches everything. */
export interface AclBindingFilter {
  resourceType: number;
  /** With patternType MATCH: every pattern that applies to this name (literal, "*", prefixes of it). */
  name: string | null;
  patternType: number;
  principal: string | null;
  host: string | null;
  operation: number;
  permission: number;
}

function nameOf(codes: Record<string, number>, code: number): string {
  for (const [name, value] of Object.entries(codes)) if (value === code) return name;
  return `UNKNOWN(${code})`;
}

export const resourceTypeName = (code: number) => nameOf(ResourceType, code);
export const patternTypeName = (code: number) => nameOf(PatternType, code);
export const operationName = (code: number) => nameOf(AclOperation, code);
export const permissionName = (code: number) => nameOf(AclPermission, code);

/** Why a binding cannot be created (Kafka answers INVALID_REQUEST with this message), or null. */
export function invalidBinding(b: AclBinding): string | null {
  const { pattern, entry } = b;
  if (pattern.resourceType <= ResourceType.ANY || pattern.resourceType > ResourceType.USER) return `invalid resource type ${pattern.resourceType}`;
  if (pattern.patternType !== PatternType.LITERAL && pattern.patternType !== PatternType.PREFIXED) return `invalid pattern type ${patternTypeName(pattern.patternType)}: an ACL is LITERAL or PREFIXED`;
  if (pattern.name === '') return 'resource name should not be empty';
  if (pattern.resourceType === ResourceType.CLUSTER && (pattern.name !== CLUSTER_NAME || pattern.patternType !== PatternType.LITERAL)) {
    return `the only valid name for the CLUSTER resource is ${CLUSTER_NAME}`;
  }
  if (entry.operation <= AclOperation.ANY || entry.operation > AclOperation.DESCRIBE_TOKENS) return `invalid operation ${entry.operation}`;
  if (entry.permission !== AclPermission.ALLOW && entry.permission !== AclPermission.DENY) return `invalid permission type ${entry.permission}`;
  if (!/^[^:]+:.+$/.test(entry.principal)) return `could not parse principal "${entry.principal}": expected <type>:<name>, e.g. User:alice`;
  if (entry.host === '') return 'host should not be empty ("*" for every host)';
  return null;
}

/** Why a filter is unusable (INVALID_REQUEST), or null: UNKNOWN in any of its enums. */
export function invalidFilter(f: AclBindingFilter): string | null {
  if (f.resourceType <= ResourceType.UNKNOWN || f.resourceType > ResourceType.USER) return `invalid resource type filter ${f.resourceType}`;
  if (f.patternType <= PatternType.UNKNOWN || f.patternType > PatternType.PREFIXED) return `invalid pattern type filter ${f.patternType}`;
  if (f.operation <= AclOperation.UNKNOWN || f.operation > AclOperation.DESCRIBE_TOKENS) return `invalid operation filter ${f.operation}`;
  if (f.permission <= AclPermission.UNKNOWN || f.permission > AclPermission.ALLOW) return `invalid permission type filter ${f.permission}`;
  return null;
}

/** Whether a filter selects a resource pattern (Kafka's ResourcePatternFilter.matches). */
export function filterMatchesPattern(f: AclBindingFilter, p: ResourcePattern): boolean {
  if (f.resourceType !== ResourceType.ANY && f.resourceType !== p.resourceType) return false;
  if (f.patternType !== PatternType.ANY && f.patternType !== PatternType.MATCH && f.patternType !== p.patternType) return false;
  if (f.name === null) return true;
  if (f.patternType === PatternType.ANY || f.patternType === p.patternType) return f.name === p.name;
  // MATCH: the patterns that apply to a resource named f.name.
  if (p.patternType === PatternType.LITERAL) return f.name === p.name || p.name === WILDCARD_RESOURCE;
  return p.patternType === PatternType.PREFIXED && f.name.startsWith(p.name);
}

/** Whether a filter selects an entry. */
export function filterMatchesEntry(f: AclBindingFilter, e: AccessControlEntry): boolean {
  return (
    (f.principal === null || f.principal === e.principal) &&
    (f.host === null || f.host === e.host) &&
    (f.operation === AclOperation.ANY || f.operation === e.operation) &&
    (f.permission === AclPermission.ANY || f.permission === e.permission)
  );
}

export function sameEntry(a: AccessControlEntry, b: AccessControlEntry): boolean {
  return a.principal === b.principal && a.host === b.host && a.operation === b.operation && a.permission === b.permission;
}
