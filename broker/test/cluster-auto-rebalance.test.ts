// auto.leader.rebalance.enable: once a broker is back in sync, the controller moves the
// leaderships of its preferred partitions back to it by itself (here every second, where Kafka's
// default is 300 s).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../protocol/client.js';
import { createTopicsApi, metadataApi } from '../protocol/messages/index.js';
import { SamsaCluster } from './samsa-cluster.js';
import { eventuallyPasses } from './eventually.js';

let cluster: SamsaCluster;

beforeAll(async () => {
  cluster = await SamsaCluster.start({
    brokers: 2,
    config: { 'broker.session.timeout.ms': '3000', 'leader.imbalance.check.interval.seconds': '1', 'leader.imbalance.per.broker.percentage': '0' },
  });
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

async function leaders(nodeId: number): Promise<{ partition: number; leader: number; preferred: number; isr: number[] }[]> {
  const c = await KafkaConnection.open('127.0.0.1', cluster.broker(nodeId).port);
  try {
    const md = await c.send(metadataApi, 12, { topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: 'balanced' }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false, includeClusterAuthorizedOperations: false });
    return md.topics[0]!.partitions.map((p) => ({ partition: p.partitionIndex, leader: p.leaderId, preferred: p.replicaNodes[0]!, isr: p.isrNodes }));
  } finally {
    await c.close();
  }
}

describe('automatic leader rebalance', () => {
  it('gives a returning broker back the leadership of its preferred partitions', async () => {
    const c = await KafkaConnection.open('127.0.0.1', cluster.broker(0).port);
    const res = await c.send(createTopicsApi, 7, {
      topics: [{ name: 'balanced', numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [0, 1] }, { partitionIndex: 1, brokerIds: [1, 0] }], configs: [] }],
      timeoutMs: 5000,
      validateOnly: false,
    });
    await c.close();
    expect(res.topics[0]!.errorCode).toBe(0);

    await cluster.kill(0, 'SIGKILL');
    await eventuallyPasses('broker 1 to lead both partitions', async () => expect((await leaders(1)).map((p) => p.leader)).toEqual([1, 1]), 30_000);
    await cluster.restart(0);
    await eventuallyPasses(
      'each partition to be led by its preferred replica again',
      async () => {
        for (const p of await leaders(1)) {
          expect(p.isr).toHaveLength(2);
          expect(p.leader).toBe(p.preferred);
        }
      },
      60_000,
    );
    expect(cluster.brokers.map((b) => b.output).join('\n')).toContain('leadership rebalanced to preferred replicas');
  }, 120_000);
});
