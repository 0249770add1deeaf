// The authorizer's decisions as a property (fast-check): for any set of ACLs (created, then some
// deleted by a filter) in a real in-memory metadata store, any super users and either
// allow.everyone.if.no.acl.found, every check answers what a straightforward scan of all bindings
// with Kafka's rules answers, both on the broker that wrote the ACLs and on one that only watched them.
import fc from 'fast-check';
import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BrokerConfig } from '../config.js';
import type { RequestContext } from '../context.js';
import { MemoryMetadataStore } from '../metadata/memory-store.js';
import { AclStore } from './acl-store.js';
import { type AclBinding, type AclBindingFilter, AclOperation as Op, AclPermission, PatternType, ResourceType } from './acls.js';
import { Authorizer } from './authorizer.js';
import { userPrincipal } from './principal.js';

const silent = pino({ level: 'silent' });
const NAMES = ['a', 'ab', 'abc', 'b', '*'];
const REQUESTED = ['a', 'ab', 'abc', 'abd', 'b', 'x'];
const OPERATIONS = Object.values(Op).filter((op) => op >= Op.ALL);

const bindingArb: fc.Arbitrary<AclBinding> = fc.record({
  pattern: fc.record({
    resourceType: fc.constantFrom(ResourceType.TOPIC, ResourceType.GROUP),
    patternType: fc.constantFrom(PatternType.LITERAL, PatternType.PREFIXED),
    name: fc.constantFrom(...NAMES),
  }),
  entry: fc.record({
    principal: fc.constantFrom('User:alice', 'User:bob', 'User:*'),
    host: fc.constantFrom('*', '10.0.0.1', '10.0.0.2'),
    operation: fc.constantFrom(...OPERATIONS),
    permission: fc.constantFrom(AclPermission.ALLOW, AclPermission.DENY),
  }),
});

const filterArb: fc.Arbitrary<AclBindingFilter> = fc.record({
  resourceType: fc.constantFrom(ResourceType.ANY, ResourceType.TOPIC, ResourceType.GROUP),
  name: fc.option(fc.constantFrom(...REQUESTED, '*'), { nil: null }),
  patternType: fc.constantFrom(PatternType.ANY, PatternType.MATCH, PatternType.LITERAL, PatternType.PREFIXED),
  principal: fc.option(fc.constantFrom('User:alice', 'User:*'), { nil: null }),
  host: fc.constant(null),
  operation: fc.constantFrom(Op.ANY, Op.READ, Op.ALL),
  permission: fc.constantFrom(AclPermission.ANY, AclPermission.ALLOW, AclPermission.DENY),
});

const checkArb: fc.Arbitrary<Check> = fc.record({
  principal: fc.constantFrom('alice', 'bob', 'carol'),
  host: fc.constantFrom('10.0.0.1', '10.0.0.2', '::ffff:10.0.0.1'),
  operation: fc.constantFrom(...OPERATIONS.filter((op) => op !== Op.ALL)),
  resourceType: fc.constantFrom(ResourceType.TOPIC, ResourceType.GROUP),
  name: fc.constantFrom(...REQUESTED),
});

interface Check {
  principal: string;
  host: string;
  operation: number;
  resourceType: number;
  name: string;
}

// ---- The reference model: a scan of every binding, written from Kafka's documented rules. ----

function refPatternSelected(f: AclBindingFilter, b: AclBinding): boolean {
  const p = b.pattern;
  if (f.resourceType !== ResourceType.ANY && f.resourceType !== p.resourceType) return false;
  if (f.name === null) return f.patternType === PatternType.ANY || f.patternType === PatternType.MATCH || f.patternType === p.patternType;
  switch (f.patternType) {
    case PatternType.ANY:
      return f.name === p.name;
    case PatternType.MATCH:
      return p.patternType === PatternType.LITERAL ? p.name === f.name || p.name === '*' : f.name.startsWith(p.name);
    default:
      return f.patternType === p.patternType && f.name === p.name;
  }
}

function refSelected(f: AclBindingFilter, b: AclBinding): boolean {
  const e = b.entry;
  return (
    refPatternSelected(f, b) &&
    (f.principal === null || f.principal === e.principal) &&
    (f.operation === Op.ANY || f.operation === e.operation) &&
    (f.permission === AclPermission.ANY || f.permission === e.permission)
  );
}

const IMPLIED: Record<number, number[]> = { [Op.DESCRIBE]: [Op.READ, Op.WRITE, Op.DELETE, Op.ALTER], [Op.DESCRIBE_CONFIGS]: [Op.ALTER_CONFIGS] };

function refAuthorize(bindings: AclBinding[], superUsers: string[], allowEveryone: boolean, c: Check): boolean {
  const principal = `User:${c.principal}`;
  const host = c.host.replace('::ffff:', '');
  if (superUsers.includes(principal)) return true;
  const applying = bindings.filter(
    (b) => b.pattern.resourceType === c.resourceType && (b.pattern.patternType === PatternType.LITERAL ? b.pattern.name === c.name || b.pattern.name === '*' : c.name.startsWith(b.pattern.name)),
  );
  if (applying.length === 0) return allowEveryone;
  const mine = applying.filter((b) => (b.entry.principal === principal || b.entry.principal === 'User:*') && (b.entry.host === '*' || b.entry.host === host));
  if (mine.some((b) => b.entry.permission === AclPermission.DENY && (b.entry.operation === Op.ALL || b.entry.operation === c.operation))) return false;
  return mine.some((b) => b.entry.permission === AclPermission.ALLOW && (b.entry.operation === Op.ALL || b.entry.operation === c.operation || (IMPLIED[c.operation] ?? []).includes(b.entry.operation)));
}

function dedupe(bindings: AclBinding[]): AclBinding[] {
  const seen = new Map<string, AclBinding>();
  for (const b of bindings) seen.set(JSON.stringify(b), b);
  return [...seen.values()];
}

function authorizer(acls: AclStore, superUsers: string[], allowEveryone: boolean): Authorizer {
  const config = new BrokerConfig({ 'super.users': superUsers.join(';'), 'allow.everyone.if.no.acl.found': String(allowEveryone), 'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer' });
  return new Authorizer(acls, config, silent, new Registry());
}

function context(principal: string, host: string): RequestContext {
  return { apiVersion: 0, clientId: null, clientHost: host, principal: userPrincipal(principal), listenerName: 'PLAINTEXT' };
}

describe('authorizer', () => {
  it('decides as a scan of every ACL with Kafka rules, on the writing broker and on a watching one', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(bindingArb, { maxLength: 25 }),
        fc.option(filterArb, { nil: undefined }),
        fc.subarray(['User:alice', 'User:carol']),
        fc.boolean(),
        fc.array(checkArb, { minLength: 1, maxLength: 30 }),
        async (created, deleteFilter, superUsers, allowEveryone, checks) => {
          const store = new MemoryMetadataStore();
          const writer = new AclStore(store, silent);
          const watcher = new AclStore(store, silent);
          await writer.load();
          await watcher.load();
          const writing = authorizer(writer, superUsers, allowEveryone);
          const watching = authorizer(watcher, superUsers, allowEveryone);
          // A decision cached before a change must not outlive it.
          for (const c of checks) writing.authorize(context(c.principal, c.host), c.operation, c.resourceType, c.name, false);
          await writer.create(created);
          let bindings = dedupe(created);
          if (deleteFilter) {
            const [removed] = await writer.delete([deleteFilter]);
            const expected = bindings.filter((b) => refSelected(deleteFilter, b));
            expect(dedupe(removed!).length).toBe(expected.length);
            bindings = bindings.filter((b) => !refSelected(deleteFilter, b));
          }
          expect(writer.matching({ resourceType: ResourceType.ANY, name: null, patternType: PatternType.ANY, principal: null, host: null, operation: Op.ANY, permission: AclPermission.ANY }).length).toBe(bindings.length);
          for (const c of checks) {
            const expected = refAuthorize(bindings, superUsers, allowEveryone, c);
            const ctx = context(c.principal, c.host);
            expect(writing.authorize(ctx, c.operation, c.resourceType, c.name, false), JSON.stringify(c)).toBe(expected);
            expect(watching.authorize(ctx, c.operation, c.resourceType, c.name, false), JSON.stringify(c)).toBe(expected);
          }
          writer.stop();
          watcher.stop();
          await store.close();
        },
      ),
      { numRuns: 300 },
    );
  });

  it('grants WRITE on some topic (idempotent producers) only through an ALLOW no DENY of the principal covers', async () => {
    const store = new MemoryMetadataStore();
    const acls = new AclStore(store, silent);
    await acls.load();
    const az = authorizer(acls, [], false);
    const alice = context('alice', '10.0.0.1');
    const write = (name: string, patternType: number, permission: number): AclBinding => ({
      pattern: { resourceType: ResourceType.TOPIC, patternType, name },
      entry: { principal: 'User:alice', host: '*', operation: Op.WRITE, permission },
    });
    expect(az.authorizeAny(alice, Op.WRITE, ResourceType.TOPIC)).toBe(false);
    await acls.create([write('orders', PatternType.LITERAL, AclPermission.ALLOW)]);
    expect(az.authorizeAny(alice, Op.WRITE, ResourceType.TOPIC)).toBe(true);
    expect(az.authorizeAny(context('bob', '10.0.0.1'), Op.WRITE, ResourceType.TOPIC)).toBe(false);
    await acls.create([write('ord', PatternType.PREFIXED, AclPermission.DENY)]);
    expect(az.authorizeAny(alice, Op.WRITE, ResourceType.TOPIC)).toBe(false);
    await acls.create([write('payments-', PatternType.PREFIXED, AclPermission.ALLOW)]);
    expect(az.authorizeAny(alice, Op.WRITE, ResourceType.TOPIC)).toBe(true);
    await acls.create([write('*', PatternType.LITERAL, AclPermission.DENY)]);
    expect(az.authorizeAny(alice, Op.WRITE, ResourceType.TOPIC)).toBe(false);
    acls.stop();
  });

  it('loses no ACL when two brokers create ACLs on one resource at once (compare-and-set)', async () => {
    const store = new MemoryMetadataStore();
    const brokers = [new AclStore(store, silent), new AclStore(store, silent)];
    await Promise.all(brokers.map((b) => b.load()));
    const binding = (i: number): AclBinding => ({
      pattern: { resourceType: ResourceType.TOPIC, patternType: PatternType.LITERAL, name: 'shared' },
      entry: { principal: `User:u${i}`, host: '*', operation: Op.READ, permission: AclPermission.ALLOW },
    });
    await Promise.all(Array.from({ length: 20 }, (_, i) => brokers[i % 2]!.create([binding(i)])));
    const all: AclBindingFilter = { resourceType: ResourceType.ANY, name: null, patternType: PatternType.ANY, principal: null, host: null, operation: Op.ANY, permission: AclPermission.ANY };
    for (const b of brokers) expect(b.matching(all).map((m) => m.entry.principal).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `User:u${i}`).sort());
    brokers.forEach((b) => b.stop());
  });

  it('deletes ACLs that this broker has not seen yet (another broker just created them)', async () => {
    const store = new MemoryMetadataStore();
    const creator = new AclStore(store, silent);
    const deleter = new AclStore(store, silent); // not loaded: it has seen nothing
    await creator.load();
    await creator.create([
      { pattern: { resourceType: ResourceType.TOPIC, patternType: PatternType.LITERAL, name: 'orders' }, entry: { principal: 'User:alice', host: '*', operation: Op.READ, permission: AclPermission.ALLOW } },
    ]);
    const [removed] = await deleter.delete([{ resourceType: ResourceType.TOPIC, name: 'orders', patternType: PatternType.LITERAL, principal: null, host: null, operation: Op.ANY, permission: AclPermission.ANY }]);
    expect(removed!.map((b) => b.entry.principal)).toEqual(['User:alice']);
    expect(await store.list('security/acls/')).toEqual(new Map());
    creator.stop();
  });
});
