// The Apache Kafka reference harnesses: the single node formats its storage with any cluster id
// the tool accepts, including the one in 64 random ids that begins with '-' (once parsed as an
// option); the 3-node KRaft cluster is one cluster that replicates and fails over.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { eventually } from './eventually.ts';
import { KafkaCluster, KafkaProcess, kafkaTool, randomClusterId } from './kafka-process.ts';

describe('Kafka reference harness', () => {
  it('formats storage with a cluster id that begins with a dash', async () => {
    // Base64url of a first byte 0xf8..0xfb starts with '-'.
    const bytes = Buffer.from(randomClusterId(), 'base64url');
    bytes[0] = 0xf8 | (bytes[0]! & 3);
    const clusterId = bytes.toString('base64url');
    expect(clusterId.startsWith('-')).toBe(true);
    const kafka = await KafkaProcess.create({}, clusterId);
    try {
      const meta = readFileSync(join(kafka.logDir, 'meta.properties'), 'utf8');
      expect(meta).toContain(`cluster.id=${clusterId}\n`);
    } finally {
      await kafka.destroy();
    }
  }, 180_000);
});

describe('Kafka KRaft cluster harness', () => {
  it('forms one cluster of 3 nodes that replicates a topic, elects a new leader when one is killed and takes it back after a restart', async () => {
    const cluster = await KafkaCluster.start({ nodes: 3, heap: '512M' });
    const kafka = new kafkajs.Kafka({ clientId: 'cluster-test', brokers: cluster.bootstrap.split(','), logLevel: kafkajs.logLevel.NOTHING });
    const admin = kafka.admin();
    try {
      await admin.connect();
      const described = await admin.describeCluster();
      expect(described.clusterId).toBe(cluster.clusterId);
      expect(described.brokers.map((b) => b.nodeId).sort()).toEqual([0, 1, 2]);
      expect(described.brokers.map((b) => b.port).sort()).toEqual(cluster.nodes.map((n) => n.port).sort());

      kafkaTool('org.apache.kafka.tools.TopicCommand', ['--bootstrap-server', cluster.bootstrap, '--create', '--topic', 'replicated', '--partitions', '1', '--replication-factor', '3']);
      const partition = async () => (await admin.fetchTopicMetadata({ topics: ['replicated'] })).topics[0]!.partitions[0]!;
      const first = await eventually('3 replicas in sync', async () => {
        const p = await partition();
        return p.isr.length === 3 ? p : undefined;
      });
      expect([...first.replicas].sort()).toEqual([0, 1, 2]);

      await cluster.kill(first.leader, 'SIGKILL');
      const moved = await eventually('a new leader from the ISR', async () => {
        const p = await partition();
        return p.leader !== first.leader && p.leader >= 0 && !p.isr.includes(first.leader) ? p : undefined;
      }, 60_000);
      expect(moved.isr).toHaveLength(2);

      await cluster.restart(first.leader);
      await eventually('the restarted node back in the ISR', async () => ((await partition()).isr.length === 3 ? true : undefined), 60_000);
    } finally {
      await admin.disconnect();
      await cluster.stop();
    }
  }, 300_000);
});
