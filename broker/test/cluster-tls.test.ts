// Three brokers whose replication runs on an SSL listener with mTLS (inter.broker.listener.name),
// clients on a PLAINTEXT one: an RF 3 topic with min.insync.replicas=3 takes acks=all writes only
// when both followers fetch from the leader, which they do over TLS presenting their certificate.
// Metadata on each listener of each broker gives every broker's endpoint on that listener.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import { KafkaConnection } from '../protocol/client.js';
import { createTopicsApi, metadataApi } from '../protocol/messages/index.js';
import { SamsaCluster } from './samsa-cluster.js';
import { consumeValues } from './kafkajs-consume.js';
import { TlsTestFiles, keystorePem } from './tls-files.js';

const { Kafka, logLevel } = kafkajs;

const files = new TlsTestFiles();
let cluster: SamsaCluster;

beforeAll(async () => {
  cluster = await SamsaCluster.start({
    brokers: 3,
    config: {
      listeners: 'CLIENT://127.0.0.1:0,REPLICATION://127.0.0.1:0',
      'listener.security.protocol.map': 'CLIENT:PLAINTEXT,REPLICATION:SSL',
      'inter.broker.listener.name': 'REPLICATION',
      'listener.name.replication.ssl.keystore.location': files.write('broker.pem', keystorePem(files.broker(), 'secret')),
      'listener.name.replication.ssl.key.password': 'secret',
      'listener.name.replication.ssl.truststore.location': files.write('ca.pem', files.ca.cert),
      'listener.name.replication.ssl.client.auth': 'required',
      'offsets.topic.replication.factor': '3',
    },
    // Debug lines show the principal of each TLS connection.
    extraArgs: ['--log-level', 'debug'],
  });
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  files.remove();
});

describe('replication on an SSL listener with mTLS', () => {
  it('Metadata on each listener of each broker gives every broker on that listener', async () => {
    const checker = files.client('metadata-check');
    for (const b of cluster.brokers) {
      for (const listener of ['CLIENT', 'REPLICATION']) {
        const tls = listener === 'REPLICATION' ? { tls: { ca: files.ca.cert, ...checker } } : {};
        const c = await KafkaConnection.open('127.0.0.1', b.listenerPorts.get(listener)!, 'listener-check', tls);
        try {
          const md = await c.send(metadataApi, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false, includeClusterAuthorizedOperations: false });
          expect(md.brokers.map((x) => `${x.nodeId}@${x.port}`).sort()).toEqual(cluster.brokers.map((x, id) => `${id}@${x.listenerPorts.get(listener)}`).sort());
        } finally {
          await c.close();
        }
      }
    }
  }, 60_000);

  it('an RF 3 topic with min.insync.replicas=3 takes acks=all writes: followers replicate over TLS', async () => {
    const c = await KafkaConnection.open('127.0.0.1', cluster.broker(0).port);
    try {
      const res = await c.send(createTopicsApi, 7, {
        topics: [{ name: 'replicated-over-tls', numPartitions: 3, replicationFactor: 3, assignments: [], configs: [{ name: 'min.insync.replicas', value: '3' }] }],
        timeoutMs: 5000,
        validateOnly: false,
      });
      expect(res.topics[0]!.errorCode).toBe(0);
    } finally {
      await c.close();
    }
    const kafka = new Kafka({ clientId: 'tls-cluster', brokers: cluster.bootstrapOn('CLIENT').split(','), logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 } });
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const values = Array.from({ length: 60 }, (_, i) => `v${i}`);
    await producer.send({ topic: 'replicated-over-tls', acks: -1, messages: values.map((value, i) => ({ key: `k${i}`, value })) });
    await producer.disconnect();
    expect((await consumeValues(kafka, 'replicated-over-tls', 60)).sort()).toEqual([...values].sort());
    // Each broker's followers connected to the leaders' REPLICATION listener with their certificate.
    const fromBrokers = cluster.brokers.flatMap((b) => b.output.split('\n').filter((l) => l.includes('TLS connection authenticated') && l.includes('"principal":"User:CN=broker"')).map((l) => JSON.parse(l) as { listener: string }));
    // Each of the three leaders has two followers (connections may be shared across partitions of one leader).
    expect(fromBrokers.length).toBeGreaterThanOrEqual(2);
    for (const c of fromBrokers) expect(c.listener).toBe('REPLICATION');
  }, 90_000);
});
