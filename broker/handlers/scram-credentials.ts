// DescribeUserScramCredentials and AlterUserScramCredentials (KIP-554; kafka-configs --entity-type
// users). The client sends a salt and a salted password, never the password; the broker derives
// StoredKey and ServerKey and keeps those. Each user's alterations succeed or fail together.
// Also SaslHandshake / SaslAuthenticate on a listener without SASL: the connection's authenticator
// answers them on SASL listeners, so reaching these handlers means SASL is not in use here.
import type { BrokerContext } from '../context.js';
import { ErrorCode } from '../protocol/errors.js';
import type {
  AlterUserScramCredentialsRequest,
  AlterUserScramCredentialsResponse,
  DescribeUserScramCredentialsRequest,
  DescribeUserScramCredentialsResponse,
  SaslAuthenticateResponse,
  SaslHandshakeResponse,
} from '../protocol/messages/index.js';
import { type CredentialChange } from '../security/scram-credentials.js';
import { MAX_ITERATIONS, MIN_ITERATIONS, credentialFromSaltedPassword, mechanismOfType, mechanismType } from '../security/sasl/scram.js';

export function handleDescribeUserScramCredentials(broker: BrokerContext, req: DescribeUserScramCredentialsRequest): DescribeUserScramCredentialsResponse {
  const credentials = broker.scramCredentials;
  const all = req.users === null || req.users.length === 0;
  const names = all ? credentials.userNames() : req.users!.map((u) => u.name);
  const counts = new Map<string, number>();
  for (const name of names) counts.set(name, (counts.get(name) ?? 0) + 1);
  const results = [...counts].map(([user, count]) => {
    if (count > 1) return { user, errorCode: ErrorCode.DUPLICATE_RESOURCE, errorMessage: 'Cannot describe SCRAM credentials for the same user twice in a single request', credentialInfos: [] };
    const described = credentials.describe(user);
    if (!described) return { user, errorCode: ErrorCode.RESOURCE_NOT_FOUND, errorMessage: 'Attempt to describe a user credential that does not exist', credentialInfos: [] };
    return { user, errorCode: ErrorCode.NONE, errorMessage: null, credentialInfos: described.map((c) => ({ mechanism: mechanismType(c.mechanism), iterations: c.iterations })) };
  });
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, results };
}

type UserError = { errorCode: number; errorMessage: string };

export async function handleAlterUserScramCredentials(broker: BrokerContext, req: AlterUserScramCredentialsRequest): Promise<AlterUserScramCredentialsResponse> {
  const credentials = broker.scramCredentials;
  const changes = new Map<string, CredentialChange[]>();
  const errors = new Map<string, UserError>();
  const refuse = (user: string, errorCode: number, errorMessage: string): void => {
    if (!errors.has(user)) errors.set(user, { errorCode, errorMessage });
  };
  const alterations = [...req.deletions.map((d) => ({ ...d, upsertion: undefined })), ...req.upsertions.map((u) => ({ name: u.name, mechanism: u.mechanism, upsertion: u }))];
  // A credential named twice fails its user whatever else is wrong with the alterations.
  const seen = new Set<string>();
  for (const { name: user, mechanism } of alterations) {
    const key = `${user}\0${mechanism}`;
    if (seen.has(key)) refuse(user, ErrorCode.DUPLICATE_RESOURCE, 'A user credential cannot be altered twice in the same request');
    seen.add(key);
  }
  for (const { name: user, mechanism: type, upsertion } of alterations) {
    if (!changes.has(user)) changes.set(user, []);
    if (user === '') {
      refuse(user, ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Username must not be empty');
      continue;
    }
    const mechanism = mechanismOfType(type);
    if (!mechanism) {
      refuse(user, ErrorCode.UNSUPPORTED_SASL_MECHANISM, 'Unknown SCRAM mechanism');
      continue;
    }
    if (!upsertion) {
      if (!credentials.get(user, mechanism)) refuse(user, ErrorCode.RESOURCE_NOT_FOUND, 'Attempt to delete a user credential that does not exist');
      else changes.get(user)!.push([mechanism, undefined]);
      continue;
    }
    if (upsertion.iterations < MIN_ITERATIONS) refuse(user, ErrorCode.UNACCEPTABLE_CREDENTIAL, `Too few iterations: at least ${MIN_ITERATIONS}`);
    else if (upsertion.iterations > MAX_ITERATIONS) refuse(user, ErrorCode.UNACCEPTABLE_CREDENTIAL, `Too many iterations: at most ${MAX_ITERATIONS}`);
    else if (upsertion.salt.length === 0 || upsertion.saltedPassword.length === 0) refuse(user, ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Salt and salted password must not be empty');
    else changes.get(user)!.push([mechanism, credentialFromSaltedPassword(mechanism, Buffer.from(upsertion.salt), Buffer.from(upsertion.saltedPassword), upsertion.iterations)]);
  }
  const results = await Promise.all(
    [...changes].map(async ([user, userChanges]) => {
      const error = errors.get(user);
      if (error) return { user, ...error };
      await credentials.change(user, userChanges);
      broker.logger.info({ user, changed: userChanges.map(([mechanism, c]) => `${c ? 'set' : 'deleted'} ${mechanism}`) }, 'SCRAM credentials altered');
      return { user, errorCode: ErrorCode.NONE, errorMessage: null };
    }),
  );
  return { throttleTimeMs: 0, results };
}

export function handleSaslHandshakeWithoutSasl(): SaslHandshakeResponse {
  return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: [] };
}

export function handleSaslAuthenticateWithoutSasl(): SaslAuthenticateResponse {
  return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, errorMessage: 'SaslAuthenticate request received on a listener without SASL or after successful authentication', authBytes: Buffer.alloc(0), sessionLifetimeMs: 0 };
}
