// The server side of a SCRAM exchange (RFC 5802; SHA-256/512 per RFC 7677), two messages:
// client-first → server-first (nonce, salt, iterations); client-final → server-final (verifier),
// once the client's proof checks out against the stored StoredKey. No channel binding ("n" gs2
// flag only). Failures carry RFC 5802's "e=" message. An unknown user gets a decoy salt and fails
// at the proof, as a wrong password does, so the exchange does not tell which users exist.
import { randomBytes } from 'node:crypto';
import { type CredentialLookup, SaslAuthenticationError, type SaslServer, type SaslStep } from './mechanism.js';
import {
  MIN_ITERATIONS,
  type ScramCredential,
  type ScramMechanism,
  decodeSaslName,
  hash,
  hmac,
  newNonce,
  parseAttributes,
  safeEqual,
  xor,
} from './scram.js';

/** Per process: decoy salts are stable for a user name (asking twice gives the same salt) but unpredictable. */
const DECOY_SECRET = randomBytes(32);

function fail(kind: 'credentials' | 'malformed', detail: string, error: string): never {
  throw new SaslAuthenticationError(kind, detail, Buffer.from(`e=${error}`));
}

export class ScramServer implements SaslServer {
  claimedUser: string | undefined;
  private state: 'first' | 'final' | 'done' = 'first';
  private gs2Header = '';
  private clientFirstBare = '';
  private serverFirst = '';
  private nonce = '';
  private credential: ScramCredential | undefined;
  /** The user has no credential: the exchange runs on a decoy and fails at the proof. */
  private decoyUser = false;

  constructor(
    readonly mechanism: ScramMechanism,
    private readonly credentials: CredentialLookup,
    /** The server's part of the nonce (fixed only by tests reproducing RFC vectors). */
    private readonly serverNonce: string = newNonce(),
  ) {}

  evaluate(message: Buffer): Promise<SaslStep> {
    try {
      const text = message.toString('utf8');
      if (this.state === 'first') return Promise.resolve(this.first(text));
      if (this.state === 'final') return Promise.resolve(this.final(text));
      fail('malformed', 'the SCRAM exchange is already complete', 'other-error');
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  private first(text: string): SaslStep {
    this.state = 'done';
    const gs2 = /^([npy])(=[^,]*)?,(a=[^,]*)?,/.exec(text);
    if (!gs2) fail('malformed', 'invalid SCRAM client-first message', 'other-error');
    if (gs2[1] === 'p') fail('malformed', 'channel binding is not supported', 'channel-bindings-not-supported');
    if (gs2[1] === 'y') fail('malformed', 'the client says the server supports channel binding, which it does not', 'server-does-support-channel-binding');
    this.gs2Header = gs2[0];
    this.clientFirstBare = text.slice(gs2[0].length);
    const items = this.clientFirstBare.split(',');
    if (items[0]?.startsWith('m=')) fail('malformed', 'mandatory SCRAM extensions are not supported', 'extensions-not-supported');
    const attributes = parseAttributes(items.slice(0, 2).join(','));
    if (!attributes || attributes.length < 2) fail('malformed', 'invalid SCRAM client-first message', 'other-error');
    const [[nKey, rawUser], [rKey, clientNonce]] = attributes as [[string, string], [string, string]];
    if (nKey !== 'n' || rKey !== 'r' || clientNonce === '') fail('malformed', 'invalid SCRAM client-first message', 'other-error');
    const user = decodeSaslName(rawUser);
    if (user === null || user === '') fail('malformed', 'invalid SCRAM user name', 'invalid-username-encoding');
    this.claimedUser = user;
    const authzid = gs2[3]?.slice(2);
    if (authzid !== undefined && authzid !== '' && decodeSaslName(authzid) !== user) fail('malformed', 'authorization id differs from the user name', 'other-error');
    // Extensions follow as name=value (Kafka's KIP-84 form). Kafka defines one, tokenauth
    // (delegation tokens), which Samsa does not issue.
    const extensions = items.slice(2).map((item) => item.split('=')[0]!);
    if (extensions.includes('tokenauth')) fail('malformed', 'delegation tokens are not supported', 'extensions-not-supported');
    if (extensions.length > 0) fail('malformed', `unsupported SCRAM extensions: ${extensions.join(', ')}`, 'extensions-not-supported');
    this.credential = this.credentials(user, this.mechanism) ?? this.decoy(user);
    this.nonce = clientNonce + this.serverNonce;
    this.serverFirst = `r=${this.nonce},s=${this.credential.salt.toString('base64')},i=${this.credential.iterations}`;
    this.state = 'final';
    return { reply: Buffer.from(this.serverFirst) };
  }

  private final(text: string): SaslStep {
    this.state = 'done';
    const proofAt = text.lastIndexOf(',p=');
    const attributes = parseAttributes(text);
    if (proofAt < 0 || !attributes || attributes.length < 3) fail('malformed', 'invalid SCRAM client-final message', 'other-error');
    const [[cKey, binding], [rKey, nonce]] = attributes as [[string, string], [string, string]];
    if (cKey !== 'c' || rKey !== 'r' || attributes[attributes.length - 1]![0] !== 'p') fail('malformed', 'invalid SCRAM client-final message', 'other-error');
    if (attributes.length > 3) fail('malformed', 'unsupported SCRAM extensions in client-final message', 'extensions-not-supported');
    if (binding !== Buffer.from(this.gs2Header).toString('base64')) fail('malformed', 'channel binding data does not match the gs2 header', 'channel-bindings-dont-match');
    // Kafka checks only that the nonce ends with the server-first one: librdkafka sends its own
    // part again in front of the combined nonce, and Kafka accepts that.
    if (!nonce.endsWith(this.nonce)) fail('malformed', 'nonce does not match the server-first message', 'other-error');
    const credential = this.credential!;
    const proof = Buffer.from(attributes[2]![1], 'base64');
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${text.slice(0, proofAt)}`;
    const clientSignature = hmac(this.mechanism, credential.storedKey, authMessage);
    const valid = proof.length === clientSignature.length && safeEqual(hash(this.mechanism, xor(proof, clientSignature)), credential.storedKey);
    if (!valid) fail('credentials', this.decoyUser ? 'unknown user' : 'wrong password', 'invalid-proof');
    const verifier = hmac(this.mechanism, credential.serverKey, authMessage);
    return { reply: Buffer.from(`v=${verifier.toString('base64')}`), user: this.claimedUser! };
  }

  private decoy(user: string): ScramCredential {
    this.decoyUser = true;
    const salt = hmac(this.mechanism, DECOY_SECRET, `salt:${user}`);
    return { salt, iterations: MIN_ITERATIONS, storedKey: randomBytes(salt.length), serverKey: randomBytes(salt.length) };
  }
}
