// SASL on one connection of a SASL_PLAINTEXT / SASL_SSL listener, as Kafka's server authenticator
// does it: before authentication only ApiVersions, SaslHandshake and SaslAuthenticate are served,
// in that order (after SaslHandshake v0, which librdkafka needs advertised, bare SASL tokens take
// SaslAuthenticate's place); any other request closes the connection. A failed authentication is
// answered (SASL_AUTHENTICATION_FAILED), logged and counted, then the connection closes. With
// connections.max.reauth.ms the session expires (KIP-368): the client re-authenticates with
// SaslHandshake + SaslAuthenticate on the open connection as the same principal, or its next
// request past expiry closes the connection.
import type { Logger } from 'pino';
import type { BrokerMetrics } from '../../metrics.js';
import { ErrorCode } from '../../protocol/errors.js';
import { ApiKey, type SaslAuthenticateRequest, type SaslAuthenticateResponse, type SaslHandshakeRequest, type SaslHandshakeResponse } from '../../protocol/messages/index.js';
import type { ListenerSecurity } from '../listener-security.js';
import { type KafkaPrincipal, principalString, userPrincipal } from '../principal.js';
import { type CredentialLookup, SaslAuthenticationError, type SaslServer } from './mechanism.js';
import { PlainServer } from './plain.js';
import { ScramServer } from './scram-server.js';
import { isScramMechanism } from './scram.js';

/** What the connection does with a request. */
export type SaslVerdict =
  /** Serve it as usual. */
  | { action: 'serve' }
  /** Answer it with this body (of the request's own API), then close the connection if `close`. */
  | { action: 'respond'; response: SaslHandshakeResponse | SaslAuthenticateResponse; close: boolean }
  /** Close the connection without an answer. */
  | { action: 'close'; reason: string; message: string };

export interface AuthenticatorContext {
  credentials: CredentialLookup;
  /** connections.max.reauth.ms in force; 0: sessions do not expire. */
  reauthMs: () => number;
  metrics: BrokerMetrics;
  logger: Logger;
  connection: string;
  remote: string;
}

export class SaslAuthenticator {
  private state: 'handshake' | 'authenticate' | 'authenticated' = 'handshake';
  /** A re-authentication of an authenticated session is under way. */
  private reauthenticating = false;
  /** After a SaslHandshake v0 the client sends bare SASL tokens (size-prefixed), not SaslAuthenticate. */
  private rawTokens = false;
  private server: SaslServer | null = null;
  /** The principal and mechanism of the authenticated session. */
  private session: { principal: KafkaPrincipal; mechanism: string; expiresAt: number } | null = null;

  constructor(
    private readonly security: ListenerSecurity,
    private readonly ctx: AuthenticatorContext,
  ) {}

  /** The authenticated principal; null before authentication. */
  get principal(): KafkaPrincipal | null {
    return this.session?.principal ?? null;
  }

  async check(apiKey: number, apiVersion: number, body: unknown, now: number): Promise<SaslVerdict> {
    if (this.state === 'authenticated' && !this.reauthenticating) {
      if (apiKey === ApiKey.SaslHandshake) return this.handshake(body as SaslHandshakeRequest, apiVersion);
      if (now >= this.session!.expiresAt) {
        this.ctx.metrics.connectionsClosed.inc({ reason: 'session_expired' });
        return { action: 'close', reason: 'session_expired', message: 'SASL session expired (connections.max.reauth.ms) without re-authentication' };
      }
      return { action: 'serve' };
    }
    if (apiKey === ApiKey.ApiVersions && this.state === 'handshake' && !this.reauthenticating) return { action: 'serve' };
    if (apiKey === ApiKey.SaslHandshake) {
      if (this.state !== 'handshake') return illegalState('handshake', 'SaslHandshake received during SASL authentication');
      return this.handshake(body as SaslHandshakeRequest, apiVersion);
    }
    if (apiKey === ApiKey.SaslAuthenticate) {
      if (this.state !== 'authenticate') return illegalState('authenticate', 'SaslAuthenticate received before SaslHandshake');
      return this.authenticate(body as SaslAuthenticateRequest, apiVersion, now);
    }
    this.ctx.metrics.closedForBadFrames.inc({ reason: 'unauthenticated' });
    return { action: 'close', reason: 'unauthenticated', message: `unexpected Kafka request of API key ${apiKey} during SASL ${this.state === 'handshake' ? 'handshake' : 'authentication'}` };
  }

  /** The next frame is a bare SASL token (after SaslHandshake v0), for rawToken. */
  get awaitingRawToken(): boolean {
    return this.rawTokens && this.state === 'authenticate';
  }

  /**
   * Takes a bare SASL token (after SaslHandshake v0); the server's token to send back framed by
   * its size, or null when authentication failed (v0 has no error answer: the connection closes).
   */
  async rawToken(token: Buffer, now: number): Promise<Buffer | null> {
    const verdict = await this.authenticate({ authBytes: token }, 0, now);
    if (verdict.action !== 'respond' || verdict.response.errorCode !== ErrorCode.NONE) return null;
    if (this.state === 'authenticated') this.rawTokens = false;
    return (verdict.response as SaslAuthenticateResponse).authBytes;
  }

  private handshake(req: SaslHandshakeRequest, apiVersion: number): SaslVerdict {
    // KIP-368 re-authentication is SaslHandshake v1 + SaslAuthenticate only.
    if (apiVersion === 0 && this.session !== null) return illegalState('handshake', 'SaslHandshake v0 cannot re-authenticate');
    const enabled = this.security.saslMechanisms;
    const mechanism = req.mechanism;
    // A re-authentication keeps the session's mechanism, as Kafka requires.
    const allowed = enabled.includes(mechanism) && (this.session === null || this.session.mechanism === mechanism);
    if (!allowed) {
      this.ctx.logger.warn({ connection: this.ctx.connection, remote: this.ctx.remote, listener: this.security.name, mechanism, enabled, reauthentication: this.session !== null }, 'SASL handshake refused: mechanism not enabled or changed on re-authentication');
      this.ctx.metrics.failedAuthentications.inc({ listener: this.security.name, mechanism: 'unsupported' });
      return { action: 'respond', response: { errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms: [...enabled] }, close: true };
    }
    this.server = mechanism === 'PLAIN' ? new PlainServer(this.ctx.credentials) : isScramMechanism(mechanism) ? new ScramServer(mechanism, this.ctx.credentials) : null;
    this.reauthenticating = this.session !== null;
    this.rawTokens = apiVersion === 0;
    this.state = 'authenticate';
    return { action: 'respond', response: { errorCode: ErrorCode.NONE, mechanisms: [...enabled] }, close: false };
  }

  private async authenticate(req: SaslAuthenticateRequest, apiVersion: number, now: number): Promise<SaslVerdict> {
    const server = this.server!;
    const during = this.reauthenticating ? 're-authentication' : 'authentication';
    let step;
    try {
      step = await server.evaluate(req.authBytes);
    } catch (err) {
      if (!(err instanceof SaslAuthenticationError)) throw err;
      const message =
        err.kind === 'credentials'
          ? `Authentication failed during ${during} due to invalid credentials with SASL mechanism ${server.mechanism}`
          : `Authentication failed during ${during} with SASL mechanism ${server.mechanism}: ${err.detail}`;
      return this.fail(server, err.detail, message, err.reply);
    }
    if (step.user === undefined) return { action: 'respond', response: authenticateResponse(ErrorCode.NONE, null, step.reply, 0), close: false };
    const principal = userPrincipal(step.user);
    if (this.session && principalString(this.session.principal) !== principalString(principal)) {
      const message = `Cannot change principals during re-authentication from ${principalString(this.session.principal)}: ${principalString(principal)}`;
      return this.fail(server, 'principal changed on re-authentication', message, Buffer.alloc(0));
    }
    const reauthMs = this.ctx.reauthMs();
    this.session = { principal, mechanism: server.mechanism, expiresAt: reauthMs > 0 ? now + reauthMs : Infinity };
    this.state = 'authenticated';
    this.ctx.metrics.authentications.inc({ listener: this.security.name, mechanism: server.mechanism, reauthentication: String(this.reauthenticating) });
    this.ctx.logger.debug({ connection: this.ctx.connection, remote: this.ctx.remote, listener: this.security.name, mechanism: server.mechanism, principal: principalString(principal), reauthentication: this.reauthenticating }, 'SASL authentication succeeded');
    this.reauthenticating = false;
    this.server = null;
    // v0 has no session lifetime field; such a client is cut off at expiry all the same.
    return { action: 'respond', response: authenticateResponse(ErrorCode.NONE, null, step.reply, apiVersion >= 1 ? reauthMs : 0), close: false };
  }

  private fail(server: SaslServer, reason: string, message: string, reply: Buffer): SaslVerdict {
    this.ctx.metrics.failedAuthentications.inc({ listener: this.security.name, mechanism: server.mechanism });
    this.ctx.logger.warn(
      { connection: this.ctx.connection, remote: this.ctx.remote, listener: this.security.name, mechanism: server.mechanism, user: server.claimedUser ?? null, reason, reauthentication: this.reauthenticating },
      'SASL authentication failed',
    );
    return { action: 'respond', response: authenticateResponse(ErrorCode.SASL_AUTHENTICATION_FAILED, message, reply, 0), close: true };
  }
}

function authenticateResponse(errorCode: number, errorMessage: string | null, authBytes: Buffer, sessionLifetimeMs: number): SaslAuthenticateResponse {
  return { errorCode, errorMessage, authBytes, sessionLifetimeMs };
}

/** A SASL request out of order: ILLEGAL_SASL_STATE, then the connection closes. */
function illegalState(expected: 'handshake' | 'authenticate', message: string): SaslVerdict {
  const response = expected === 'handshake' ? { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: [] } : authenticateResponse(ErrorCode.ILLEGAL_SASL_STATE, message, Buffer.alloc(0), 0);
  return { action: 'respond', response, close: true };
}
