// Listeners and TLS on one broker, with real clients over real TLS: kcat (librdkafka) and kafkajs
// over SSL, mTLS with ssl.client.auth=required refusing clients without a certificate of the
// trusted CA (or with an expired one), the principal from the client certificate, per-listener
// endpoints in Metadata/DescribeCluster/FindCoordinator, certificate reload without a restart,
// and key store problems at start. Certificates come from operator/tls/certificate-authority.ts.
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import { createCertificateAuthority, validForDays } from '../../operator/tls/certificate-authority.js';
import { KafkaConnection } from '../protocol/client.js';
import { apiVersionsApi, describeClusterApi, describeConfigsApi, findCoordinatorApi, metadataApi } from '../protocol/messages/index.js';
import { BrokerProcess } from './broker-process.js';
import { eventually } from './eventually.js';
import { kcatConsume, kcatMetadata, kcatProduce } from './kcat.js';
import { TlsTestFiles, keystorePem } from './tls-files.js';

const { Kafka, logLevel } = kafkajs;

const files = new TlsTestFiles();
let broker: BrokerProcess;
let caFile: string;

/** kcat options for an SSL listener, with a client certificate when given. */
function kcatSsl(ca: string, client?: { cert: string; key: string }): string[] {
  const opts = ['-X', 'security.protocol=ssl', '-X', `ssl.ca.location=${ca}`];
  if (client) opts.push('-X', `ssl.certificate.location=${client.cert}`, '-X', `ssl.key.location=${client.key}`);
  return opts;
}

function clientFiles(name: string, kc: { key: string; cert: string }): { cert: string; key: string } {
  return { cert: files.write(`${name}.crt`, kc.cert), key: files.write(`${name}.key`, kc.key) };
}

/** The serial number of the certificate a listener presents to a new connection. */
function servedSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerX509Certificate()!.serialNumber);
      socket.end();
    });
    socket.once('error', reject);
  });
}

/** The error code of Metadata for `topic` on the PLAINTEXT listener, without creating it. */
async function topicError(topic: string): Promise<number> {
  const c = await KafkaConnection.open('127.0.0.1', broker.port);
  try {
    const md = await c.send(metadataApi, 12, { ...metadataRequest, topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: topic }] });
    return md.topics[0]!.errorCode;
  } finally {
    await c.close();
  }
}

const metadataRequest = { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false, includeClusterAuthorizedOperations: false };

beforeAll(async () => {
  caFile = files.write('ca.pem', files.ca.cert);
  broker = await BrokerProcess.start(
    {
      listeners: 'PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,MTLS://127.0.0.1:0',
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,SSL:SSL,MTLS:SSL',
      'ssl.keystore.location': files.write('broker.pem', keystorePem(files.broker(), 'broker-secret')),
      'ssl.key.password': 'broker-secret',
      'ssl.truststore.location': caFile,
      'ssl.client.auth': 'requested',
      'listener.name.mtls.ssl.client.auth': 'required',
      'listener.name.mtls.ssl.principal.mapping.rules': 'RULE:^CN=([^,]+).*$/$1/,DEFAULT',
      'group.initial.rebalance.delay.ms': '0',
      'offsets.topic.replication.factor': '1',
      // Also bounds TLS handshakes.
      'socket.request.read.timeout.ms': '5000',
    },
    ['--log-level', 'debug'],
  );
}, 60_000);

afterAll(async () => {
  await broker?.destroy();
  files.remove();
});

describe('listeners', () => {
  it('binds every listener on a free port and says which in the ready line', () => {
    expect([...broker.listenerPorts.keys()]).toEqual(['PLAINTEXT', 'SSL', 'MTLS']);
    expect(new Set(broker.listenerPorts.values()).size).toBe(3);
    expect(broker.port).toBe(broker.listenerPorts.get('PLAINTEXT'));
  });

  it('Metadata, DescribeCluster and FindCoordinator give the endpoint of the listener the request arrived on', async () => {
    const alice = files.client('alice');
    const tls = { ca: files.ca.cert, cert: alice.cert, key: alice.key };
    for (const [listener, options] of [['PLAINTEXT', {}], ['SSL', { tls: { ca: files.ca.cert } }], ['MTLS', { tls }]] as const) {
      const port = broker.listenerPorts.get(listener)!;
      const c = await KafkaConnection.open('127.0.0.1', port, 'listener-check', options);
      try {
        const md = await c.send(metadataApi, 12, metadataRequest);
        expect(md.brokers.map((b) => `${b.host}:${b.port}`)).toEqual([`127.0.0.1:${port}`]);
        const cluster = await c.send(describeClusterApi, 0, { includeClusterAuthorizedOperations: false, endpointType: 1, includeFencedBrokers: false });
        expect(cluster.brokers.map((b) => b.port)).toEqual([port]);
        const coordinator = await eventually('a group coordinator', async () => {
          const res = await c.send(findCoordinatorApi, 3, { key: `group-${listener}`, keyType: 0, coordinatorKeys: [] });
          return res.errorCode === 0 ? res : undefined;
        });
        expect(coordinator.port).toBe(port);
      } finally {
        await c.close();
      }
    }
  }, 60_000);
});

describe('SSL listener with ssl.client.auth=requested', () => {
  it('kcat produces and consumes over TLS, and is told the SSL endpoint', async () => {
    const bootstrap = broker.bootstrapOn('SSL');
    await kcatProduce(bootstrap, 'tls-kcat', ['k1:v1', 'k2:v2'], ['-K:', ...kcatSsl(caFile)]);
    const records = await kcatConsume(bootstrap, 'tls-kcat', 'beginning', kcatSsl(caFile));
    expect(records.map((r) => `${r.key}:${r.value}`)).toEqual(['k1:v1', 'k2:v2']);
    expect(await kcatMetadata(bootstrap, 'tls-kcat', kcatSsl(caFile))).toContain(`broker 1 at ${bootstrap}`);
  }, 60_000);

  it('kafkajs produces and consumes in a group over TLS', async () => {
    const kafka = new Kafka({ clientId: 'tls-kafkajs', brokers: [broker.bootstrapOn('SSL')], ssl: { ca: [files.ca.cert] }, logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'tls-kafkajs', messages: Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })) });
    await producer.disconnect();
    const consumer = kafka.consumer({ groupId: 'tls-kafkajs-group' });
    const seen: string[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic: 'tls-kafkajs', fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(message.value!.toString()) });
    await eventually('all records consumed', () => (seen.length >= 20 ? true : undefined), 30_000);
    await consumer.disconnect();
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => `v${i}`));
  }, 60_000);
});

describe('SSL listener with ssl.client.auth=requested: certificates', () => {
  it('a trusted certificate names the principal (DEFAULT rule); one that does not verify is refused', async () => {
    const dave = clientFiles('dave', files.client('dave', validForDays(1), files.ca, 'team-d'));
    const bootstrap = broker.bootstrapOn('SSL');
    await kcatProduce(bootstrap, 'requested-kcat', ['d:1'], ['-K:', ...kcatSsl(caFile, dave)]);
    // The broker's log line may reach its output after kcat is done.
    const line = await eventually('the authentication log line', () => broker.output.split('\n').find((l) => l.includes('TLS connection authenticated') && l.includes('"subject":"CN=dave,O=team-d"')));
    expect(JSON.parse(line)).toMatchObject({ listener: 'SSL', principal: 'User:CN=dave,O=team-d' });

    const mallory = clientFiles('mallory-requested', files.client('mallory', validForDays(1), createCertificateAuthority('other-ca', validForDays(1))));
    await expect(kcatProduce(bootstrap, 'requested-refused', ['m:1'], ['-K:', '-X', 'message.timeout.ms=3000', ...kcatSsl(caFile, mallory)])).rejects.toThrow();
    expect(await topicError('requested-refused')).toBe(3);
    await eventually('the refusal logged', () => (broker.output.includes('client certificate not trusted') ? true : undefined));
    const metrics = await (await fetch(`${broker.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/samsa_tls_connections_refused_total\{listener="SSL",reason="untrusted_certificate"\} [1-9]/);
  }, 60_000);

  it('DescribeConfigs never gives ssl.key.password', async () => {
    const c = await KafkaConnection.open('127.0.0.1', broker.port);
    try {
      const res = await c.send(describeConfigsApi, 4, { resources: [{ resourceType: 4, resourceName: '1', configurationKeys: ['ssl.key.password', 'ssl.keystore.location'] }], includeSynonyms: true, includeDocumentation: false });
      const byName = (name: string) => res.results[0]!.configs.find((c) => c.name === name);
      const [password, location] = [byName('ssl.key.password'), byName('ssl.keystore.location')];
      expect(password).toMatchObject({ name: 'ssl.key.password', value: null, isSensitive: true });
      expect(password!.synonyms.every((s) => s.value === null)).toBe(true);
      expect(location).toMatchObject({ name: 'ssl.keystore.location', value: `${files.dir}/broker.pem`, isSensitive: false });
    } finally {
      await c.close();
    }
  });
});

describe('mTLS (ssl.client.auth=required)', () => {
  it('a client certificate of the trusted CA is accepted and its subject becomes the principal', async () => {
    const alice = clientFiles('alice', files.client('alice', validForDays(1), files.ca, 'team-a'));
    const bootstrap = broker.bootstrapOn('MTLS');
    await kcatProduce(bootstrap, 'mtls-kcat', ['a:1'], ['-K:', ...kcatSsl(caFile, alice)]);
    expect((await kcatConsume(bootstrap, 'mtls-kcat', 'beginning', kcatSsl(caFile, alice))).map((r) => r.value)).toEqual(['1']);
    // The mapping rule of this listener turns CN=alice,O=team-a into alice.
    const authenticated = () => broker.output.split('\n').filter((l) => l.includes('TLS connection authenticated') && l.includes('"subject":"CN=alice,O=team-a"'));
    const lines = await eventually('the authentication log lines', () => (authenticated().length > 0 ? authenticated() : undefined));
    for (const line of lines) expect(JSON.parse(line)).toMatchObject({ listener: 'MTLS', principal: 'User:alice' });
  }, 60_000);

  it.each([
    ['no certificate', () => undefined],
    ['a certificate of another CA', () => clientFiles('mallory', files.client('mallory', validForDays(1), createCertificateAuthority('other-ca', validForDays(1))))],
    ['an expired certificate', () => clientFiles('expired', files.client('expired', { notBefore: new Date(Date.now() - 10 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) }))],
  ])('a client with %s fails the handshake and writes nothing', async (what, client) => {
    const topic = `mtls-refused-${what.replaceAll(' ', '-')}`;
    const refused = kcatProduce(broker.bootstrapOn('MTLS'), topic, ['x:1'], ['-K:', '-X', 'message.timeout.ms=3000', ...kcatSsl(caFile, client())]);
    await expect(refused).rejects.toThrow();
    // Nothing was written: the topic was not even created (a produce request would have auto-created it).
    expect(await topicError(topic)).toBe(3); // UNKNOWN_TOPIC_OR_PARTITION
    const metrics = await (await fetch(`${broker.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/samsa_tls_connections_refused_total\{listener="MTLS",reason="handshake"\} [1-9]/);
  }, 60_000);
});

describe('handshakes', () => {
  it('a client that never starts its TLS handshake is cut off after socket.request.read.timeout.ms', async () => {
    const socket = netConnect({ host: '127.0.0.1', port: broker.listenerPorts.get('SSL')! });
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {});
    await closed;
    const metrics = await (await fetch(`${broker.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/samsa_tls_connections_refused_total\{listener="SSL",reason="handshake"\} [1-9]/);
  }, 30_000);
});

describe('certificate reload', () => {
  it('new connections get replaced files without a restart; open ones go on; a broken file keeps the last good ones', async () => {
    const sslPort = broker.listenerPorts.get('SSL')!;
    const before = await servedSerial(sslPort);
    const open = await KafkaConnection.open('127.0.0.1', sslPort, 'before-reload', { tls: { ca: files.ca.cert } });
    const oldClient = clientFiles('old-ca-client', files.client('old-ca-client'));

    // A new CA: the broker's certificate and the trust store are replaced as a secret volume does it.
    const newCa = createCertificateAuthority('samsa-test-ca-2', validForDays(30));
    const newBroker = files.broker(validForDays(30), newCa);
    files.write('broker.pem', keystorePem(newBroker, 'broker-secret'));
    files.write('ca.pem', newCa.cert);
    const serial = await eventually('the new certificate served', async () => {
      const s = await servedSerial(sslPort);
      return s !== before ? s : undefined;
    });
    expect(serial.toLowerCase()).toBe(new (await import('node:crypto')).X509Certificate(newBroker.cert).serialNumber.toLowerCase());
    expect(broker.output).toContain('TLS certificate files reloaded');

    // The connection made before the reload still works.
    expect((await open.send(apiVersionsApi, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' })).errorCode).toBe(0);
    await open.close();

    // A client certificate of the old CA is no longer trusted on the mTLS listener; one of the new CA is.
    const newCaFile = files.write('new-ca.pem', newCa.cert);
    await expect(kcatProduce(broker.bootstrapOn('MTLS'), 'after-reload', ['x:1'], ['-K:', '-X', 'message.timeout.ms=3000', ...kcatSsl(newCaFile, oldClient)])).rejects.toThrow();
    const newClient = clientFiles('new-ca-client', files.client('bob', validForDays(1), newCa));
    await kcatProduce(broker.bootstrapOn('MTLS'), 'after-reload', ['y:2'], ['-K:', ...kcatSsl(newCaFile, newClient)]);
    expect((await kcatConsume(broker.bootstrap, 'after-reload')).map((r) => r.value)).toEqual(['2']);

    // A broken key store is refused: logged, counted, and the last good certificate stays.
    files.write('broker.pem', 'not a key store');
    await eventually('the broken file reported', () => (broker.output.includes('changed TLS certificate files cannot be used') ? true : undefined));
    const metrics = await (await fetch(`${broker.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/samsa_tls_certificate_reload_failures_total\{listener="SSL"\} 1/);
    expect(metrics).toMatch(/samsa_tls_certificate_expiry_timestamp_seconds\{listener="SSL"\} \d+/);
    expect(await servedSerial(sslPort)).toBe(serial);
    expect(broker.output).toContain(`"error":"ssl.keystore.location ${files.dir}/broker.pem: no PEM certificate`);
  }, 60_000);
});

describe('key and trust stores at start', () => {
  async function startError(settings: Record<string, string>): Promise<string> {
    const b = await BrokerProcess.create({ listeners: 'SSL://127.0.0.1:0', ...settings });
    try {
      await b.launch();
      throw new Error('the broker started');
    } catch (err) {
      return (err as Error).message;
    } finally {
      await b.destroy();
    }
  }
  let keystoreFile: string | undefined;
  const keystore = () => (keystoreFile ??= files.write('start-broker.pem', keystorePem(files.broker(), 'right')));

  it('each problem is one line naming the file, and the broker exits', async () => {
    expect(await startError({ 'ssl.keystore.location': `${files.dir}/missing.pem` })).toContain(`samsa-broker: ssl.keystore.location ${files.dir}/missing.pem: cannot read it (ENOENT)`);
    expect(await startError({ 'ssl.keystore.location': keystore(), 'ssl.key.password': 'wrong' })).toContain(`ssl.keystore.location ${files.dir}/start-broker.pem: cannot decrypt the private key with ssl.key.password`);
    expect(await startError({ 'ssl.keystore.location': keystore() })).toContain('the private key is encrypted and ssl.key.password is not set');
    expect(await startError({ 'ssl.keystore.location': keystore(), 'ssl.key.password': 'right', 'ssl.truststore.location': files.write('empty.pem', '') })).toContain(`ssl.truststore.location ${files.dir}/empty.pem: no PEM certificate`);
    expect(await startError({})).toContain('listener SSL uses TLS but has no ssl.keystore.location');
    expect(await startError({ 'ssl.keystore.location': keystore(), 'ssl.key.password': 'right', 'ssl.client.auth': 'required' })).toContain('ssl.client.auth=required needs ssl.truststore.location');
  }, 120_000);
});
