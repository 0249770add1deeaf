// SASL/PLAIN (RFC 4616): "authzid NUL authcid NUL passwd" in one message. The password is checked
// against the user's stored SCRAM credential (SCRAM-SHA-512 if there is one, else SCRAM-SHA-256)
// by deriving the salted password with its salt and iterations: no plaintext password is kept.
import { randomBytes } from 'node:crypto';
import { type CredentialLookup, SaslAuthenticationError, type SaslServer, type SaslStep } from './mechanism.js';
import { MIN_ITERATIONS, type ScramCredential, passwordMatches } from './scram.js';

/** Checked against when the user is unknown, so an unknown user costs the same as a wrong password. */
const DECOY: ScramCredential = { salt: randomBytes(32), storedKey: randomBytes(64), serverKey: randomBytes(64), iterations: MIN_ITERATIONS };

export class PlainServer implements SaslServer {
  readonly mechanism = 'PLAIN';
  claimedUser: string | undefined;
  private done = false;

  constructor(private readonly credentials: CredentialLookup) {}

  async evaluate(message: Buffer): Promise<SaslStep> {
    if (this.done) throw new SaslAuthenticationError('malformed', 'PLAIN takes one message');
    this.done = true;
    const tokens = message.toString('utf8').split('\0');
    if (tokens.length !== 3) throw new SaslAuthenticationError('malformed', `invalid SASL/PLAIN message: expected 3 tokens, got ${tokens.length}`);
    const [authzid, user, password] = tokens as [string, string, string];
    if (user === '') throw new SaslAuthenticationError('malformed', 'username not specified');
    this.claimedUser = user;
    if (password === '') throw new SaslAuthenticationError('malformed', 'password not specified');
    if (authzid !== '' && authzid !== user) throw new SaslAuthenticationError('malformed', 'client requested an authorization id that is different from username');
    const sha512 = this.credentials(user, 'SCRAM-SHA-512');
    const sha256 = sha512 ? undefined : this.credentials(user, 'SCRAM-SHA-256');
    if (sha512) {
      if (await passwordMatches('SCRAM-SHA-512', sha512, password)) return { reply: Buffer.alloc(0), user };
    } else if (sha256) {
      if (await passwordMatches('SCRAM-SHA-256', sha256, password)) return { reply: Buffer.alloc(0), user };
    } else {
      await passwordMatches('SCRAM-SHA-512', DECOY, password);
      throw new SaslAuthenticationError('credentials', 'unknown user');
    }
    throw new SaslAuthenticationError('credentials', 'wrong password');
  }
}
