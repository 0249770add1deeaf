// A KafkaUser's ACL rules as Kafka's ACL bindings (one per operation, with the protocol's codes),
// and the difference between the bindings a broker holds for the principal and those the spec
// wants: what to create and what to delete so that they become equal.
import type { AclRule } from '../crds/types.js';

/** Kafka's ResourceType codes. */
export const ResourceType = { ANY: 1, TOPIC: 2, GROUP: 3, CLUSTER: 4, TRANSACTIONAL_ID: 5 } as const;
/** Kafka's PatternType codes. */
export const PatternType = { ANY: 1, LITERAL: 3, PREFIXED: 4 } as const;
/** Kafka's AclPermissionType codes. */
export const PermissionType = { ANY: 1, DENY: 2, ALLOW: 3 } as const;
/** Kafka's AclOperation codes, by the spec's names. */
export const Operation = {
  Any: 1,
  All: 2,
  Read: 3,
  Write: 4,
  Create: 5,
  Delete: 6,
  Alter: 7,
  Describe: 8,
  ClusterAction: 9,
  DescribeConfigs: 10,
  AlterConfigs: 11,
  IdempotentWrite: 12,
} as const;

const RESOURCE_TYPES: Record<AclRule['resource']['type'], number> = { topic: ResourceType.TOPIC, group: ResourceType.GROUP, cluster: ResourceType.CLUSTER, transactionalId: ResourceType.TRANSACTIONAL_ID };
/** The one name of the cluster resource in Kafka. */
export const CLUSTER_RESOURCE_NAME = 'kafka-cluster';

/** One ACL as the protocol carries it (CreateAcls creation, DescribeAcls / DeleteAcls match). */
export interface AclBinding {
  resourceType: number;
  resourceName: string;
  patternType: number;
  principal: string;
  host: string;
  operation: number;
  permissionType: number;
}

/** The bindings the spec's rules give the principal: one per rule and operation, no repeats. */
export function desiredAcls(principal: string, rules: AclRule[]): AclBinding[] {
  const bindings = new Map<string, AclBinding>();
  for (const rule of rules) {
    for (const op of rule.operations) {
      const binding: AclBinding = {
        resourceType: RESOURCE_TYPES[rule.resource.type],
        resourceName: rule.resource.type === 'cluster' ? CLUSTER_RESOURCE_NAME : rule.resource.name!,
        patternType: rule.resource.patternType === 'prefix' ? PatternType.PREFIXED : PatternType.LITERAL,
        principal,
        host: rule.host ?? '*',
        operation: Operation[op as keyof typeof Operation],
        permissionType: (rule.type ?? 'allow') === 'deny' ? PermissionType.DENY : PermissionType.ALLOW,
      };
      bindings.set(aclKey(binding), binding);
    }
  }
  return [...bindings.values()];
}

export const aclKey = (b: AclBinding) => JSON.stringify([b.resourceType, b.resourceName, b.patternType, b.principal, b.host, b.operation, b.permissionType]);

/** What to create and what to delete so that `current` becomes `desired`. */
export function diffAcls(current: AclBinding[], desired: AclBinding[]): { create: AclBinding[]; delete: AclBinding[] } {
  const have = new Set(current.map(aclKey));
  const want = new Set(desired.map(aclKey));
  return { create: desired.filter((b) => !have.has(aclKey(b))), delete: current.filter((b) => !want.has(aclKey(b))) };
}

/** A binding as a person reads it, e.g. `ALLOW Read on topic orders (literal) from *`. */
export function describeAcl(b: AclBinding): string {
  const name = (codes: Record<string, number>, code: number) => Object.entries(codes).find(([, c]) => c === code)?.[0] ?? String(code);
  const resource = Object.entries(RESOURCE_TYPES).find(([, c]) => c === b.resourceType)?.[0] ?? String(b.resourceType);
  const pattern = b.patternType === PatternType.PREFIXED ? 'prefix' : 'literal';
  return `${name(PermissionType, b.permissionType)} ${name(Operation, b.operation)} on ${resource} ${b.resourceName} (${pattern}) from ${b.host}`;
}
