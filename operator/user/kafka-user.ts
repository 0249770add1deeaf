// A KafkaUser's exchanges with the brokers, through the Kafka admin protocol: its SCRAM-SHA-512
// credential (Describe/AlterUserScramCredentials), its ACLs (Describe/Create/DeleteAcls) and its
// client quotas (Describe/AlterClientQuotas), each made equal to what the spec says or removed.
// A broker's refusal becomes a KafkaRefusal carrying Kafka's error text.
import type { KafkaConnection } from '../../broker/protocol/client.js';
import { ErrorCode } from '../../broker/protocol/errors.js';
import {
  alterClientQuotasApi,
  alterUserScramCredentialsApi,
  createAclsApi,
  deleteAclsApi,
  describeAclsApi,
  describeClientQuotasApi,
  describeUserScramCredentialsApi,
  type ApiSpec,
} from '../../broker/protocol/messages/index.js';
import type { DeleteAclsFilter } from '../../broker/protocol/messages/delete-acls-request.js';
import { type AclBinding, Operation, PatternType, PermissionType, ResourceType, diffAcls } from './acls.js';
import { quotaOps } from './quotas.js';
import { SCRAM_SHA_512, scramCredential } from './scram.js';

const ACL_VERSION = 3;
const QUOTA_VERSION = 1;
const SCRAM_VERSION = 0;
/** DescribeClientQuotas match type: exactly the named entity. */
const MATCH_EXACT = 0;
const USER_ENTITY = 'user';
/** Kafka's answer to the ACL APIs on a cluster without an authorizer. */
const SECURITY_DISABLED = 54;

/** A broker refused a request: what was asked, and Kafka's error. */
export class KafkaRefusal extends Error {
  override name = 'KafkaRefusal';
  constructor(
    readonly what: string,
    readonly code: number,
    kafkaMessage: string | null,
  ) {
    const name = Object.entries(ErrorCode).find(([, c]) => c === code)?.[0] ?? `error ${code}`;
    super(`${what}: ${kafkaMessage ? `${kafkaMessage} (${name})` : name}`);
  }
}

/** A request that got no answer: the broker closed the connection (one that does not serve the API does) or failed. */
export class KafkaExchangeFailed extends Error {
  override name = 'KafkaExchangeFailed';
}

async function ask<Req, Res>(conn: KafkaConnection, api: ApiSpec<Req, Res>, version: number, body: Req): Promise<Res> {
  try {
    return await conn.send(api, version, body);
  } catch (err) {
    throw new KafkaExchangeFailed(`${api.name} v${version} got no answer (${(err as Error).message}): the broker may not serve it`);
  }
}

function check(what: string, code: number, message: string | null): void {
  if (code !== ErrorCode.NONE) throw new KafkaRefusal(what, code, message);
}

/** Whether the broker holds a SCRAM-SHA-512 credential for the user. */
export async function hasScramCredential(conn: KafkaConnection, user: string): Promise<boolean> {
  const res = await ask(conn, describeUserScramCredentialsApi, SCRAM_VERSION, { users: [{ name: user }] });
  check(`describing the SCRAM credentials of ${user}`, res.errorCode, res.errorMessage);
  const result = res.results.find((r) => r.user === user);
  if (!result || result.errorCode === ErrorCode.RESOURCE_NOT_FOUND) return false;
  check(`describing the SCRAM credentials of ${user}`, result.errorCode, result.errorMessage);
  return result.credentialInfos.some((c) => c.mechanism === SCRAM_SHA_512);
}

/** Sets the user's SCRAM-SHA-512 credential from the password (salted and hashed here). */
export async function setScramCredential(conn: KafkaConnection, user: string, password: string): Promise<void> {
  const credential = scramCredential(password);
  const res = await ask(conn, alterUserScramCredentialsApi, SCRAM_VERSION, { deletions: [], upsertions: [{ name: user, mechanism: SCRAM_SHA_512, ...credential }] });
  for (const r of res.results) check(`setting the SCRAM-SHA-512 credential of ${user}`, r.errorCode, r.errorMessage);
}

/** Removes the user's SCRAM-SHA-512 credential; one that does not exist is no error. */
export async function deleteScramCredential(conn: KafkaConnection, user: string): Promise<void> {
  const res = await ask(conn, alterUserScramCredentialsApi, SCRAM_VERSION, { deletions: [{ name: user, mechanism: SCRAM_SHA_512 }], upsertions: [] });
  for (const r of res.results) if (r.errorCode !== ErrorCode.RESOURCE_NOT_FOUND) check(`deleting the SCRAM-SHA-512 credential of ${user}`, r.errorCode, r.errorMessage);
}

/** Every ACL binding of the principal. */
export async function describeAcls(conn: KafkaConnection, principal: string): Promise<AclBinding[]> {
  const res = await ask(conn, describeAclsApi, ACL_VERSION, {
    resourceTypeFilter: ResourceType.ANY,
    resourceNameFilter: null,
    patternTypeFilter: PatternType.ANY,
    principalFilter: principal,
    hostFilter: null,
    operation: Operation.Any,
    permissionType: PermissionType.ANY,
  });
  check(`describing the ACLs of ${principal}`, res.errorCode, res.errorMessage);
  return res.resources.flatMap((r) => r.acls.map((a) => ({ resourceType: r.resourceType, resourceName: r.resourceName, patternType: r.patternType, principal: a.principal, host: a.host, operation: a.operation, permissionType: a.permissionType })));
}

/** Makes the principal's ACLs equal `desired`: creates the missing, deletes the extra. */
export async function syncAcls(conn: KafkaConnection, principal: string, desired: AclBinding[]): Promise<{ created: AclBinding[]; deleted: AclBinding[] }> {
  // A user with no ACLs is at home on a cluster without an authorizer: there is nothing to keep equal.
  const current = await describeAcls(conn, principal).catch((err: unknown) => {
    if (desired.length === 0 && err instanceof KafkaRefusal && err.code === SECURITY_DISABLED) return [];
    throw err;
  });
  const diff = diffAcls(current, desired);
  if (diff.create.length > 0) {
    const res = await ask(conn, createAclsApi, ACL_VERSION, { creations: diff.create.map((b) => ({ ...b, resourcePatternType: b.patternType })) });
    for (const r of res.results) check(`creating ACLs of ${principal}`, r.errorCode, r.errorMessage);
  }
  // Each filter matches exactly one binding: every field is given.
  if (diff.delete.length > 0) await deleteAclFilters(conn, principal, diff.delete.map((b) => ({ resourceTypeFilter: b.resourceType, resourceNameFilter: b.resourceName, patternTypeFilter: b.patternType, principalFilter: b.principal, hostFilter: b.host, operation: b.operation, permissionType: b.permissionType })));
  return { created: diff.create, deleted: diff.delete };
}

/** Deletes every ACL of the principal. */
export async function deleteAcls(conn: KafkaConnection, principal: string): Promise<void> {
  const everything = { resourceTypeFilter: ResourceType.ANY, resourceNameFilter: null, patternTypeFilter: PatternType.ANY, principalFilter: principal, hostFilter: null, operation: Operation.Any, permissionType: PermissionType.ANY };
  await deleteAclFilters(conn, principal, [everything]).catch((err: unknown) => {
    // Without an authorizer there are no ACLs to delete.
    if (!(err instanceof KafkaRefusal && err.code === SECURITY_DISABLED)) throw err;
  });
}

async function deleteAclFilters(conn: KafkaConnection, principal: string, filters: DeleteAclsFilter[]): Promise<void> {
  const res = await ask(conn, deleteAclsApi, ACL_VERSION, { filters });
  for (const r of res.filterResults) {
    check(`deleting ACLs of ${principal}`, r.errorCode, r.errorMessage);
    for (const m of r.matchingAcls) check(`deleting ACLs of ${principal}`, m.errorCode, m.errorMessage);
  }
}

/** The quota values set on the user entity itself (not user+client-id ones, not defaults). */
export async function describeUserQuotas(conn: KafkaConnection, user: string): Promise<Map<string, number>> {
  const res = await ask(conn, describeClientQuotasApi, QUOTA_VERSION, { components: [{ entityType: USER_ENTITY, matchType: MATCH_EXACT, match: user }], strict: true });
  check(`describing the quotas of user ${user}`, res.errorCode, res.errorMessage);
  const entry = (res.entries ?? []).find((e) => e.entity.length === 1 && e.entity[0]!.entityType === USER_ENTITY && e.entity[0]!.entityName === user);
  return new Map((entry?.values ?? []).map((v) => [v.key, v.value]));
}

/** Makes the user's quotas equal `desired`; returns the keys changed. */
export async function syncQuotas(conn: KafkaConnection, user: string, desired: Map<string, number>): Promise<string[]> {
  const ops = quotaOps(await describeUserQuotas(conn, user), desired);
  await alterQuotas(conn, user, ops);
  return ops.map((o) => o.key);
}

/** Removes every quota of the user entity. */
export async function deleteQuotas(conn: KafkaConnection, user: string): Promise<void> {
  const current = await describeUserQuotas(conn, user);
  await alterQuotas(conn, user, [...current.keys()].map((key) => ({ key, value: 0, remove: true })));
}

async function alterQuotas(conn: KafkaConnection, user: string, ops: Array<{ key: string; value: number; remove: boolean }>): Promise<void> {
  if (ops.length === 0) return;
  const res = await ask(conn, alterClientQuotasApi, QUOTA_VERSION, { entries: [{ entity: [{ entityType: USER_ENTITY, entityName: user }], ops }], validateOnly: false });
  for (const e of res.entries) check(`setting the quotas of user ${user}`, e.errorCode, e.errorMessage);
}
