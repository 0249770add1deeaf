// SCRAM (RFC 5802, with SHA-256/512 as RFC 7677 and Kafka name them): the key derivations both
// sides use, the stored credential (salt, StoredKey, ServerKey, iterations: never the password),
// and the message attribute syntax. The server exchange is in scram-server.ts, the client in
// broker/protocol/sasl-client.ts.
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const pbkdf2Async = promisify(pbkdf2);

export type ScramMechanism = 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
export const SCRAM_MECHANISMS: readonly ScramMechanism[] = ['SCRAM-SHA-256', 'SCRAM-SHA-512'];

/** Kafka's bounds on a credential's iteration count. */
export const MIN_ITERATIONS = 4096;
export const MAX_ITERATIONS = 16384;

const HASH: Record<ScramMechanism, { name: 'sha256' | 'sha512'; bytes: number; type: number }> = {
  // `type` is the mechanism's number in Describe/AlterUserScramCredentials.
  'SCRAM-SHA-256': { name: 'sha256', bytes: 32, type: 1 },
  'SCRAM-SHA-512': { name: 'sha512', bytes: 64, type: 2 },
};

export function isScramMechanism(name: string): name is ScramMechanism {
  return name === 'SCRAM-SHA-256' || name === 'SCRAM-SHA-512';
}

export function mechanismType(mechanism: ScramMechanism): number {
  return HASH[mechanism].type;
}

export function mechanismOfType(type: number): ScramMechanism | undefined {
  return SCRAM_MECHANISMS.find((m) => HASH[m].type === type);
}

export interface ScramCredential {
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
  iterations: number;
}

export function hmac(mechanism: ScramMechanism, key: Buffer, data: Buffer | string): Buffer {
  return createHmac(HASH[mechanism].name, key).update(data).digest();
}

export function hash(mechanism: ScramMechanism, data: Buffer): Buffer {
  return createHash(HASH[mechanism].name).update(data).digest();
}

/** Hi(password, salt, i): PBKDF2 with the mechanism's HMAC. */
export function saltedPassword(mechanism: ScramMechanism, password: string, salt: Buffer, iterations: number): Promise<Buffer> {
  return pbkdf2Async(password.normalize('NFKC'), salt, iterations, HASH[mechanism].bytes, HASH[mechanism].name);
}

export function clientKey(mechanism: ScramMechanism, salted: Buffer): Buffer {
  return hmac(mechanism, salted, 'Client Key');
}

/** The credential the broker keeps for a salted password (what AlterUserScramCredentials sends). */
export function credentialFromSaltedPassword(mechanism: ScramMechanism, salt: Buffer, salted: Buffer, iterations: number): ScramCredential {
  return { salt, iterations, storedKey: hash(mechanism, clientKey(mechanism, salted)), serverKey: hmac(mechanism, salted, 'Server Key') };
}

export async function credentialFromPassword(mechanism: ScramMechanism, password: string, iterations: number, salt = randomBytes(32)): Promise<ScramCredential> {
  return credentialFromSaltedPassword(mechanism, salt, await saltedPassword(mechanism, password, salt, iterations), iterations);
}

/** Whether `password` is the one `credential` was made from (PLAIN and idempotent seeding use this). */
export async function passwordMatches(mechanism: ScramMechanism, credential: ScramCredential, password: string): Promise<boolean> {
  const salted = await saltedPassword(mechanism, password, credential.salt, credential.iterations);
  return safeEqual(hash(mechanism, clientKey(mechanism, salted)), credential.storedKey);
}

export function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** A printable nonce (RFC 5802: any printable ASCII except ","). */
export function newNonce(): string {
  return randomBytes(24).toString('base64');
}

/** Splits "a=1,b=2" into attributes in order; null when an item is not "<letter>=<value>". */
export function parseAttributes(message: string): [string, string][] | null {
  const out: [string, string][] = [];
  for (const item of message.split(',')) {
    if (!/^[a-zA-Z]=/.test(item)) return null;
    out.push([item[0]!, item.slice(2)]);
  }
  return out;
}

/** saslname decoding: "=2C" is ",", "=3D" is "="; null for any other "=". */
export function decodeSaslName(name: string): string | null {
  if (/=(?!2C|3D)/.test(name)) return null;
  return name.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

export function encodeSaslName(name: string): string {
  return name.replace(/=/g, '=3D').replace(/,/g, '=2C');
}
