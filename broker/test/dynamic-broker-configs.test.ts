// Dynamic broker configs (KIP-226) against a real broker process: the cluster-wide default and
// this broker's own settings changed through IncrementalAlterConfigs and AlterConfigs on the
// BROKER resource, their precedence over --config, what DescribeConfigs reports, read-only
// settings refused, topics picking up new defaults live, and the settings surviving a restart.
// kafkajs and @platformatic/kafka cannot name the default resource (""), so those requests go
// through the protocol client the operator uses; kafka-cli.test.ts drives kafka-configs for it.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Admin } from '@platformatic/kafka';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../protocol/client.js';
import { describeConfigsApi, incrementalAlterConfigsApi } from '../protocol/messages/index.js';
import { BrokerProcess } from './broker-process.js';
import { kcatProduce } from './kcat.js';

const BROKER = 4;
const TOPIC = 2;
const SET = 0;
const DELETE = 1;
// Kafka's ConfigSource codes.
const DYNAMIC_BROKER = 2;
const DYNAMIC_DEFAULT = 3;
const STATIC = 4;

let broker: BrokerProcess;
let admin: Admin;
let kafka: kafkajs.Kafka;

type Op = { name: string; configOperation: number; value?: string };

async function connection<T>(use: (conn: KafkaConnection) => Promise<T>): Promise<T> {
  const [host, port] = broker.bootstrap.split(':');
  const conn = await KafkaConnection.open(host!, Number(port), 'dynamic-configs');
  try {
    return await use(conn);
  } finally {
    await conn.close();
  }
}

beforeAll(async () => {
  // node.id 1 is the broker resource "1"; a static log.retention.ms the dynamic layers sit above.
  broker = await BrokerProcess.start({ 'log.retention.ms': '7200000', 'log.retention.check.interval.ms': '200' });
  admin = new Admin({ clientId: 'dynamic-configs', bootstrapBrokers: [broker.bootstrap] });
  kafka = new kafkajs.Kafka({ clientId: 'dynamic-configs', brokers: [broker.bootstrap], logLevel: kafkajs.logLevel.NOTHING });
});

afterAll(async () => {
  await admin?.close();
  await broker?.destroy();
});

async function describeBroker(name: string, keys: string[] | null) {
  const res = await connection((c) => c.send(describeConfigsApi, 4, { resources: [{ resourceType: BROKER, resourceName: name, configurationKeys: keys }], includeSynonyms: false, includeDocumentation: false }));
  return Object.fromEntries(res.results[0]!.configs.map((c) => [c.name, { value: c.value, source: c.configSource, readOnly: c.readOnly }]));
}

/** IncrementalAlterConfigs of one BROKER resource; the broker's error code and message. */
async function tryAlterBroker(name: string, configs: Op[]): Promise<{ errorCode: number; errorMessage: string | null }> {
  const res = await connection((c) =>
    c.send(incrementalAlterConfigsApi, 1, { resources: [{ resourceType: BROKER, resourceName: name, configs: configs.map((op) => ({ ...op, value: op.value ?? null })) }], validateOnly: false }),
  );
  return res.responses[0]!;
}

async function alterBroker(name: string, configs: Op[]): Promise<void> {
  const { errorCode, errorMessage } = await tryAlterBroker(name, configs);
  if (errorCode !== 0) throw new Error(`error ${errorCode}: ${errorMessage}`);
}

describe('dynamic broker configs', () => {
  it('layers the cluster-wide default and this broker over --config, and topics follow them', async () => {
    await admin.createTopics({ topics: ['follows-defaults', 'own-retention'], partitions: 1, replicas: 1 });
    await admin.incrementalAlterConfigs({ resources: [{ resourceType: TOPIC, resourceName: 'own-retention', configs: [{ name: 'retention.ms', configOperation: SET, value: '1000' }] }] });
    expect(await describeBroker('1', ['log.retention.ms'])).toEqual({ 'log.retention.ms': { value: '7200000', source: STATIC, readOnly: false } });

    await alterBroker('', [{ name: 'log.retention.ms', configOperation: SET, value: '3600000' }]);
    expect(await describeBroker('', null)).toEqual({ 'log.retention.ms': { value: '3600000', source: DYNAMIC_DEFAULT, readOnly: false } });
    expect((await describeBroker('1', ['log.retention.ms']))['log.retention.ms']).toMatchObject({ value: '3600000', source: DYNAMIC_DEFAULT });

    // A broker's own resource, from a client that routes it to that broker.
    await admin.incrementalAlterConfigs({ resources: [{ resourceType: BROKER, resourceName: '1', configs: [{ name: 'log.retention.ms', configOperation: SET, value: '1800000' }] }] });
    expect((await describeBroker('1', ['log.retention.ms']))['log.retention.ms']).toMatchObject({ value: '1800000', source: DYNAMIC_BROKER });

    // A topic without an override takes the value in force; one with an override keeps it.
    const kadmin = kafka.admin();
    await kadmin.connect();
    try {
      const topics = await kadmin.describeConfigs({
        resources: [
          { type: TOPIC, name: 'follows-defaults', configNames: ['retention.ms'] },
          { type: TOPIC, name: 'own-retention', configNames: ['retention.ms'] },
        ],
        includeSynonyms: true,
      });
      const [follows, own] = topics.resources.map((r) => r.configEntries[0]!);
      expect(follows).toMatchObject({ configValue: '1800000', configSource: DYNAMIC_BROKER });
      // As in Kafka, log.retention.ms has no default of its own: log.retention.hours' stands in.
      expect(follows!.configSynonyms.map((s) => [s.configSource, s.configName, s.configValue])).toEqual([
        [DYNAMIC_BROKER, 'log.retention.ms', '1800000'],
        [DYNAMIC_DEFAULT, 'log.retention.ms', '3600000'],
        [STATIC, 'log.retention.ms', '7200000'],
        [5, 'log.retention.hours', '168'],
      ]);
      expect(own).toMatchObject({ configValue: '1000', configSource: 1 });
    } finally {
      await kadmin.disconnect();
    }

    // Deleting this broker's setting falls back to the cluster-wide default.
    await alterBroker('1', [{ name: 'log.retention.ms', configOperation: DELETE }]);
    expect((await describeBroker('1', ['log.retention.ms']))['log.retention.ms']).toMatchObject({ value: '3600000', source: DYNAMIC_DEFAULT });
    // And deleting the default falls back to --config.
    await alterBroker('', [{ name: 'log.retention.ms', configOperation: DELETE }]);
    expect((await describeBroker('1', ['log.retention.ms']))['log.retention.ms']).toMatchObject({ value: '7200000', source: STATIC });
  });

  it('refuses read-only, unknown and ill-typed settings for the whole resource and changes nothing', async () => {
    const refusal = (configs: Op[]) => tryAlterBroker('', configs);
    const readOnly = await refusal([
      { name: 'log.segment.bytes', configOperation: SET, value: '2000000' },
      { name: 'num.partitions', configOperation: SET, value: '3' },
    ]);
    expect(readOnly.errorCode).toBe(42);
    expect(readOnly.errorMessage).toContain('Cannot update these configs dynamically: [num.partitions]');
    // As in Kafka, only the millisecond retention and roll settings are dynamic.
    expect((await refusal([{ name: 'log.retention.hours', configOperation: SET, value: '5' }])).errorMessage).toContain('Cannot update these configs dynamically: [log.retention.hours]');
    expect(await refusal([{ name: 'no.such.setting', configOperation: SET, value: '1' }])).toMatchObject({ errorCode: 42, errorMessage: 'unknown broker config "no.such.setting"' });
    expect((await refusal([{ name: 'log.retention.bytes', configOperation: SET, value: 'lots' }])).errorMessage).toContain('log.retention.bytes must be a whole number');
        // The refused log.segment.bytes was not applied with the rest of its resource.
    expect(await describeBroker('', null)).toEqual({});
    expect((await describeBroker('1', ['num.partitions', 'log.segment.bytes']))).toEqual({
      'num.partitions': { value: '1', source: 5, readOnly: true },
      'log.segment.bytes': { value: '1073741824', source: 5, readOnly: false },
    });
  });

  it('applies new defaults to running topics: segments roll and retention deletes without a restart', async () => {
    await admin.createTopics({ topics: ['live-retention'], partitions: 1, replicas: 1 });
    await alterBroker('', [{ name: 'log.segment.bytes', configOperation: SET, value: '100' }]);
    for (let i = 0; i < 4; i++) await kcatProduce(broker.bootstrap, 'live-retention', [`record-${i}-${'x'.repeat(100)}`]);
    const kadmin = kafka.admin();
    await kadmin.connect();
    try {
      const earliest = async () => Number((await kadmin.fetchTopicOffsets('live-retention'))[0]!.low);
      expect(await earliest()).toBe(0);
      // The new segment size rolled a segment per record.
      expect(readdirSync(join(broker.dataDir, 'live-retention-0')).filter((f) => f.endsWith('.log'))).toHaveLength(4);
      await alterBroker('', [{ name: 'log.retention.ms', configOperation: SET, value: '1' }]);
      // The retention pass runs every 200 ms; every record is past 1 ms, so all of them go.
      const deadline = Date.now() + 20_000;
      while ((await earliest()) !== 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(await earliest()).toBe(4);
    } finally {
      await kadmin.disconnect();
    }
    await alterBroker('', [{ name: 'log.retention.ms', configOperation: DELETE }, { name: 'log.segment.bytes', configOperation: DELETE }]);
  });

  it('takes a whole layer through legacy AlterConfigs, and keeps both layers across a restart', async () => {
    await alterBroker('', [
      { name: 'message.max.bytes', configOperation: SET, value: '2000000' },
      { name: 'log.cleanup.policy', configOperation: SET, value: 'delete' },
    ]);
    await alterBroker('', [{ name: 'log.cleanup.policy', configOperation: 2, value: 'compact' }]);
    const kadmin = kafka.admin();
    await kadmin.connect();
    try {
      await kadmin.alterConfigs({ validateOnly: false, resources: [{ type: BROKER, name: '1', configEntries: [{ name: 'min.insync.replicas', value: '1' }] }] });
    } finally {
      await kadmin.disconnect();
    }
    await admin.close();
    await broker.restart();
    admin = new Admin({ clientId: 'dynamic-configs', bootstrapBrokers: [broker.bootstrap] });
    expect(await describeBroker('1', ['message.max.bytes', 'log.cleanup.policy', 'min.insync.replicas'])).toEqual({
      'message.max.bytes': { value: '2000000', source: DYNAMIC_DEFAULT, readOnly: false },
      'log.cleanup.policy': { value: 'delete,compact', source: DYNAMIC_DEFAULT, readOnly: false },
      'min.insync.replicas': { value: '1', source: DYNAMIC_BROKER, readOnly: false },
    });
    // A broker that is not in the cluster has no settings to change.
    expect(await tryAlterBroker('7', [{ name: 'message.max.bytes', configOperation: SET, value: '1' }])).toMatchObject({ errorCode: 42, errorMessage: 'broker "7" is not registered in the cluster (this is broker 1)' });
  });
});
