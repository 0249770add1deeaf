// Three real broker processes keep their cluster metadata in a real kube-apiserver
// (--metadata kubernetes://default/kstore) with only the rights the operator gives brokers:
// an RF 3 topic takes acks=all writes, its leader is SIGKILLed, writes go on to the new leader,
// and everything acknowledged reads back. The killed broker's Lease expires and is deleted; the
// broker, restarted, registers again and rejoins every ISR.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import { KubeConfig } from '@kubernetes/client-node';
import { ControlPlane } from '../../operator/test/control-plane.js';
import { brokerKubeconfig } from '../../operator/test/broker-credentials.js';
import { Kube } from '../../operator/kube.js';
import { SamsaCluster } from './samsa-cluster.js';
import { eventuallyPasses } from './eventually.js';
import { consumeValues } from './kafkajs-consume.js';

const { Kafka, logLevel } = kafkajs;

let cp: ControlPlane;
let cluster: SamsaCluster;
let admin: Kube;

const until = async (what: string, check: () => Promise<void> | void, timeoutMs?: number) => {
  try {
    return await eventuallyPasses(what, check, timeoutMs);
  } catch (err) {
    for (const b of cluster.brokers) console.log(`broker on ${b.port}:\n${b.output.split('\n').filter((l) => /"level":(40|50)/.test(l)).slice(-25).join('\n')}`);
    throw err;
  }
};

beforeAll(async () => {
  cp = await ControlPlane.start();
  const config = new KubeConfig();
  config.loadFromFile(cp.kubeconfigFor('samsa-test-admin', ['system:masters']));
  admin = new Kube(config);
  const kubeconfig = await brokerKubeconfig(cp, 'default', 'kstore');
  cluster = await SamsaCluster.start({
    brokers: 3,
    store: { url: 'kubernetes://default/kstore', env: { KUBECONFIG: kubeconfig } },
    config: { 'broker.session.timeout.ms': '3000', 'replica.lag.time.max.ms': '3000', 'replica.fetch.backoff.ms': '200' },
    readyTimeoutMs: 90_000,
  });
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
  await cp?.stop();
});

function client(id: string) {
  return new Kafka({ clientId: id, brokers: cluster.bootstrap.split(','), logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 } });
}

/** The store's keys as objects in the API: kind and key of each, by the store's label. */
async function storedKeys(): Promise<{ leases: string[]; configMaps: string[] }> {
  const keys = async (kind: string, apiVersion: string) =>
    (await admin.list(apiVersion, kind, 'default', 'samsa.dev/store=kstore')).map((o) => o.metadata!.annotations!['samsa.dev/key']!).sort();
  return { leases: await keys('Lease', 'coordination.k8s.io/v1'), configMaps: await keys('ConfigMap', 'v1') };
}

describe('a three-broker cluster on the Kubernetes API', () => {
  it('keeps its metadata in Leases (live brokers, the controller) and ConfigMaps (topics, partition states)', async () => {
    await until('three brokers and a controller in Leases', async () => {
      const { leases, configMaps } = await storedKeys();
      expect(leases).toEqual(['brokers/0', 'brokers/1', 'brokers/2', 'controller/active']);
      expect(configMaps).toEqual(expect.arrayContaining(['cluster/id', 'controller/epoch']));
    });
  });

  it('keeps every acknowledged acks=all record when the leader is killed', async () => {
    const kafka = client('writer');
    const adminClient = kafka.admin();
    await adminClient.connect();
    expect(await adminClient.createTopics({ topics: [{ topic: 'replicated', numPartitions: 3, replicationFactor: 3 }], waitForLeaders: true })).toBe(true);
    await until('every replica in sync', async () => {
      const md = await adminClient.fetchTopicMetadata({ topics: ['replicated'] });
      for (const p of md.topics[0]!.partitions) expect([...p.isr].sort()).toEqual([0, 1, 2]);
    });
    const { configMaps } = await storedKeys();
    expect(configMaps).toContain('topics/replicated');

    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const acked: string[] = [];
    for (let i = 0; i < 200; i++) {
      await producer.send({ topic: 'replicated', acks: -1, messages: [{ key: `k${i % 6}`, value: `before-${i}` }] });
      acked.push(`before-${i}`);
    }
    const before = await adminClient.fetchTopicMetadata({ topics: ['replicated'] });
    const victim = before.topics[0]!.partitions.find((p) => p.partitionId === 0)!.leader;
    await cluster.kill(victim, 'SIGKILL');
    await until('the partitions to get new leaders from the ISR', async () => {
      const md = await adminClient.fetchTopicMetadata({ topics: ['replicated'] });
      for (const p of md.topics[0]!.partitions) {
        expect(p.leader).not.toBe(victim);
        expect(p.leader).toBeGreaterThanOrEqual(0);
        expect(p.isr).not.toContain(victim);
      }
    }, 60_000);
    for (let i = 0; i < 100; i++) {
      await producer.send({ topic: 'replicated', acks: -1, messages: [{ key: `k${i % 6}`, value: `after-${i}` }] });
      acked.push(`after-${i}`);
    }
    await producer.disconnect();
    await adminClient.disconnect();

    const values = await consumeValues(client('reader'), 'replicated', acked.length);
    expect(new Set(values)).toEqual(new Set(acked));
    expect(values).toHaveLength(acked.length);

    // Nobody renews the killed broker's Lease: the others judge it expired and delete it.
    await until("the killed broker's Lease to be deleted", async () => expect((await storedKeys()).leases).not.toContain(`brokers/${victim}`));

    // Back, the broker registers again and rejoins every ISR.
    await cluster.restart(victim);
    const watcher = client('watcher').admin();
    await watcher.connect();
    try {
      await until('the restarted broker to rejoin every ISR', async () => {
        const md = await watcher.fetchTopicMetadata({ topics: ['replicated'] });
        for (const p of md.topics[0]!.partitions) expect([...p.isr].sort()).toEqual([0, 1, 2]);
      }, 60_000);
    } finally {
      await watcher.disconnect();
    }
    expect((await storedKeys()).leases).toContain(`brokers/${victim}`);
  });
});

describe('--metadata', () => {
  it.each([
    ['kubernetes://Data/prod', 'namespace "Data" is not a DNS-1123 label'],
    ['kubernetes://data', 'no store name'],
    ['zookeeper://zk:2181/kafka', 'unknown metadata store URL "zookeeper://zk:2181/kafka" (expected etcd://host:port[,host:port...]/prefix or kubernetes://<namespace>/<name>)'],
  ])('refuses %s with one line saying why', (url, why) => {
    const run = spawnSync(process.execPath, [resolve(import.meta.dirname, '../../dist/broker/main.js'), '--metadata', url], { encoding: 'utf8', timeout: 30_000 });
    expect(run.status).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain(`samsa-broker: --metadata: `);
    expect(run.stderr).toContain(why);
  });
});
