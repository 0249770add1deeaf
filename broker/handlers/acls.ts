// DescribeAcls, CreateAcls, DeleteAcls: the ACLs in the metadata store (security/acl-store.ts).
// Without an authorizer they answer SECURITY_DISABLED, as Kafka does. Listing ACLs needs DESCRIBE
// on the cluster, changing them ALTER on the cluster. Bad filters or bindings get INVALID_REQUEST
// with the reason (per creation / per filter).
import type { BrokerContext, RequestContext } from '../context.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import type { CreateAclsRequest, CreateAclsResponse, DeleteAclsRequest, DeleteAclsResponse, DescribeAclsRequest, DescribeAclsResponse } from '../protocol/messages/index.js';
import type { DescribeAclsResource } from '../protocol/messages/describe-acls-response.js';
import { type AclBinding, type AclBindingFilter, AclOperation, CLUSTER_NAME, ResourceType, invalidBinding, invalidFilter } from '../security/acls.js';
import { aclKey } from '../security/acl-store.js';

const DISABLED = 'No Authorizer is configured on the broker (authorizer.class.name is empty)';

interface FilterFields {
  resourceTypeFilter: number;
  resourceNameFilter: string | null;
  patternTypeFilter: number;
  principalFilter: string | null;
  hostFilter: string | null;
  operation: number;
  permissionType: number;
}

function toFilter(f: FilterFields): AclBindingFilter {
  return { resourceType: f.resourceTypeFilter, name: f.resourceNameFilter, patternType: f.patternTypeFilter, principal: f.principalFilter, host: f.hostFilter, operation: f.operation, permission: f.permissionType };
}

/** The cluster check of the ACL APIs; the error code and message when refused. */
function refused(broker: BrokerContext, ctx: RequestContext, operation: number): { code: number; message: string } | null {
  if (!broker.authorizer) return { code: ErrorCode.SECURITY_DISABLED, message: DISABLED };
  if (broker.authorizer.authorize(ctx, operation, ResourceType.CLUSTER, CLUSTER_NAME)) return null;
  return { code: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, message: 'Cluster authorization failed.' };
}

function errorOf(err: unknown): { code: number; message: string } {
  if (err instanceof KafkaError) return { code: err.code, message: err.message };
  return { code: ErrorCode.UNKNOWN_SERVER_ERROR, message: (err as Error).message };
}

export function handleDescribeAcls(broker: BrokerContext, req: DescribeAclsRequest, ctx: RequestContext): DescribeAclsResponse {
  const refusal = refused(broker, ctx, AclOperation.DESCRIBE);
  if (refusal) return { throttleTimeMs: 0, errorCode: refusal.code, errorMessage: refusal.message, resources: [] };
  const filter = toFilter(req);
  const invalid = invalidFilter(filter);
  if (invalid) return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: invalid, resources: [] };
  const resources = new Map<string, DescribeAclsResource>();
  for (const { pattern, entry } of broker.authorizer!.acls.matching(filter)) {
    const key = aclKey(pattern);
    let resource = resources.get(key);
    if (!resource) resources.set(key, (resource = { resourceType: pattern.resourceType, resourceName: pattern.name, patternType: pattern.patternType, acls: [] }));
    resource.acls.push({ principal: entry.principal, host: entry.host, operation: entry.operation, permissionType: entry.permission });
  }
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, resources: [...resources.values()] };
}

export async function handleCreateAcls(broker: BrokerContext, req: CreateAclsRequest, ctx: RequestContext): Promise<CreateAclsResponse> {
  const refusal = refused(broker, ctx, AclOperation.ALTER);
  if (refusal) return { throttleTimeMs: 0, results: req.creations.map(() => ({ errorCode: refusal.code, errorMessage: refusal.message })) };
  const results: CreateAclsResponse['results'] = req.creations.map(() => ({ errorCode: ErrorCode.NONE, errorMessage: null }));
  const valid: { index: number; binding: AclBinding }[] = [];
  req.creations.forEach((c, index) => {
    const binding: AclBinding = {
      pattern: { resourceType: c.resourceType, patternType: c.resourcePatternType, name: c.resourceName },
      entry: { principal: c.principal, host: c.host, operation: c.operation, permission: c.permissionType },
    };
    const invalid = invalidBinding(binding);
    if (invalid) results[index] = { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: invalid };
    else valid.push({ index, binding });
  });
  try {
    await broker.authorizer!.acls.create(valid.map((v) => v.binding));
    if (valid.length > 0) broker.logger.info({ principal: `${ctx.principal.type}:${ctx.principal.name}`, created: valid.length }, 'ACLs created');
  } catch (err) {
    const { code, message } = errorOf(err);
    for (const { index } of valid) results[index] = { errorCode: code, errorMessage: message };
  }
  return { throttleTimeMs: 0, results };
}

export async function handleDeleteAcls(broker: BrokerContext, req: DeleteAclsRequest, ctx: RequestContext): Promise<DeleteAclsResponse> {
  const refusal = refused(broker, ctx, AclOperation.ALTER);
  if (refusal) return { throttleTimeMs: 0, filterResults: req.filters.map(() => ({ errorCode: refusal.code, errorMessage: refusal.message, matchingAcls: [] })) };
  const filters = req.filters.map(toFilter);
  const invalid = filters.map(invalidFilter);
  const usable = filters.filter((_, i) => invalid[i] === null);
  let removed: AclBinding[][];
  try {
    removed = await broker.authorizer!.acls.delete(usable);
  } catch (err) {
    const { code, message } = errorOf(err);
    return { throttleTimeMs: 0, filterResults: filters.map((_, i) => ({ errorCode: invalid[i] ? ErrorCode.INVALID_REQUEST : code, errorMessage: invalid[i] ?? message, matchingAcls: [] })) };
  }
  let next = 0;
  const filterResults = filters.map((_, i) => {
    if (invalid[i]) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: invalid[i], matchingAcls: [] };
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      matchingAcls: removed[next++]!.map(({ pattern, entry }) => ({
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        resourceType: pattern.resourceType,
        resourceName: pattern.name,
        patternType: pattern.patternType,
        principal: entry.principal,
        host: entry.host,
        operation: entry.operation,
        permissionType: entry.permission,
      })),
    };
  });
  const count = removed.reduce((n, r) => n + r.length, 0);
  if (count > 0) broker.logger.info({ principal: `${ctx.principal.type}:${ctx.principal.name}`, deleted: count }, 'ACLs deleted');
  return { throttleTimeMs: 0, filterResults };
}
