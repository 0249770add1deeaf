// DescribeConfigs compared field by field with the reference Apache Kafka 4.0 (KafkaProcess): the
// same static settings, the same dynamic broker settings and the same topics (one without
// overrides, one with) on both, then each topic's 33 settings and the broker's settings asked for
// through the protocol client (v4, synonyms and documentation), kafkajs' describeConfigs and
// Kafka's own kafka-configs --describe --all.
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../protocol/client.js';
import { createTopicsApi, describeConfigsApi, incrementalAlterConfigsApi } from '../protocol/messages/index.js';
import type { DescribeConfigsResourceResult } from '../protocol/messages/describe-configs-response.js';
import { BrokerProcess } from './broker-process.js';
import { eventually } from './eventually.js';
import { KafkaProcess } from './kafka-process.js';
import { cli } from './kafka-tools.js';

const TOPIC = 2;
const BROKER = 4;
const SET = 0;
const APPEND = 2;
const INVALID_CONFIG = 40;

/** Server settings both brokers start with: a coarse retention synonym and a segment size. */
const STATIC = { 'log.retention.hours': '100', 'log.segment.bytes': '50000000' };
/** What KafkaProcess sets for a single node, given to Samsa too so that both say the same. */
const SINGLE_NODE = { 'offsets.topic.replication.factor': '1', 'transaction.state.log.replication.factor': '1', 'transaction.state.log.min.isr': '1', 'group.initial.rebalance.delay.ms': '0' };
/** Dynamic settings: a cluster-wide default and one of broker 1's own. */
const DYNAMIC_DEFAULT = { 'log.retention.bytes': '1000000', 'log.roll.ms': '86400000' };
const DYNAMIC_BROKER = { 'message.max.bytes': '2000000' };
const OVERRIDES = { 'retention.ms': '3600000', 'cleanup.policy': 'compact', 'max.message.bytes': '500000', 'compression.gzip.level': '5', 'leader.replication.throttled.replicas': '0:1' };

/**
 * Topic settings whose default differs in Samsa because Samsa behaves otherwise (and accepts only
 * that value): their values, and their synonyms' values, are not compared.
 */
const SAMSA_DEFAULTS: Record<string, string> = {
  'file.delete.delay.ms': '0', // deleted segments are removed at once
  'log.segment.delete.delay.ms': '0',
  'message.timestamp.after.max.ms': '9223372036854775807', // CreateTime ahead of the clock is not refused
  'log.message.timestamp.after.max.ms': '9223372036854775807',
};

interface Side {
  bootstrap: string;
  port: number;
}

let kafka: KafkaProcess;
let samsa: BrokerProcess;

async function withConnection<T>(side: Side, use: (c: KafkaConnection) => Promise<T>): Promise<T> {
  const c = await KafkaConnection.open('127.0.0.1', side.port, 'describe-configs');
  try {
    return await use(c);
  } finally {
    await c.close();
  }
}

async function describeResource(side: Side, resourceType: number, resourceName: string, keys: string[] | null = null): Promise<Map<string, DescribeConfigsResourceResult>> {
  const res = await withConnection(side, (c) => c.send(describeConfigsApi, 4, { resources: [{ resourceType, resourceName, configurationKeys: keys }], includeSynonyms: true, includeDocumentation: true }));
  const result = res.results[0]!;
  if (result.errorCode !== 0) throw new Error(`DescribeConfigs ${resourceName}: error ${result.errorCode} ${result.errorMessage}`);
  return new Map(result.configs.map((c) => [c.name, c]));
}

async function alter(side: Side, resourceType: number, resourceName: string, configs: Record<string, string>, configOperation = SET) {
  const res = await withConnection(side, (c) =>
    c.send(incrementalAlterConfigsApi, 1, {
      resources: [{ resourceType, resourceName, configs: Object.entries(configs).map(([name, value]) => ({ name, configOperation, value })) }],
      validateOnly: false,
    }),
  );
  return res.responses[0]!;
}

type Created = Awaited<ReturnType<typeof prepare>>;
const created = new Map<Side, Created>();

async function prepare(side: Side) {
  const created = await withConnection(side, (c) =>
    c.send(createTopicsApi, 5, {
      topics: [
        { name: 'plain', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] },
        { name: 'overridden', numPartitions: 1, replicationFactor: 1, assignments: [], configs: Object.entries(OVERRIDES).map(([name, value]) => ({ name, value })) },
      ],
      timeoutMs: 30_000,
      validateOnly: false,
    }),
  );
  for (const t of created.topics) expect(t, t.name).toMatchObject({ errorCode: 0 });
  expect(await alter(side, BROKER, '', DYNAMIC_DEFAULT)).toMatchObject({ errorCode: 0 });
  expect(await alter(side, BROKER, '1', DYNAMIC_BROKER)).toMatchObject({ errorCode: 0 });
  // Kafka applies dynamic settings when its metadata log delivers them: wait for both to show.
  await eventually('dynamic settings in force', async () => {
    const configs = await describeResource(side, TOPIC, 'plain', ['retention.bytes', 'max.message.bytes']);
    return configs.get('retention.bytes')?.value === '1000000' && configs.get('max.message.bytes')?.value === '2000000' ? true : undefined;
  });
  return created.topics;
}

beforeAll(async () => {
  [kafka, samsa] = await Promise.all([KafkaProcess.start(STATIC), BrokerProcess.start({ ...STATIC, ...SINGLE_NODE, 'node.id': '1' })]);
  const [theirs, ours] = await Promise.all([prepare(kafka), prepare(samsa)]);
  created.set(kafka, theirs);
  created.set(samsa, ours);
}, 180_000);

afterAll(async () => {
  await samsa?.destroy();
  await kafka?.destroy();
});

/** What must match: everything but the value, documentation and (v0-only) isDefault. */
function shape(c: DescribeConfigsResourceResult) {
  return { readOnly: c.readOnly, configSource: c.configSource, isSensitive: c.isSensitive, configType: c.configType, synonyms: c.synonyms.map((s) => `${s.source}:${s.name}`) };
}

/** Value and synonym values, with Samsa's own defaults put where Kafka's differ. */
function values(c: DescribeConfigsResourceResult, asSamsa: boolean) {
  const value = (name: string, v: string | null) => (asSamsa && name in SAMSA_DEFAULTS ? SAMSA_DEFAULTS[name]! : v);
  return { value: value(c.name, c.value), synonyms: c.synonyms.map((s) => value(s.name, s.value)) };
}

describe('DescribeConfigs as Kafka 4.0 answers it', () => {
  for (const topic of ['plain', 'overridden']) {
    it(`topic ${topic}: every setting, with Kafka's values, sources, types and synonyms`, async () => {
      const [theirs, ours] = await Promise.all([describeResource(kafka, TOPIC, topic), describeResource(samsa, TOPIC, topic)]);
      expect(theirs.size).toBe(33);
      expect([...ours.keys()].sort()).toEqual([...theirs.keys()].sort());
      for (const [name, their] of theirs) {
        const our = ours.get(name)!;
        expect(shape(our), name).toEqual(shape(their));
        expect(values(our, false), name).toEqual(values(their, true));
        // Our own one-line description, not Kafka's text.
        expect(our.documentation, name).toMatch(/\w+.*\./);
        expect(our.documentation, name).not.toBe(their.documentation);
      }
    });
  }

  it('CreateTopics answers each new topic with the same settings and sources', () => {
    const settings = (side: Side) =>
      created.get(side)!.map((t) => ({
        name: t.name,
        configs: (t.configs ?? [])
          .map((c) => ({ name: c.name, value: c.name in SAMSA_DEFAULTS ? null : c.value, readOnly: c.readOnly, configSource: c.configSource, isSensitive: c.isSensitive }))
          .sort((x, y) => x.name.localeCompare(y.name)),
      }));
    expect(settings(samsa)).toEqual(settings(kafka));
  });

  it('an empty list of keys asks for every setting; named keys for those only', async () => {
    for (const side of [kafka, samsa]) {
      expect((await describeResource(side, TOPIC, 'plain', [])).size).toBe(33);
      expect([...(await describeResource(side, TOPIC, 'plain', ['retention.ms', 'preallocate', 'no.such.config'])).keys()].sort()).toEqual(['preallocate', 'retention.ms']);
    }
  });

  it("broker 1: each setting both define has Kafka's source, type, sensitivity and synonyms", async () => {
    const [theirs, ours] = await Promise.all([describeResource(kafka, BROKER, '1'), describeResource(samsa, BROKER, '1')]);
    // Set by KafkaProcess for its own ports and controller listener (Samsa's come from --port).
    const harness = new Set(['listeners', 'advertised.listeners', 'listener.security.protocol.map', 'inter.broker.listener.name']);
    const compared = [...ours.keys()].filter((name) => theirs.has(name) && !harness.has(name));
    expect(compared.length).toBeGreaterThan(60);
    const differences = compared.flatMap((name) => {
      const [our, their] = [ours.get(name)!, theirs.get(name)!];
      const a = { ...shape(our), readOnly: undefined };
      const b = { ...shape(their), readOnly: undefined };
      return JSON.stringify(a) === JSON.stringify(b) ? [] : [`${name}: samsa ${JSON.stringify(a)} kafka ${JSON.stringify(b)}`];
    });
    expect(differences).toEqual([]);
    for (const name of ['log.retention.ms', 'log.retention.hours', 'log.segment.bytes', 'log.retention.bytes', 'message.max.bytes', 'broker.rack']) {
      expect(values(ours.get(name)!, false), name).toEqual(values(theirs.get(name)!, false));
    }
    for (const our of ours.values()) expect(our.documentation, our.name).toMatch(/\w+.*\./);
  });

  it('kafkajs describeConfigs gives the same entries from both', async () => {
    const entries = async (side: Side) => {
      const admin = new kafkajs.Kafka({ clientId: 'describe-configs', brokers: [side.bootstrap], logLevel: kafkajs.logLevel.NOTHING }).admin();
      await admin.connect();
      try {
        const res = await admin.describeConfigs({ resources: [{ type: TOPIC, name: 'overridden' }], includeSynonyms: true });
        return res.resources[0]!.configEntries
          .map((e) => ({ name: e.configName, source: e.configSource, readOnly: e.readOnly, synonyms: e.configSynonyms.map((s) => `${s.configSource}:${s.configName}`), value: e.configName in SAMSA_DEFAULTS ? null : e.configValue }))
          .sort((x, y) => x.name.localeCompare(y.name));
      } finally {
        await admin.disconnect();
      }
    };
    const [theirs, ours] = await Promise.all([entries(kafka), entries(samsa)]);
    expect(theirs).toHaveLength(33);
    expect(ours).toEqual(theirs);
  });

  it('kafka-configs --describe --all prints the same lines for both', async () => {
    const lines = async (side: Side) => {
      const { code, out } = await cli('kafka.admin.ConfigCommand', ['--bootstrap-server', side.bootstrap, '--describe', '--all', '--entity-type', 'topics', '--entity-name', 'overridden']);
      expect(code, out).toBe(0);
      const settings = out.split('\n').filter((l) => /^\s+\S+=/.test(l)).map((l) => l.trim());
      // Values of the settings whose defaults differ by design are left out.
      return settings.map((l) => (Object.keys(SAMSA_DEFAULTS).some((n) => l.startsWith(`${n}=`)) ? l.replace(/=.*/, '') : l)).sort();
    };
    const theirs = await lines(kafka);
    const ours = await lines(samsa);
    expect(theirs).toHaveLength(33);
    expect(ours).toEqual(theirs);
    expect(ours).toContain('retention.ms=3600000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=3600000}');
  });

  it('settings Samsa implements one way accept only that value; the others are checked as Kafka checks them', async () => {
    expect(await alter(samsa, TOPIC, 'plain', { preallocate: 'false', 'segment.jitter.ms': '0', 'compression.zstd.level': '10' })).toMatchObject({ errorCode: 0 });
    for (const [name, value] of [['preallocate', 'true'], ['remote.storage.enable', 'true'], ['message.timestamp.after.max.ms', '3600000'], ['compression.lz4.level', '18']] as const) {
      const res = await alter(samsa, TOPIC, 'plain', { [name]: value });
      expect(res.errorCode, name).toBe(INVALID_CONFIG);
      expect(res.errorMessage, name).toContain(name);
    }
    const configs = await describeResource(samsa, TOPIC, 'plain', ['preallocate', 'compression.zstd.level']);
    expect(configs.get('compression.zstd.level')).toMatchObject({ value: '10', configSource: 1 });
    expect(configs.get('preallocate')).toMatchObject({ value: 'false', configSource: 1 });
  });

  it('the throttled replicas are a list, as in Kafka: APPEND adds to them', async () => {
    const name = 'leader.replication.throttled.replicas';
    for (const side of [kafka, samsa]) expect(await alter(side, TOPIC, 'overridden', { [name]: '1:1,0:1' }, APPEND)).toMatchObject({ errorCode: 0 });
    await eventually('the appended replicas on Kafka', async () => ((await describeResource(kafka, TOPIC, 'overridden', [name])).get(name)?.value === '0:1,1:1' ? true : undefined));
    expect((await describeResource(samsa, TOPIC, 'overridden', [name])).get(name)).toMatchObject({ value: '0:1,1:1', configSource: 1, configType: 7 });
  });
});
