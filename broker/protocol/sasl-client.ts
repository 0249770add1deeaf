// The client side of SASL over an open KafkaConnection: SaslHandshake (v1) then SaslAuthenticate,
// with PLAIN (one message) or SCRAM-SHA-256/512 (client-first, client-final, and a check of the
// server's signature, so a broker that does not know the password is not believed). Used by tests
// and by brokers and the operator when they connect to a SASL listener. Calling it again on an
// authenticated connection re-authenticates it (KIP-368).
import type { KafkaConnection } from './client.js';
import { ErrorCode } from './errors.js';
import { saslAuthenticateApi, saslHandshakeApi } from './messages/index.js';
import { MIN_ITERATIONS, type ScramMechanism, clientKey, encodeSaslName, hash, hmac, isScramMechanism, newNonce, parseAttributes, safeEqual, saltedPassword, xor } from '../security/sasl/scram.js';

export interface SaslCredentials {
  mechanism: 'PLAIN' | ScramMechanism;
  username: string;
  password: string;
}

export class SaslClientError extends Error {
  override name = 'SaslClientError';
  constructor(
    /** Kafka's error code from the broker, or -1 when the client itself refused the exchange. */
    readonly errorCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** Authenticates `connection`; resolves with the session lifetime the broker gave (0: none). */
export async function authenticateSasl(connection: KafkaConnection, credentials: SaslCredentials): Promise<{ sessionLifetimeMs: number }> {
  const handshake = await connection.send(saslHandshakeApi, 1, { mechanism: credentials.mechanism });
  if (handshake.errorCode !== ErrorCode.NONE) throw new SaslClientError(handshake.errorCode, `SaslHandshake for ${credentials.mechanism} refused (error ${handshake.errorCode}); the broker offers ${handshake.mechanisms.join(', ') || 'nothing'}`);
  const step = async (message: Buffer) => {
    const response = await connection.send(saslAuthenticateApi, 2, { authBytes: message });
    if (response.errorCode !== ErrorCode.NONE) throw new SaslClientError(response.errorCode, response.errorMessage ?? `SaslAuthenticate failed (error ${response.errorCode})`);
    return response;
  };
  if (credentials.mechanism === 'PLAIN') {
    const done = await step(Buffer.from(`\0${credentials.username}\0${credentials.password}`));
    return { sessionLifetimeMs: Number(done.sessionLifetimeMs) };
  }
  if (!isScramMechanism(credentials.mechanism)) throw new SaslClientError(-1, `unsupported SASL mechanism ${String(credentials.mechanism)}`);
  const mechanism = credentials.mechanism;
  const gs2Header = 'n,,';
  const clientFirstBare = `n=${encodeSaslName(credentials.username)},r=${newNonce()}`;
  const serverFirst = (await step(Buffer.from(gs2Header + clientFirstBare))).authBytes.toString('utf8');
  const attributes = new Map(parseAttributes(serverFirst) ?? []);
  const nonce = attributes.get('r');
  const salt = attributes.get('s');
  const iterations = Number(attributes.get('i'));
  if (!nonce || !salt || !nonce.startsWith(clientFirstBare.slice(clientFirstBare.indexOf(',r=') + 3))) throw new SaslClientError(-1, 'invalid SCRAM server-first message');
  if (!Number.isInteger(iterations) || iterations < MIN_ITERATIONS) throw new SaslClientError(-1, `SCRAM iterations ${attributes.get('i')} below the minimum ${MIN_ITERATIONS}`);
  const salted = await saltedPassword(mechanism, credentials.password, Buffer.from(salt, 'base64'), iterations);
  const withoutProof = `c=${Buffer.from(gs2Header).toString('base64')},r=${nonce}`;
  const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
  const key = clientKey(mechanism, salted);
  const proof = xor(key, hmac(mechanism, hash(mechanism, key), authMessage));
  const final = await step(Buffer.from(`${withoutProof},p=${proof.toString('base64')}`));
  const verifier = final.authBytes.toString('utf8');
  const expected = hmac(mechanism, hmac(mechanism, salted, 'Server Key'), authMessage);
  if (!verifier.startsWith('v=') || !safeEqual(Buffer.from(verifier.slice(2), 'base64'), expected)) throw new SaslClientError(-1, 'the broker\'s SCRAM server signature is wrong: it does not hold this user\'s credential');
  return { sessionLifetimeMs: Number(final.sessionLifetimeMs) };
}
