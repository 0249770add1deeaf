// The security parts together, as a user runs a secured Kafka: a two-broker cluster (etcd) whose
// clients come in on SASL_SSL (SCRAM-SHA-512), whose brokers replicate over an SSL listener with
// mTLS (their certificate's principal a super user), and whose third listener takes client
// certificates (ssl.principal.mapping.rules turning CN=bob into bob); StandardAuthorizer on, the
// administrator a super user seeded with --add-scram. Kafka's kafka-configs and kafka-acls (over
// SASL_SSL, as admin) create a user, grant and describe her rights, put a quota on her and delete
// her; kafkajs as alice and kcat as bob are refused without ACLs (nothing written, the refusal
// logged with their principal) and served with. Alice, authenticated but without cluster ACLs,
// can neither reset admin's password nor lift her own quota with the same tools.
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, eventuallyPasses } from './eventually.js';
import { ensureKafka } from './kafka-process.js';
import { cli, kafkajsErrorType, metric } from './kafka-tools.js';
import { kcatConsume, kcatProduce } from './kcat.js';
import { SamsaCluster } from './samsa-cluster.js';
import { TlsTestFiles, keystorePem } from './tls-files.js';

const { Kafka, logLevel } = kafkajs;

const files = new TlsTestFiles();
let cluster: SamsaCluster;
/** Every broker's SASL_SSL listener. */
let bootstrap: string;
/** Kafka's CLI tools log in as admin over SASL_SSL with this file (--command-config). */
let adminConfig: string;

const KB = 1024;

function client(username: string, password: string, clientId = `${username}-client`): kafkajs.Kafka {
  return new Kafka({
    clientId,
    brokers: bootstrap.split(','),
    ssl: { ca: [files.ca.cert] },
    sasl: { mechanism: 'scram-sha-512', username, password },
    logLevel: logLevel.NOTHING,
    retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 500 },
  });
}

/** A --command-config file for Kafka's CLI tools, logging in as this user over SASL_SSL. */
function commandConfig(username: string, password: string): string {
  return files.write(
    `${username}.properties`,
    [
      'security.protocol=SASL_SSL',
      'sasl.mechanism=SCRAM-SHA-512',
      `sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${username}" password="${password}";`,
      'ssl.truststore.type=PEM',
      `ssl.truststore.location=${join(files.dir, 'ca.pem')}`,
      '',
    ].join('\n'),
  );
}

const admin = () => client('admin', 'admin-secret');
const alice = () => client('alice', 'alice-secret');
const configs = (...args: string[]) => cli('kafka.admin.ConfigCommand', ['--bootstrap-server', bootstrap, '--command-config', adminConfig, ...args]);
const acls = (...args: string[]) => cli('org.apache.kafka.tools.AclCommand', ['--bootstrap-server', bootstrap, '--command-config', adminConfig, ...args]);

async function produce(kafka: kafkajs.Kafka, topic: string, values: (string | Buffer)[]): Promise<void> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: values.map((value) => ({ value })) });
  } finally {
    await producer.disconnect();
  }
}

/** The Kafka error a promise fails with ('NONE' when it succeeds). */
async function refusal(action: Promise<unknown>): Promise<string> {
  return action.then(
    () => 'NONE',
    (err: unknown) => kafkajsErrorType(err),
  );
}

/** Whether a broker logged a refusal of this principal on this resource. */
function denialLogged(principal: string, resource: string): boolean {
  const lines = cluster.brokers.flatMap((b) => b.output.split('\n')).filter((l) => l.includes('"msg":"authorization denied"'));
  return lines.some((l) => l.includes(`"principal":"${principal}"`) && l.includes(`"resourceName":"${resource}"`));
}

/** The end offset of partition 0, as admin sees it. */
async function endOffset(topic: string): Promise<string> {
  const a = admin().admin();
  await a.connect();
  try {
    return (await a.fetchTopicOffsets(topic)).map((o) => o.high).join(',');
  } finally {
    await a.disconnect();
  }
}

beforeAll(async () => {
  ensureKafka();
  const ca = files.write('ca.pem', files.ca.cert);
  adminConfig = commandConfig('admin', 'admin-secret');
  cluster = await SamsaCluster.start({
    brokers: 2,
    config: {
      listeners: 'CLIENTS://127.0.0.1:0,REPLICATION://127.0.0.1:0,MTLS://127.0.0.1:0',
      'listener.security.protocol.map': 'CLIENTS:SASL_SSL,REPLICATION:SSL,MTLS:SSL',
      'inter.broker.listener.name': 'REPLICATION',
      'ssl.keystore.location': files.write('broker.pem', keystorePem(files.broker())),
      'ssl.truststore.location': ca,
      'listener.name.replication.ssl.client.auth': 'required',
      'listener.name.mtls.ssl.client.auth': 'required',
      'listener.name.mtls.ssl.principal.mapping.rules': 'RULE:^CN=([^,]+).*$/$1/,DEFAULT',
      'sasl.enabled.mechanisms': 'SCRAM-SHA-512',
      'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
      // The brokers' certificate (subject CN=broker) gives User:CN=broker on the REPLICATION listener.
      'super.users': 'User:admin;User:CN=broker',
      'group.initial.rebalance.delay.ms': '0',
      'offsets.topic.replication.factor': '2',
      'offsets.topic.num.partitions': '3',
      'min.insync.replicas': '2',
      // Quotas measured over a 2 s minimum span, to keep throttles short.
      'quota.window.num': '3',
      'quota.window.size.seconds': '1',
    },
    extraArgs: ['--add-scram', 'SCRAM-SHA-512=[name=admin,password=admin-secret]'],
  });
  bootstrap = cluster.bootstrapOn('CLIENTS');
  // Led by broker 0 and replicated to broker 1 over REPLICATION: acks=all (min.insync.replicas=2)
  // succeeds only when the follower, as User:CN=broker, may fetch.
  const a = admin().admin();
  await a.connect();
  await a.createTopics({ topics: ['orders', 'audit', 'ledger'].map((topic) => ({ topic, replicaAssignment: [{ partition: 0, replicas: [0, 1] }] })), waitForLeaders: true });
  await a.disconnect();
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
  files.remove();
});

describe('SASL_SSL with SCRAM users, ACLs and quotas managed by Kafka\'s tools', () => {
  it('kafka-configs creates alice; she is refused without ACLs, writes nothing, and is served once kafka-acls grants her', async () => {
    const created = await configs('--alter', '--add-config', 'SCRAM-SHA-512=[password=alice-secret]', '--entity-type', 'users', '--entity-name', 'alice');
    expect(created.code, created.out).toBe(0);
    // Authenticated (on both brokers, once her credential reached them), then refused by the authorizer.
    await eventuallyPasses('alice authenticated and refused', async () => expect(await refusal(produce(alice(), 'orders', ['refused']))).toBe('TOPIC_AUTHORIZATION_FAILED'));
    expect(await endOffset('orders')).toBe('0');

    expect((await acls('--add', '--allow-principal', 'User:alice', '--producer', '--topic', 'orders')).code).toBe(0);
    expect((await acls('--add', '--allow-principal', 'User:alice', '--consumer', '--topic', 'orders', '--group', 'g')).code).toBe(0);
    await eventuallyPasses('alice allowed to produce', () => produce(alice(), 'orders', ['order-1']));
    await produce(alice(), 'orders', ['order-2']);
    expect(await endOffset('orders')).toBe('2');

    const consumer = alice().consumer({ groupId: 'g' });
    const values: string[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic: 'orders', fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void values.push(message.value!.toString()) });
    await eventuallyPasses('alice to read orders in group g', () => expect(values).toEqual(['order-1', 'order-2']), 60_000);
    await consumer.disconnect();
    const a = admin().admin();
    await a.connect();
    const committed = await a.fetchOffsets({ groupId: 'g', topics: ['orders'] });
    await a.disconnect();
    expect(committed[0]!.partitions[0]!.offset).toBe('2');

    // Her ACLs name orders and g only.
    expect(await refusal(produce(alice(), 'audit', ['refused']))).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await endOffset('audit')).toBe('0');
    // Metadata shows her only what she may describe; refusals are logged with her SASL principal.
    const listing = alice().admin();
    await listing.connect();
    expect(await listing.listTopics()).toEqual(['orders']);
    await listing.disconnect();
    await eventuallyPasses('the refusal logged', () => expect(denialLogged('User:alice', 'audit')).toBe(true));
  }, 180_000);

  it('kafka-configs --describe shows her SCRAM credential (DescribeClientQuotas and DescribeUserScramCredentials)', async () => {
    const described = await configs('--describe', '--entity-type', 'users', '--entity-name', 'alice');
    expect(described.code, described.out).toBe(0);
    expect(described.out).toContain("SCRAM credential configs for user-principal 'alice' are SCRAM-SHA-512=iterations=4096");
  }, 60_000);

  it('a producer_byte_rate quota on user alice throttles her, not admin', async () => {
    expect((await configs('--alter', '--add-config', `producer_byte_rate=${KB}`, '--entity-type', 'users', '--entity-name', 'alice')).code).toBe(0);
    // Described with her credential, as Kafka describes a user: quotas and SCRAM credentials together.
    await eventuallyPasses('the quota described', async () => {
      const out = (await configs('--describe', '--entity-type', 'users', '--entity-name', 'alice')).out;
      expect(out).toContain("Quota configs for user-principal 'alice' are producer_byte_rate=1024.0");
      expect(out).toContain("SCRAM credential configs for user-principal 'alice' are SCRAM-SHA-512=iterations=4096");
    });
    const leader = cluster.brokers[0]!;
    const throttled = (user: string) => metric(leader, 'samsa_client_quota_throttle_time_ms_total', { quota_type: 'produce', user, client_id: '' });
    const value = Buffer.alloc(KB, 'q');
    // 6 KiB against 1 KiB/s over a 2 s span: throttled on broker 0, which leads orders. Broker 1
    // learns the quota through its watch; until then alice's bytes go unthrottled, so keep sending.
    await eventually('alice throttled', async () => {
      await produce(client('alice', 'alice-secret', 'alice-bulk'), 'orders', Array.from({ length: 3 }, () => value));
      return ((await throttled('alice')) ?? 0) > 0 ? true : undefined;
    }, 60_000);
    await produce(admin(), 'orders', Array.from({ length: 6 }, () => value));
    expect(await throttled('admin')).toBeUndefined();
  }, 120_000);

  it('without cluster ACLs alice may neither change nor read SCRAM credentials and quotas: CLUSTER_AUTHORIZATION_FAILED', async () => {
    const asAlice = (...args: string[]) => cli('kafka.admin.ConfigCommand', ['--bootstrap-server', bootstrap, '--command-config', commandConfig('alice', 'alice-secret'), ...args]);
    const refused = /ClusterAuthorizationException: Cluster authorization failed/;
    // AlterUserScramCredentials needs ALTER on the cluster: admin's password stays.
    const takeover = await asAlice('--alter', '--add-config', 'SCRAM-SHA-512=[password=stolen]', '--entity-type', 'users', '--entity-name', 'admin');
    expect(takeover.out).toMatch(refused);
    // AlterClientQuotas needs ALTER_CONFIGS on the cluster: her quota stays.
    const unthrottle = await asAlice('--alter', '--delete-config', 'producer_byte_rate', '--entity-type', 'users', '--entity-name', 'alice');
    expect(unthrottle.out).toMatch(refused);
    // DescribeClientQuotas (DESCRIBE_CONFIGS) and DescribeUserScramCredentials (DESCRIBE) on the cluster.
    const described = await asAlice('--describe', '--entity-type', 'users', '--entity-name', 'admin');
    expect(described.out).toMatch(refused);
    expect(described.out).not.toContain('SCRAM-SHA-512=iterations');
    await produce(admin(), 'audit', ['admin-still-in']);
    const out = (await configs('--describe', '--entity-type', 'users', '--entity-name', 'alice')).out;
    expect(out).toContain("Quota configs for user-principal 'alice' are producer_byte_rate=1024.0");
  }, 120_000);

  it('deleting her SCRAM credential with kafka-configs makes her next connection fail authentication', async () => {
    const deleted = await configs('--alter', '--delete-config', 'SCRAM-SHA-512', '--entity-type', 'users', '--entity-name', 'alice');
    expect(deleted.code, deleted.out).toBe(0);
    const failed = () => Promise.all(cluster.brokers.map((b) => metric(b, 'samsa_failed_authentication_total', { listener: 'CLIENTS', mechanism: 'SCRAM-SHA-512' }))).then((n) => n.reduce<number>((a, b) => a + (b ?? 0), 0));
    const failedBefore = await failed();
    await eventuallyPasses('alice refused at authentication', async () => {
      const producer = alice().producer();
      await expect(producer.connect()).rejects.toThrow(/SASL SCRAM SHA512 authentication failed/);
    });
    expect(await failed()).toBeGreaterThan(failedBefore);
    expect((await configs('--describe', '--entity-type', 'users', '--entity-name', 'alice')).out).not.toContain('SCRAM-SHA-512=iterations');
  }, 60_000);
});

describe('mTLS principal with ACLs', () => {
  it('kcat with a CN=bob certificate is refused without an ACL, writes nothing, and is served with --allow-principal User:bob', async () => {
    const bob = files.client('bob');
    const tls = ['-X', 'security.protocol=SSL', '-X', `ssl.ca.location=${join(files.dir, 'ca.pem')}`, '-X', `ssl.certificate.location=${files.write('bob.crt', bob.cert)}`, '-X', `ssl.key.location=${files.write('bob.key', bob.key)}`];
    const mtls = cluster.bootstrapOn('MTLS');
    await expect(kcatProduce(mtls, 'ledger', ['refused'], [...tls, '-X', 'message.timeout.ms=5000'])).rejects.toThrow(/authorization failed/i);
    expect(await endOffset('ledger')).toBe('0');
    await eventuallyPasses('the refusal logged', () => expect(denialLogged('User:bob', 'ledger')).toBe(true));

    expect((await acls('--add', '--allow-principal', 'User:bob', '--producer', '--topic', 'ledger')).code).toBe(0);
    expect((await acls('--add', '--allow-principal', 'User:bob', '--operation', 'Read', '--topic', 'ledger')).code).toBe(0);
    await eventuallyPasses('bob allowed to produce', () => kcatProduce(mtls, 'ledger', ['entry-1'], [...tls, '-X', 'message.timeout.ms=5000']));
    expect(await endOffset('ledger')).toBe('1');
    expect((await kcatConsume(mtls, 'ledger', 'beginning', tls)).map((r) => r.value)).toEqual(['entry-1']);
  }, 120_000);
});
