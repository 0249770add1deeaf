// Apache Kafka's own command-line tools (4.0.0 from Maven Central) against a Samsa broker:
// kafka-topics, kafka-console-producer/-consumer, kafka-configs (topics and dynamic broker
// configs), kafka-consumer-groups, kafka-cluster list-endpoints,
// kafka-get-offsets, kafka-delete-records, and what Samsa does not serve yet failing with a clear error.
// docs/compatibility.md lists these outcomes.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrokerProcess } from './broker-process.js';
import { ensureKafka } from './kafka-process.ts';
import { kcatConsume } from './kcat.js';
import { cli } from './kafka-tools.js';

let broker: BrokerProcess;

beforeAll(async () => {
  ensureKafka();
  broker = await BrokerProcess.start({ 'group.initial.rebalance.delay.ms': '0' });
}, 180_000);

afterAll(async () => {
  await broker?.destroy();
});

const topics = (...args: string[]) => cli('org.apache.kafka.tools.TopicCommand', ['--bootstrap-server', broker.bootstrap, ...args]);

describe('Kafka CLI tools against Samsa', () => {
  it('kafka-topics creates, lists, describes and alters topics', async () => {
    expect((await topics('--create', '--topic', 'cli-topic', '--partitions', '3', '--replication-factor', '1', '--config', 'retention.ms=3600000')).out).toContain('Created topic cli-topic.');
    expect((await topics('--list')).out.split('\n')).toContain('cli-topic');
    const described = (await topics('--describe', '--topic', 'cli-topic')).out;
    expect(described).toMatch(/Topic: cli-topic\s+TopicId: \S+\s+PartitionCount: 3\s+ReplicationFactor: 1\s+Configs: retention.ms=3600000/);
    expect(described).toMatch(/Partition: 2\s+Leader: 1\s+Replicas: 1\s+Isr: 1/);
    await topics('--alter', '--topic', 'cli-topic', '--partitions', '5');
    expect((await topics('--describe', '--topic', 'cli-topic')).out).toContain('PartitionCount: 5');
    const lowered = await topics('--alter', '--topic', 'cli-topic', '--partitions', '2');
    expect(lowered.code).not.toBe(0);
    expect(lowered.out).toContain('can only grow');
  });

  it('console producer and consumer move keyed records', async () => {
    const produced = await cli(
      'org.apache.kafka.tools.ConsoleProducer',
      ['--bootstrap-server', broker.bootstrap, '--topic', 'cli-console', '--property', 'parse.key=true', '--property', 'key.separator=:'],
      'k1:one\nk2:two\nk3:three\n',
    );
    expect(produced.code).toBe(0);
    expect((await kcatConsume(broker.bootstrap, 'cli-console')).map((r) => `${r.key}=${r.value}`)).toEqual(['k1=one', 'k2=two', 'k3=three']);
    const consumed = await cli('org.apache.kafka.tools.consumer.ConsoleConsumer', [
      '--bootstrap-server',
      broker.bootstrap,
      '--topic',
      'cli-console',
      '--from-beginning',
      '--max-messages',
      '3',
      '--group',
      'cli-console-group',
      '--property',
      'print.key=true',
    ]);
    expect(consumed.out.split('\n').filter((l) => l.includes('\t'))).toEqual(['k1\tone', 'k2\ttwo', 'k3\tthree']);
  });

  it('kafka-consumer-groups describes a group with offsets and lag, and lists it', async () => {
    const described = await cli('org.apache.kafka.tools.consumer.group.ConsumerGroupCommand', ['--bootstrap-server', broker.bootstrap, '--describe', '--group', 'cli-console-group']);
    expect(described.out).toMatch(/cli-console-group\s+cli-console\s+0\s+3\s+3\s+0/);
    const listed = await cli('org.apache.kafka.tools.consumer.group.ConsumerGroupCommand', ['--bootstrap-server', broker.bootstrap, '--list']);
    expect(listed.out.split('\n')).toContain('cli-console-group');
  });

  it('kafka-consumer-groups says a group that never existed does not exist (ConsumerGroupDescribe, then DescribeGroups v6: GROUP_ID_NOT_FOUND)', async () => {
    const described = await cli('org.apache.kafka.tools.consumer.group.ConsumerGroupCommand', ['--bootstrap-server', broker.bootstrap, '--describe', '--group', 'cli-never-used']);
    // The Java admin (4.0) asks ConsumerGroupDescribe first; on its GROUP_ID_NOT_FOUND it asks
    // DescribeGroups v6, and on that one's GROUP_ID_NOT_FOUND reports the first answer's message
    // (Kafka's "Group %s not found."). v5's answer, a Dead group, printed "Consumer group ... does not exist." instead.
    expect(described.out).toContain('GroupIdNotFoundException: Group cli-never-used not found.');
  });

  it('kafka-cluster lists the broker endpoints, fenced ones included (DescribeCluster v2)', async () => {
    const listed = await cli('org.apache.kafka.tools.ClusterTool', ['list-endpoints', '--bootstrap-server', broker.bootstrap, '--include-fenced-brokers']);
    expect(listed.code).toBe(0);
    expect(listed.out).toMatch(new RegExp(`^1\\s+127\\.0\\.0\\.1\\s+${broker.port}\\s+null\\s+unfenced\\s+broker\\s*$`, 'm'));
  });

  it('kafka-configs alters and describes topic configs', async () => {
    const altered = await cli('kafka.admin.ConfigCommand', ['--bootstrap-server', broker.bootstrap, '--alter', '--entity-type', 'topics', '--entity-name', 'cli-topic', '--add-config', 'retention.ms=60000,max.message.bytes=2000']);
    expect(altered.out).toContain("Completed updating config for topic cli-topic.");
    const described = await cli('kafka.admin.ConfigCommand', ['--bootstrap-server', broker.bootstrap, '--describe', '--entity-type', 'topics', '--entity-name', 'cli-topic']);
    expect(described.out).toContain('retention.ms=60000');
    expect(described.out).toContain('max.message.bytes=2000');
    const refused = await cli('kafka.admin.ConfigCommand', ['--bootstrap-server', broker.bootstrap, '--alter', '--entity-type', 'topics', '--entity-name', 'cli-topic', '--add-config', 'segment.bytes=tiny']);
    expect(refused.code).not.toBe(0);
    expect(refused.out).toContain('segment.bytes must be a whole number');
  });

  it('kafka-configs changes the cluster-wide broker default and this broker live, and refuses read-only settings', async () => {
    const configs = (...args: string[]) => cli('kafka.admin.ConfigCommand', ['--bootstrap-server', broker.bootstrap, '--entity-type', 'brokers', ...args]);
    const altered = await configs('--entity-default', '--alter', '--add-config', 'log.retention.ms=3600000');
    expect(altered.out).toContain('Completed updating default config for brokers in the cluster.');
    expect((await configs('--entity-default', '--describe')).out).toMatch(/log\.retention\.ms=3600000 sensitive=false synonyms=\{DYNAMIC_DEFAULT_BROKER_CONFIG:log\.retention\.ms=3600000/);
    expect((await configs('--entity-name', '1', '--alter', '--add-config', 'log.retention.bytes=1000000')).out).toContain('Completed updating config for broker 1.');
    const all = (await configs('--entity-name', '1', '--describe', '--all')).out;
    expect(all).toMatch(/log\.retention\.bytes=1000000 sensitive=false synonyms=\{DYNAMIC_BROKER_CONFIG:log\.retention\.bytes=1000000, DEFAULT_CONFIG:log\.retention\.bytes=-1\}/);
    // As in Kafka, log.retention.ms has no default of its own: log.retention.hours' is listed.
    expect(all).toContain('log.retention.ms=3600000 sensitive=false synonyms={DYNAMIC_DEFAULT_BROKER_CONFIG:log.retention.ms=3600000, DEFAULT_CONFIG:log.retention.hours=168}');
    const refused = await configs('--entity-name', '1', '--alter', '--add-config', 'num.partitions=3');
    expect(refused.code).not.toBe(0);
    expect(refused.out).toContain('Cannot update these configs dynamically: [num.partitions]');
    await configs('--entity-default', '--alter', '--delete-config', 'log.retention.ms');
    await configs('--entity-name', '1', '--alter', '--delete-config', 'log.retention.bytes');
  });

  it('kafka-get-offsets lists latest offsets', async () => {
    const res = await cli('org.apache.kafka.tools.GetOffsetShell', ['--bootstrap-server', broker.bootstrap, '--topic', 'cli-console']);
    expect(res.out.trim().split('\n')).toContain('cli-console:0:3');
  });

  it('kafka-delete-records deletes up to an offset and prints the low watermark; past the high watermark it reports the error', async () => {
    const produced = await cli('org.apache.kafka.tools.ConsoleProducer', ['--bootstrap-server', broker.bootstrap, '--topic', 'cli-trim'], 'a\nb\nc\nd\ne\n');
    expect(produced.code).toBe(0);
    const offsets = join(mkdtempSync(join(tmpdir(), 'samsa-cli-')), 'offsets.json');
    writeFileSync(offsets, JSON.stringify({ version: 1, partitions: [{ topic: 'cli-trim', partition: 0, offset: 3 }] }));
    const deleted = await cli('org.apache.kafka.tools.DeleteRecordsCommand', ['--bootstrap-server', broker.bootstrap, '--offset-json-file', offsets]);
    expect(deleted.code).toBe(0);
    expect(deleted.out).toMatch(/partition: cli-trim-0\s+low_watermark: 3/);
    const earliest = await cli('org.apache.kafka.tools.GetOffsetShell', ['--bootstrap-server', broker.bootstrap, '--topic', 'cli-trim', '--time', '-2']);
    expect(earliest.out.trim().split('\n')).toContain('cli-trim:0:3');
    expect((await kcatConsume(broker.bootstrap, 'cli-trim')).map((r) => r.value)).toEqual(['d', 'e']);

    writeFileSync(offsets, JSON.stringify({ version: 1, partitions: [{ topic: 'cli-trim', partition: 0, offset: 9 }] }));
    const refused = await cli('org.apache.kafka.tools.DeleteRecordsCommand', ['--bootstrap-server', broker.bootstrap, '--offset-json-file', offsets]);
    expect(refused.out).toMatch(/partition: cli-trim-0\s+error: .*OffsetOutOfRangeException/);
  });

  it('what Samsa does not serve yet fails with the unsupported-version error', async () => {
    const res = await cli('org.apache.kafka.tools.ClientMetricsCommand', ['--bootstrap-server', broker.bootstrap, '--list']);
    expect(res.code).not.toBe(0);
    expect(res.out).toContain('UnsupportedVersionException');
  });
});
