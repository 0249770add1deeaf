// SCRAM-SHA-512 credentials computed on the operator's side, as KIP-554 has clients do it: the
// broker receives only the salt, the iteration count and SaltedPassword = Hi(password, salt, i)
// (RFC 5802, which is PBKDF2 with HMAC-SHA-512), never the password.
import { createHash, pbkdf2Sync, randomBytes, randomInt } from 'node:crypto';

/** Kafka's ScramMechanism code of SCRAM-SHA-512 (1 is SCRAM-SHA-256). */
export const SCRAM_SHA_512 = 2;
/** Kafka's default and minimum for SCRAM-SHA-512. */
export const SCRAM_ITERATIONS = 4096;
export const GENERATED_PASSWORD_LENGTH = 32;

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A random password of letters and digits (about 190 bits), safe in any config format unquoted. */
export function generatePassword(length = GENERATED_PASSWORD_LENGTH): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}

/** Hi(password, salt, iterations) of RFC 5802 with HMAC-SHA-512: SCRAM-SHA-512's SaltedPassword. */
export function saltedPassword(password: string, salt: Buffer, iterations = SCRAM_ITERATIONS): Buffer {
  // RFC 5802 asks for SASLprep; Kafka's own clients and tools use the password's UTF-8 as it is.
  return pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 64, 'sha512');
}

/** A fresh credential: a random 32-byte salt and the salted password. */
export function scramCredential(password: string, iterations = SCRAM_ITERATIONS): { salt: Buffer; saltedPassword: Buffer; iterations: number } {
  const salt = randomBytes(32);
  return { salt, saltedPassword: saltedPassword(password, salt, iterations), iterations };
}

/**
 * What the operator remembers of the password it last set (on the user's Secret, beside the
 * password itself): a hash, to tell whether the password changed without keeping a second copy.
 */
export function passwordHash(password: string): string {
  return createHash('sha256').update(password, 'utf8').digest('hex');
}
