// Transactions through the coordinator, with kafkajs's transactional producer against real broker
// processes: commit and abort as read_committed and read_uncommitted consumers see them, fencing
// of a producer by a newer one with the same transactional id, the abort of a transaction left
// open past its timeout, and on a 3-broker cluster markers written by other brokers
// (WriteTxnMarkers) and a coordinator SIGKILLed between EndTxn and the transaction's completion.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import { KafkaConnection } from '../protocol/client.js';
import { ErrorCode } from '../protocol/errors.js';
import {
  addOffsetsToTxnApi,
  addPartitionsToTxnApi,
  apiVersionsApi,
  createAclsApi,
  describeTransactionsApi,
  endTxnApi,
  findCoordinatorApi,
  initProducerIdApi,
  listTransactionsApi,
  writeTxnMarkersApi,
} from '../protocol/messages/index.js';
import { AclOperation as Op, AclPermission, CLUSTER_NAME, PatternType, ResourceType } from '../security/acls.js';
import { BrokerProcess } from './broker-process.js';
import { SamsaCluster } from './samsa-cluster.js';
import { eventually, eventuallyPasses } from './eventually.js';

const { Kafka, logLevel } = kafkajs;

type Client = InstanceType<typeof Kafka>;

const transactionalProducer = (kafka: Client, transactionalId: string, transactionTimeout = 60000) =>
  kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1, transactionTimeout });

/** Reads `topic` from the beginning in a group of its own until `done(values)`; the values read. */
async function readValues(kafka: Client, topic: string, readUncommitted: boolean, done: (values: string[]) => boolean): Promise<string[]> {
  const consumer = kafka.consumer({ groupId: `reader-${topic}-${readUncommitted}-${Date.now()}`, readUncommitted });
  const values: string[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void values.push(message.value!.toString()) });
    await eventuallyPasses(`the ${readUncommitted ? 'read_uncommitted' : 'read_committed'} consumer to read ${topic}`, () => expect(done(values)).toBe(true), 60_000);
  } finally {
    await consumer.disconnect();
  }
  return values;
}

/** The Kafka error type kafkajs reports for a failed call. */
async function kafkaErrorType(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    let e = err as { type?: string; name?: string; originalError?: unknown; cause?: unknown };
    while (!e.type && (e.originalError || e.cause)) e = (e.originalError ?? e.cause) as typeof e;
    return e.type ?? e.name ?? String(err);
  }
  throw new Error('expected the call to fail');
}

async function describeTransaction(port: number, transactionalId: string) {
  const c = await KafkaConnection.open('127.0.0.1', port, 'txn-test');
  try {
    return (await c.send(describeTransactionsApi, 0, { transactionalIds: [transactionalId] })).transactionStates[0]!;
  } finally {
    await c.close();
  }
}

describe('transactions on one broker', () => {
  let broker: BrokerProcess;
  let kafka: Client;

  beforeAll(async () => {
    // Timed-out transactions are looked for every 500 ms (Kafka: 10 s), so a test sees the abort soon.
    // No initial rebalance delay: each read is a new consumer group.
    broker = await BrokerProcess.start({ 'transaction.abort.timed.out.transaction.cleanup.interval.ms': '500', 'group.initial.rebalance.delay.ms': '0' });
    kafka = new Kafka({ clientId: 'txn-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 8 } });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: ['txn-basic', 'txn-fenced', 'txn-timeout'].map((topic) => ({ topic, numPartitions: 2 })) });
    await admin.disconnect();
  });

  afterAll(async () => {
    await broker?.destroy();
  });

  it('commits and aborts: read_committed consumers see only committed records, read_uncommitted ones see both', async () => {
    const producer = transactionalProducer(kafka, 'basic');
    await producer.connect();
    try {
      let txn = await producer.transaction();
      await txn.send({ topic: 'txn-basic', messages: [{ value: 'c1', partition: 0 }, { value: 'c2', partition: 1 }] });
      await txn.commit();
      txn = await producer.transaction();
      await txn.send({ topic: 'txn-basic', messages: [{ value: 'a1', partition: 0 }, { value: 'a2', partition: 1 }] });
      await txn.abort();
      txn = await producer.transaction();
      await txn.send({ topic: 'txn-basic', messages: [{ value: 'c3', partition: 0 }, { value: 'c4', partition: 1 }] });
      await txn.commit();
    } finally {
      await producer.disconnect();
    }
    // c3 and c4 come after the aborted records in both partitions: once read, those were passed over.
    const committed = await readValues(kafka, 'txn-basic', false, (v) => v.includes('c3') && v.includes('c4'));
    expect(committed.sort()).toEqual(['c1', 'c2', 'c3', 'c4']);
    const all = await readValues(kafka, 'txn-basic', true, (v) => v.includes('c3') && v.includes('c4'));
    expect(all.sort()).toEqual(['a1', 'a2', 'c1', 'c2', 'c3', 'c4']);

    const described = await eventually('the last transaction to be complete', async () => {
      const d = await describeTransaction(broker.port, 'basic');
      return d.transactionState === 'CompleteCommit' ? d : undefined;
    });
    expect(described).toMatchObject({ errorCode: ErrorCode.NONE, producerEpoch: 0, transactionTimeoutMs: 60000, topics: [] });
    const c = await KafkaConnection.open('127.0.0.1', broker.port, 'txn-test');
    try {
      const listed = await c.send(listTransactionsApi, 1, { stateFilters: ['CompleteCommit', 'Bogus'], producerIdFilters: [], durationFilter: -1 });
      expect(listed.unknownStateFilters).toEqual(['Bogus']);
      expect(listed.transactionStates).toContainEqual({ transactionalId: 'basic', producerId: described.producerId, transactionState: 'CompleteCommit' });
    } finally {
      await c.close();
    }
  });

  it('fences the first producer of a transactional id when a second one starts: its open transaction is aborted', async () => {
    const first = transactionalProducer(kafka, 'fenced');
    await first.connect();
    const second = transactionalProducer(kafka, 'fenced');
    await second.connect();
    try {
      const zombie = await first.transaction();
      await zombie.send({ topic: 'txn-fenced', messages: [{ value: 'zombie', partition: 0 }] });
      // The second producer's InitProducerId aborts the open transaction (CONCURRENT_TRANSACTIONS
      // meanwhile, which kafkajs retries) and gets the epoch after the fencing one.
      const txn = await second.transaction();
      await txn.send({ topic: 'txn-fenced', messages: [{ value: 'second', partition: 0 }] });
      await txn.commit();
      // kafkajs speaks EndTxn v0-1: a fenced producer is told INVALID_PRODUCER_EPOCH (PRODUCER_FENCED from v2).
      expect(await kafkaErrorType(zombie.commit())).toBe('INVALID_PRODUCER_EPOCH');
    } finally {
      await first.disconnect();
      await second.disconnect();
    }
    const values = await readValues(kafka, 'txn-fenced', false, (v) => v.includes('second'));
    expect(values).toEqual(['second']);
    const d = await describeTransaction(broker.port, 'fenced');
    expect(d.producerEpoch).toBe(2);
  });

  it('aborts a transaction left open past its timeout, fencing its producer', async () => {
    const abandoned = transactionalProducer(kafka, 'abandoned', 2000);
    await abandoned.connect();
    try {
      const txn = await abandoned.transaction();
      await txn.send({ topic: 'txn-timeout', messages: [{ value: 'abandoned', partition: 0 }] });
      const aborted = await eventually(
        'the coordinator to abort the abandoned transaction',
        async () => {
          const d = await describeTransaction(broker.port, 'abandoned');
          return d.transactionState === 'CompleteAbort' ? d : undefined;
        },
        30_000,
      );
      expect(aborted.producerEpoch).toBe(1);
      expect(await kafkaErrorType(txn.commit())).toBe('INVALID_PRODUCER_EPOCH');
    } finally {
      await abandoned.disconnect();
    }
    const later = transactionalProducer(kafka, 'after-timeout');
    await later.connect();
    try {
      const txn = await later.transaction();
      await txn.send({ topic: 'txn-timeout', messages: [{ value: 'later', partition: 0 }] });
      await txn.commit();
    } finally {
      await later.disconnect();
    }
    // The abandoned records sit before 'later' in the partition: read_committed passes over them.
    expect(await readValues(kafka, 'txn-timeout', false, (v) => v.includes('later'))).toEqual(['later']);
    const metrics = await (await fetch(`${broker.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/^samsa_transactions_timed_out_total 1$/m);
    expect(metrics).toMatch(/^samsa_transaction_markers_written_total\{result="abort"\} [1-9]/m);
    expect(metrics).toMatch(/^samsa_transactions\{state="CompleteAbort"\} [1-9]/m);
    expect(metrics).toMatch(/^samsa_transactions\{state="Ongoing"\} 0$/m);
  });

  it('answers the coordinator APIs over the wire with Kafka\'s codes, and advertises transactions v1 only', async () => {
    const c = await KafkaConnection.open('127.0.0.1', broker.port, 'txn-protocol');
    try {
      const versions = new Map((await c.send(apiVersionsApi, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' })).apiKeys.map((k) => [k.apiKey, k.maxVersion]));
      expect(versions.get(addPartitionsToTxnApi.key)).toBe(3);
      expect(versions.get(endTxnApi.key)).toBe(4);
      const found = await c.send(findCoordinatorApi, 4, { key: '', keyType: 1, coordinatorKeys: ['proto'] });
      expect(found.coordinators[0]).toMatchObject({ key: 'proto', errorCode: ErrorCode.NONE, port: broker.port });

      const init = (producerId = -1, producerEpoch = -1, transactionTimeoutMs = 60000, version = 4) =>
        c.send(initProducerIdApi, version, { transactionalId: 'proto', transactionTimeoutMs, producerId, producerEpoch });
      const first = await init();
      expect(first).toMatchObject({ errorCode: ErrorCode.NONE, producerEpoch: 0 });
      const second = await init();
      expect(second).toMatchObject({ errorCode: ErrorCode.NONE, producerId: first.producerId, producerEpoch: 1 });
      expect((await init(-1, -1, 900001)).errorCode).toBe(ErrorCode.INVALID_TRANSACTION_TIMEOUT);
      expect((await init(first.producerId, -1)).errorCode).toBe(ErrorCode.INVALID_REQUEST);
      // KIP-360 recovery with a fenced epoch: PRODUCER_FENCED from v4, INVALID_PRODUCER_EPOCH before.
      expect((await init(first.producerId, 0)).errorCode).toBe(ErrorCode.PRODUCER_FENCED);
      expect((await init(first.producerId, 0, 60000, 3)).errorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);

      const add = (topics: Array<{ name: string; partitions: number[] }>, producerEpoch: number, version = 3) =>
        c.send(addPartitionsToTxnApi, version, { transactions: [], v3AndBelowTransactionalId: 'proto', v3AndBelowProducerId: first.producerId, v3AndBelowProducerEpoch: producerEpoch, v3AndBelowTopics: topics });
      const codes = (r: Awaited<ReturnType<typeof add>>) => r.resultsByTopicV3AndBelow.flatMap((t) => t.resultsByPartition.map((p) => [`${t.name}-${p.partitionIndex}`, p.partitionErrorCode]));
      expect(codes(await add([{ name: 'txn-basic', partitions: [0] }], 0))).toEqual([['txn-basic-0', ErrorCode.PRODUCER_FENCED]]);
      expect(codes(await add([{ name: 'txn-basic', partitions: [0] }], 0, 1))).toEqual([['txn-basic-0', ErrorCode.INVALID_PRODUCER_EPOCH]]);
      expect(codes(await add([{ name: 'txn-basic', partitions: [0, 7] }, { name: 'no-such-topic', partitions: [0] }], 1))).toEqual([
        ['txn-basic-0', ErrorCode.OPERATION_NOT_ATTEMPTED],
        ['txn-basic-7', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
        ['no-such-topic-0', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
      ]);
      // Nothing was added: there is no transaction to end.
      expect((await c.send(endTxnApi, 3, { transactionalId: 'proto', producerId: first.producerId, producerEpoch: 1, committed: true })).errorCode).toBe(ErrorCode.INVALID_TXN_STATE);
      expect((await c.send(endTxnApi, 3, { transactionalId: 'proto', producerId: first.producerId + 1, producerEpoch: 1, committed: true })).errorCode).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
      expect(codes(await add([{ name: 'txn-basic', partitions: [0, 1] }], 1))).toEqual([['txn-basic-0', ErrorCode.NONE], ['txn-basic-1', ErrorCode.NONE]]);
      // AddOffsetsToTxn adds the group's partition of __consumer_offsets.
      const offsets = await c.send(addOffsetsToTxnApi, 3, { transactionalId: 'proto', producerId: first.producerId, producerEpoch: 1, groupId: 'proto-group' });
      expect(offsets.errorCode).toBe(ErrorCode.NONE);
      const described = await describeTransaction(broker.port, 'proto');
      expect(described).toMatchObject({ transactionState: 'Ongoing', producerEpoch: 1 });
      expect(described.topics).toEqual(expect.arrayContaining([{ topic: 'txn-basic', partitions: [0, 1] }, { topic: '__consumer_offsets', partitions: [expect.any(Number)] }]));
      expect(await describeTransaction(broker.port, 'never-seen')).toMatchObject({ errorCode: ErrorCode.TRANSACTIONAL_ID_NOT_FOUND });
      expect((await c.send(endTxnApi, 3, { transactionalId: 'proto', producerId: first.producerId, producerEpoch: 1, committed: false })).errorCode).toBe(ErrorCode.NONE);
      const aborted = await eventually('the abort to complete', async () => {
        const d = await describeTransaction(broker.port, 'proto');
        return d.transactionState === 'CompleteAbort' ? d : undefined;
      });
      expect(aborted.topics).toEqual([]);
    } finally {
      await c.close();
    }
  });

  it('keeps transactional ids across a restart: the state is replayed from __transaction_state', async () => {
    const before = await describeTransaction(broker.port, 'proto');
    expect(before.errorCode).toBe(ErrorCode.NONE);
    await broker.stop();
    await broker.launch();
    const after = await eventually('the coordinator to load its partition', async () => {
      const d = await describeTransaction(broker.port, 'proto');
      return d.errorCode === ErrorCode.NONE ? d : undefined;
    });
    expect(after).toEqual(before);
    const c = await KafkaConnection.open('127.0.0.1', broker.port, 'txn-protocol');
    try {
      // The next producer of the id gets the epoch after the stored one.
      const next = await c.send(initProducerIdApi, 4, { transactionalId: 'proto', transactionTimeoutMs: 60000, producerId: -1, producerEpoch: -1 });
      expect(next).toMatchObject({ errorCode: ErrorCode.NONE, producerId: before.producerId, producerEpoch: before.producerEpoch + 1 });
    } finally {
      await c.close();
    }
  });

  it('refuses a transaction timeout above transaction.max.timeout.ms', async () => {
    const producer = transactionalProducer(kafka, 'too-long', 900001);
    await producer.connect();
    try {
      expect(await kafkaErrorType(producer.transaction())).toBe('INVALID_TRANSACTION_TIMEOUT');
    } finally {
      await producer.disconnect();
    }
  });
});

describe('expiration of transactional ids', () => {
  let broker: BrokerProcess;

  beforeAll(async () => {
    broker = await BrokerProcess.start({ 'transactional.id.expiration.ms': '1500', 'transaction.remove.expired.transaction.cleanup.interval.ms': '300' });
  });

  afterAll(async () => {
    await broker?.destroy();
  });

  it('removes an idle id with a tombstone: gone after a restart too, and a new producer of it gets a new producer id', async () => {
    const init = async () => {
      const c = await KafkaConnection.open('127.0.0.1', broker.port, 'txn-expiry');
      try {
        await c.send(findCoordinatorApi, 4, { key: '', keyType: 1, coordinatorKeys: ['short-lived'] });
        return await c.send(initProducerIdApi, 4, { transactionalId: 'short-lived', transactionTimeoutMs: 60000, producerId: -1, producerEpoch: -1 });
      } finally {
        await c.close();
      }
    };
    const first = await init();
    expect(first.errorCode).toBe(ErrorCode.NONE);
    await eventually('the idle id to expire', async () => ((await describeTransaction(broker.port, 'short-lived')).errorCode === ErrorCode.TRANSACTIONAL_ID_NOT_FOUND ? true : undefined));
    expect(await (await fetch(`${broker.httpUrl}/metrics`)).text()).toMatch(/^samsa_transactional_ids_expired_total 1$/m);
    await broker.stop();
    await broker.launch();
    expect((await describeTransaction(broker.port, 'short-lived')).errorCode).toBe(ErrorCode.TRANSACTIONAL_ID_NOT_FOUND);
    const again = await init();
    expect(again).toMatchObject({ errorCode: ErrorCode.NONE, producerEpoch: 0 });
    expect(again.producerId).not.toBe(first.producerId);
  });
});

describe('authorization of the transaction APIs', () => {
  let broker: BrokerProcess;
  let c: KafkaConnection;

  beforeAll(async () => {
    broker = await BrokerProcess.start({ 'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer', 'allow.everyone.if.no.acl.found': 'true' });
    const kafka = new Kafka({ clientId: 'txn-acl-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'free-t' }, { topic: 'bob-t' }] });
    await admin.disconnect();
    c = await KafkaConnection.open('127.0.0.1', broker.port, 'txn-acl-test');
    // This test's connections are User:ANONYMOUS: what an ACL names only for bob is refused to them.
    const allow = (resourceType: number, resourceName: string, operation: number, patternType: number = PatternType.PREFIXED) =>
      ({ resourceType, resourceName, resourcePatternType: patternType, principal: 'User:bob', host: '*', operation, permissionType: AclPermission.ALLOW });
    const acls = await c.send(createAclsApi, 3, {
      creations: [allow(ResourceType.TRANSACTIONAL_ID, 'bob-', Op.ALL), allow(ResourceType.TOPIC, 'bob-', Op.ALL), allow(ResourceType.GROUP, 'bob-', Op.ALL), allow(ResourceType.CLUSTER, CLUSTER_NAME, Op.CLUSTER_ACTION, PatternType.LITERAL)],
    });
    expect(acls.results.map((r) => r.errorCode)).toEqual([0, 0, 0, 0]);
  });

  afterAll(async () => {
    await c?.close();
    await broker?.destroy();
  });

  it('answers TRANSACTIONAL_ID, TOPIC, GROUP and CLUSTER_AUTHORIZATION_FAILED as Kafka does', async () => {
    const found = await c.send(findCoordinatorApi, 4, { key: '', keyType: 1, coordinatorKeys: ['free-tx', 'bob-tx'] });
    expect(found.coordinators.map((k) => [k.key, k.errorCode])).toEqual([['free-tx', ErrorCode.NONE], ['bob-tx', ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED]]);
    const init = await c.send(initProducerIdApi, 4, { transactionalId: 'free-tx', transactionTimeoutMs: 60000, producerId: -1, producerEpoch: -1 });
    expect(init.errorCode).toBe(ErrorCode.NONE);
    const add = (transactionalId: string, topics: string[]) =>
      c.send(addPartitionsToTxnApi, 3, { transactions: [], v3AndBelowTransactionalId: transactionalId, v3AndBelowProducerId: init.producerId, v3AndBelowProducerEpoch: init.producerEpoch, v3AndBelowTopics: topics.map((name) => ({ name, partitions: [0] })) });
    const codes = (r: Awaited<ReturnType<typeof add>>) => r.resultsByTopicV3AndBelow.map((t) => [t.name, t.resultsByPartition[0]!.partitionErrorCode]);
    expect(codes(await add('free-tx', ['free-t', 'bob-t']))).toEqual([['free-t', ErrorCode.OPERATION_NOT_ATTEMPTED], ['bob-t', ErrorCode.TOPIC_AUTHORIZATION_FAILED]]);
    expect(codes(await add('bob-tx', ['free-t']))).toEqual([['free-t', ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED]]);
    const addOffsets = (transactionalId: string, groupId: string) => c.send(addOffsetsToTxnApi, 3, { transactionalId, producerId: init.producerId, producerEpoch: init.producerEpoch, groupId });
    expect((await addOffsets('free-tx', 'bob-group')).errorCode).toBe(ErrorCode.GROUP_AUTHORIZATION_FAILED);
    expect((await addOffsets('bob-tx', 'free-group')).errorCode).toBe(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    const end = await c.send(endTxnApi, 3, { transactionalId: 'bob-tx', producerId: init.producerId, producerEpoch: init.producerEpoch, committed: true });
    expect(end.errorCode).toBe(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    // Only brokers (CLUSTER_ACTION, here bob's) write markers.
    const markers = await c.send(writeTxnMarkersApi, 1, { markers: [{ producerId: init.producerId, producerEpoch: init.producerEpoch, transactionResult: false, coordinatorEpoch: 0, topics: [{ name: 'free-t', partitionIndexes: [0] }] }] });
    expect(markers.markers[0]!.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    const described = await c.send(describeTransactionsApi, 0, { transactionalIds: ['free-tx', 'bob-tx'] });
    expect(described.transactionStates.map((t) => [t.transactionalId, t.errorCode])).toEqual([['free-tx', ErrorCode.NONE], ['bob-tx', ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED]]);
    const listed = await c.send(listTransactionsApi, 0, { stateFilters: [], producerIdFilters: [], durationFilter: -1 });
    expect(listed.transactionStates.map((t) => t.transactionalId)).toEqual(['free-tx']);
  });
});

describe('transactions on a 3-broker cluster', () => {
  let cluster: SamsaCluster;
  let kafka: Client;

  beforeAll(async () => {
    cluster = await SamsaCluster.start({
      brokers: 3,
      // A stopped follower leaves the ISR within seconds, so writes go on without it.
      config: { 'broker.session.timeout.ms': '10000', 'replica.lag.time.max.ms': '2000', 'replica.fetch.backoff.ms': '200', 'group.initial.rebalance.delay.ms': '0' },
    });
    kafka = new Kafka({ clientId: 'txn-cluster-test', brokers: cluster.brokers.map((b) => b.bootstrap), logLevel: logLevel.NOTHING, retry: { retries: 12 } });
  }, 120_000);

  afterAll(async () => {
    for (const b of cluster?.brokers ?? []) if (b.running) b.signal('SIGCONT');
    await cluster?.stop();
  });

  it('a new coordinator completes a commit whose coordinator was killed between EndTxn and the last marker', async () => {
    const transactionalId = 'cluster-txn';
    const found = await eventually('a coordinator for the transactional id', async () => {
      const c = await KafkaConnection.open('127.0.0.1', cluster.brokers[0]!.port, 'txn-cluster-test');
      try {
        const r = await c.send(findCoordinatorApi, 4, { key: '', keyType: 1, coordinatorKeys: [transactionalId] });
        return r.coordinators[0]!.errorCode === ErrorCode.NONE ? r.coordinators[0]! : undefined;
      } finally {
        await c.close();
      }
    });
    const coordinator = found.nodeId;
    const [slow, fast] = [0, 1, 2].filter((id) => id !== coordinator) as [number, number];
    // The transaction's partitions are led by the other two brokers: its markers go there by WriteTxnMarkers.
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({
        topics: [{ topic: 'txn-cluster', replicaAssignment: [{ partition: 0, replicas: [slow, fast] }, { partition: 1, replicas: [fast, slow] }] }],
      });
    } finally {
      await admin.disconnect();
    }
    const producer = transactionalProducer(kafka, transactionalId);
    await producer.connect();
    try {
      const warmup = await producer.transaction();
      await warmup.send({ topic: 'txn-cluster', messages: [{ value: 'w0', partition: 0 }, { value: 'w1', partition: 1 }] });
      await warmup.commit();
      expect((await readValues(kafka, 'txn-cluster', false, (v) => v.length >= 2)).sort()).toEqual(['w0', 'w1']);

      const txn = await producer.transaction();
      await txn.send({ topic: 'txn-cluster', messages: [{ value: 'k0', partition: 0 }, { value: 'k1', partition: 1 }] });
      // The leader of partition 0 stops: its marker cannot be written, so the commit stays prepared.
      await cluster.kill(slow, 'SIGSTOP');
      await txn.commit();
      const prepared = await describeTransaction(cluster.brokers[coordinator]!.port, transactionalId);
      expect(prepared.transactionState).toBe('PrepareCommit');
      await cluster.kill(coordinator, 'SIGKILL');
      await cluster.kill(slow, 'SIGCONT');
    } finally {
      await producer.disconnect().catch(() => {});
    }
    // Both records of the transaction become visible, and nothing else: the new coordinator finished it.
    const values = await readValues(kafka, 'txn-cluster', false, (v) => v.includes('k0') && v.includes('k1'));
    expect(values.sort()).toEqual(['k0', 'k1', 'w0', 'w1']);
    const completed = await eventually(
      'the new coordinator to record the commit as complete',
      async () => {
        for (const id of [slow, fast]) {
          const d = await describeTransaction(cluster.brokers[id]!.port, transactionalId);
          if (d.errorCode === ErrorCode.NONE) return d.transactionState === 'CompleteCommit' ? d : undefined;
        }
        return undefined;
      },
      60_000,
    );
    expect(completed.topics).toEqual([]);
  }, 180_000);
});
