import { describe, expect, it } from 'vitest';
import { GENERATED_PASSWORD_LENGTH, generatePassword, passwordHash, saltedPassword, scramCredential } from './scram.js';

describe('SCRAM-SHA-512 credentials', () => {
  it('computes Hi() as PBKDF2-HMAC-SHA-512 (published test vectors)', () => {
    expect(saltedPassword('password', Buffer.from('salt'), 1).toString('hex')).toBe(
      '867f70cf1ade02cff3752599a3a53dc4af34c7a669815ae5d513554e1c8cf252c02d470a285a0501bad999bfe943c08f050235d7d68b1da55e63f73b60a57fce',
    );
    expect(saltedPassword('password', Buffer.from('salt')).toString('hex')).toBe(
      'd197b1b33db0143e018b12f3d1d1479e6cdebdcc97c5c0f87f6902e072f457b5143f30602641b3d55cd335988cb36b84376060ecd532e039b742a239434af2d5',
    );
  });

  it('salts each credential afresh with 4096 iterations', () => {
    const a = scramCredential('secret');
    const b = scramCredential('secret');
    expect(a.iterations).toBe(4096);
    expect(a.salt).toHaveLength(32);
    expect(a.salt.equals(b.salt)).toBe(false);
    expect(a.saltedPassword.equals(saltedPassword('secret', a.salt))).toBe(true);
  });

  it('generates distinct 32-character alphanumeric passwords and hashes them', () => {
    const passwords = new Set(Array.from({ length: 50 }, () => generatePassword()));
    expect(passwords.size).toBe(50);
    for (const p of passwords) expect(p).toMatch(new RegExp(`^[A-Za-z0-9]{${GENERATED_PASSWORD_LENGTH}}$`));
    expect(passwordHash('x')).toBe('2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881');
    expect(passwordHash('x')).not.toBe(passwordHash('y'));
  });
});
