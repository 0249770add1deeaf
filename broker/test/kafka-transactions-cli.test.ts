// Apache Kafka's kafka-transactions.sh (org.apache.kafka.tools.TransactionsCommand, 4.0.0 from
// Maven Central) against a transaction held open by the Java client (broker/test/java/
// TransactionsCheck.java): list, describe, describe-producers, find-hanging, and abort of the
// open transaction by its start offset, after which read_committed consumers read past it.
// SAMSA_TEST_BROKER=kafka runs it against Apache Kafka (broker-under-test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BrokerUnderTest, startBrokerUnderTest } from './broker-under-test.js';
import { compileJava, JavaProcess, lastJsonLine, runJava } from './java-programs.js';
import { ensureKafka } from './kafka-process.js';
import { cli } from './kafka-tools.js';

let broker: BrokerUnderTest;
let classpath: string;
let producer: JavaProcess;

beforeAll(async () => {
  ensureKafka();
  classpath = compileJava('scripts/java/pom.xml', '.cache/java/lib', ['broker/test/java/TransactionsCheck.java']);
  broker = await startBrokerUnderTest();
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
});
