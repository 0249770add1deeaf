// The roll planner and oracle (operator/roll/) against a real three-broker Samsa cluster on etcd:
// the test restarts each broker exactly when planRoll says (as the operator evicts its pod), with
// a kafkajs producer sending acks=all throughout. Every broker restarts once, the controller
// last, no send fails and every acked record is read back; a SIGSTOPped broker holds the roll
// (the oracle says unsafe) until it is SIGCONTed. On four brokers in two racks, 'disjoint' and
// 'rack' parallel rolls restart brokers that share no partition together. The operator test of
// the same rolls on Kubernetes is operator/test/rolling-restart.test.ts.
import { produceThroughout } from '../../broker/test/acks-all-load.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import { KafkaConnection } from '../../broker/protocol/client.js';
import { createTopicsApi } from '../../broker/protocol/messages/index.js';
import { eventuallyPasses } from '../../broker/test/eventually.js';
import { consumeValues } from '../../broker/test/kafkajs-consume.js';
import { SamsaCluster } from '../../broker/test/samsa-cluster.js';
import { type RollTarget, clusterShape, readRollFacts } from '../roll/oracle.js';
import { type RollPlan, type RollingUpdate, planRoll } from '../roll/planner.js';

const { Kafka, logLevel } = kafkajs;

async function createTopic(cluster: SamsaCluster, name: string, partitions: number, replicationFactor: number, configs: Record<string, string>, assignments: number[][] = []) {
  const c = await KafkaConnection.open('127.0.0.1', cluster.broker(0).port);
  try {
    const res = await c.send(createTopicsApi, 7, {
      topics: [
        {
          name,
          numPartitions: assignments.length > 0 ? -1 : partitions,
          replicationFactor: assignments.length > 0 ? -1 : replicationFactor,
          assignments: assignments.map((brokerIds, partitionIndex) => ({ partitionIndex, brokerIds })),
          configs: Object.entries(configs).map(([n, value]) => ({ name: n, value })),
        },
      ],
      timeoutMs: 5000,
      validateOnly: false,
    });
    expect(res.topics[0]!.errorCode).toBe(0);
  } finally {
    await c.close();
  }
}

/** The acks=all load on a SamsaCluster, with the client that reads it back. */
function produceOn(cluster: SamsaCluster, topic: string) {
  const kafka = new Kafka({ clientId: 'roll-producer', brokers: cluster.bootstrap.split(','), logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 } });
  return { kafka, ...produceThroughout(kafka, topic) };
}

/**
 * One step of a roll on the SamsaCluster, as the operator's reconcile does it: read the facts,
 * plan, restart the planned brokers together (SIGTERM, controlled shutdown, start again: the
 * pod evicted and created from the new template). `restarted` plays the pods' revisions.
 */
async function rollStep(cluster: SamsaCluster, restarted: Set<number>, rollingUpdate: RollingUpdate = {}): Promise<RollPlan> {
  const targets: RollTarget[] = cluster.brokers.map((b, id) => ({
    id,
    outdated: !restarted.has(id),
    ready: b.running,
    failing: false,
    endpoint: b.running ? { host: '127.0.0.1', httpPort: b.httpPort, kafka: { host: '127.0.0.1', port: b.port } } : null,
  }));
  const plan = planRoll(await readRollFacts(targets, cluster.brokers.length, rollingUpdate));
  await Promise.all(
    plan.restart.map(async ({ id }) => {
      await cluster.restart(id);
      restarted.add(id);
    }),
  );
  return plan;
}

describe('a rolling restart planned by operator/roll on a real cluster', () => {
  let cluster: SamsaCluster;

  beforeAll(async () => {
    cluster = await SamsaCluster.start({
      brokers: 3,
      // Short timeouts so that a stopped broker leaves the ISRs within the test.
      config: { 'broker.session.timeout.ms': '3000', 'replica.lag.time.max.ms': '3000', 'replica.fetch.backoff.ms': '200', 'controlled.shutdown.timeout.ms': '10000' },
    });
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('restarts every broker once, the controller last, with no failed acks=all send; a SIGSTOPped broker holds the roll until SIGCONT', async () => {
    await createTopic(cluster, 'orders', 3, 3, { 'min.insync.replicas': '2' });
    const { controllerId } = await clusterShape({ host: '127.0.0.1', port: cluster.broker(0).port });
    expect(controllerId).not.toBeNull();
    const producer = produceOn(cluster, 'orders');
    await eventuallyPasses('the producer to get acks', () => expect(producer.acked.length).toBeGreaterThan(20), 30_000);

    const restarted = new Set<number>();
    const order: number[] = [];
    const waits: string[] = [];
    const step = async (rollingUpdate?: RollingUpdate) => {
      const plan = await rollStep(cluster, restarted, rollingUpdate);
      order.push(...plan.restart.map((r) => r.id));
      if (plan.waiting) waits.push(plan.waiting);
      return plan;
    };

    // First restart: the highest ordinal that is not the controller.
    await eventuallyPasses('the first restart', async () => expect((await step()).restart.length).toBe(1), 60_000);
    const first = order[0]!;
    expect(first).toBe(Math.max(...[0, 1, 2].filter((id) => id !== controllerId)));

    // The other non-controller broker stops (SIGSTOP): no restart while it is stopped; once the
    // ISRs lost it, the oracle says stopping the controller would take them below min.insync.replicas.
    const stopped = [0, 1, 2].find((id) => id !== controllerId && id !== first)!;
    await cluster.kill(stopped, 'SIGSTOP');
    try {
      // The restarted broker is caught up, but broker `stopped` does not answer: the roll waits.
      await eventuallyPasses('the roll to wait for the stopped broker', async () => {
        const plan = await step();
        expect(plan.restart).toEqual([]);
        expect(plan.waiting).toMatch(new RegExp(`^broker ${stopped} cannot tell whether it may stop: it did not answer|^broker ${first} is not caught up`));
      }, 30_000);
      // Once the controller drops it from the ISRs, the controller itself would take the partitions below min.insync.replicas.
      await eventuallyPasses('the oracle to call stopping the controller unsafe', async () => {
        const res = await fetch(`http://127.0.0.1:${cluster.broker(controllerId!).httpPort}/v1/shutdown-safety`);
        expect(res.status).toBe(409);
        expect(((await res.json()) as { blocking: Array<{ reason: string }> }).blocking[0]!.reason).toBe('would-go-under-min-isr');
      }, 30_000);
      for (let i = 0; i < 5; i++) expect((await step()).restart).toEqual([]);
    } finally {
      await cluster.kill(stopped, 'SIGCONT');
    }

    // The roll goes on: the stopped broker, once caught up again, then the controller.
    await eventuallyPasses('the roll to finish', async () => {
      await step();
      expect(restarted.size).toBe(3);
    }, 180_000);
    expect(order).toEqual([first, stopped, controllerId]);

    await producer.stop();
    expect(producer.failed).toEqual([]);
    const read = await consumeValues(producer.kafka, 'orders', producer.acked.length);
    expect(new Set(read)).toEqual(new Set(producer.acked));
    // What the roll waited for, for the report.
    console.log(`roll waits: ${[...new Set(waits.map((w) => w.replace(/\(.*\)/, '(…)')))].join(' | ')}; acked ${producer.acked.length}`);
  }, 400_000);
});

describe("parallel ('disjoint', 'rack') rolling restarts on a real cluster", () => {
  let cluster: SamsaCluster;

  beforeAll(async () => {
    // Racks a (brokers 0, 2) and b (1, 3). The groups reading back get __consumer_offsets with one
    // replica per partition, so that it keeps brokers disjoint for the next roll.
    cluster = await SamsaCluster.start({
      brokers: 4,
      racks: ['a', 'b'],
      config: { 'replica.fetch.backoff.ms': '200', 'controlled.shutdown.timeout.ms': '10000', 'offsets.topic.replication.factor': '1' },
    });
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('restarts brokers that share no partition together, each once, the controller last and alone, with no failed acks=all send', async () => {
    // Partitions on brokers {0,1} and {2,3}: two brokers of different pairs may restart together.
    await createTopic(cluster, 'pairs', 4, 2, { 'min.insync.replicas': '1' }, [[0, 1], [2, 3], [1, 0], [3, 2]]);
    const { controllerId } = await clusterShape({ host: '127.0.0.1', port: cluster.broker(0).port });
    const producer = produceOn(cluster, 'pairs');
    await eventuallyPasses('the producer to get acks', () => expect(producer.acked.length).toBeGreaterThan(20), 30_000);

    const restarted = new Set<number>();
    const groups: number[][] = [];
    await eventuallyPasses('the roll to finish', async () => {
      const plan = await rollStep(cluster, restarted, { parallelism: 'disjoint' });
      if (plan.restart.length > 0) groups.push(plan.restart.map((r) => r.id));
      expect(restarted.size).toBe(4);
    }, 240_000);

    expect(groups.flat().sort()).toEqual([0, 1, 2, 3]);
    expect(groups.at(-1)).toEqual([controllerId]);
    // The first group: the two highest non-controller brokers of different pairs.
    const pair = (id: number) => (id < 2 ? 0 : 1);
    expect(groups[0]).toHaveLength(2);
    expect(pair(groups[0]![0]!)).not.toBe(pair(groups[0]![1]!));
    expect(groups.length).toBe(3);

    await producer.stop();
    expect(producer.failed).toEqual([]);
    const read = await consumeValues(producer.kafka, 'pairs', producer.acked.length);
    expect(new Set(read)).toEqual(new Set(producer.acked));
  }, 400_000);

  it("restarts one rack's brokers together when they share no partition, each once, the controller last and alone", async () => {
    // A topic of its own for this roll's records; partitions again on {0,1} and {2,3}: one broker of each rack.
    await createTopic(cluster, 'racks', 4, 2, { 'min.insync.replicas': '1' }, [[0, 1], [2, 3], [1, 0], [3, 2]]);
    const shape = await clusterShape({ host: '127.0.0.1', port: cluster.broker(0).port });
    expect(Object.fromEntries(shape.racks)).toEqual({ 0: 'a', 1: 'b', 2: 'a', 3: 'b' });
    const holds = (id: number) => [...shape.replicas].filter(([, ids]) => ids.includes(id)).map(([name]) => name);
    const producer = produceOn(cluster, 'racks');
    await eventuallyPasses('the producer to get acks', () => expect(producer.acked.length).toBeGreaterThan(20), 30_000);

    const restarted = new Set<number>();
    const groups: number[][] = [];
    await eventuallyPasses('the roll to finish', async () => {
      const plan = await rollStep(cluster, restarted, { parallelism: 'rack' });
      if (plan.restart.length > 0) groups.push(plan.restart.map((r) => r.id));
      expect(restarted.size).toBe(4);
    }, 240_000);

    expect(groups.flat().sort()).toEqual([0, 1, 2, 3]);
    expect(groups.at(-1)).toEqual([shape.controllerId]);
    // Whichever broker is the controller, two brokers of one rack that share no partition went together.
    const together = groups.filter((g) => g.length > 1);
    expect(together).toHaveLength(1);
    const [x, y] = together[0]!;
    expect(shape.racks.get(x!)).toBe(shape.racks.get(y!));
    expect(holds(x!).filter((p) => holds(y!).includes(p))).toEqual([]);

    await producer.stop();
    expect(producer.failed).toEqual([]);
    const read = await consumeValues(producer.kafka, 'racks', producer.acked.length);
    expect(new Set(read)).toEqual(new Set(producer.acked));
  }, 400_000);
});

