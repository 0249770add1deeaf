// The KafkaUser on a real control plane, installed from the chart (its CRD, RBAC, the operator
// process): bad manifests are refused with the CRD's messages, examples/kafka-user.yaml applies
// as shipped, the reconciler reports a missing cluster, a Secret it does not own, a missing
// password, a cluster with no listener for the user and ACLs without an authorizer through
// conditions and Events, and deleting a KafkaUser leaves nothing behind. On a cluster with a
// SCRAM listener and the authorizer on, kafkajs with exactly the Secret's credentials produces
// where the ACLs allow, is refused elsewhere, and is refused once the KafkaUser is deleted; on a
// cluster with an mTLS listener, kcat with exactly a tls user's Secret files (its
// librdkafka.config, user.crt, user.key, ca.crt) and the Java client with its client.properties
// do the same.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import { parse } from 'yaml';
import { API_VERSION } from '../crds/types.js';
import type { Kube, KubeError, KubernetesObject } from '../kube.js';
import { KAFKA_LIB, ensureKafka } from '../../broker/test/kafka-process.js';
import { type Obj, OperatorHarness } from './operator-harness.js';

const ROOT = resolve(import.meta.dirname, '../..');
const NS = 'users';
/** The secure examples name my-cluster too: their own namespace. */
const SECURE_NS = 'secure-example';

let harness: OperatorHarness;
let admin: Kube;

const user = (name: string, spec: Record<string, unknown>) => ({ apiVersion: API_VERSION, kind: 'KafkaUser', metadata: { name, namespace: NS }, spec }) as KubernetesObject;
const getUser = (name: string) => admin.get<Obj>(API_VERSION, 'KafkaUser', NS, name);
const ready = (o: Obj) => o.status?.conditions?.find((c) => c.type === 'Ready');
const waitFor = <T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs?: number) => harness.waitFor(what, probe, timeoutMs);

async function refused(obj: KubernetesObject): Promise<string> {
  try {
    await admin.create(obj);
  } catch (err) {
    return (err as KubeError).message;
  }
  throw new Error('expected the API server to refuse the manifest');
}

async function waitForReason(name: string, reason: string): Promise<Obj> {
  return waitFor(`KafkaUser ${name} reason ${reason}`, async () => {
    const u = await getUser(name);
    return ready(u)?.reason === reason ? u : null;
  }, 120_000);
}

beforeAll(async () => {
  harness = await OperatorHarness.start([NS, SECURE_NS]);
  admin = harness.admin;
  await harness.startOperator(['resyncSeconds=10']);
}, 600_000);

afterAll(async () => {
  await harness?.stop();
});

describe('KafkaUser on a real control plane', () => {
  it('refuses bad manifests with messages a user understands', async () => {
    const scram = { type: 'scram-sha-512' };
    const acl = (resource: Record<string, unknown>, operations: string[] = ['Read']) => ({ clusterRef: { name: 'c' }, authentication: scram, authorization: { acls: [{ resource, operations }] } });
    expect(await refused(user('a', acl({ type: 'cluster', name: 'x' }, ['Alter'])))).toContain('a cluster resource has no name');
    expect(await refused(user('b', acl({ type: 'topic' })))).toContain('resource.name is required for topic, group and transactionalId');
    expect(await refused(user('c', acl({ type: 'topic', name: 't' }, ['Read', 'Read'])))).toContain('operations must not repeat');
    expect(await refused(user('d', acl({ type: 'topic', name: 't' }, ['Fly'])))).toContain('Unsupported value: "Fly"');
    expect(await refused(user('e', { clusterRef: { name: 'c' }, authentication: { type: 'tls', password: { valueFrom: { secretKeyRef: { name: 's', key: 'k' } } } } }))).toContain('authentication.password is only for type scram-sha-512');
    expect(await refused(user('f', { clusterRef: { name: 'c' }, authentication: scram, quotas: { producerByteRate: -1 } }))).toContain('spec.quotas.producerByteRate in body should be greater than or equal to 0');
    await admin.create(user('g', { clusterRef: { name: 'c' }, authentication: scram }));
    try {
      await admin.mergePatch(await getUser('g'), { spec: { authentication: { type: 'tls' } } });
      throw new Error('expected a changed authentication type to be refused');
    } catch (err) {
      expect((err as KubeError).message).toContain('authentication.type cannot be changed after creation');
    }
    await admin.delete(user('g', {}));
  });

  it('applies examples/kafka-user.yaml as shipped; without its cluster it waits, and deleting it leaves nothing', async () => {
    const example = parse(readFileSync(join(ROOT, 'examples/kafka-user.yaml'), 'utf8')) as Obj;
    await admin.create({ ...example, metadata: { ...example.metadata, namespace: NS } }, '?fieldValidation=Strict');
    const name = example.metadata!.name!;
    const waiting = await waitForReason(name, 'ClusterNotFound');
    expect(ready(waiting)).toMatchObject({ status: 'False', message: 'KafkaCluster my-cluster does not exist' });
    expect(waiting.status).toMatchObject({ username: name, observedGeneration: 1 });
    expect(waiting.metadata!.finalizers).toEqual(['samsa.dev/user']);
    // Defaults from the CRD schema.
    expect(waiting.spec.authorization.acls[0]).toMatchObject({ host: '*', type: 'allow', resource: { patternType: 'literal' } });
    expect(await admin.getOrNull('v1', 'Secret', NS, name)).toBeNull();
    await admin.delete(waiting);
    await waitFor('the KafkaUser gone', async () => (await admin.getOrNull(API_VERSION, 'KafkaUser', NS, name)) === null);
  }, 180_000);

  it('reports what stops it: a Secret it does not own, a missing password, no listener for its authentication, ACLs without an authorizer', async () => {
    await admin.create({ apiVersion: API_VERSION, kind: 'KafkaCluster', metadata: { name: 'plain', namespace: NS }, spec: { replicas: 1 } } as KubernetesObject);
    await waitFor('cluster ready', async () => ready(await admin.get<Obj>(API_VERSION, 'KafkaCluster', NS, 'plain'))?.status === 'True', 180_000);

    await admin.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'taken', namespace: NS }, stringData: { password: 'mine' } } as KubernetesObject);
    await admin.create(user('taken', { clusterRef: { name: 'plain' }, authentication: { type: 'scram-sha-512' } }));
    expect(ready(await waitForReason('taken', 'SecretConflict'))!.message).toContain('Secret taken exists and is not this KafkaUser\'s');
    const taken = await admin.get<Obj & { data: Record<string, string> }>('v1', 'Secret', NS, 'taken');
    expect(Buffer.from(taken.data.password!, 'base64').toString()).toBe('mine');

    await admin.create(user('own', { clusterRef: { name: 'plain' }, authentication: { type: 'scram-sha-512', password: { valueFrom: { secretKeyRef: { name: 'taken', key: 'pw' } } } } }));
    expect(ready(await waitForReason('own', 'PasswordNotFound'))!.message).toBe('Secret taken has no key pw');

    // A cluster with only its plaintext listener and no authorizer: the credential and quotas are
    // set and the Secret written, but no listener takes the user's password, and ACLs are refused.
    await admin.create(user('alice', { clusterRef: { name: 'plain' }, authentication: { type: 'scram-sha-512' }, quotas: { producerByteRate: 1024 } }));
    const nowhere = await waitForReason('alice', 'NoMatchingListener');
    expect(ready(nowhere)!.message).toBe('KafkaCluster plain has no listener with authentication scram-sha-512: the credential, ACLs and quotas are set, but clients have no listener to use them on');
    expect(nowhere.status).toMatchObject({ username: 'alice', secret: 'alice', observedGeneration: 1 });
    const secret = await admin.get<Obj & { data: Record<string, string> }>('v1', 'Secret', NS, 'alice');
    const data = Object.fromEntries(Object.entries(secret.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
    expect(Object.keys(data).sort()).toEqual(['ca.crt', 'password', 'sasl.jaas.config', 'username']);
    expect(data['ca.crt']).toContain('BEGIN CERTIFICATE');
    expect(data.password).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(data['sasl.jaas.config']).toBe(`org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="${data.password}";`);
    expect(secret.metadata!.ownerReferences).toEqual([expect.objectContaining({ kind: 'KafkaUser', name: 'alice', controller: true })]);

    await admin.mergePatch(nowhere, { spec: { authorization: { acls: [{ resource: { type: 'topic', name: 'orders' }, operations: ['Read'] }] } } });
    const refusedAcls = await waitForReason('alice', 'KafkaRefused');
    expect(ready(refusedAcls)!.message).toMatch(/^describing the ACLs of User:alice: .*SECURITY_DISABLED/);
    const events = await admin.list<Obj & { reason: string; type: string; involvedObject: { name: string } }>('v1', 'Event', NS);
    expect(events.filter((e) => e.involvedObject.name === 'alice').map((e) => e.reason)).toEqual(expect.arrayContaining(['PasswordSet', 'QuotasChanged', 'NoMatchingListener', 'KafkaRefused']));

    // Deleting it revokes what it had; the Secret goes with it.
    await admin.delete(refusedAcls);
    await waitFor('the KafkaUser gone', async () => (await admin.getOrNull(API_VERSION, 'KafkaUser', NS, 'alice')) === null);
    await waitFor('its Secret gone', async () => (await admin.getOrNull('v1', 'Secret', NS, 'alice')) === null);
  }, 300_000);

  it('gives a client on a SCRAM listener exactly what it needs: allowed where the ACLs say, refused elsewhere, revoked with the KafkaUser', async () => {
    await admin.create({
      apiVersion: API_VERSION,
      kind: 'KafkaCluster',
      metadata: { name: 'secure', namespace: NS },
      spec: {
        replicas: 1,
        config: { 'offsets.topic.replication.factor': '1' },
        // The plain listener's anonymous clients set the topics up.
        authorization: { type: 'simple', superUsers: ['User:ANONYMOUS'] },
        listeners: [
          { name: 'plain', port: 9092 },
          { name: 'scram', port: 9095, authentication: 'scram-sha-512' },
        ],
      },
    } as KubernetesObject);
    await waitFor('secure cluster ready', async () => ready(await admin.get<Obj>(API_VERSION, 'KafkaCluster', NS, 'secure'))?.status === 'True', 180_000);
    const ip = (await admin.get<Obj & { status: { podIP: string } }>('v1', 'Pod', NS, 'secure-0')).status.podIP;
    const setup = new kafkajs.Kafka({ clientId: 'setup', brokers: [`${ip}:9092`], logLevel: kafkajs.logLevel.NOTHING }).admin();
    await setup.connect();
    await setup.createTopics({ topics: [{ topic: 'orders' }, { topic: 'audit' }], waitForLeaders: true });
    await setup.disconnect();

    await admin.create(user('carol', {
      clusterRef: { name: 'secure' },
      authentication: { type: 'scram-sha-512' },
      authorization: { acls: [{ resource: { type: 'topic', name: 'orders' }, operations: ['Write', 'Describe'] }] },
    }));
    await waitForReason('carol', 'UserReady');
    const secret = await admin.get<Obj & { data: Record<string, string> }>('v1', 'Secret', NS, 'carol');
    const data = Object.fromEntries(Object.entries(secret.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
    expect(data.bootstrap).toBe(`secure.${NS}.svc:9095`);
    expect(data['client.properties']).toContain('security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\n');
    // The bootstrap Service's name does not resolve here: the pod's address, the Secret's port.
    const client = new kafkajs.Kafka({
      clientId: 'carol',
      brokers: [`${ip}:${data.bootstrap!.split(':')[1]}`],
      sasl: { mechanism: 'scram-sha-512', username: data.username!, password: data.password! },
      logLevel: kafkajs.logLevel.NOTHING,
      retry: { retries: 0 },
    });
    const send = async (topic: string) => {
      const producer = client.producer();
      await producer.connect();
      try {
        await producer.send({ topic, messages: [{ value: 'from carol' }] });
      } finally {
        await producer.disconnect();
      }
    };
    await send('orders');
    await expect(send('audit')).rejects.toThrow(/authoriz/i);

    await admin.delete(await getUser('carol'));
    await waitFor('carol gone', async () => (await admin.getOrNull(API_VERSION, 'KafkaUser', NS, 'carol')) === null);
    await waitFor('carol refused', async () => send('orders').then(() => false, (err: Error) => /SASL SCRAM SHA512 authentication failed/.test(err.message)), 30_000);
  }, 300_000);

  it('gives a client on an mTLS listener exactly what it needs (examples/kafka-user-tls.yaml as shipped): kcat with the Secret\'s files and the Java client with its client.properties are allowed where the ACLs say, refused elsewhere, refused once the KafkaUser is deleted', async () => {
    await admin.create({
      apiVersion: API_VERSION,
      kind: 'KafkaCluster',
      // The cluster examples/kafka-user-tls.yaml names.
      metadata: { name: 'my-cluster', namespace: NS },
      spec: {
        replicas: 1,
        config: { 'offsets.topic.replication.factor': '1' },
        // No allow.everyone.if.no.acl.found: a principal without ACLs is refused.
        authorization: { type: 'simple', superUsers: ['User:ANONYMOUS'] },
        listeners: [
          { name: 'plain', port: 9092 },
          { name: 'mtls', port: 9094, tls: true, authentication: 'tls' },
        ],
      },
    } as KubernetesObject);
    await waitFor('mtls cluster ready', async () => ready(await admin.get<Obj>(API_VERSION, 'KafkaCluster', NS, 'my-cluster'))?.status === 'True', 180_000);
    const ip = (await admin.get<Obj & { status: { podIP: string } }>('v1', 'Pod', NS, 'my-cluster-0')).status.podIP;
    const setup = new kafkajs.Kafka({ clientId: 'setup', brokers: [`${ip}:9092`], logLevel: kafkajs.logLevel.NOTHING }).admin();
    await setup.connect();
    await setup.createTopics({ topics: [{ topic: 'payments' }, { topic: 'ledger' }], waitForLeaders: true });
    await setup.disconnect();

    const example = parse(readFileSync(join(ROOT, 'examples/kafka-user-tls.yaml'), 'utf8')) as Obj;
    await admin.create({ ...example, metadata: { ...example.metadata, namespace: NS } }, '?fieldValidation=Strict');
    const name = example.metadata!.name!;
    const readyUser = await waitForReason(name, 'UserReady');
    expect(readyUser.status).toMatchObject({ username: `CN=${name}`, secret: name });
    const secret = await admin.get<Obj & { data: Record<string, string> }>('v1', 'Secret', NS, name);
    expect(Object.keys(secret.data).sort()).toEqual(['bootstrap', 'ca.crt', 'client.properties', 'librdkafka.config', 'user.crt', 'user.key', 'user.p12', 'user.password']);
    const bytes = Object.fromEntries(Object.entries(secret.data).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
    expect(bytes.bootstrap!.toString()).toBe(`my-cluster.${NS}.svc:9094`);
    const events = await admin.list<Obj & { reason: string; message: string; involvedObject: { name: string } }>('v1', 'Event', NS);
    expect(events.find((e) => e.involvedObject.name === name && e.reason === 'CertificateIssued')?.message).toMatch(/^issued the client certificate of User:CN=payments-service \(expires .*\): created$/);

    // The Secret mounted as a directory, the client run in it.
    const mount = mkdtempSync(join(tmpdir(), 'samsa-kafka-user-'));
    for (const [key, value] of Object.entries(bytes)) writeFileSync(join(mount, key), value);
    // The bootstrap Service's name does not resolve here and brokers advertise pod addresses,
    // which their certificates do not carry: the pod's address, and no host name check.
    const overrides = ['-b', `${ip}:9094`, '-X', 'ssl.endpoint.identification.algorithm=none', '-X', 'message.timeout.ms=5000'];
    const produce = (topic: string) =>
      new Promise<void>((resolvePromise, reject) => {
        const child = execFile('kcat', ['-F', 'librdkafka.config', ...overrides, '-P', '-t', topic], { cwd: mount, timeout: 30_000 }, (err, _stdout, stderr) => (err ? reject(new Error(`kcat: ${stderr}`)) : resolvePromise()));
        child.stdin!.end('from kcat\n');
      });
    await produce('payments');
    await expect(produce('ledger')).rejects.toThrow(/Topic authorization failed/i);
    // The Java client (Kafka's console producer) with exactly client.properties: PEM inline.
    ensureKafka();
    const java = await new Promise<{ err: Error | null; out: string }>((resolvePromise) => {
      const child = execFile(
        'java',
        ['-Dorg.slf4j.simpleLogger.defaultLogLevel=error', '-Xmx256M', '-cp', `${KAFKA_LIB}/*`, 'org.apache.kafka.tools.ConsoleProducer', '--producer.config', 'client.properties', '--bootstrap-server', `${ip}:9094`, '--producer-property', 'ssl.endpoint.identification.algorithm=', '--topic', 'payments'],
        { cwd: mount, timeout: 90_000 },
        (err, stdout, stderr) => resolvePromise({ err, out: stdout + stderr }),
      );
      child.stdin!.end('from java\n');
    });
    expect(java.err, java.out).toBeNull();
    const consumed = await new kafkajs.Kafka({ clientId: 'check', brokers: [`${ip}:9092`], logLevel: kafkajs.logLevel.NOTHING }).admin();
    await consumed.connect();
    expect((await consumed.fetchTopicOffsets('payments'))[0]!.high).toBe('2');
    expect((await consumed.fetchTopicOffsets('ledger'))[0]!.high).toBe('0');
    await consumed.disconnect();

    // Deleting the user removes its ACLs: its certificate still passes the TLS handshake, but
    // the authorizer refuses a principal without ACLs.
    await admin.delete(await getUser(name));
    await waitFor('the user gone', async () => (await admin.getOrNull(API_VERSION, 'KafkaUser', NS, name)) === null);
    await waitFor('its certificate refused', async () => produce('payments').then(() => false, (err: Error) => /Topic authorization failed/i.test(err.message)), 30_000);
  }, 300_000);

  it('examples/kafka-cluster-secure.yaml, kafka-topic.yaml and kafka-user.yaml as shipped: the user reads and writes orders over SCRAM and TLS, and nothing else', async () => {
    const example = (file: string) => ({ ...(parse(readFileSync(join(ROOT, 'examples', file), 'utf8')) as Obj), metadata: { ...(parse(readFileSync(join(ROOT, 'examples', file), 'utf8')) as Obj).metadata, namespace: SECURE_NS } }) as KubernetesObject;
    for (const file of ['kafka-cluster-secure.yaml', 'kafka-topic.yaml', 'kafka-user.yaml']) await admin.create(example(file));
    await waitFor('my-cluster ready', async () => ready(await admin.get<Obj>(API_VERSION, 'KafkaCluster', SECURE_NS, 'my-cluster'))?.status === 'True', 420_000);
    await waitFor('topic orders ready', async () => ready(await admin.get<Obj>(API_VERSION, 'KafkaTopic', SECURE_NS, 'orders'))?.status === 'True', 180_000);
    await waitFor('order-service ready', async () => ready(await admin.get<Obj>(API_VERSION, 'KafkaUser', SECURE_NS, 'order-service'))?.reason === 'UserReady', 180_000);
    const secret = await admin.get<Obj & { data: Record<string, string> }>('v1', 'Secret', SECURE_NS, 'order-service');
    const data = Object.fromEntries(Object.entries(secret.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
    expect(data.bootstrap).toBe(`my-cluster.${SECURE_NS}.svc:9093`);
    expect(data['client.properties']).toContain('security.protocol=SASL_SSL');
    const ip = (await admin.get<Obj & { status: { podIP: string } }>('v1', 'Pod', SECURE_NS, 'my-cluster-0')).status.podIP;
    const client = new kafkajs.Kafka({
      clientId: 'order-service',
      brokers: [`${ip}:9093`],
      // The Secret's CA verifies the brokers; the test kubelet has no cluster DNS, so the brokers are
      // reached (and advertised) by address, which their certificates do not name.
      ssl: { ca: [data['ca.crt']!], checkServerIdentity: () => undefined },
      sasl: { mechanism: 'scram-sha-512', username: data.username!, password: data.password! },
      logLevel: kafkajs.logLevel.NOTHING,
      retry: { retries: 3 },
    });
    const producer = client.producer();
    await producer.connect();
    await producer.send({ topic: 'orders', acks: -1, messages: [{ key: 'o1', value: 'first order' }] });
    // Refused by the deny ACL on payments-*, and by the missing Write anywhere else.
    for (const topic of ['payments-eu', 'audit']) await expect(producer.send({ topic, messages: [{ value: 'x' }] })).rejects.toThrow(/authoriz/i);
    await producer.disconnect();
    const consumer = client.consumer({ groupId: 'order-service-billing' });
    await consumer.connect();
    await consumer.subscribe({ topic: 'orders', fromBeginning: true });
    const read = new Promise<string>((resolveRead) => void consumer.run({ eachMessage: async ({ message }) => resolveRead(message.value!.toString()) }));
    expect(await read).toBe('first order');
    await consumer.disconnect();
  }, 720_000);
});
