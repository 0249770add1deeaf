// SASL on a SASL_PLAINTEXT listener of a real broker process, with real clients: kafkajs (PLAIN,
// SCRAM-SHA-256, SCRAM-SHA-512), kcat (librdkafka, SCRAM-SHA-512), Kafka's kafka-configs managing
// SCRAM users over a SASL connection, and raw connections for every refusal (wrong password,
// unknown user, wrong mechanism, requests out of order) — each refused with Kafka's error, the
// connection closed, nothing written. KIP-368: the Java client re-authenticates on its open
// connections when the broker gives a session lifetime; a connection that does not is cut off.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect as connectSocket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../protocol/client.js';
import { ErrorCode } from '../protocol/errors.js';
import { encodeRequest } from '../protocol/frame.js';
import {
  alterUserScramCredentialsApi,
  apiVersionsApi,
  describeUserScramCredentialsApi,
  listOffsetsApi,
  metadataApi,
  produceApi,
  saslAuthenticateApi,
  saslHandshakeApi,
} from '../protocol/messages/index.js';
import { type SaslCredentials, SaslClientError, authenticateSasl } from '../protocol/sasl-client.js';
import { buildRecordBatch } from '../records/batch-builder.js';
import { saltedPassword } from '../security/sasl/scram.js';
import { BrokerProcess } from './broker-process.js';
import { SamsaCluster } from './samsa-cluster.js';
import { eventuallyPasses } from './eventually.js';
import { KAFKA_LIB, ensureKafka } from './kafka-process.ts';
import { cli } from './kafka-tools.js';
import { consumeValues } from './kafkajs-consume.js';
import { kcatConsume, kcatProduce, kcatSasl } from './kcat.js';
import { mustCreateTopic } from './topics.js';
import { TlsTestFiles, keystorePem } from './tls-files.js';

const { Kafka, logLevel } = kafkajs;

/** The broker ScramUsers talks to. */
let currentBootstrap = '';

const ADMIN: SaslCredentials = { mechanism: 'SCRAM-SHA-512', username: 'admin', password: 'admin-secret' };
const SEEDS = ['--add-scram', 'SCRAM-SHA-256=[name=admin,password=admin-secret]', '--add-scram', 'SCRAM-SHA-512=[name=admin,password=admin-secret,iterations=8192]'];
const ADMIN_JAAS = 'org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="admin-secret";';
const SASL_LISTENER = { listeners: 'SASL_PLAINTEXT://127.0.0.1:0', 'sasl.jaas.config': ADMIN_JAAS, 'group.initial.rebalance.delay.ms': '0' };

async function connect(broker: BrokerProcess, credentials?: SaslCredentials): Promise<KafkaConnection> {
  const c = await KafkaConnection.open('127.0.0.1', broker.port, 'sasl-test');
  if (credentials) await authenticateSasl(c, credentials);
  return c;
}

async function saslError(promise: Promise<unknown>): Promise<SaslClientError> {
  const err = await promise.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(SaslClientError);
  return err as SaslClientError;
}

async function metrics(broker: BrokerProcess): Promise<string> {
  return (await fetch(`${broker.httpUrl}/metrics`)).text();
}

/** The value of one sample of /metrics, 0 when absent. */
async function sample(broker: BrokerProcess, line: string): Promise<number> {
  const found = (await metrics(broker)).split('\n').find((l) => l.startsWith(line + ' '));
  return found ? Number(found.slice(found.lastIndexOf(' ') + 1)) : 0;
}

async function nextOffset(c: KafkaConnection, topic: string): Promise<number> {
  const res = await c.send(listOffsetsApi, 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1, maxNumOffsets: 1 }] }], timeoutMs: 0 });
  return Number(res.topics[0]!.partitions[0]!.offset);
}

function metadataRequest(topic: string) {
  return { topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: topic }], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false };
}

function kafkajsClient(broker: BrokerProcess, mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512', username: string, password: string) {
  return new Kafka({ clientId: `sasl-${mechanism}`, brokers: [broker.bootstrap], sasl: { mechanism, username, password } as kafkajs.SASLOptions, logLevel: logLevel.NOTHING, retry: { retries: 2 } });
}

/** The Java client's Admin.describeUserScramCredentials: "user mechanism iterations" lines. */
async function scramUsers(properties: string, ...users: string[]): Promise<string[]> {
  const { code, out } = await new Promise<{ code: number; out: string }>((resolve) => {
    execFile('java', ['-Dorg.slf4j.simpleLogger.defaultLogLevel=error', '-Xmx256M', '-cp', `${KAFKA_LIB}/*`, join(import.meta.dirname, 'java/ScramUsers.java'), currentBootstrap, properties, ...users], { timeout: 90_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? 1 : 0, out: stdout + stderr }),
    );
  });
  if (code !== 0) throw new Error(`ScramUsers failed:\n${out}`);
  return out.split('\n').filter(Boolean);
}

/** A Java client properties file for SASL_PLAINTEXT with SCRAM. */
function clientProperties(mechanism: string, username: string, password: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'samsa-sasl-')), 'client.properties');
  writeFileSync(
    file,
    [
      'security.protocol=SASL_PLAINTEXT',
      `sasl.mechanism=${mechanism}`,
      `sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${username}" password="${password}";`,
      '',
    ].join('\n'),
  );
  return file;
}

describe('SASL_PLAINTEXT listener', () => {
  let broker: BrokerProcess;

  beforeAll(async () => {
    ensureKafka();
    broker = await BrokerProcess.start(SASL_LISTENER, SEEDS);
    currentBootstrap = broker.bootstrap;
    const c = await connect(broker, ADMIN);
    for (const topic of ['sasl-plain', 'sasl-scram-sha-256', 'sasl-scram-sha-512', 'sasl-guarded', 'sasl-kcat']) await mustCreateTopic(c, topic);
    await c.close();
  }, 60_000);

  afterAll(async () => {
    await broker?.destroy();
  });

  it('kafkajs produces and consumes with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512', async () => {
    for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512'] as const) {
      const kafka = kafkajsClient(broker, mechanism, 'admin', 'admin-secret');
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic: `sasl-${mechanism}`, messages: [{ value: `${mechanism}-1` }, { value: `${mechanism}-2` }] });
      await producer.disconnect();
      expect(await consumeValues(kafka, `sasl-${mechanism}`, 2)).toEqual([`${mechanism}-1`, `${mechanism}-2`]);
    }
    for (const mechanism of ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']) {
      expect(await sample(broker, `samsa_successful_authentication_total{listener="SASL_PLAINTEXT",mechanism="${mechanism}",reauthentication="false"}`)).toBeGreaterThan(0);
    }
  }, 120_000);

  it('kcat (librdkafka) produces and consumes with SCRAM-SHA-512', async () => {
    const sasl = kcatSasl('SCRAM-SHA-512', 'admin', 'admin-secret');
    await kcatProduce(broker.bootstrap, 'sasl-kcat', ['k1:one', 'k2:two'], ['-K', ':', ...sasl]);
    expect((await kcatConsume(broker.bootstrap, 'sasl-kcat', 'beginning', sasl)).map((r) => `${r.key}=${r.value}`)).toEqual(['k1=one', 'k2=two']);
    // The wrong password: kcat (quiet) gives up without reading anything; the broker counted the refusal.
    const failed = 'samsa_failed_authentication_total{listener="SASL_PLAINTEXT",mechanism="SCRAM-SHA-512"}';
    const failedBefore = await sample(broker, failed);
    const refused = await kcatConsume(broker.bootstrap, 'sasl-kcat', 'beginning', kcatSasl('SCRAM-SHA-512', 'admin', 'wrong')).then(() => null, (e: Error) => e);
    expect(refused?.message).toContain('Failed to query metadata for topic sasl-kcat');
    expect(await sample(broker, failed)).toBeGreaterThan(failedBefore);
  }, 120_000);

  it('refuses a wrong password, an unknown user and a wrong mechanism with Kafka\'s errors, closes, and writes nothing', async () => {
    const failedBefore = await sample(broker, 'samsa_failed_authentication_total{listener="SASL_PLAINTEXT",mechanism="SCRAM-SHA-256"}');
    const admin = await connect(broker, ADMIN);
    const offsetBefore = await nextOffset(admin, 'sasl-guarded');

    const wrong = await connect(broker);
    const err = await saslError(authenticateSasl(wrong, { mechanism: 'SCRAM-SHA-256', username: 'admin', password: 'not-the-password' }));
    expect(err.errorCode).toBe(ErrorCode.SASL_AUTHENTICATION_FAILED);
    expect(err.message).toBe('Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256');
    await wrong.closed;

    const unknown = await connect(broker);
    const plain = await saslError(authenticateSasl(unknown, { mechanism: 'PLAIN', username: 'mallory', password: 'guess' }));
    expect(plain.errorCode).toBe(ErrorCode.SASL_AUTHENTICATION_FAILED);
    expect(plain.message).toBe('Authentication failed during authentication due to invalid credentials with SASL mechanism PLAIN');
    await unknown.closed;

    const gssapi = await connect(broker);
    const handshake = await gssapi.send(saslHandshakeApi, 1, { mechanism: 'GSSAPI' });
    expect(handshake).toEqual({ errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms: ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] });
    await gssapi.closed;

    // kafkajs with a wrong password: its producer fails to connect; nothing is written.
    const producer = kafkajsClient(broker, 'scram-sha-256', 'admin', 'wrong').producer();
    await expect(producer.connect()).rejects.toThrow(/SASL SCRAM SHA256 authentication failed|invalid credentials/);
    await producer.disconnect();

    expect(await nextOffset(admin, 'sasl-guarded')).toBe(offsetBefore);
    await admin.close();
    expect(await sample(broker, 'samsa_failed_authentication_total{listener="SASL_PLAINTEXT",mechanism="SCRAM-SHA-256"}')).toBe(failedBefore + 2);
    expect(await sample(broker, 'samsa_failed_authentication_total{listener="SASL_PLAINTEXT",mechanism="PLAIN"}')).toBeGreaterThanOrEqual(1);
    expect(await sample(broker, 'samsa_failed_authentication_total{listener="SASL_PLAINTEXT",mechanism="unsupported"}')).toBeGreaterThanOrEqual(1);
    // Logged with who tried, how and from where — never the password.
    const failures = broker.output.split('\n').filter((l) => l.includes('SASL authentication failed'));
    expect(failures.some((l) => l.includes('"user":"mallory"') && l.includes('"mechanism":"PLAIN"') && l.includes('"listener":"SASL_PLAINTEXT"') && l.includes('"remote":"'))).toBe(true);
    expect(broker.output).not.toContain('not-the-password');
    expect(broker.output).not.toContain('guess');
  }, 60_000);

  it('serves only ApiVersions, SaslHandshake and SaslAuthenticate before authentication, in order', async () => {
    const admin = await connect(broker, ADMIN);
    const offsetBefore = await nextOffset(admin, 'sasl-guarded');

    // ApiVersions first is answered; a Produce then closes the connection unanswered.
    const producer = await connect(broker);
    expect((await producer.send(apiVersionsApi, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' })).errorCode).toBe(0);
    const produce = producer.send(produceApi, 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 'sasl-guarded', partitionData: [{ index: 0, records: buildRecordBatch([{ value: Buffer.from('sneaky') }]) }] }] });
    await expect(produce).rejects.toThrow('connection closed');

    const metadata = await connect(broker);
    await expect(metadata.send(metadataApi, 12, metadataRequest('sasl-guarded'))).rejects.toThrow('connection closed');

    // SaslAuthenticate before SaslHandshake: ILLEGAL_SASL_STATE, then closed.
    const early = await connect(broker);
    const res = await early.send(saslAuthenticateApi, 2, { authBytes: Buffer.from('\0admin\0admin-secret') });
    expect(res.errorCode).toBe(ErrorCode.ILLEGAL_SASL_STATE);
    await early.closed;

    // A second SaslHandshake during authentication: ILLEGAL_SASL_STATE, then closed.
    const twice = await connect(broker);
    expect((await twice.send(saslHandshakeApi, 1, { mechanism: 'PLAIN' })).errorCode).toBe(0);
    expect((await twice.send(saslHandshakeApi, 1, { mechanism: 'PLAIN' })).errorCode).toBe(ErrorCode.ILLEGAL_SASL_STATE);
    await twice.closed;

    // Between SaslHandshake and SaslAuthenticate, another request closes the connection.
    const between = await connect(broker);
    expect((await between.send(saslHandshakeApi, 1, { mechanism: 'SCRAM-SHA-512' })).errorCode).toBe(0);
    await expect(between.send(metadataApi, 12, metadataRequest('sasl-guarded'))).rejects.toThrow('connection closed');

    expect(await nextOffset(admin, 'sasl-guarded')).toBe(offsetBefore);
    await admin.close();
    expect(broker.output).toContain('unexpected Kafka request of API key 0 during SASL handshake');
  }, 60_000);

  it('after SaslHandshake v0 takes bare SASL tokens (no SaslAuthenticate framing), as Kafka does for old clients', async () => {
    const open = async () => {
      const socket = connectSocket({ host: '127.0.0.1', port: broker.port });
      socket.on('error', () => {});
      await once(socket, 'connect');
      const closed = once(socket, 'close');
      let buffered = Buffer.alloc(0);
      socket.on('data', (d: Buffer) => (buffered = Buffer.concat([buffered, d])));
      /** The next size-prefixed frame's body. */
      const frame = async () => {
        await eventuallyPasses('a frame', () => expect(buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)).toBe(true), 10_000);
        const body = buffered.subarray(4, 4 + buffered.readInt32BE(0));
        buffered = buffered.subarray(4 + body.length);
        return body;
      };
      return { socket, closed, frame };
    };
    const sized = (token: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, token.length]), token]);

    const good = await open();
    good.socket.write(encodeRequest(saslHandshakeApi, 0, 1, 'old-client', { mechanism: 'PLAIN' }));
    const handshake = await good.frame();
    expect(handshake.readInt32BE(0)).toBe(1);
    expect(handshake.readInt16BE(4)).toBe(ErrorCode.NONE);
    good.socket.write(sized(Buffer.from('\0admin\0admin-secret')));
    expect((await good.frame()).length).toBe(0); // PLAIN's (empty) server token
    good.socket.write(encodeRequest(apiVersionsApi, 0, 2, 'old-client', { clientSoftwareName: '', clientSoftwareVersion: '' }));
    expect((await good.frame()).readInt32BE(0)).toBe(2);
    good.socket.destroy();

    // A wrong password: v0 has no error answer; the connection closes.
    const bad = await open();
    bad.socket.write(encodeRequest(saslHandshakeApi, 0, 1, 'old-client', { mechanism: 'PLAIN' }));
    await bad.frame();
    bad.socket.write(sized(Buffer.from('\0admin\0wrong')));
    await bad.closed;
  }, 30_000);

  it('manages SCRAM users with Describe/AlterUserScramCredentials and refuses bad alterations per user', async () => {
    const admin = await connect(broker, ADMIN);
    const salt = Buffer.from('carol-salt');
    const upsert = (name: string, mechanism: number, iterations: number, password = 'carol-secret') =>
      saltedPassword(mechanism === 1 ? 'SCRAM-SHA-256' : 'SCRAM-SHA-512', password, salt, Math.max(iterations, 1)).then((saltedPassword) => ({ name, mechanism, iterations, salt, saltedPassword }));
    const altered = await admin.send(alterUserScramCredentialsApi, 0, {
      deletions: [{ name: 'nobody', mechanism: 1 }, { name: 'dave', mechanism: 2 }],
      upsertions: [
        await upsert('carol', 2, 4096),
        await upsert('dave', 2, 4096),
        await upsert('erin', 1, 1000),
        await upsert('frank', 1, 20000),
        { name: 'grace', mechanism: 3, iterations: 4096, salt, saltedPassword: salt },
      ],
    });
    expect(altered.results.map((r) => [r.user, r.errorCode, r.errorMessage])).toEqual([
      ['nobody', ErrorCode.RESOURCE_NOT_FOUND, 'Attempt to delete a user credential that does not exist'],
      ['dave', ErrorCode.DUPLICATE_RESOURCE, 'A user credential cannot be altered twice in the same request'],
      ['carol', ErrorCode.NONE, null],
      ['erin', ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Too few iterations: at least 4096'],
      ['frank', ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Too many iterations: at most 16384'],
      ['grace', ErrorCode.UNSUPPORTED_SASL_MECHANISM, 'Unknown SCRAM mechanism'],
    ]);
    const described = await admin.send(describeUserScramCredentialsApi, 0, { users: [{ name: 'carol' }, { name: 'dave' }, { name: 'admin' }] });
    expect(described.results).toEqual([
      { user: 'carol', errorCode: 0, errorMessage: null, credentialInfos: [{ mechanism: 2, iterations: 4096 }] },
      { user: 'dave', errorCode: ErrorCode.RESOURCE_NOT_FOUND, errorMessage: 'Attempt to describe a user credential that does not exist', credentialInfos: [] },
      { user: 'admin', errorCode: 0, errorMessage: null, credentialInfos: [{ mechanism: 1, iterations: 4096 }, { mechanism: 2, iterations: 8192 }] },
    ]);
    // The new user authenticates with SCRAM-SHA-512 and with PLAIN (checked against that credential).
    await (await connect(broker, { mechanism: 'SCRAM-SHA-512', username: 'carol', password: 'carol-secret' })).close();
    await (await connect(broker, { mechanism: 'PLAIN', username: 'carol', password: 'carol-secret' })).close();
    expect((await admin.send(alterUserScramCredentialsApi, 0, { deletions: [{ name: 'carol', mechanism: 2 }], upsertions: [] })).results).toEqual([{ user: 'carol', errorCode: 0, errorMessage: null }]);
    const gone = await connect(broker);
    expect((await saslError(authenticateSasl(gone, { mechanism: 'SCRAM-SHA-512', username: 'carol', password: 'carol-secret' }))).errorCode).toBe(ErrorCode.SASL_AUTHENTICATION_FAILED);
    await admin.close();
  }, 60_000);

  it('kafka-configs adds, describes and deletes SCRAM users over a SASL connection', async () => {
    const config = clientProperties('SCRAM-SHA-512', 'admin', 'admin-secret');
    const configs = (...args: string[]) => cli('kafka.admin.ConfigCommand', ['--bootstrap-server', broker.bootstrap, '--command-config', config, ...args]);
    const added = await configs('--alter', '--add-config', 'SCRAM-SHA-256=[iterations=8192,password=alice-secret],SCRAM-SHA-512=[password=alice-secret]', '--entity-type', 'users', '--entity-name', 'alice');
    expect(added.out).toContain("Completed updating config for user alice.");
    // kafka-configs --describe --entity-type users asks DescribeClientQuotas first, which this
    // broker does not serve (client quotas are another part); the Java client's
    // describeUserScramCredentials is what it then calls.
    expect(await scramUsers(config, 'alice')).toEqual(['alice SCRAM-SHA-256 8192', 'alice SCRAM-SHA-512 4096']);
    expect(await scramUsers(config)).toEqual(expect.arrayContaining(['admin SCRAM-SHA-256 4096', 'admin SCRAM-SHA-512 8192', 'alice SCRAM-SHA-256 8192']));

    // alice's password works for SCRAM-SHA-256 (kcat) and the Java client's own SCRAM.
    const sasl = kcatSasl('SCRAM-SHA-256', 'alice', 'alice-secret');
    await kcatProduce(broker.bootstrap, 'sasl-kcat', ['by-alice'], sasl);
    expect((await kcatConsume(broker.bootstrap, 'sasl-kcat', 'beginning', sasl)).map((r) => r.value)).toContain('by-alice');
    expect(await scramUsers(clientProperties('SCRAM-SHA-256', 'alice', 'alice-secret'), 'alice')).toEqual(['alice SCRAM-SHA-256 8192', 'alice SCRAM-SHA-512 4096']);

    const deleted = await configs('--alter', '--delete-config', 'SCRAM-SHA-256,SCRAM-SHA-512', '--entity-type', 'users', '--entity-name', 'alice');
    expect(deleted.out).toContain('Completed updating config for user alice.');
    expect(await scramUsers(config, 'alice')).toEqual(['alice error Attempt to describe a user credential that does not exist']);
    const refused = await cli('kafka.admin.ConfigCommand', ['--bootstrap-server', broker.bootstrap, '--command-config', clientProperties('SCRAM-SHA-256', 'alice', 'alice-secret'), '--describe', '--entity-type', 'users']);
    expect(refused.code).not.toBe(0);
    expect(refused.out).toContain('Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256');
  }, 240_000);

  it('keeps --add-scram credentials across a restart with the same password and replaces them when it changes', async () => {
    const before = await connect(broker, ADMIN);
    const described = async (c: KafkaConnection) => (await c.send(describeUserScramCredentialsApi, 0, { users: [{ name: 'admin' }] })).results[0]!.credentialInfos;
    expect(await described(before)).toEqual([{ mechanism: 1, iterations: 4096 }, { mechanism: 2, iterations: 8192 }]);
    await before.close();
    await broker.restart();
    expect(broker.output.match(/stored SCRAM credential from --add-scram/g)).toHaveLength(2);
    await (await connect(broker, ADMIN)).close();

    const changed = await BrokerProcess.create(SASL_LISTENER, ['--add-scram', 'SCRAM-SHA-512=[name=admin,password="new,secret]"]'], [], { dataDir: broker.dataDir });
    await broker.stop();
    await changed.launch();
    try {
      expect(changed.output).toContain('stored SCRAM credential from --add-scram');
      const old = await KafkaConnection.open('127.0.0.1', changed.port);
      expect((await saslError(authenticateSasl(old, ADMIN))).errorCode).toBe(ErrorCode.SASL_AUTHENTICATION_FAILED);
      await (await KafkaConnection.open('127.0.0.1', changed.port).then(async (c) => (await authenticateSasl(c, { ...ADMIN, password: 'new,secret]' }), c))).close();
    } finally {
      await changed.stop();
      await broker.launch();
    }
  }, 60_000);
});

describe('PLAINTEXT listener', () => {
  it('answers SaslHandshake and SaslAuthenticate with ILLEGAL_SASL_STATE and serves everyone as ANONYMOUS', async () => {
    const broker = await BrokerProcess.start();
    try {
      const c = await connect(broker);
      expect(await c.send(saslHandshakeApi, 1, { mechanism: 'PLAIN' })).toEqual({ errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: [] });
      expect((await c.send(saslAuthenticateApi, 2, { authBytes: Buffer.from('\0admin\0admin-secret') })).errorCode).toBe(ErrorCode.ILLEGAL_SASL_STATE);
      await mustCreateTopic(c, 'open');
      expect((await c.send(metadataApi, 12, metadataRequest('open'))).topics[0]!.errorCode).toBe(0);
      await c.close();
    } finally {
      await broker.destroy();
    }
  });

});

describe('SASL_SSL: SCRAM and PLAIN over TLS', () => {
  const files = new TlsTestFiles();
  let broker: BrokerProcess;

  beforeAll(async () => {
    broker = await BrokerProcess.start(
      {
        listeners: 'SASL_SSL://127.0.0.1:0,PLAINTEXT://127.0.0.1:0',
        'inter.broker.listener.name': 'PLAINTEXT',
        'ssl.keystore.location': files.write('broker.pem', keystorePem(files.broker())),
        'ssl.truststore.location': files.write('ca.pem', files.ca.cert),
        'group.initial.rebalance.delay.ms': '0',
      },
      SEEDS,
    );
  }, 60_000);

  afterAll(async () => {
    await broker?.destroy();
    files.remove();
  });

  it('kafkajs with SCRAM-SHA-512 and PLAIN, and kcat with SCRAM-SHA-512, produce and consume; a wrong password writes nothing', async () => {
    const bootstrap = broker.bootstrapOn('SASL_SSL');
    const client = (mechanism: 'plain' | 'scram-sha-512', password: string) =>
      new Kafka({ clientId: `sasl-ssl-${mechanism}`, brokers: [bootstrap], ssl: { ca: [files.ca.cert] }, sasl: { mechanism, username: 'admin', password } as kafkajs.SASLOptions, logLevel: logLevel.NOTHING, retry: { retries: 1 } });
    const producer = client('scram-sha-512', 'admin-secret').producer();
    await producer.connect();
    await producer.send({ topic: 'over-tls', messages: [{ value: 'scram-1' }] });
    await producer.disconnect();
    const plain = client('plain', 'admin-secret').producer();
    await plain.connect();
    await plain.send({ topic: 'over-tls', messages: [{ value: 'plain-2' }] });
    await plain.disconnect();
    const tls = ['-X', `ssl.ca.location=${files.write('kcat-ca.pem', files.ca.cert)}`];
    await kcatProduce(bootstrap, 'over-tls', ['kcat-3'], kcatSasl('SCRAM-SHA-512', 'admin', 'admin-secret', 'SASL_SSL', tls));
    expect((await kcatConsume(bootstrap, 'over-tls', 'beginning', kcatSasl('SCRAM-SHA-512', 'admin', 'admin-secret', 'SASL_SSL', tls))).map((r) => r.value)).toEqual(['scram-1', 'plain-2', 'kcat-3']);
    expect(await consumeValues(client('scram-sha-512', 'admin-secret'), 'over-tls', 3)).toEqual(['scram-1', 'plain-2', 'kcat-3']);

    const wrong = client('scram-sha-512', 'not-the-password').producer();
    await expect(wrong.connect()).rejects.toThrow(/SASL SCRAM SHA512 authentication failed/);
    await expect(kcatProduce(bootstrap, 'over-tls', ['refused'], [...kcatSasl('SCRAM-SHA-512', 'admin', 'wrong', 'SASL_SSL', tls), '-X', 'message.timeout.ms=5000'])).rejects.toThrow();
    const c = await KafkaConnection.open('127.0.0.1', broker.listenerPorts.get('PLAINTEXT')!, 'sasl-ssl-check');
    expect(await nextOffset(c, 'over-tls')).toBe(3);
    await c.close();
  });
});

describe('KIP-368 re-authentication (connections.max.reauth.ms=3000)', () => {
  let broker: BrokerProcess;

  beforeAll(async () => {
    ensureKafka();
    broker = await BrokerProcess.start({ ...SASL_LISTENER, 'connections.max.reauth.ms': '3000' }, SEEDS);
    const c = await connect(broker, ADMIN);
    await mustCreateTopic(c, 'reauth');
    await c.close();
  }, 60_000);

  afterAll(async () => {
    await broker?.destroy();
  });

  it('gives the session lifetime; a connection that does not re-authenticate is closed at its next request past it', async () => {
    const c = await KafkaConnection.open('127.0.0.1', broker.port);
    expect(await authenticateSasl(c, ADMIN)).toEqual({ sessionLifetimeMs: 3000 });
    expect((await c.send(metadataApi, 12, metadataRequest('reauth'))).topics[0]!.errorCode).toBe(0);
    const expiredBefore = await sample(broker, 'samsa_connections_closed_total{reason="session_expired"}');
    await new Promise((r) => setTimeout(r, 3200));
    await expect(c.send(metadataApi, 12, metadataRequest('reauth'))).rejects.toThrow('connection closed');
    expect(await sample(broker, 'samsa_connections_closed_total{reason="session_expired"}')).toBe(expiredBefore + 1);
  }, 30_000);

  it('re-authenticates on the open connection as the same principal, and refuses another principal', async () => {
    const c = await KafkaConnection.open('127.0.0.1', broker.port);
    await authenticateSasl(c, ADMIN);
    await new Promise((r) => setTimeout(r, 2000));
    expect(await authenticateSasl(c, ADMIN)).toEqual({ sessionLifetimeMs: 3000 });
    await new Promise((r) => setTimeout(r, 2000));
    // Past the first session's end, inside the second's.
    expect((await c.send(metadataApi, 12, metadataRequest('reauth'))).topics[0]!.errorCode).toBe(0);
    await c.close();

    const admin = await connect(broker, ADMIN);
    await admin.send(alterUserScramCredentialsApi, 0, { deletions: [], upsertions: [{ name: 'other', mechanism: 2, iterations: 4096, salt: Buffer.from('s'), saltedPassword: await saltedPassword('SCRAM-SHA-512', 'other-secret', Buffer.from('s'), 4096) }] });
    const other = await saslError(authenticateSasl(admin, { mechanism: 'SCRAM-SHA-512', username: 'other', password: 'other-secret' }));
    expect(other.errorCode).toBe(ErrorCode.SASL_AUTHENTICATION_FAILED);
    expect(other.message).toBe('Cannot change principals during re-authentication from User:admin: User:other');
    await admin.closed;
  }, 30_000);

  it('the Java client re-authenticates: a console producer running past the session lifetime keeps its connection', async () => {
    const config = clientProperties('SCRAM-SHA-512', 'admin', 'admin-secret');
    const expiredBefore = await sample(broker, 'samsa_connections_closed_total{reason="session_expired"}');
    const producer: ChildProcess = spawn('java', ['-Dorg.slf4j.simpleLogger.defaultLogLevel=error', '-Xmx256M', '-cp', `${KAFKA_LIB}/*`, 'org.apache.kafka.tools.ConsoleProducer', '--bootstrap-server', broker.bootstrap, '--topic', 'reauth', '--producer.config', config], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    producer.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    producer.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((r) => producer.once('exit', (code) => r(code)));
    try {
      for (let i = 1; i <= 3; i++) {
        producer.stdin!.write(`line-${i}\n`);
        // A connection per look: this one's own session would expire too.
        await eventuallyPasses(`record ${i} to arrive`, async () => {
          const admin = await connect(broker, ADMIN);
          try {
            expect(await nextOffset(admin, 'reauth')).toBe(i);
          } finally {
            await admin.close();
          }
        }, 60_000);
        // Past the 3 s session: the next send needs a re-authenticated connection.
        if (i < 3) await new Promise((r) => setTimeout(r, 3500));
      }
      producer.stdin!.end();
      expect(await exited).toBe(0);
    } finally {
      producer.kill('SIGKILL');
    }
    expect(await sample(broker, 'samsa_successful_authentication_total{listener="SASL_PLAINTEXT",mechanism="SCRAM-SHA-512",reauthentication="true"}')).toBeGreaterThan(0);
    expect(await sample(broker, 'samsa_connections_closed_total{reason="session_expired"}'), output).toBe(expiredBefore);
    expect((await kcatConsume(broker.bootstrap, 'reauth', 'beginning', kcatSasl('SCRAM-SHA-512', 'admin', 'admin-secret'))).map((r) => r.value)).toEqual(['line-1', 'line-2', 'line-3']);
  }, 120_000);
});

describe('replication over a SASL_SSL inter-broker listener', () => {
  const files = new TlsTestFiles();
  let cluster: SamsaCluster;

  afterAll(async () => {
    await cluster?.stop();
    files.remove();
  });

  it('three brokers whose only listener is SASL_SSL replicate an RF 3 topic, logging in to each other with SCRAM', async () => {
    cluster = await SamsaCluster.start({
      brokers: 3,
      config: {
        listeners: 'SASL_SSL://127.0.0.1:0',
        'ssl.keystore.location': files.write('broker.pem', keystorePem(files.broker())),
        'ssl.truststore.location': files.write('ca.pem', files.ca.cert),
        'sasl.mechanism.inter.broker.protocol': 'SCRAM-SHA-512',
        'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config': ADMIN_JAAS,
        'min.insync.replicas': '3',
      },
      extraArgs: SEEDS,
    });
    const kafka = new Kafka({ clientId: 'sasl-ssl-cluster', brokers: cluster.brokers.map((b) => b.bootstrap), ssl: { ca: [files.ca.cert] }, sasl: { mechanism: 'scram-sha-512', username: 'admin', password: 'admin-secret' }, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'replicated', numPartitions: 3, replicationFactor: 3 }], waitForLeaders: true });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    // acks=all with min.insync.replicas=3: acknowledged only once both followers fetched it over SASL_SSL.
    await producer.send({ topic: 'replicated', acks: -1, messages: Array.from({ length: 30 }, (_, i) => ({ key: String(i), value: `v${i}` })) });
    await producer.disconnect();
    expect((await consumeValues(kafka, 'replicated', 30)).sort()).toEqual(Array.from({ length: 30 }, (_, i) => `v${i}`).sort());
    const ok = await fetch(`${cluster.brokers[0]!.httpUrl}/v1/caught-up`);
    expect(ok.status).toBe(200);
  }, 240_000);
});
