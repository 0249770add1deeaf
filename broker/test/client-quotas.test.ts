// Client quotas end to end: Kafka's kafka-configs.sh sets, describes and deletes user and
// client-id quotas (incl. defaults) on Samsa with the same output as on Apache Kafka; kafkajs
// clients under producer_byte_rate, consumer_byte_rate and request_percentage get
// throttle_time_ms and the broker's throttle metrics rise, while every record still arrives;
// the precedence of a user default over a client-id quota and of a user+client quota over both;
// a quota set through one broker of a cluster applies on another.
// The brokers measure over quota.window.num=3 windows (a 2 s minimum span) to keep throttles short.
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type LogEntry } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../protocol/client.js';
import { ErrorCode } from '../protocol/errors.js';
import { alterClientQuotasApi, describeClientQuotasApi, metadataApi, produceApi } from '../protocol/messages/index.js';
import { buildRecordBatch } from '../records/batch-builder.js';
import { BrokerProcess } from './broker-process.js';
import { eventually } from './eventually.js';
import { ensureKafka } from './kafka-process.ts';
import { cli, metric } from './kafka-tools.js';
import { kcatConsume } from './kcat.js';
import { SamsaCluster } from './samsa-cluster.ts';

const WINDOWS = { 'quota.window.num': '3', 'quota.window.size.seconds': '1' };
let broker: BrokerProcess;

beforeAll(async () => {
  ensureKafka();
  broker = await BrokerProcess.start({ ...WINDOWS, 'group.initial.rebalance.delay.ms': '0' });
}, 180_000);

afterAll(async () => {
  await broker?.destroy();
});

const configs = (bootstrap: string, ...args: string[]) => cli('kafka.admin.ConfigCommand', ['--bootstrap-server', bootstrap, ...args]);

/** A kafkajs client whose "client side throttling" debug lines (throttle_time_ms > 0 in a response) are collected. */
function throttledClient(bootstrap: string, clientId: string): { kafka: Kafka; throttles: number[] } {
  const throttles: number[] = [];
  const kafka = new Kafka({
    clientId,
    brokers: [bootstrap],
    logLevel: logLevel.DEBUG,
    logCreator:
      () =>
      ({ log }: LogEntry) => {
        const m = /Client side throttling in effect for (\d+)ms/.exec(log.message);
        if (m) throttles.push(Number(m[1]));
      },
  });
  return { kafka, throttles };
}

const KB = 1024;
const value = Buffer.alloc(KB, 'q');

describe('kafka-configs.sh client quotas', () => {
  const user = (...more: string[]) => ['--entity-type', 'users', ...more];
  const client = (...more: string[]) => ['--entity-type', 'clients', ...more];
  const done = { alice: 'Completed updating config for user alice.', users: 'Completed updating default config for users in the cluster.', clients: 'Completed updating default config for clients in the cluster.' };
  const aliceApp = "Quota configs for user-principal 'alice', client-id 'app' are request_percentage=50.0";
  // Each step's output as Apache Kafka 4.0 prints it against Apache Kafka 4.0 (recorded from a
  // run against broker/test/kafka-process.ts; lines of a describe come in no particular order).
  const steps: [string[], string[]][] = [
    [['--alter', '--add-config', 'producer_byte_rate=1024,consumer_byte_rate=2048', ...user('--entity-name', 'alice')], [done.alice]],
    [['--alter', '--add-config', 'request_percentage=50', ...user('--entity-name', 'alice'), ...client('--entity-name', 'app')], [done.alice]],
    [['--alter', '--add-config', 'producer_byte_rate=4096', ...user('--entity-default')], [done.users]],
    [['--alter', '--add-config', 'consumer_byte_rate=8192', ...client('--entity-default')], [done.clients]],
    [['--alter', '--add-config', 'producer_byte_rate=512', ...user('--entity-default'), ...client('--entity-default')], [done.users]],
    [['--alter', '--add-config', 'producer_byte_rate=777', ...client('--entity-name', 'app')], ['Completed updating config for client app.']],
    [['--describe', ...user('--entity-name', 'alice')], ["Quota configs for user-principal 'alice' are consumer_byte_rate=2048.0, producer_byte_rate=1024.0"]],
    [['--describe', ...user('--entity-name', 'alice'), ...client('--entity-name', 'app')], [aliceApp]],
    [['--describe', ...user()], ['Quota configs for the default user-principal are producer_byte_rate=4096.0', "Quota configs for user-principal 'alice' are consumer_byte_rate=2048.0, producer_byte_rate=1024.0"]],
    [['--describe', ...user('--entity-default')], ['Quota configs for the default user-principal are producer_byte_rate=4096.0']],
    [['--describe', ...client()], ["Quota configs for client-id 'app' are producer_byte_rate=777.0", 'Quota configs for the default client-id are consumer_byte_rate=8192.0']],
    [['--describe', ...client('--entity-default')], ['Quota configs for the default client-id are consumer_byte_rate=8192.0']],
    [['--describe', ...user(), ...client()], ['Quota configs for the default user-principal, the default client-id are producer_byte_rate=512.0', aliceApp]],
    [['--alter', '--delete-config', 'producer_byte_rate', ...user('--entity-name', 'alice')], [done.alice]],
    [['--describe', ...user('--entity-name', 'alice')], ["Quota configs for user-principal 'alice' are consumer_byte_rate=2048.0"]],
    [['--alter', '--delete-config', 'producer_byte_rate', ...user('--entity-default')], [done.users]],
    [['--alter', '--delete-config', 'consumer_byte_rate', ...client('--entity-default')], [done.clients]],
    [['--alter', '--delete-config', 'producer_byte_rate', ...user('--entity-default'), ...client('--entity-default')], [done.users]],
    [['--describe', ...user(), ...client()], [aliceApp]],
    [['--alter', '--add-config', 'bogus_rate=5', ...user('--entity-name', 'bob')], ["Only quota and SCRAM credential configs can be added for 'users' using --bootstrap-server. Unexpected config names: Set(bogus_rate)"]],
  ];
  /**
   * Describing users without a client or default also describes SCRAM credentials
   * (DescribeUserScramCredentials, the SASL part of the broker); only quota lines are compared.
   */
  const normalise = (out: string) =>
    out
      .split('\n')
      .filter((line) => line && !/^\s+at |DESCRIBE_USER_SCRAM_CREDENTIALS|^Error while executing config command with args '.* --describe --entity-type users( --entity-name \w+)?'$/.test(line))
      .sort();

  it('adds, describes and deletes user, client-id and default quotas with the output of Apache Kafka', async () => {
    for (const [args, expected] of steps) expect({ args: args.join(' '), out: normalise((await configs(broker.bootstrap, ...args)).out) }).toEqual({ args: args.join(' '), out: [...expected].sort() });
    // Refused by the broker (the CLI does not check values), with Kafka's error and message.
    const negative = await configs(broker.bootstrap, '--alter', '--add-config', 'producer_byte_rate=-5', ...user('--entity-name', 'bob'));
    expect(negative.code).not.toBe(0);
    expect(negative.out).toContain('InvalidRequestException: Quota producer_byte_rate must be greater than 0');
  }, 600_000);
});

describe('Describe/AlterClientQuotas over the protocol', () => {
  it('validate_only stores nothing; bad keys, values and entities are INVALID_REQUEST with a message, per entry; filters match strictly or not', async () => {
    const c = await KafkaConnection.open('127.0.0.1', broker.port, 'quota-admin');
    try {
      const entity = (user: string | null, clientId?: string | null) => [{ entityType: 'user', entityName: user }, ...(clientId === undefined ? [] : [{ entityType: 'client-id', entityName: clientId }])];
      const set = (key: string, value: number) => ({ key, value, remove: false });
      const describe = async (components: { entityType: string; matchType: number; match: string | null }[], strict: boolean) =>
        (await c.send(describeClientQuotasApi, 1, { components, strict })).entries?.map((e) => ({ entity: e.entity, values: e.values })) ?? null;
      const validated = await c.send(alterClientQuotasApi, 1, { entries: [{ entity: entity('proto'), ops: [set('producer_byte_rate', 100)] }], validateOnly: true });
      expect(validated.entries).toEqual([{ errorCode: ErrorCode.NONE, errorMessage: null, entity: entity('proto') }]);
      expect(await describe([{ entityType: 'user', matchType: 0, match: 'proto' }], false)).toEqual([]);
      const altered = await c.send(alterClientQuotasApi, 1, {
        entries: [
          { entity: entity('proto'), ops: [set('producer_byte_rate', 100), set('request_percentage', 12.5)] },
          { entity: entity('proto', null), ops: [set('consumer_byte_rate', 300)] },
          { entity: entity('proto2'), ops: [set('not_a_quota', 1)] },
          { entity: entity('proto2'), ops: [set('producer_byte_rate', -1)] },
          { entity: entity('proto2'), ops: [set('controller_mutation_rate', 10)] },
          { entity: [{ entityType: 'ip', entityName: '10.0.0.1' }], ops: [set('connection_creation_rate', 10)] },
        ],
        validateOnly: false,
      });
      expect(altered.entries.map((e) => [e.errorCode, e.errorMessage])).toEqual([
        [ErrorCode.NONE, null],
        [ErrorCode.NONE, null],
        [ErrorCode.INVALID_REQUEST, 'Invalid configuration key not_a_quota'],
        [ErrorCode.INVALID_REQUEST, 'Quota producer_byte_rate must be greater than 0'],
        [ErrorCode.INVALID_REQUEST, 'controller_mutation_rate is not enforced by this broker and cannot be set'],
        [ErrorCode.INVALID_REQUEST, 'IP quotas (connection_creation_rate) are not supported by this broker'],
      ]);
      expect(await describe([{ entityType: 'user', matchType: 0, match: 'proto' }], true)).toEqual([
        { entity: entity('proto'), values: [{ key: 'producer_byte_rate', value: 100 }, { key: 'request_percentage', value: 12.5 }] },
      ]);
      expect(await describe([{ entityType: 'user', matchType: 0, match: 'proto' }], false)).toHaveLength(2);
      expect(await describe([{ entityType: 'user', matchType: 0, match: 'proto' }, { entityType: 'client-id', matchType: 1, match: null }], true)).toEqual([
        { entity: entity('proto', null), values: [{ key: 'consumer_byte_rate', value: 300 }] },
      ]);
      expect(await describe([{ entityType: 'user', matchType: 0, match: 'proto2' }], false)).toEqual([]);
      const badFilter = await c.send(describeClientQuotasApi, 1, { components: [{ entityType: 'group', matchType: 2, match: null }], strict: false });
      expect([badFilter.errorCode, badFilter.errorMessage, badFilter.entries]).toEqual([ErrorCode.INVALID_REQUEST, 'Invalid entity type group', null]);
      const removed = await c.send(alterClientQuotasApi, 1, {
        entries: [
          { entity: entity('proto'), ops: [{ key: 'producer_byte_rate', value: 0, remove: true }, { key: 'request_percentage', value: 0, remove: true }] },
          { entity: entity('proto', null), ops: [{ key: 'consumer_byte_rate', value: 0, remove: true }] },
        ],
        validateOnly: false,
      });
      expect(removed.entries.map((e) => e.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.NONE]);
      expect(await describe([{ entityType: 'user', matchType: 0, match: 'proto' }], false)).toEqual([]);
    } finally {
      await c.close();
    }
  }, 60_000);
});

describe('quota enforcement', () => {
  const rate = 50 * KB;

  it('throttles a producer over producer_byte_rate: throttle_time_ms answered, metric up, rate bounded, nothing lost', async () => {
    expect((await configs(broker.bootstrap, '--alter', '--add-config', `producer_byte_rate=${rate}`, '--entity-type', 'clients', '--entity-name', 'quota-producer')).code).toBe(0);
    const { kafka, throttles } = throttledClient(broker.bootstrap, 'quota-producer');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'quota-produce', numPartitions: 1 }] });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    // 300 KiB in 10 KiB requests: six times what the quota allows over its 2 s minimum span.
    for (let batch = 0; batch < 30; batch++) {
      await producer.send({ topic: 'quota-produce', acks: -1, messages: Array.from({ length: 10 }, (_, i) => ({ key: `${batch}-${i}`, value })) });
    }
    await producer.disconnect();
    expect(throttles.length).toBeGreaterThan(0);
    expect(Math.min(...throttles)).toBeGreaterThan(0);
    const labels = { quota_type: 'produce', user: '', client_id: 'quota-producer' };
    expect(await metric(broker, 'samsa_client_quota_throttle_time_ms_total', labels)).toBeGreaterThan(1000);
    expect(await metric(broker, 'samsa_client_quota_throttled_requests_total', labels)).toBeGreaterThan(0);
    // Unthrottled, 300 KiB within a second would measure 150 KiB/s over the 2 s span.
    expect(await metric(broker, 'samsa_client_quota_byte_rate', labels)).toBeLessThanOrEqual(rate * 1.25);
    const records = await kcatConsume(broker.bootstrap, 'quota-produce');
    expect(records).toHaveLength(300);
    expect(new Set(records.map((r) => r.key)).size).toBe(300);
  }, 120_000);

  it('throttles a consumer over consumer_byte_rate with empty responses, and it still reads every record', async () => {
    expect((await configs(broker.bootstrap, '--alter', '--add-config', `consumer_byte_rate=${rate}`, '--entity-type', 'clients', '--entity-name', 'quota-consumer')).code).toBe(0);
    const { kafka, throttles } = throttledClient(broker.bootstrap, 'quota-consumer');
    const consumer = kafka.consumer({ groupId: 'quota-consumer-group' });
    await consumer.connect();
    await consumer.subscribe({ topic: 'quota-produce', fromBeginning: true });
    const keys = new Set<string>();
    await consumer.run({
      eachMessage: async ({ message }) => {
        keys.add(message.key!.toString());
      },
    });
    await eventually('all 300 records consumed', () => (keys.size === 300 ? true : undefined), 60_000);
    await consumer.disconnect();
    expect(throttles.length).toBeGreaterThan(0);
    const labels = { quota_type: 'fetch', user: '', client_id: 'quota-consumer' };
    expect(await metric(broker, 'samsa_client_quota_throttle_time_ms_total', labels)).toBeGreaterThan(0);
    // Throttled fetches are taken back from the sensor: what was sent stays within the quota.
    expect(await metric(broker, 'samsa_client_quota_byte_rate', labels)).toBeLessThanOrEqual(rate * 1.25);
  }, 120_000);

  it('throttles every API under request_percentage, each throttle at most one window', async () => {
    expect((await configs(broker.bootstrap, '--alter', '--add-config', 'request_percentage=0.0001', '--entity-type', 'clients', '--entity-name', 'quota-requests')).code).toBe(0);
    const { kafka, throttles } = throttledClient(broker.bootstrap, 'quota-requests');
    const admin = kafka.admin();
    await admin.connect();
    for (let i = 0; i < 5; i++) expect(await admin.listTopics()).toContain('quota-produce');
    await admin.disconnect();
    expect(throttles.length).toBeGreaterThan(0);
    const labels = { quota_type: 'request', user: '', client_id: 'quota-requests' };
    const total = (await metric(broker, 'samsa_client_quota_throttle_time_ms_total', labels))!;
    const count = (await metric(broker, 'samsa_client_quota_throttled_requests_total', labels))!;
    expect(count).toBeGreaterThan(0);
    expect(total / count).toBeLessThanOrEqual(1000);
    expect(await metric(broker, 'samsa_client_quota_request_time_percent', { user: '', client_id: 'quota-requests' })).toBeGreaterThan(0);
  }, 120_000);

  it('mutes the connection for the throttle time (KIP-219), and answers a pre-KIP-219 client only after it', async () => {
    const payload = randomBytes(5 * KB);
    const produceBody = (topic: string) => ({ transactionalId: null, acks: 1, timeoutMs: 10_000, topicData: [{ name: topic, partitionData: [{ index: 0, records: buildRecordBatch([{ key: null, value: payload }]) }] }] });
    for (const clientId of ['mute-check', 'mute-check-v5']) {
      expect((await configs(broker.bootstrap, '--alter', '--add-config', `producer_byte_rate=${KB}`, '--entity-type', 'clients', '--entity-name', clientId)).code).toBe(0);
    }
    const admin = new Kafka({ clientId: 'setup', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'quota-mute', numPartitions: 1 }] });
    await admin.disconnect();
    const c = await KafkaConnection.open('127.0.0.1', broker.port, 'mute-check');
    const old = await KafkaConnection.open('127.0.0.1', broker.port, 'mute-check-v5');
    try {
      // 5 KiB against 1 KiB/s over a 2 s span: about 1.5 × 2 s of throttle.
      const produced = await c.send(produceApi, 9, produceBody('quota-mute'));
      const answeredAt = performance.now();
      expect(produced.responses[0]!.partitionResponses[0]!.errorCode).toBe(ErrorCode.NONE);
      expect(produced.throttleTimeMs).toBeGreaterThan(1000);
      // The next request is not read until the throttle time is over (a lower bound: load only delays it further).
      await c.send(metadataApi, 12, { topics: [], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
      expect(performance.now() - answeredAt).toBeGreaterThanOrEqual(produced.throttleTimeMs - 2);
      // Produce v5 predates KIP-219: its client does not throttle itself, so the response waits.
      const sentAt = performance.now();
      const v5 = await old.send(produceApi, 5, produceBody('quota-mute'));
      expect(v5.responses[0]!.partitionResponses[0]!.errorCode).toBe(ErrorCode.NONE);
      expect(v5.throttleTimeMs).toBeGreaterThan(1000);
      expect(performance.now() - sentAt).toBeGreaterThanOrEqual(v5.throttleTimeMs - 2);
    } finally {
      await c.close();
      await old.close();
    }
  }, 120_000);

  it('applies Kafka precedence: a user default beats a client-id quota, a user+client-id quota beats both', async () => {
    const produceOnce = async () => {
      const producer = new Kafka({ clientId: 'prec-client', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }).producer();
      await producer.connect();
      await producer.send({ topic: 'quota-produce', messages: [{ value }] });
      await producer.disconnect();
    };
    const series = (user: string, clientId: string) => metric(broker, 'samsa_client_quota_byte_rate', { quota_type: 'produce', user, client_id: clientId });
    await configs(broker.bootstrap, '--alter', '--add-config', 'producer_byte_rate=1000', '--entity-type', 'clients', '--entity-name', 'prec-client');
    await configs(broker.bootstrap, '--alter', '--add-config', 'producer_byte_rate=10485760', '--entity-type', 'users', '--entity-default');
    await produceOnce();
    // Level 6 (/users/<default>) over level 7 (/clients/prec-client): ANONYMOUS's own sensor, no client id.
    expect(await series('ANONYMOUS', '')).toBeGreaterThan(0);
    expect(await series('', 'prec-client')).toBeUndefined();
    await configs(broker.bootstrap, '--alter', '--add-config', 'producer_byte_rate=20971520', '--entity-type', 'users', '--entity-name', 'ANONYMOUS', '--entity-type', 'clients', '--entity-name', 'prec-client');
    await produceOnce();
    expect(await series('ANONYMOUS', 'prec-client')).toBeGreaterThan(0);
    expect(await series('', 'prec-client')).toBeUndefined();
  }, 120_000);
});

describe('client quotas in a cluster', () => {
  it('a quota set through one broker is described and enforced on another', async () => {
    const cluster = await SamsaCluster.start({ brokers: 3, config: WINDOWS });
    try {
      const [first, , third] = cluster.brokers as [BrokerProcess, BrokerProcess, BrokerProcess];
      expect((await configs(first.bootstrap, '--alter', '--add-config', `producer_byte_rate=${KB}`, '--entity-type', 'clients', '--entity-name', 'cluster-producer')).code).toBe(0);
      await eventually('the quota described through broker 2', async () => ((await configs(third.bootstrap, '--describe', '--entity-type', 'clients', '--entity-name', 'cluster-producer')).out.includes('producer_byte_rate=1024.0') ? true : undefined));
      const admin = new Kafka({ clientId: 'setup', brokers: [first.bootstrap], logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: 'cluster-quota', replicaAssignment: [{ partition: 0, replicas: [2] }] }] });
      await admin.disconnect();
      const { kafka, throttles } = throttledClient(third.bootstrap, 'cluster-producer');
      const producer = kafka.producer();
      await producer.connect();
      // 5 KiB against 1 KiB/s over a 2 s span: one throttle of about 3 s on broker 2, which leads the partition.
      for (let i = 0; i < 2; i++) await producer.send({ topic: 'cluster-quota', messages: Array.from({ length: 3 }, () => ({ value })) });
      await producer.disconnect();
      expect(throttles.length).toBeGreaterThan(0);
      expect(await metric(third, 'samsa_client_quota_throttle_time_ms_total', { quota_type: 'produce', user: '', client_id: 'cluster-producer' })).toBeGreaterThan(0);

      // Followers' fetches are exempt: a client-id default that would throttle every client leaves replication alone.
      expect((await configs(first.bootstrap, '--alter', '--add-config', 'consumer_byte_rate=1024,request_percentage=0.0001', '--entity-type', 'clients', '--entity-default')).code).toBe(0);
      const replicated = new Kafka({ clientId: 'replicated-producer', brokers: [first.bootstrap], logLevel: logLevel.NOTHING });
      const setup = replicated.admin();
      await setup.connect();
      await setup.createTopics({ topics: [{ topic: 'cluster-replicated', numPartitions: 3, replicationFactor: 3 }] });
      await setup.disconnect();
      const acksAll = replicated.producer();
      await acksAll.connect();
      await acksAll.send({ topic: 'cluster-replicated', acks: -1, messages: Array.from({ length: 30 }, (_, i) => ({ key: String(i), value })) });
      await acksAll.disconnect();
      for (const b of cluster.brokers) {
        const text = await (await fetch(`${b.httpUrl}/metrics`)).text();
        expect(text).toContain('client_id="replicated-producer"');
        expect(text.split('\n').filter((line) => line.includes('client_id="samsa-replica-fetcher-'))).toEqual([]);
      }
    } finally {
      await cluster.stop();
    }
  }, 180_000);
});
