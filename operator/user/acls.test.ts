import { describe, expect, it } from 'vitest';
import { type AclBinding, Operation, PatternType, PermissionType, ResourceType, describeAcl, desiredAcls, diffAcls } from './acls.js';

const P = 'User:alice';

describe('desiredAcls', () => {
  it('gives one binding per rule and operation with Kafka codes and defaults', () => {
    const acls = desiredAcls(P, [
      { resource: { type: 'topic', name: 'orders', patternType: 'literal' }, operations: ['Read', 'Describe'], host: '*', type: 'allow' },
      { resource: { type: 'group', name: 'billing-', patternType: 'prefix' }, operations: ['Read'], host: '10.0.0.1', type: 'deny' },
      { resource: { type: 'cluster', patternType: 'literal' }, operations: ['IdempotentWrite'], host: '*', type: 'allow' },
      { resource: { type: 'transactionalId', name: 'tx', patternType: 'literal' }, operations: ['Write'], host: '*', type: 'allow' },
    ]);
    expect(acls).toEqual([
      { resourceType: ResourceType.TOPIC, resourceName: 'orders', patternType: PatternType.LITERAL, principal: P, host: '*', operation: Operation.Read, permissionType: PermissionType.ALLOW },
      { resourceType: ResourceType.TOPIC, resourceName: 'orders', patternType: PatternType.LITERAL, principal: P, host: '*', operation: Operation.Describe, permissionType: PermissionType.ALLOW },
      { resourceType: ResourceType.GROUP, resourceName: 'billing-', patternType: PatternType.PREFIXED, principal: P, host: '10.0.0.1', operation: Operation.Read, permissionType: PermissionType.DENY },
      { resourceType: ResourceType.CLUSTER, resourceName: 'kafka-cluster', patternType: PatternType.LITERAL, principal: P, host: '*', operation: Operation.IdempotentWrite, permissionType: PermissionType.ALLOW },
      { resourceType: ResourceType.TRANSACTIONAL_ID, resourceName: 'tx', patternType: PatternType.LITERAL, principal: P, host: '*', operation: Operation.Write, permissionType: PermissionType.ALLOW },
    ]);
    // Kafka's codes, as the protocol numbers them.
    expect([Operation.All, Operation.Read, Operation.Write, Operation.Create, Operation.Delete, Operation.Alter, Operation.Describe, Operation.ClusterAction, Operation.DescribeConfigs, Operation.AlterConfigs, Operation.IdempotentWrite]).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });

  it('folds rules that repeat a binding into one', () => {
    const rule = { resource: { type: 'topic' as const, name: 'a', patternType: 'literal' as const }, operations: ['Write' as const], host: '*', type: 'allow' as const };
    expect(desiredAcls(P, [rule, { ...rule, operations: ['Write', 'Read'] }])).toHaveLength(2);
  });
});

describe('diffAcls', () => {
  const binding = (resourceName: string, operation: number, permissionType: number = PermissionType.ALLOW): AclBinding => ({ resourceType: ResourceType.TOPIC, resourceName, patternType: PatternType.LITERAL, principal: P, host: '*', operation, permissionType });

  it('creates what is missing and deletes what is extra, leaving what matches', () => {
    const current = [binding('a', Operation.Read), binding('b', Operation.Write), binding('c', Operation.Read)];
    const desired = [binding('a', Operation.Read), binding('c', Operation.Read, PermissionType.DENY), binding('d', Operation.All)];
    expect(diffAcls(current, desired)).toEqual({ create: [binding('c', Operation.Read, PermissionType.DENY), binding('d', Operation.All)], delete: [binding('b', Operation.Write), binding('c', Operation.Read)] });
  });

  it('is empty when the broker already holds the spec, and deletes everything for an empty spec', () => {
    const acls = [binding('a', Operation.Read), binding('b', Operation.Write)];
    expect(diffAcls(acls, [...acls].reverse())).toEqual({ create: [], delete: [] });
    expect(diffAcls(acls, [])).toEqual({ create: [], delete: acls });
  });

  it('tells a prefixed rule from a literal one and a host from another', () => {
    const literal = binding('orders', Operation.Read);
    expect(diffAcls([literal], [{ ...literal, patternType: PatternType.PREFIXED }]).create).toHaveLength(1);
    expect(diffAcls([literal], [{ ...literal, host: '10.1.1.1' }]).delete).toEqual([literal]);
  });

  it('describes a binding for Events', () => {
    expect(describeAcl({ ...binding('orders-', Operation.Write, PermissionType.DENY), patternType: PatternType.PREFIXED })).toBe('DENY Write on topic orders- (prefix) from *');
  });
});
