// The Java client's transactions (kafka-clients from Maven Central, broker/test/java/
// TransactionsCheck.java): a transactional producer and read_committed consumers see committed
// transactions and never aborted or open ones; a broker killed (SIGKILL) in the middle of a
// transaction and restarted leaves that transaction whole or gone, and the producer goes on.
// SAMSA_TEST_BROKER=kafka runs it against Apache Kafka (broker-under-test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BrokerUnderTest, startBrokerUnderTest } from './broker-under-test.js';
import { compileJava, JavaProcess, lastJsonLine, runJava } from './java-programs.js';

type ByPartition = Record<string, string[]>;

let broker: BrokerUnderTest;
let classpath: string;

beforeAll(async () => {
  classpath = compileJava('scripts/java/pom.xml', '.cache/java/lib', ['broker/test/java/TransactionsCheck.java']);
  broker = await startBrokerUnderTest();
}, 180_000);

afterAll(async () => {
  await broker?.destroy();
});

const values = (records: ByPartition) => Object.values(records).flat().map((r) => r.slice(r.indexOf('=') + 1));
const sent = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}-${i}`);

/** Each partition's records in the order they were sent (a key always goes to the same partition). */
function inSendOrder(records: ByPartition): boolean {
  return Object.values(records).every((list) => {
    const index = (r: string) => Number(r.slice(r.lastIndexOf('-') + 1));
    const prefix = (r: string) => r.slice(r.indexOf('=') + 1, r.lastIndexOf('-'));
    return list.every((r, i) => i === 0 || prefix(list[i - 1]!) !== prefix(r) || index(list[i - 1]!) < index(r));
  });
}

describe('Java client transactions', () => {
  it('read_committed sees committed transactions only, and nothing of an open one until it commits', async () => {
    const result = lastJsonLine<{ whileOpen: ByPartition; committed: ByPartition; all: ByPartition }>(
      await runJava(classpath, 'TransactionsCheck', ['commit-abort', broker.bootstrap, 'java-txn', 'java-txn-commit-abort']),
    );
    const committedTransactions = [...sent('t0', 20), ...sent('t2', 20), ...sent('t4', 20)];
    expect(values(result.whileOpen).sort()).toEqual(committedTransactions.sort());
    expect(values(result.committed).sort()).toEqual([...committedTransactions, ...sent('open', 10)].sort());
    // The aborted transactions were written: read_uncommitted reads them.
    expect(values(result.all).sort()).toEqual([...sent('t0', 20), ...sent('t1', 20), ...sent('t2', 20), ...sent('t3', 20), ...sent('t4', 20), ...sent('t5', 20), ...sent('open', 10)].sort());
    expect(Object.values(result.committed).filter((p) => p.length > 0).length).toBe(3);
    expect(inSendOrder(result.committed)).toBe(true);
  }, 120_000);

  it('a broker killed in the middle of a transaction leaves it whole or gone; the producer goes on', async () => {
    const producer = new JavaProcess(classpath, 'TransactionsCheck', ['open', broker.bootstrap, 'java-txn-kill', 'java-txn-kill']);
    try {
      await producer.waitFor(/^PENDING$/m);
      await broker.kill();
      await broker.launch();
      producer.child.stdin!.end('go\n');
      expect(await producer.exited()).toBe(0);
    } finally {
      producer.kill();
    }
    const { firstCommit } = lastJsonLine<{ firstCommit: string }>(producer.output);
    const committed = values(lastJsonLine<ByPartition>(await runJava(classpath, 'TransactionsCheck', ['consume', broker.bootstrap, 'java-txn-kill', 'read_committed', '0', '30000'])));
    const before = committed.filter((v) => v.startsWith('before-'));
    // Whole or not at all: all 50 records of the interrupted transaction, or none of them.
    expect(firstCommit === 'committed' ? before.sort() : before).toEqual(firstCommit === 'committed' ? sent('before', 50).sort() : []);
    expect(committed.filter((v) => v.startsWith('after-')).sort()).toEqual(sent('after', 50).sort());
    // The interrupted transaction's records were in the log all along (written before the kill).
    const all = values(lastJsonLine<ByPartition>(await runJava(classpath, 'TransactionsCheck', ['consume', broker.bootstrap, 'java-txn-kill', 'read_uncommitted', '100', '30000'])));
    expect(all.filter((v) => v.startsWith('before-')).sort()).toEqual(sent('before', 50).sort());
  }, 180_000);
});
