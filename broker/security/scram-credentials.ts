// SCRAM credentials in the metadata store: "security/scram/<user>" holds one user's, a JSON object
// of mechanism → { salt, storedKey, serverKey (base64), iterations } — never a password. Every
// broker follows them with a list-then-watch (as dynamic-configs.ts does), so a user added or
// changed through any broker authenticates on all of them at once.
import type { Logger } from 'pino';
import { type MetadataStore, type StoredValue, VersionConflictError } from '../metadata/metadata-store.js';
import { PrefixFollower } from '../metadata/prefix-follower.js';
import { type ScramCredential, type ScramMechanism, SCRAM_MECHANISMS, isScramMechanism } from './sasl/scram.js';

const PREFIX = 'security/scram/';

interface StoredCredential {
  salt: string;
  storedKey: string;
  serverKey: string;
  iterations: number;
}

type UserCredentials = Map<ScramMechanism, ScramCredential>;

function decode(value: string): UserCredentials {
  const out: UserCredentials = new Map();
  for (const [mechanism, c] of Object.entries(JSON.parse(value) as Record<string, StoredCredential>)) {
    if (!isScramMechanism(mechanism)) continue;
    out.set(mechanism, { salt: Buffer.from(c.salt, 'base64'), storedKey: Buffer.from(c.storedKey, 'base64'), serverKey: Buffer.from(c.serverKey, 'base64'), iterations: c.iterations });
  }
  return out;
}

function encode(credentials: UserCredentials): string {
  const out: Record<string, StoredCredential> = {};
  for (const mechanism of SCRAM_MECHANISMS) {
    const c = credentials.get(mechanism);
    if (c) out[mechanism] = { salt: c.salt.toString('base64'), storedKey: c.storedKey.toString('base64'), serverKey: c.serverKey.toString('base64'), iterations: c.iterations };
  }
  return JSON.stringify(out);
}

/** One change to a user's credentials: set a mechanism's credential, or delete it (undefined). */
export type CredentialChange = [mechanism: ScramMechanism, credential: ScramCredential | undefined];

export class ScramCredentials {
  private readonly users = new Map<string, { credentials: UserCredentials; version: number }>();
  private readonly follower: PrefixFollower;

  constructor(
    private readonly store: MetadataStore,
    private readonly logger: Logger,
  ) {
    this.follower = new PrefixFollower(store, PREFIX, 'SCRAM credential', {
      listed: (snapshot) => {
        for (const user of [...this.users.keys()]) if (!snapshot.has(PREFIX + user)) this.users.delete(user);
        for (const [key, value] of snapshot) this.apply(key, value);
      },
      changed: (key, value) => this.apply(key, value),
    }, logger);
  }

  /** Lists every user's credentials and follows changes. */
  load(): Promise<void> {
    return this.follower.start();
  }

  private apply(key: string, value: StoredValue | undefined): void {
    const user = key.slice(PREFIX.length);
    if (!value) {
      this.users.delete(user);
      return;
    }
    const current = this.users.get(user);
    // A write this broker made was applied when the store accepted it; the watch brings it again.
    if (current && current.version >= value.version) return;
    try {
      this.users.set(user, { credentials: decode(value.value), version: value.version });
    } catch (err) {
      this.logger.warn({ err, user }, 'ignoring an unreadable stored SCRAM credential');
    }
  }

  get(user: string, mechanism: ScramMechanism): ScramCredential | undefined {
    return this.users.get(user)?.credentials.get(mechanism);
  }

  /** Users with at least one credential, with their mechanisms and iterations. */
  describe(user: string): { mechanism: ScramMechanism; iterations: number }[] | undefined {
    const entry = this.users.get(user);
    if (!entry || entry.credentials.size === 0) return undefined;
    return [...entry.credentials].map(([mechanism, c]) => ({ mechanism, iterations: c.iterations }));
  }

  userNames(): string[] {
    return [...this.users.keys()].sort();
  }

  /** Applies changes to one user's credentials with a compare-and-set (retried if another broker wrote between). */
  async change(user: string, changes: readonly CredentialChange[]): Promise<void> {
    const key = PREFIX + user;
    for (;;) {
      const stored = await this.store.get(key);
      const credentials = stored ? decode(stored.value) : new Map<ScramMechanism, ScramCredential>();
      for (const [mechanism, credential] of changes) {
        if (credential) credentials.set(mechanism, credential);
        else credentials.delete(mechanism);
      }
      try {
        if (credentials.size > 0) {
          const version = await this.store.put(key, encode(credentials), stored?.version ?? 0);
          this.apply(key, { value: encode(credentials), version });
        } else if (stored) {
          await this.store.delete(key, stored.version);
          this.apply(key, undefined);
        }
        return;
      } catch (err) {
        if (!(err instanceof VersionConflictError)) throw err;
      }
    }
  }

  stop(): void {
    this.follower.stop();
  }
}
