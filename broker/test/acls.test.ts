// ACLs and the authorizer with real clients against real broker processes: Kafka's kafka-acls
// (AclCommand) adding, listing and removing ACLs; kafkajs, kcat and the Java console consumer
// refused with Kafka's errors and nothing written, then allowed once an ACL is created — on a
// two-broker cluster (etcd), ACLs created through one broker and applied by the other; Metadata
// hiding topics; DENY over ALLOW; super.users; allow.everyone.if.no.acl.found; no authorizer.
// Every connection is User:ANONYMOUS here (no authentication), so the ACLs name that principal.
// ANONYMOUS is seeded in the metadata store with the cluster rights an administrator (and the
// brokers' replica fetchers) need: ALTER and DESCRIBE (ACLs), CREATE (topics), CLUSTER_ACTION.
import { randomBytes } from 'node:crypto';
import kafkajs from 'kafkajs';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMetadataStore } from '../metadata/store-url.js';
import { KafkaConnection } from '../protocol/client.js';
import { ErrorCode } from '../protocol/errors.js';
import { describeAclsApi, describeGroupsApi, findCoordinatorApi, metadataApi } from '../protocol/messages/index.js';
import { AclStore } from '../security/acl-store.js';
import { AclOperation, AclPermission, CLUSTER_NAME, PatternType, ResourceType } from '../security/acls.js';
import { BrokerProcess } from './broker-process.js';
import { EtcdProcess } from './etcd-process.js';
import { KafkaProcess, ensureKafka } from './kafka-process.js';
import { cli, kafkajsErrorType } from './kafka-tools.js';
import { kcatConsume, kcatProduce } from './kcat.js';
import { SamsaCluster } from './samsa-cluster.js';

const { Kafka, logLevel } = kafkajs;
const AUTHORIZER = { 'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer' };

const acls = (bootstrap: string, ...args: string[]) => cli('org.apache.kafka.tools.AclCommand', ['--bootstrap-server', bootstrap, ...args]);

function client(bootstrap: string, id: string): kafkajs.Kafka {
  return new Kafka({ clientId: id, brokers: bootstrap.split(','), logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 500 } });
}

async function refusal(action: Promise<unknown>): Promise<string> {
  try {
    await action;
  } catch (err) {
    return kafkajsErrorType(err);
  }
  return 'NONE';
}

/** Retries `check` until it passes: an ACL made through one broker reaches the others through their watch. */
async function eventually<T>(check: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function produceOne(bootstrap: string, topic: string, value: string, allowAutoTopicCreation = false): Promise<void> {
  const producer = client(bootstrap, 'acl-producer').producer({ allowAutoTopicCreation });
  await producer.connect();
  try {
    await producer.send({ topic, messages: [{ value }] });
  } finally {
    await producer.disconnect();
  }
}

async function endOffset(bootstrap: string, topic: string): Promise<string> {
  const admin = client(bootstrap, 'acl-offsets').admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.map((o) => o.high).join(',');
  } finally {
    await admin.disconnect();
  }
}

describe('ACLs on a two-broker cluster', () => {
  let etcd: EtcdProcess;
  let cluster: SamsaCluster;
  let b0: string;
  let b1: string;

  beforeAll(async () => {
    ensureKafka();
    etcd = await EtcdProcess.start();
    const url = etcd.url(`samsa/acls-${randomBytes(4).toString('hex')}`);
    const store = await openMetadataStore(url);
    const seed = new AclStore(store, pino({ level: 'silent' }));
    await seed.create(
      [AclOperation.ALTER, AclOperation.DESCRIBE, AclOperation.CREATE, AclOperation.CLUSTER_ACTION].map((operation) => ({
        pattern: { resourceType: ResourceType.CLUSTER, patternType: PatternType.LITERAL, name: CLUSTER_NAME },
        entry: { principal: 'User:ANONYMOUS', host: '*', operation, permission: AclPermission.ALLOW },
      })),
    );
    await store.close();
    cluster = await SamsaCluster.start({ brokers: 2, store: { url }, config: { ...AUTHORIZER, 'group.initial.rebalance.delay.ms': '0', 'offsets.topic.replication.factor': '2', 'offsets.topic.num.partitions': '3' } });
    [b0, b1] = cluster.brokers.map((b) => b.bootstrap) as [string, string];
    // Topics led by broker 1, so that what clients do there is checked by the broker that did not take the ACLs.
    const admin = client(b0, 'acl-setup').admin();
    await admin.connect();
    await admin.createTopics({
      topics: ['secure', 'hidden', 'denied'].map((topic) => ({ topic, replicaAssignment: [{ partition: 0, replicas: [1, 0] }] })),
      waitForLeaders: false,
    });
    await admin.disconnect();
  }, 180_000);

  afterAll(async () => {
    await cluster?.stop();
    await etcd?.stop();
  });

  it('kafka-acls adds, lists and removes literal and prefixed ACLs, and --producer/--consumer add what Kafka adds', async () => {
    expect((await acls(b0, '--add', '--allow-principal', 'User:ANONYMOUS', '--operation', 'Read', '--operation', 'Describe', '--topic', 'cli-literal')).code).toBe(0);
    expect((await acls(b0, '--add', '--allow-principal', 'User:ANONYMOUS', '--operation', 'Write', '--topic', 'cli-pre-', '--resource-pattern-type', 'prefixed')).code).toBe(0);
    const literal = (await acls(b0, '--list', '--topic', 'cli-literal')).out;
    expect(literal).toContain('ResourcePattern(resourceType=TOPIC, name=cli-literal, patternType=LITERAL)');
    expect(literal).toContain('(principal=User:ANONYMOUS, host=*, operation=READ, permissionType=ALLOW)');
    expect(literal).toContain('(principal=User:ANONYMOUS, host=*, operation=DESCRIBE, permissionType=ALLOW)');
    // Listed through the other broker, which learnt them from the metadata store.
    const prefixed = await eventually(async () => {
      const out = (await acls(b1, '--list', '--topic', 'cli-pre-', '--resource-pattern-type', 'prefixed')).out;
      expect(out).toContain('ResourcePattern(resourceType=TOPIC, name=cli-pre-, patternType=PREFIXED)');
      return out;
    });
    expect(prefixed).toContain('(principal=User:ANONYMOUS, host=*, operation=WRITE, permissionType=ALLOW)');
    expect(prefixed).not.toContain('cli-literal');
    // MATCH: every pattern that applies to a topic name.
    expect((await acls(b0, '--list', '--topic', 'cli-pre-orders', '--resource-pattern-type', 'match')).out).toContain('name=cli-pre-, patternType=PREFIXED');

    expect((await acls(b1, '--remove', '--force', '--allow-principal', 'User:ANONYMOUS', '--operation', 'Write', '--topic', 'cli-pre-', '--resource-pattern-type', 'prefixed')).code).toBe(0);
    expect((await acls(b1, '--list', '--topic', 'cli-pre-', '--resource-pattern-type', 'prefixed')).out).not.toContain('operation=WRITE');

    expect((await acls(b0, '--add', '--allow-principal', 'User:ANONYMOUS', '--producer', '--topic', 'cli-produced')).code).toBe(0);
    const producer = (await acls(b0, '--list', '--topic', 'cli-produced')).out;
    for (const op of ['WRITE', 'DESCRIBE', 'CREATE']) expect(producer).toContain(`operation=${op}, permissionType=ALLOW`);
    expect((await acls(b0, '--add', '--allow-principal', 'User:ANONYMOUS', '--consumer', '--topic', 'cli-consumed', '--group', 'cli-group')).code).toBe(0);
    const consumer = (await acls(b0, '--list', '--topic', 'cli-consumed')).out;
    for (const op of ['READ', 'DESCRIBE']) expect(consumer).toContain(`operation=${op}, permissionType=ALLOW`);
    expect((await acls(b0, '--list', '--group', 'cli-group')).out).toContain('(principal=User:ANONYMOUS, host=*, operation=READ, permissionType=ALLOW)');
  }, 240_000);

  it('refuses kafkajs, kcat and the Java client without ACLs and writes nothing; allows them once ACLs made through the other broker arrive', async () => {
    // No ACL on the topic: not even its metadata.
    expect(await refusal(produceOne(b1, 'secure', 'refused'))).toBe('TOPIC_AUTHORIZATION_FAILED');
    await expect(kcatProduce(b1, 'secure', ['refused'], ['-X', 'message.timeout.ms=5000'])).rejects.toThrow(/authorization failed/i);
    // DESCRIBE only: metadata and ListOffsets are served, the Produce request itself is refused.
    expect((await acls(b0, '--add', '--allow-principal', 'User:ANONYMOUS', '--operation', 'Describe', '--topic', 'secure')).code).toBe(0);
    expect(await eventually(() => endOffset(b1, 'secure'))).toBe('0');
    expect(await refusal(produceOne(b1, 'secure', 'refused'))).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await endOffset(b1, 'secure')).toBe('0');

    expect((await acls(b0, '--add', '--allow-principal', 'User:ANONYMOUS', '--operation', 'Write', '--topic', 'secure')).code).toBe(0);
    await eventually(() => produceOne(b1, 'secure', 'allowed'));
    expect(await endOffset(b1, 'secure')).toBe('1');

    // Reading needs READ on the topic, a group READ on the group.
    await expect(kcatConsume(b1, 'secure')).rejects.toThrow(/authorization failed/i);
    // kafkajs hides a FindCoordinator error behind "Failed to find group coordinator": asked directly.
    const connection = await KafkaConnection.open('127.0.0.1', cluster.brokers[1]!.port, 'acl-groups');
    const found = await connection.send(findCoordinatorApi, 4, { key: '', keyType: 0, coordinatorKeys: ['secure-group'] });
    expect(found.coordinators.map((c) => c.errorCode)).toEqual([ErrorCode.GROUP_AUTHORIZATION_FAILED]);
    const described = await connection.send(describeGroupsApi, 5, { groups: ['secure-group'], includeAuthorizedOperations: true });
    expect(described.groups.map((g) => g.errorCode)).toEqual([ErrorCode.GROUP_AUTHORIZATION_FAILED]);
    await connection.close();
    const consume = () =>
      cli('org.apache.kafka.tools.consumer.ConsoleConsumer', ['--bootstrap-server', b1, '--topic', 'secure', '--group', 'secure-group', '--from-beginning', '--max-messages', '1', '--timeout-ms', '20000']);
    expect((await consume()).out).toMatch(/GroupAuthorizationException|TopicAuthorizationException|Not authorized/);
    expect((await acls(b0, '--add', '--allow-principal', 'User:ANONYMOUS', '--consumer', '--topic', 'secure', '--group', 'secure-group')).code).toBe(0);
    await eventually(async () => expect((await kcatConsume(b1, 'secure')).map((r) => r.value)).toEqual(['allowed']));
    const consumed = await eventually(async () => {
      const result = await consume();
      expect(result.out).toContain('allowed');
      return result;
    }, 60_000);
    expect(consumed.out).not.toContain('refused');
    const admin = client(b1, 'acl-groups').admin();
    await admin.connect();
    const committed = await eventually(async () => {
      const offsets = await admin.fetchOffsets({ groupId: 'secure-group', topics: ['secure'] });
      expect(offsets[0]!.partitions[0]!.offset).toBe('1');
      return offsets;
    });
    expect(committed[0]!.topic).toBe('secure');
    await admin.disconnect();
  }, 240_000);

  it('Metadata leaves out topics the principal may not describe and refuses them by name', async () => {
    const admin = client(b1, 'acl-metadata').admin();
    await admin.connect();
    await eventually(async () => expect(await admin.listTopics()).toContain('secure'));
    const listed = await admin.listTopics();
    expect(listed).not.toContain('hidden');
    expect(listed).not.toContain('denied');
    expect(await refusal(admin.fetchTopicMetadata({ topics: ['hidden'] }))).toBe('TOPIC_AUTHORIZATION_FAILED');
    // Authorized operations: what the ACLs so far grant ANONYMOUS on "secure" (READ, WRITE, DESCRIBE) and on the cluster.
    const connection = await KafkaConnection.open('127.0.0.1', cluster.brokers[1]!.port, 'acl-metadata');
    const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA';
    const metadata = await connection.send(metadataApi, 10, {
      topics: [{ topicId: ZERO_UUID, name: 'secure' }, { topicId: ZERO_UUID, name: 'hidden' }],
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: true,
      includeTopicAuthorizedOperations: true,
    });
    await connection.close();
    expect(metadata.topics.map((t) => [t.name, t.errorCode])).toEqual([['secure', ErrorCode.NONE], ['hidden', ErrorCode.TOPIC_AUTHORIZATION_FAILED]]);
    expect(metadata.topics[0]!.topicAuthorizedOperations).toBe((1 << AclOperation.READ) | (1 << AclOperation.WRITE) | (1 << AclOperation.DESCRIBE));
    expect(metadata.clusterAuthorizedOperations).toBe((1 << AclOperation.CREATE) | (1 << AclOperation.ALTER) | (1 << AclOperation.DESCRIBE) | (1 << AclOperation.CLUSTER_ACTION));
    await admin.disconnect();
  }, 120_000);

  it('a DENY wins over an ALLOW, and refusals are logged and counted', async () => {
    expect((await acls(b0, '--add', '--allow-principal', 'User:ANONYMOUS', '--operation', 'All', '--topic', 'denied')).code).toBe(0);
    await eventually(() => produceOne(b1, 'denied', 'before'));
    expect((await acls(b0, '--add', '--deny-principal', 'User:ANONYMOUS', '--deny-host', '*', '--operation', 'Write', '--topic', 'den', '--resource-pattern-type', 'prefixed')).code).toBe(0);
    await eventually(async () => expect(await refusal(produceOne(b1, 'denied', 'after'))).toBe('TOPIC_AUTHORIZATION_FAILED'));
    expect(await endOffset(b1, 'denied')).toBe('1');
    const broker1 = cluster.brokers[1]!;
    expect(broker1.output).toMatch(/"principal":"User:ANONYMOUS","operation":"WRITE","resourceType":"TOPIC","resourceName":"denied","host":"127\.0\.0\.1","msg":"authorization denied"/);
    const metrics = await (await fetch(`http://127.0.0.1:${broker1.httpPort}/metrics`)).text();
    const denied = /samsa_authorizer_denials_total\{operation="WRITE",resource_type="TOPIC"\} (\d+)/.exec(metrics);
    expect(Number(denied?.[1])).toBeGreaterThan(0);
  }, 120_000);
});

describe('authorizer settings on one broker', () => {
  it('super.users may do anything without an ACL', async () => {
    const broker = await BrokerProcess.start({ ...AUTHORIZER, 'super.users': 'User:admin;User:ANONYMOUS' });
    try {
      await produceOne(broker.bootstrap, 'super-topic', 'v', true);
      expect(await endOffset(broker.bootstrap, 'super-topic')).toBe('1');
      expect((await acls(broker.bootstrap, '--list')).code).toBe(0);
    } finally {
      await broker.destroy();
    }
  }, 120_000);

  it('allow.everyone.if.no.acl.found allows resources no ACL names, and only those', async () => {
    const broker = await BrokerProcess.start({ ...AUTHORIZER, 'allow.everyone.if.no.acl.found': 'true' });
    try {
      await produceOne(broker.bootstrap, 'open-topic', 'v', true);
      expect(await endOffset(broker.bootstrap, 'open-topic')).toBe('1');
      // The cluster has no ACL yet either: the first ACL can be made by anyone.
      expect((await acls(broker.bootstrap, '--add', '--allow-principal', 'User:bob', '--operation', 'Write', '--topic', 'bobs-topic')).code).toBe(0);
      expect(await refusal(produceOne(broker.bootstrap, 'bobs-topic', 'v', true))).toBe('TOPIC_AUTHORIZATION_FAILED');
      await produceOne(broker.bootstrap, 'open-topic', 'w');
      expect(await endOffset(broker.bootstrap, 'open-topic')).toBe('2');
    } finally {
      await broker.destroy();
    }
  }, 120_000);

  it('without an authorizer the ACL APIs answer SECURITY_DISABLED, and a wrong authorizer.class.name stops start-up', async () => {
    const broker = await BrokerProcess.start({});
    try {
      const listed = await acls(broker.bootstrap, '--list');
      expect(listed.out).toMatch(/SecurityDisabledException|No Authorizer is configured/);
      const added = await acls(broker.bootstrap, '--add', '--allow-principal', 'User:bob', '--operation', 'Read', '--topic', 't');
      expect(added.out).toMatch(/SecurityDisabledException|No Authorizer is configured/);
      const connection = await KafkaConnection.open('127.0.0.1', broker.port, 'acl-disabled');
      const described = await connection.send(describeAclsApi, 3, { resourceTypeFilter: ResourceType.ANY, resourceNameFilter: null, patternTypeFilter: PatternType.ANY, principalFilter: null, hostFilter: null, operation: AclOperation.ANY, permissionType: AclPermission.ANY });
      await connection.close();
      expect(described.errorCode).toBe(ErrorCode.SECURITY_DISABLED);
    } finally {
      await broker.destroy();
    }
    await expect(BrokerProcess.start({ 'authorizer.class.name': 'kafka.security.authorizer.AclAuthorizer' })).rejects.toThrow(/authorizer\.class\.name must be empty .* or org\.apache\.kafka\.metadata\.authorizer\.StandardAuthorizer/);
  }, 120_000);
});

describe('kafka-acls against Samsa and Apache Kafka', () => {
  it('lists the same ACLs after the same commands', async () => {
    const kafka = await KafkaProcess.start({ ...AUTHORIZER, 'super.users': 'User:ANONYMOUS' });
    const samsa = await BrokerProcess.start({ ...AUTHORIZER, 'super.users': 'User:ANONYMOUS' });
    try {
      const commands = [
        ['--add', '--allow-principal', 'User:alice', '--operation', 'Read', '--operation', 'Describe', '--topic', 'orders'],
        ['--add', '--allow-principal', 'User:bob', '--allow-host', '10.0.0.7', '--producer', '--topic', 'pay-', '--resource-pattern-type', 'prefixed'],
        ['--add', '--deny-principal', 'User:*', '--operation', 'Delete', '--topic', '*'],
        ['--add', '--allow-principal', 'User:alice', '--consumer', '--topic', 'orders', '--group', 'billing'],
        ['--add', '--allow-principal', 'User:ops', '--operation', 'Alter', '--cluster'],
        ['--add', '--allow-principal', 'User:tx', '--operation', 'Write', '--transactional-id', 'tx-1'],
        ['--remove', '--force', '--allow-principal', 'User:alice', '--operation', 'Describe', '--topic', 'orders'],
      ];
      const normalize = (out: string) =>
        out
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => l.startsWith('(principal=') || l.startsWith('Current ACLs for resource'))
          .sort();
      for (const args of commands) {
        const [k, s] = await Promise.all([acls(kafka.bootstrap, ...args), acls(samsa.bootstrap, ...args)]);
        expect(s.code, s.out).toBe(k.code);
      }
      for (const list of [['--list'], ['--list', '--topic', 'pay-x', '--resource-pattern-type', 'match'], ['--list', '--principal', 'User:alice']]) {
        const [k, s] = await Promise.all([acls(kafka.bootstrap, ...list), acls(samsa.bootstrap, ...list)]);
        expect(normalize(s.out)).toEqual(normalize(k.out));
        expect(normalize(k.out).length).toBeGreaterThan(0);
      }
    } finally {
      await samsa.destroy();
      await kafka.destroy();
    }
  }, 300_000);
});
