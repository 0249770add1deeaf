// SCRAM credentials in a metadata store as two brokers see them (each with its own watch), and
// the --add-scram syntax. The broker-level behaviour is in broker/test/sasl.test.ts.
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryMetadataStore } from '../metadata/memory-store.js';
import { eventuallyPasses } from '../test/eventually.js';
import { credentialFromPassword, passwordMatches } from './sasl/scram.js';
import { ScramCredentials } from './scram-credentials.js';
import { parseAddScram, seedScramCredential } from './scram-seed.js';

const logger = pino({ level: 'silent' });
const stops: (() => void)[] = [];
afterEach(() => stops.splice(0).forEach((stop) => stop()));

async function credentials(store: MemoryMetadataStore): Promise<ScramCredentials> {
  const c = new ScramCredentials(store, logger);
  await c.load();
  stops.push(() => c.stop());
  return c;
}

describe('SCRAM credentials in the metadata store', () => {
  it('a change through one broker is seen by another; the stored value holds no password', async () => {
    const store = new MemoryMetadataStore();
    const [one, two] = [await credentials(store), await credentials(store)];
    await one.change('alice', [['SCRAM-SHA-256', await credentialFromPassword('SCRAM-SHA-256', 'alice-secret', 4096)]]);
    await eventuallyPasses('the other broker to see alice', () => expect(two.describe('alice')).toEqual([{ mechanism: 'SCRAM-SHA-256', iterations: 4096 }]));
    expect(await passwordMatches('SCRAM-SHA-256', two.get('alice', 'SCRAM-SHA-256')!, 'alice-secret')).toBe(true);
    const stored = (await store.get('security/scram/alice'))!.value;
    expect(Object.keys(JSON.parse(stored) as object)).toEqual(['SCRAM-SHA-256']);
    expect(stored).not.toContain('alice-secret');

    await two.change('alice', [['SCRAM-SHA-256', undefined]]);
    expect(await store.get('security/scram/alice')).toBeUndefined();
    await eventuallyPasses('the first broker to see alice deleted', () => expect(one.describe('alice')).toBeUndefined());
  });

  it('seeds idempotently: the same password keeps the credential, a changed one replaces it', async () => {
    const c = await credentials(new MemoryMetadataStore());
    const seed = parseAddScram('SCRAM-SHA-512=[name=admin,password=admin-secret]');
    expect(await seedScramCredential(c, seed)).toBe(true);
    const salt = c.get('admin', 'SCRAM-SHA-512')!.salt;
    expect(await seedScramCredential(c, seed)).toBe(false);
    expect(c.get('admin', 'SCRAM-SHA-512')!.salt).toEqual(salt);
    expect(await seedScramCredential(c, { ...seed, password: 'changed' })).toBe(true);
    expect(await passwordMatches('SCRAM-SHA-512', c.get('admin', 'SCRAM-SHA-512')!, 'changed')).toBe(true);
    expect(await seedScramCredential(c, { ...seed, password: 'changed', iterations: 8192 })).toBe(true);
    expect(c.describe('admin')).toEqual([{ mechanism: 'SCRAM-SHA-512', iterations: 8192 }]);
  });
});

describe('--add-scram', () => {
  it('takes kafka-storage format\'s syntax, quoted values included', () => {
    expect(parseAddScram('SCRAM-SHA-256=[name=admin,password=admin-secret]')).toEqual({ mechanism: 'SCRAM-SHA-256', user: 'admin', password: 'admin-secret', iterations: 4096 });
    expect(parseAddScram('SCRAM-SHA-512=[name=bob,password="a,b]c",iterations=8192]')).toEqual({ mechanism: 'SCRAM-SHA-512', user: 'bob', password: 'a,b]c', iterations: 8192 });
  });

  it('refuses what it cannot store, saying why', () => {
    expect(() => parseAddScram('admin:secret')).toThrow('--add-scram takes MECHANISM=[name=USER,password=PASSWORD]');
    expect(() => parseAddScram('SCRAM-SHA-1=[name=a,password=b]')).toThrow('unknown SCRAM mechanism "SCRAM-SHA-1"');
    expect(() => parseAddScram('SCRAM-SHA-256=[password=b]')).toThrow('name is required');
    expect(() => parseAddScram('SCRAM-SHA-256=[name=a]')).toThrow('password is required');
    expect(() => parseAddScram('SCRAM-SHA-256=[name=a,password=b,iterations=100]')).toThrow('iterations must be between 4096 and 16384');
    expect(() => parseAddScram('SCRAM-SHA-256=[name=a,password=b,salt=c2FsdA==]')).toThrow('unsupported field "salt"');
  });
});
