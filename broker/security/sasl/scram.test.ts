// SCRAM and PLAIN on the server side against RFC 7677's SCRAM-SHA-256 exchange, and the ways an
// exchange is refused. Integration tests with real clients: broker/test/sasl.test.ts.
import { describe, expect, it } from 'vitest';
import { SaslAuthenticationError } from './mechanism.js';
import { PlainServer } from './plain.js';
import { ScramServer } from './scram-server.js';
import { type ScramCredential, type ScramMechanism, credentialFromPassword, passwordMatches } from './scram.js';

// RFC 7677 section 3: user "user", password "pencil".
const RFC_SALT = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
const RFC_CLIENT_FIRST = 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO';
const RFC_SERVER_NONCE = '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
const RFC_SERVER_FIRST = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
const RFC_CLIENT_FINAL = 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=';
const RFC_SERVER_FINAL = 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=';

async function rfcServer(): Promise<ScramServer> {
  const credential = await credentialFromPassword('SCRAM-SHA-256', 'pencil', 4096, RFC_SALT);
  return new ScramServer('SCRAM-SHA-256', (user, mechanism) => (user === 'user' && mechanism === 'SCRAM-SHA-256' ? credential : undefined), RFC_SERVER_NONCE);
}

async function refusal(promise: Promise<unknown>): Promise<SaslAuthenticationError> {
  const err = await promise.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(SaslAuthenticationError);
  return err as SaslAuthenticationError;
}

describe('SCRAM server', () => {
  it('reproduces RFC 7677\'s SCRAM-SHA-256 exchange', async () => {
    const server = await rfcServer();
    const first = await server.evaluate(Buffer.from(RFC_CLIENT_FIRST));
    expect(first.reply.toString()).toBe(RFC_SERVER_FIRST);
    expect(first.user).toBeUndefined();
    const final = await server.evaluate(Buffer.from(RFC_CLIENT_FINAL));
    expect(final.reply.toString()).toBe(RFC_SERVER_FINAL);
    expect(final.user).toBe('user');
  });

  it('refuses a wrong proof with e=invalid-proof, and an unknown user the same way at the same step', async () => {
    const server = await rfcServer();
    await server.evaluate(Buffer.from(RFC_CLIENT_FIRST));
    const wrong = await refusal(server.evaluate(Buffer.from(RFC_CLIENT_FINAL.replace('p=dHzb', 'p=eHzb'))));
    expect(wrong.kind).toBe('credentials');
    expect(wrong.reply.toString()).toBe('e=invalid-proof');

    const unknown = await rfcServer();
    const first = await unknown.evaluate(Buffer.from('n,,n=nobody,r=rOprNGfwEbeRWgbNEkqO'));
    expect(first.reply.toString()).toMatch(/^r=rOprNGfwEbeRWgbNEkqO.+,s=.+,i=4096$/);
    const err = await refusal(unknown.evaluate(Buffer.from(RFC_CLIENT_FINAL)));
    expect(err.kind).toBe('credentials');
    expect(err.detail).toBe('unknown user');
    expect(err.reply.toString()).toBe('e=invalid-proof');
  });

  it('refuses channel binding, extensions, delegation tokens, a changed nonce and garbage', async () => {
    const cases: [string, string][] = [
      ['p=tls-unique,,n=user,r=abc', 'e=channel-bindings-not-supported'],
      ['n,,m=ext,n=user,r=abc', 'e=extensions-not-supported'],
      ['n,,n=user,r=abc,tokenauth=true', 'e=extensions-not-supported'],
      ['n,,n=user,r=abc,foo=bar', 'e=extensions-not-supported'],
      ['n,,n=us=ZZer,r=abc', 'e=invalid-username-encoding'],
      ['hello', 'e=other-error'],
    ];
    for (const [message, reply] of cases) {
      const err = await refusal((await rfcServer()).evaluate(Buffer.from(message)));
      expect(err.kind, message).toBe('malformed');
      expect(err.reply.toString(), message).toBe(reply);
    }
    const server = await rfcServer();
    await server.evaluate(Buffer.from(RFC_CLIENT_FIRST));
    const nonce = await refusal(server.evaluate(Buffer.from(RFC_CLIENT_FINAL.replace('$k0,p=', '$k1,p='))));
    expect(nonce.detail).toContain('nonce');
    const again = await refusal(server.evaluate(Buffer.from(RFC_CLIENT_FINAL)));
    expect(again.detail).toContain('complete');
  });

  it('accepts a client-final nonce that ends with the server-first one, as Kafka does for librdkafka', async () => {
    // librdkafka puts its own nonce in front of the combined one again; the proof covers what it sent.
    const server = await rfcServer();
    await server.evaluate(Buffer.from(RFC_CLIENT_FIRST));
    const doubled = RFC_CLIENT_FINAL.replace('r=', 'r=rOprNGfwEbeRWgbNEkqO');
    const err = await refusal(server.evaluate(Buffer.from(doubled)));
    // The RFC's proof was computed over the original message, so it no longer checks out: the nonce passed.
    expect(err.kind).toBe('credentials');
  });

  it('accepts an authorization id equal to the user and decodes =2C and =3D in names', async () => {
    const credential = await credentialFromPassword('SCRAM-SHA-512', 'x', 4096);
    const server = new ScramServer('SCRAM-SHA-512', (user) => (user === 'a,b=c' ? credential : undefined));
    const first = await server.evaluate(Buffer.from('n,a=a=2Cb=3Dc,n=a=2Cb=3Dc,r=nonce'));
    expect(first.reply.toString()).toContain(`s=${credential.salt.toString('base64')}`);
    const other = new ScramServer('SCRAM-SHA-512', () => credential);
    expect((await refusal(other.evaluate(Buffer.from('n,a=admin,n=alice,r=nonce')))).detail).toContain('authorization id');
  });
});

describe('PLAIN server', () => {
  const stored = new Map<string, ScramCredential>();
  const lookup = (user: string, mechanism: ScramMechanism) => stored.get(`${user}/${mechanism}`);

  it('checks the password against the SCRAM-SHA-512 credential, else the SHA-256 one', async () => {
    stored.set('alice/SCRAM-SHA-256', await credentialFromPassword('SCRAM-SHA-256', 'alice-256', 4096));
    stored.set('alice/SCRAM-SHA-512', await credentialFromPassword('SCRAM-SHA-512', 'alice-512', 4096));
    stored.set('bob/SCRAM-SHA-256', await credentialFromPassword('SCRAM-SHA-256', 'bob-secret', 8192));
    expect((await new PlainServer(lookup).evaluate(Buffer.from('\0alice\0alice-512'))).user).toBe('alice');
    expect((await refusal(new PlainServer(lookup).evaluate(Buffer.from('\0alice\0alice-256')))).detail).toBe('wrong password');
    expect((await new PlainServer(lookup).evaluate(Buffer.from('bob\0bob\0bob-secret'))).user).toBe('bob');
    expect((await refusal(new PlainServer(lookup).evaluate(Buffer.from('\0carol\0x')))).detail).toBe('unknown user');
  });

  it('refuses malformed messages and another authorization id', async () => {
    for (const [message, detail] of [
      ['alice', 'expected 3 tokens, got 1'],
      ['\0\0pw', 'username not specified'],
      ['\0alice\0', 'password not specified'],
      ['admin\0alice\0pw', 'authorization id that is different'],
    ]) {
      const err = await refusal(new PlainServer(lookup).evaluate(Buffer.from(message!)));
      expect(err.kind).toBe('malformed');
      expect(err.detail).toContain(detail);
    }
  });

  it('a stored credential matches its password only', async () => {
    const credential = await credentialFromPassword('SCRAM-SHA-256', 'right', 4096);
    expect(await passwordMatches('SCRAM-SHA-256', credential, 'right')).toBe(true);
    expect(await passwordMatches('SCRAM-SHA-256', credential, 'wrong')).toBe(false);
  });
});
