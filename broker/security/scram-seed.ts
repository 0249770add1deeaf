// The first SCRAM users, given at start as Kafka's `kafka-storage format --add-scram` takes them:
// --add-scram 'SCRAM-SHA-256=[name=admin,password=admin-secret]' (iterations=N optional, default
// 4096; a value may be double-quoted to hold "," or "]"). Seeding is idempotent: a credential that
// already matches the password and iterations is kept; a changed password replaces it.
import { type ScramMechanism, MAX_ITERATIONS, MIN_ITERATIONS, credentialFromPassword, isScramMechanism, passwordMatches } from './sasl/scram.js';
import type { ScramCredentials } from './scram-credentials.js';

export interface ScramSeed {
  mechanism: ScramMechanism;
  user: string;
  password: string;
  iterations: number;
}

export function parseAddScram(text: string): ScramSeed {
  const match = /^([A-Z0-9-]+)=\[(.*)\]$/s.exec(text.trim());
  if (!match) throw new Error(`--add-scram takes MECHANISM=[name=USER,password=PASSWORD], got "${text}"`);
  const mechanism = match[1]!;
  if (!isScramMechanism(mechanism)) throw new Error(`--add-scram: unknown SCRAM mechanism "${mechanism}" (SCRAM-SHA-256 or SCRAM-SHA-512)`);
  const fields = new Map<string, string>();
  for (const item of match[2]!.match(/(?:[^,"]|"[^"]*")+/g) ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new Error(`--add-scram: "${item}" is not key=value`);
    const value = item.slice(eq + 1).trim();
    fields.set(item.slice(0, eq).trim(), value.startsWith('"') && value.endsWith('"') && value.length >= 2 ? value.slice(1, -1) : value);
  }
  for (const key of fields.keys()) if (!['name', 'password', 'iterations'].includes(key)) throw new Error(`--add-scram: unsupported field "${key}" (name, password, iterations)`);
  const user = fields.get('name');
  const password = fields.get('password');
  if (!user) throw new Error('--add-scram: name is required');
  if (!password) throw new Error('--add-scram: password is required');
  const iterations = Number(fields.get('iterations') ?? MIN_ITERATIONS);
  if (!Number.isInteger(iterations) || iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS) throw new Error(`--add-scram: iterations must be between ${MIN_ITERATIONS} and ${MAX_ITERATIONS}`);
  return { mechanism, user, password, iterations };
}

/** Stores the seed's credential unless an equal one is there; true when it wrote. */
export async function seedScramCredential(credentials: ScramCredentials, seed: ScramSeed): Promise<boolean> {
  const existing = credentials.get(seed.user, seed.mechanism);
  if (existing && existing.iterations === seed.iterations && (await passwordMatches(seed.mechanism, existing, seed.password))) return false;
  await credentials.change(seed.user, [[seed.mechanism, await credentialFromPassword(seed.mechanism, seed.password, seed.iterations)]]);
  return true;
}
