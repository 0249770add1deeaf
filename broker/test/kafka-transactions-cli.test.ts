// Apache Kafka's kafka-transactions.sh (org.apache.kafka.tools.TransactionsCommand, 4.0.0 from
// Maven Central) against a transaction held open by the Java client (broker/test/java/
// TransactionsCheck.java): list, describe, describe-producers, find-hanging, and abort of the
// open transaction by its start offset, after which read_committed consumers read past it; and
// find-hanging then abort of a hanging transaction (records written as transactional over the
// protocol without any coordinator knowing them).
// SAMSA_TEST_BROKER=kafka runs it against Apache Kafka (broker-under-test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../protocol/client.js';
import { ErrorCode } from '../protocol/errors.js';
import { initProducerIdApi, produceApi } from '../protocol/messages/index.js';
import { buildRecordBatch } from '../records/batch-builder.js';
import { type BrokerUnderTest, startBrokerUnderTest } from './broker-under-test.js';
import { compileJava, JavaProcess, lastJsonLine, runJava } from './java-programs.js';
import { ensureKafka } from './kafka-process.js';
import { cli } from './kafka-tools.js';
import { mustCreateTopic } from './topics.js';

let broker: BrokerUnderTest;
let classpath: string;
let producer: JavaProcess;

beforeAll(async () => {
  ensureKafka();
  classpath = compileJava('scripts/java/pom.xml', '.cache/java/lib', ['broker/test/java/TransactionsCheck.java']);
  // Kafka checks a transactional produce with the coordinator (KIP-890), which would refuse the
  // hanging transaction this test makes on purpose.
  broker = await startBrokerUnderTest({}, { 'transaction.partition.verification.enable': 'false' });
  // 50 records over two partitions in a transaction left open until stdin closes.
  producer = new JavaProcess(classpath, 'TransactionsCheck', ['open', broker.bootstrap, 'cli-txn', 'cli-txn-id']);
  await producer.waitFor(/^PENDING$/m);
}, 180_000);

afterAll(async () => {
  producer?.kill();
  await broker?.destroy();
});

const transactions = (...args: string[]) => cli('org.apache.kafka.tools.TransactionsCommand', ['--bootstrap-server', broker.bootstrap, ...args]);

/** The rows of a table the command prints (tab-separated columns under a header line). */
async function table(...args: string[]): Promise<Array<Record<string, string>>> {
  const { code, out } = await transactions(...args);
  expect(code, `${args.join(' ')}:\n${out}`).toBe(0);
  const [header, ...rows] = out.split('\n').filter((l) => l.includes('\t'));
  const names = header!.split('\t').map((c) => c.trim());
  return rows.map((row) => Object.fromEntries(row.split('\t').map((c, i) => [names[i], c.trim()])));
}

const consume = async (isolation: string) =>
  lastJsonLine<Record<string, string[]>>(await runJava(classpath, 'TransactionsCheck', ['consume', broker.bootstrap, 'cli-txn', isolation, '0', '20000']));

describe('kafka-transactions.sh', () => {
  let producerId = '';

  it('list shows the open transaction at its coordinator', async () => {
    const rows = await table('list');
    expect(rows).toEqual([{ TransactionalId: 'cli-txn-id', Coordinator: '1', ProducerId: expect.stringMatching(/^\d+$/), TransactionState: 'Ongoing', '': '' }]);
    producerId = rows[0]!.ProducerId!;
  });

  it('describe shows its producer, timeout and partitions', async () => {
    const [row, ...more] = await table('describe', '--transactional-id', 'cli-txn-id');
    expect(more).toEqual([]);
    expect(row).toMatchObject({ CoordinatorId: '1', TransactionalId: 'cli-txn-id', ProducerId: producerId, ProducerEpoch: '0', TransactionState: 'Ongoing', TransactionTimeoutMs: '300000' });
    expect(row!.TopicPartitions!.split(',').sort()).toEqual(['cli-txn-0', 'cli-txn-1']);
  });

  it('describe-producers shows the open transaction of each partition from its first offset', async () => {
    for (const partition of ['0', '1']) {
      const rows = await table('describe-producers', '--topic', 'cli-txn', '--partition', partition);
      expect(rows).toEqual([expect.objectContaining({ ProducerId: producerId, ProducerEpoch: '0', CurrentTransactionStartOffset: '0' })]);
    }
  });

  it('find-hanging finds none: the coordinator knows the open transaction and its partitions', async () => {
    // --max-transaction-timeout 0: every open transaction is a candidate, checked with the coordinator.
    expect(await table('find-hanging', '--broker-id', '1', '--max-transaction-timeout', '0')).toEqual([]);
  });

  it('abort ends the transaction in one partition by its start offset; read_committed reads past it, and its records never appear', async () => {
    const before = await consume('read_uncommitted');
    expect(before['0']!.length + before['1']!.length).toBe(50);
    const aborted = await transactions('abort', '--topic', 'cli-txn', '--partition', '0', '--start-offset', '0');
    expect(aborted.code, aborted.out).toBe(0);
    expect(await table('describe-producers', '--topic', 'cli-txn', '--partition', '0')).toEqual([expect.objectContaining({ ProducerId: producerId, CurrentTransactionStartOffset: 'None' })]);
    // Partition 0 is stable again, partition 1 is still held by the open transaction.
    expect(await consume('read_committed')).toEqual({ '0': [], '1': [] });
    // The producer commits what the coordinator holds: partition 1's records; partition 0's stay aborted.
    producer.child.stdin!.end('commit\n');
    expect(await producer.exited()).toBe(0);
    expect(lastJsonLine(producer.output)).toEqual({ firstCommit: 'committed' });
    const after = await consume('read_committed');
    expect(after['0']!.filter((r) => r.includes('=before-'))).toEqual([]);
    expect(after['1']!.filter((r) => r.includes('=before-'))).toEqual(before['1']);
    expect([...after['0']!, ...after['1']!].filter((r) => r.includes('=after-'))).toHaveLength(50);
  }, 120_000);

  it('find-hanging finds a transaction no coordinator knows, and abort ends it', async () => {
    const topic = 'cli-hanging';
    const c = await KafkaConnection.open('127.0.0.1', broker.port, 'hanging-maker');
    let producerId: number;
    try {
      await mustCreateTopic(c, topic);
      // A producer id without a transactional id, and transactional records that no AddPartitionsToTxn announced.
      const init = await c.send(initProducerIdApi, 4, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
      expect(init.errorCode).toBe(ErrorCode.NONE);
      producerId = init.producerId;
      const batch = buildRecordBatch([{ value: Buffer.from('hanging-0') }, { value: Buffer.from('hanging-1') }], { producerId, producerEpoch: init.producerEpoch, baseSequence: 0, transactional: true });
      const res = await c.send(produceApi, 9, { transactionalId: 'nobody-knows', acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records: batch }] }] });
      expect(res.responses[0]!.partitionResponses[0]).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0 });
      // A plain record after it, held back from read_committed while the transaction hangs.
      const plain = await c.send(produceApi, 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records: buildRecordBatch([{ value: Buffer.from('after') }]) }] }] });
      expect(plain.responses[0]!.partitionResponses[0]).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 2 });
    } finally {
      await c.close();
    }
    const hanging = await table('find-hanging', '--topic', topic, '--max-transaction-timeout', '0');
    expect(hanging).toEqual([expect.objectContaining({ Topic: topic, Partition: '0', ProducerId: String(producerId), StartOffset: '0' })]);
    const read = (isolation: string) => runJava(classpath, 'TransactionsCheck', ['consume', broker.bootstrap, topic, isolation, '0', '20000']).then((out) => lastJsonLine<Record<string, string[]>>(out));
    expect(await read('read_committed')).toEqual({ '0': [] });
    const aborted = await transactions('abort', '--topic', topic, '--partition', '0', '--start-offset', '0');
    expect(aborted.code, aborted.out).toBe(0);
    expect(await table('find-hanging', '--topic', topic, '--max-transaction-timeout', '0')).toEqual([]);
    // The partition is stable again: read_committed reads on past the aborted records, which it never returns.
    expect(await read('read_committed')).toEqual({ '0': ['null=after'] });
    expect(await read('read_uncommitted')).toEqual({ '0': ['null=hanging-0', 'null=hanging-1', 'null=after'] });
  }, 120_000);
});
