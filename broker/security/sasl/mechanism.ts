// What a server-side SASL mechanism is to the connection's authenticator: it takes the client's
// messages one SaslAuthenticate at a time and ends with the authenticated user, or fails.
import type { ScramCredential, ScramMechanism } from './scram.js';

export interface SaslStep {
  /** The server's message to the client (empty when the mechanism has none). */
  reply: Buffer;
  /** The authenticated user name, once the exchange is complete. */
  user?: string;
}

export interface SaslServer {
  readonly mechanism: string;
  /** Takes the client's next message; rejects with SaslAuthenticationError. */
  evaluate(message: Buffer): Promise<SaslStep>;
  /** The user the client claims to be, once known (for logs of failures). */
  readonly claimedUser: string | undefined;
}

/** The stored SCRAM credentials, by user and mechanism. */
export type CredentialLookup = (user: string, mechanism: ScramMechanism) => ScramCredential | undefined;

export class SaslAuthenticationError extends Error {
  override name = 'SaslAuthenticationError';
  constructor(
    /** credentials: wrong password or unknown user (the client is told no more than that); malformed: a protocol violation. */
    readonly kind: 'credentials' | 'malformed',
    /** What went wrong: the client's message for `malformed`, the log's reason for both. */
    readonly detail: string,
    /** The mechanism's own error message to the client (SCRAM's "e=..."), if it has one. */
    readonly reply: Buffer = Buffer.alloc(0),
  ) {
    super(detail);
  }
}
