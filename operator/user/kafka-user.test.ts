// The KafkaUser's exchanges with a broker (kafka-user.ts), the same suite against the reference
// Apache Kafka 4.0 and a Samsa broker, each with a SASL_PLAINTEXT SCRAM-SHA-512 listener and
// StandardAuthorizer (the PLAINTEXT listener's ANONYMOUS is the super user the operator connects
// as): after each step Kafka's own kafka-acls.sh and kafka-configs.sh show exactly the spec,
// clients configured with exactly what the user's Secret says (kafkajs with its username and
// password, the Java client with its client.properties) produce and consume where the ACLs allow
// and are refused elsewhere, a new password replaces the old one, and revoking leaves nothing
// that lets the user in; on Samsa kcat with the Secret's librdkafka.config too (kcat's
// librdkafka 2.0.2 fails SCRAM against Kafka 4.0 even for credentials set by kafka-configs.sh).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../../broker/protocol/client.js';
import { BrokerProcess, freePort } from '../../broker/test/broker-process.js';
import { KafkaProcess } from '../../broker/test/kafka-process.ts';
import { kcatConsume, kcatProduce } from '../../broker/test/kcat.js';
import { cli as kafkaCli } from '../../broker/test/kafka-tools.js';
import type { AclRule, KafkaUserSpec } from '../crds/types.js';
import { desiredAcls } from './acls.js';
import { deleteAcls, deleteQuotas, deleteScramCredential, describeAcls, describeUserQuotas, hasScramCredential, setScramCredential, syncAcls, syncQuotas } from './kafka-user.js';
import { desiredQuotas } from './quotas.js';
import { generatePassword } from './scram.js';
import { scramSecretData } from './secret.js';

/** Kafka's CLI tools, with time for the Java tools on a loaded machine. */
const cli = (mainClass: string, args: string[], stdin?: string) => kafkaCli(mainClass, args, stdin, 120_000);

/** A broker (or cluster) with a PLAINTEXT listener whose ANONYMOUS is a super user, for the operator, and a SASL_PLAINTEXT SCRAM-SHA-512 one for users. */
interface Target {
  adminBootstrap: string;
  saslBootstrap: string;
  /** Whether kcat (librdkafka 2.0.2) signs in with SCRAM here: not against Kafka 4.0 (see above). */
  kcatScram: boolean;
  stop(): Promise<void>;
}

async function startKafka(authorizer = true): Promise<Target> {
  const port = await freePort();
  const controllerPort = await freePort();
  const saslPort = await freePort();
  const kafka = await KafkaProcess.create(
    {
      listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort},SASL_PLAINTEXT://127.0.0.1:${saslPort}`,
      'advertised.listeners': `PLAINTEXT://127.0.0.1:${port},SASL_PLAINTEXT://127.0.0.1:${saslPort}`,
      'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT',
      'sasl.enabled.mechanisms': 'SCRAM-SHA-512',
      'listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
      ...(authorizer
        ? {
            'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
            // The PLAINTEXT listeners (inter-broker, controller, the operator's admin connection).
            'super.users': 'User:ANONYMOUS',
          }
        : {}),
    },
    undefined,
    { port, controllerPort, heap: '512M' },
  );
  await kafka.launch();
  return { adminBootstrap: kafka.bootstrap, saslBootstrap: `127.0.0.1:${saslPort}`, kcatScram: false, stop: () => kafka.destroy() };
}

async function startSamsa(): Promise<Target> {
  const broker = await BrokerProcess.start({
    listeners: 'PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0',
    'sasl.enabled.mechanisms': 'SCRAM-SHA-512',
    'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
    'super.users': 'User:ANONYMOUS',
    'group.initial.rebalance.delay.ms': '0',
  });
  return { adminBootstrap: broker.bootstrapOn('PLAINTEXT'), saslBootstrap: broker.bootstrapOn('SASL_PLAINTEXT'), kcatScram: true, stop: () => broker.destroy() };
}

const targets: Array<[string, () => Promise<Target>]> = [
  ['Apache Kafka 4.0', () => startKafka()],
  ['a Samsa broker', startSamsa],
];

let target: Target;
let conn: KafkaConnection;
let dir: string;

/**
 * Polls until `probe` holds: a broker answers Describe* from its metadata image, which follows
 * the controller's log a moment after a write was acknowledged.
 */
async function eventually(what: string, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within 30 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
const aclCount = async (n: number) => (await describeAcls(conn, 'User:alice')).length === n;

/** kafka-acls.sh --list of the principal, one "TYPE name PATTERN OPERATION PERMISSION host" per ACL. */
async function listedAcls(principal: string): Promise<string[]> {
  const { out } = await cli('org.apache.kafka.tools.AclCommand', ['--bootstrap-server', target.adminBootstrap, '--list', '--principal', principal]);
  const acls: string[] = [];
  let resource = '';
  for (const line of out.split('\n')) {
    const r = /ResourcePattern\(resourceType=(\w+), name=([^,]+), patternType=(\w+)\)/.exec(line);
    if (r) resource = `${r[1]} ${r[2]} ${r[3]}`;
    const a = /\(principal=([^,]+), host=([^,]+), operation=(\w+), permissionType=(\w+)\)/.exec(line);
    if (a && a[1] === principal) acls.push(`${resource} ${a[3]} ${a[4]} ${a[2]}`);
  }
  return acls.sort();
}

/** kafka-configs.sh --describe --entity-type users of the user. */
async function describedUser(user: string): Promise<string> {
  return (await cli('kafka.admin.ConfigCommand', ['--bootstrap-server', target.adminBootstrap, '--describe', '--entity-type', 'users', '--entity-name', user])).out;
}

/** The quota values kafka-configs.sh shows for the user, sorted. */
const quotaValues = (described: string) => (/Quota configs for user-principal '[^']+' are (.*)/.exec(described)?.[1] ?? '').split(', ').filter(Boolean).sort();

/** The user Secret's keys as files, as a mounted Secret gives them. */
function mountSecret(name: string, data: Record<string, string>): string {
  const mount = mkdtempSync(join(dir, `${name}-`));
  for (const [k, v] of Object.entries(data)) writeFileSync(join(mount, k), v);
  return mount;
}

function kafkajsClient(data: Record<string, string>) {
  return new kafkajs.Kafka({
    clientId: 'kafka-user-test',
    brokers: data.bootstrap!.split(','),
    sasl: { mechanism: 'scram-sha-512', username: data.username!, password: data.password! },
    logLevel: kafkajs.logLevel.NOTHING,
    retry: { retries: 0 },
  });
}

async function produce(data: Record<string, string>, topic: string, value: string): Promise<void> {
  const producer = kafkajsClient(data).producer();
  await producer.connect();
  try {
    await producer.send({ topic, messages: [{ value }] });
  } finally {
    await producer.disconnect();
  }
}

/** The topic's partitions as the user's client sees them (the user's Describe ACL). */
async function partitionsSeenBy(data: Record<string, string>, topic: string): Promise<number> {
  const admin = kafkajsClient(data).admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions.length;
  } finally {
    await admin.disconnect();
  }
}

const rules: AclRule[] = [
  { resource: { type: 'topic', name: 'orders', patternType: 'literal' }, operations: ['Read', 'Write', 'Describe'], host: '*', type: 'allow' },
  { resource: { type: 'group', name: 'alice-', patternType: 'prefix' }, operations: ['Read'], host: '*', type: 'allow' },
  { resource: { type: 'topic', name: 'aud', patternType: 'prefix' }, operations: ['Write'], host: '*', type: 'deny' },
];
const quotas: KafkaUserSpec['quotas'] = { producerByteRate: 1048576, consumerByteRate: 2097152, requestPercentage: 150 };

describe.each(targets)('KafkaUser exchanges against %s', (_name, start) => {
  let secret: Record<string, string>;

  beforeAll(async () => {
    target = await start();
    const [host, port] = target.adminBootstrap.split(':') as [string, string];
    conn = await KafkaConnection.open(host, Number(port), 'samsa-operator');
    const admin = new kafkajs.Kafka({ clientId: 'setup', brokers: [target.adminBootstrap], logLevel: kafkajs.logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'orders' }, { topic: 'audit' }], waitForLeaders: true });
    await admin.disconnect();
    dir = mkdtempSync(join(tmpdir(), 'kafka-user-'));
  }, 180_000);

  afterAll(async () => {
    await conn?.close();
    await target?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('sets the SCRAM credential, ACLs and quotas so that Kafka\'s tools show exactly the spec', async () => {
    const password = generatePassword();
    expect(await hasScramCredential(conn, 'alice')).toBe(false);
    await setScramCredential(conn, 'alice', password);
    await eventually('the credential', () => hasScramCredential(conn, 'alice'));
    const acls = await syncAcls(conn, 'User:alice', desiredAcls('User:alice', rules));
    expect(acls.created).toHaveLength(5);
    expect(acls.deleted).toEqual([]);
    expect(await syncQuotas(conn, 'alice', desiredQuotas(quotas))).toHaveLength(3);
    await eventually('the ACLs', () => aclCount(5));
    await eventually('the quotas', async () => (await describeUserQuotas(conn, 'alice')).size === 3);

    expect(await listedAcls('User:alice')).toEqual(
      ['GROUP alice- PREFIXED READ ALLOW *', 'TOPIC aud PREFIXED WRITE DENY *', 'TOPIC orders LITERAL DESCRIBE ALLOW *', 'TOPIC orders LITERAL READ ALLOW *', 'TOPIC orders LITERAL WRITE ALLOW *'].sort(),
    );
    const described = await describedUser('alice');
    expect(quotaValues(described)).toEqual(['consumer_byte_rate=2097152.0', 'producer_byte_rate=1048576.0', 'request_percentage=150.0']);
    expect(described).toMatch(/SCRAM credential configs for user-principal 'alice' are SCRAM-SHA-512=iterations=4096/);

    // A second pass changes nothing.
    expect(await syncAcls(conn, 'User:alice', desiredAcls('User:alice', rules))).toEqual({ created: [], deleted: [] });
    expect(await syncQuotas(conn, 'alice', desiredQuotas(quotas))).toEqual([]);
    secret = scramSecretData({ username: 'alice', password, listener: { bootstrap: target.saslBootstrap, tls: false }, caCertificate: null });
  }, 120_000);

  it('lets a client with the Secret\'s settings produce and consume where the ACLs allow, and refuses it elsewhere', async () => {
    // kafkajs with the Secret's bootstrap, username and password.
    await produce(secret, 'orders', 'from kafkajs');
    await expect(produce(secret, 'audit', 'denied')).rejects.toThrow(/authoriz/i);
    // The Java client with client.properties as it stands: a producer, and a consumer in a group
    // the ACLs allow.
    const mount = mountSecret('alice', secret);
    const produced = await cli('org.apache.kafka.tools.ConsoleProducer', ['--bootstrap-server', secret.bootstrap!, '--producer.config', join(mount, 'client.properties'), '--topic', 'orders'], 'from java\n');
    expect(produced.code, produced.out).toBe(0);
    if (target.kcatScram) {
      // kcat with librdkafka.config as it stands.
      const config = ['-F', join(mount, 'librdkafka.config')];
      await kcatProduce(secret.bootstrap!, 'orders', ['from kcat'], config);
      await expect(kcatProduce(secret.bootstrap!, 'audit', ['denied'], config)).rejects.toThrow(/authoriz/i);
      expect((await kcatConsume(secret.bootstrap!, 'orders', 'beginning', config)).map((r) => r.value)).toEqual(['from kafkajs', 'from java', 'from kcat']);
    }
    const consumed = await cli('org.apache.kafka.tools.consumer.ConsoleConsumer', [
      '--bootstrap-server', secret.bootstrap!, '--consumer.config', join(mount, 'client.properties'),
      '--topic', 'orders', '--group', 'alice-readers', '--from-beginning', '--max-messages', '2', '--timeout-ms', '60000',
    ]);
    expect(consumed.out.split('\n').filter((l) => l.startsWith('from ')).slice(0, 2)).toEqual(['from kafkajs', 'from java']);
    // A group outside the ACLs is refused.
    const refused = await cli('org.apache.kafka.tools.consumer.ConsoleConsumer', [
      '--bootstrap-server', secret.bootstrap!, '--consumer.config', join(mount, 'client.properties'),
      '--topic', 'orders', '--group', 'others', '--from-beginning', '--max-messages', '1', '--timeout-ms', '20000',
    ]);
    expect(refused.out).toMatch(/GroupAuthorizationException|Not authorized to access group/);
    // Nothing was written to the topic the user may not write to.
    expect(await kcatConsume(target.adminBootstrap, 'audit')).toEqual([]);
  }, 240_000);

  it('removes ACLs and quotas no longer in the spec, and a new password replaces the old', async () => {
    const fewer: AclRule[] = [{ resource: { type: 'topic', name: 'orders', patternType: 'literal' }, operations: ['Read', 'Describe'], host: '*', type: 'allow' }, rules[1]!];
    const acls = await syncAcls(conn, 'User:alice', desiredAcls('User:alice', fewer));
    expect(acls.created).toEqual([]);
    expect(acls.deleted).toHaveLength(2);
    expect(await syncQuotas(conn, 'alice', desiredQuotas({ producerByteRate: 4096 }))).toEqual(['producer_byte_rate', 'consumer_byte_rate', 'request_percentage']);
    await eventually('the ACLs', () => aclCount(3));
    await eventually('the quotas', async () => (await describeUserQuotas(conn, 'alice')).size === 1);
    expect(await listedAcls('User:alice')).toEqual(['GROUP alice- PREFIXED READ ALLOW *', 'TOPIC orders LITERAL DESCRIBE ALLOW *', 'TOPIC orders LITERAL READ ALLOW *']);
    expect(quotaValues(await describedUser('alice'))).toEqual(['producer_byte_rate=4096.0']);
    await expect(produce(secret, 'orders', 'no longer allowed')).rejects.toThrow(/authoriz/i);

    const old = secret;
    const password = generatePassword();
    await setScramCredential(conn, 'alice', password);
    await eventually('the new password', async () => (await partitionsSeenBy(old, 'orders').catch(() => 0)) === 0);
    secret = scramSecretData({ username: 'alice', password, listener: { bootstrap: target.saslBootstrap, tls: false }, caCertificate: null });
    expect(await partitionsSeenBy(secret, 'orders')).toBe(1);
    await expect(partitionsSeenBy(old, 'orders')).rejects.toThrow(/SASL SCRAM SHA512 authentication failed/);
  }, 120_000);

  it('revokes: no credential, ACL or quota is left and the same Secret is refused', async () => {
    await deleteScramCredential(conn, 'alice');
    await deleteAcls(conn, 'User:alice');
    await deleteQuotas(conn, 'alice');
    await eventually('the revocation', async () => !(await hasScramCredential(conn, 'alice')) && (await aclCount(0)) && (await describeUserQuotas(conn, 'alice')).size === 0);
    // Revoking what is gone already is no error (a deletion retried after a crash).
    await deleteScramCredential(conn, 'alice');
    await deleteAcls(conn, 'User:alice');
    expect(await listedAcls('User:alice')).toEqual([]);
    const described = await describedUser('alice');
    expect(described).not.toContain('Quota configs');
    expect(described).not.toContain('SCRAM credential configs');
    await expect(partitionsSeenBy(secret, 'orders')).rejects.toThrow(/SASL SCRAM SHA512 authentication failed/);
    await expect(produce(secret, 'orders', 'after revocation')).rejects.toThrow(/SASL SCRAM SHA512 authentication failed/);
  }, 120_000);
});

describe('KafkaUser exchanges against Apache Kafka 4.0 without an authorizer', () => {
  let kafka: Target;
  let admin: KafkaConnection;

  beforeAll(async () => {
    kafka = await startKafka(false);
    const [host, port] = kafka.adminBootstrap.split(':') as [string, string];
    admin = await KafkaConnection.open(host, Number(port), 'samsa-operator');
    const setup = new kafkajs.Kafka({ clientId: 'setup', brokers: [kafka.adminBootstrap], logLevel: kafkajs.logLevel.NOTHING }).admin();
    await setup.connect();
    await setup.createTopics({ topics: [{ topic: 'anything' }], waitForLeaders: true });
    await setup.disconnect();
  }, 180_000);

  afterAll(async () => {
    await admin?.close();
    await kafka?.stop();
  });

  it('keeps a user without ACLs, refuses ACLs with Kafka\'s reason, and revokes', async () => {
    await setScramCredential(admin, 'bob', 'bobs-password');
    await eventually('the credential', () => hasScramCredential(admin, 'bob'));
    expect(await syncAcls(admin, 'User:bob', [])).toEqual({ created: [], deleted: [] });
    await expect(syncAcls(admin, 'User:bob', desiredAcls('User:bob', rules))).rejects.toThrow(/describing the ACLs of User:bob: .*\(SECURITY_DISABLED\)|error 54/);
    const data = scramSecretData({ username: 'bob', password: 'bobs-password', listener: { bootstrap: kafka.saslBootstrap, tls: false }, caCertificate: null });
    await produce(data, 'anything', 'bob was here');
    await deleteScramCredential(admin, 'bob');
    await deleteAcls(admin, 'User:bob');
    await deleteQuotas(admin, 'bob');
    await eventually('the revocation', async () => !(await hasScramCredential(admin, 'bob')));
    await expect(produce(data, 'anything', 'after revocation')).rejects.toThrow(/SASL SCRAM SHA512 authentication failed/);
  }, 120_000);
});
