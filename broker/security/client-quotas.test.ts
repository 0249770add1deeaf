// Unit tests of the quota model: Kafka's precedence of the eight levels, the filters of
// DescribeClientQuotas, the validation of AlterClientQuotas, and the rate and throttle time of a
// quota sensor. The same behaviour over real clients is in broker/test/client-quotas.test.ts.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { MemoryMetadataStore } from '../metadata/memory-store.js';
import { ErrorCode } from '../protocol/errors.js';
import {
  ClientQuotaStore,
  MATCH_ANY,
  MATCH_DEFAULT,
  MATCH_EXACT,
  type QuotaEntity,
  type QuotaValues,
  entityPath,
  matchesFilter,
  parseEntityPath,
  resolveQuota,
  validateEntity,
  validateQuota,
} from './client-quotas.js';
import { QuotaRate } from './quota-rate.js';

const levels: [QuotaEntity, number][] = [
  [{ user: 'alice', clientId: 'app' }, 1],
  [{ user: 'alice', clientId: null }, 2],
  [{ user: 'alice' }, 3],
  [{ user: null, clientId: 'app' }, 4],
  [{ user: null, clientId: null }, 5],
  [{ user: null }, 6],
  [{ clientId: 'app' }, 7],
  [{ clientId: null }, 8],
];

describe('quota precedence', () => {
  it('takes the first of the eight levels that has the key, each level in turn', () => {
    for (let first = 0; first < levels.length; first++) {
      const quotas = new Map<string, QuotaValues>(levels.slice(first).map(([entity, n]) => [entityPath(entity), { producer_byte_rate: n }]));
      expect(resolveQuota(quotas, 'producer_byte_rate', 'alice', 'app')?.bound).toBe(first + 1);
    }
  });

  it('names the sensor by the actual user and client id for default levels, blank for a level without that type', () => {
    const at = (entity: QuotaEntity) => resolveQuota(new Map([[entityPath(entity), { consumer_byte_rate: 10 }]]), 'consumer_byte_rate', 'bob', 'cli');
    expect(at({ user: null, clientId: null })).toEqual({ bound: 10, user: 'bob', clientId: 'cli' });
    expect(at({ user: null })).toEqual({ bound: 10, user: 'bob', clientId: '' });
    expect(at({ clientId: null })).toEqual({ bound: 10, user: '', clientId: 'cli' });
    expect(at({ user: 'alice' })).toBeUndefined();
  });

  it('resolves each quota key on its own: a client-id quota beats a user default only for the keys the default lacks', () => {
    const quotas = new Map<string, QuotaValues>([
      [entityPath({ user: null }), { producer_byte_rate: 100 }],
      [entityPath({ clientId: 'app' }), { producer_byte_rate: 200, consumer_byte_rate: 300 }],
      [entityPath({ user: 'alice', clientId: 'app' }), { request_percentage: 50 }],
    ]);
    expect(resolveQuota(quotas, 'producer_byte_rate', 'alice', 'app')?.bound).toBe(100);
    expect(resolveQuota(quotas, 'consumer_byte_rate', 'alice', 'app')?.bound).toBe(300);
    expect(resolveQuota(quotas, 'request_percentage', 'alice', 'app')?.bound).toBe(50);
    expect(resolveQuota(quotas, 'request_percentage', 'alice', 'other')).toBeUndefined();
  });

  it('keeps names with slashes and the literal "<default>" apart from the default', () => {
    const odd: QuotaEntity = { user: 'CN=a/b,O=x', clientId: '<default>' };
    expect(parseEntityPath(entityPath(odd))).toEqual(odd);
    expect(parseEntityPath(entityPath({ user: null, clientId: null }))).toEqual({ user: null, clientId: null });
    expect(entityPath(odd)).not.toBe(entityPath({ user: 'CN=a/b,O=x', clientId: null }));
  });
});

describe('DescribeClientQuotas filters', () => {
  const alice: QuotaEntity = { user: 'alice' };
  const aliceApp: QuotaEntity = { user: 'alice', clientId: 'app' };
  const userDefault: QuotaEntity = { user: null };
  it('match exact, default and any, strict or not', () => {
    const exact = [{ entityType: 'user', matchType: MATCH_EXACT, match: 'alice' }];
    expect(matchesFilter(alice, exact, true)).toBe(true);
    expect(matchesFilter(aliceApp, exact, true)).toBe(false);
    expect(matchesFilter(aliceApp, exact, false)).toBe(true);
    expect(matchesFilter(userDefault, exact, false)).toBe(false);
    const byDefault = [{ entityType: 'user', matchType: MATCH_DEFAULT, match: null }];
    expect(matchesFilter(userDefault, byDefault, true)).toBe(true);
    expect(matchesFilter(alice, byDefault, true)).toBe(false);
    const any = [{ entityType: 'user', matchType: MATCH_ANY, match: null }];
    expect([alice, aliceApp, userDefault, { clientId: 'app' }].map((e) => matchesFilter(e, any, true))).toEqual([true, false, true, false]);
    expect(matchesFilter({ clientId: 'app' }, [], false)).toBe(true);
  });
});

describe('AlterClientQuotas validation', () => {
  it('refuses unknown keys, values <= 0, fractional byte rates, unenforced and unknown entity types', () => {
    expect(validateQuota('producer_byte_rate', 1024, false)).toBeNull();
    expect(validateQuota('request_percentage', 12.5, false)).toBeNull();
    expect(validateQuota('producer_byte_rate', 0, true)).toBeNull();
    expect(validateQuota('bogus_rate', 1, false)).toEqual({ code: ErrorCode.INVALID_REQUEST, message: 'Invalid configuration key bogus_rate' });
    expect(validateQuota('consumer_byte_rate', -5, false)?.message).toBe('Quota consumer_byte_rate must be greater than 0');
    expect(validateQuota('producer_byte_rate', 1.5, false)?.code).toBe(ErrorCode.INVALID_REQUEST);
    expect(validateQuota('controller_mutation_rate', 10, false)?.message).toContain('not enforced');
    expect(validateEntity([{ entityType: 'ip', entityName: '10.0.0.1' }])).toMatchObject({ code: ErrorCode.INVALID_REQUEST });
    expect(validateEntity([{ entityType: 'group', entityName: 'g' }])).toMatchObject({ code: ErrorCode.INVALID_REQUEST });
    expect(validateEntity([])).toMatchObject({ code: ErrorCode.INVALID_REQUEST });
    expect(validateEntity([{ entityType: 'user', entityName: '' }])).toMatchObject({ message: 'Empty user not supported' });
    expect(validateEntity([{ entityType: 'user', entityName: 'a' }, { entityType: 'user', entityName: 'b' }])).toMatchObject({ code: ErrorCode.INVALID_REQUEST });
    expect(validateEntity([{ entityType: 'client-id', entityName: null }, { entityType: 'user', entityName: 'a' }])).toEqual({ clientId: null, user: 'a' });
  });
});

describe('ClientQuotaStore', () => {
  it('sets and removes keys, deletes an emptied entity, and another store on the same metadata sees it', async () => {
    const metadata = new MemoryMetadataStore();
    const logger = pino({ level: 'silent' });
    const a = new ClientQuotaStore(metadata, logger);
    const b = new ClientQuotaStore(metadata, logger);
    await a.load();
    await b.load();
    let changes = 0;
    b.onChange(() => changes++);
    await a.alter({ user: 'alice' }, [{ key: 'producer_byte_rate', value: 1024, remove: false }, { key: 'consumer_byte_rate', value: 2048, remove: false }]);
    await a.alter({ user: 'alice' }, [{ key: 'producer_byte_rate', value: 0, remove: true }]);
    expect(a.quotas.get('users/alice')).toEqual({ consumer_byte_rate: 2048 });
    await expect.poll(() => b.quotas.get('users/alice')).toEqual({ consumer_byte_rate: 2048 });
    await a.alter({ user: 'alice' }, [{ key: 'consumer_byte_rate', value: 0, remove: true }]);
    expect(await metadata.get('security/quotas/users/alice')).toBeUndefined();
    await expect.poll(() => b.quotas.has('users/alice')).toBe(false);
    expect(changes).toBeGreaterThanOrEqual(3);
    a.stop();
    b.stop();
  });
});

describe('QuotaRate', () => {
  it('spreads a first burst over windows - 1 windows and throttles by how far the rate is over the bound', () => {
    const rate = new QuotaRate(11, 1000);
    rate.record(10_240, 0);
    // 10 KiB over the minimum span of 10 s: exactly 1 KiB/s, within a 1024 B/s quota.
    expect(rate.rate(0)).toBe(1024);
    expect(rate.throttleMs(1024, 0)).toBe(0);
    rate.record(10_240, 0);
    // 20 KiB over 10 s is twice the bound: (2048 - 1024) / 1024 × 10 s.
    expect(rate.throttleMs(1024, 0)).toBe(10_000);
    // Taking the second burst back (a throttled fetch) brings the rate back within the bound.
    rate.record(-10_240, 0);
    expect(rate.throttleMs(1024, 0)).toBe(0);
  });

  it('forgets windows older than the whole span', () => {
    const rate = new QuotaRate(3, 1000);
    rate.record(3000, 0);
    expect(rate.rate(0)).toBe(1500);
    rate.record(0, 1000);
    rate.record(0, 2000);
    expect(rate.rate(2500)).toBeCloseTo(3000 / 2.5);
    // At 3 s the first window (begun at 0) is past the span of 3 windows.
    expect(rate.rate(3000)).toBe(0);
  });
});
