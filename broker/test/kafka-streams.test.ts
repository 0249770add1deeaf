// A real Kafka Streams application (kafka-streams from Maven Central, broker/test/java/
// WordCount.java) with processing.guarantee=exactly_once_v2: a word count whose output, read
// read_committed, holds each word's counts 1, 2, ..., n exactly once, across a broker killed
// (SIGKILL) while the application is in the middle of its work and restarted on the same data,
// and across the application itself killed mid-transaction and started again (which resumes
// from the offsets its transactions committed).
// SAMSA_TEST_BROKER=kafka runs it against Apache Kafka (broker-under-test.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BrokerUnderTest, startBrokerUnderTest } from './broker-under-test.js';
import { compileJava, JavaProcess, lastJsonLine, runJava } from './java-programs.js';

const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima'];
const LINES = 600;
/** Lines produced before the application starts; the rest after the broker's restart. */
const FIRST = 200;

/** The same lines on every run: five words each, from a Park-Miller generator. */
function lines(): string[] {
  let seed = 13;
  const next = () => (seed = (seed * 48271) % 2147483647);
  return Array.from({ length: LINES }, () => Array.from({ length: 5 }, () => WORDS[next() % WORDS.length]).join(' '));
}

let broker: BrokerUnderTest;
let classpath: string;
let stateDir: string;

beforeAll(async () => {
  classpath = compileJava('scripts/kafka-streams/pom.xml', '.cache/kafka-streams/lib', ['broker/test/java/WordCount.java', 'broker/test/java/TransactionsCheck.java']);
  stateDir = mkdtempSync(join(tmpdir(), 'samsa-streams-'));
  broker = await startBrokerUnderTest();
}, 180_000);

afterAll(async () => {
  await broker?.destroy();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

async function produce(topic: string, batch: Array<{ key: string; value: string }>): Promise<void> {
  const kafka = new kafkajs.Kafka({ clientId: 'streams-input', brokers: [broker.bootstrap], logLevel: kafkajs.logLevel.NOTHING });
  // Idempotent: a send retried across the broker's restart must not write a line twice.
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    await producer.send({ topic, messages: batch });
  } finally {
    await producer.disconnect();
  }
}

describe('Kafka Streams exactly_once_v2', () => {
  it('counts every word exactly once across a broker and then the application killed mid-run', async () => {
    const admin = new kafkajs.Kafka({ clientId: 'streams-admin', brokers: [broker.bootstrap], logLevel: kafkajs.logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'words-in', numPartitions: 3 }, { topic: 'words-out', numPartitions: 3 }] });
    await admin.disconnect();
    const input = lines().map((value, i) => ({ key: `line-${i}`, value }));
    await produce('words-in', input.slice(0, FIRST));

    const wordCount = () => new JavaProcess(classpath, 'WordCount', [broker.bootstrap, 'wordcount', 'words-in', 'words-out', stateDir]);
    const first = wordCount();
    let second: JavaProcess | undefined;
    try {
      // Lines take 5 ms each: the application is in the middle of its input, transactions open.
      await first.waitFor(/^processed 100$/m, 120_000);
      await broker.kill();
      await broker.launch();
      await produce('words-in', input.slice(FIRST));
      await first.waitFor(/^processed 350$/m, 120_000);
      first.kill();
      await first.exited();
      second = wordCount();
      const counted = lastJsonLine<Record<string, string[]>>(await runJava(classpath, 'TransactionsCheck', ['consume', broker.bootstrap, 'words-out', 'read_committed', String(LINES * 5), '100000']));
      expect(Object.values(counted).flat().length, `the restarted application's output:\n${second.output.slice(-4000)}`).toBeGreaterThanOrEqual(LINES * 5);
      second.child.stdin!.end();
      expect(await second.exited()).toBe(0);
    } finally {
      first.kill();
      second?.kill();
    }

    const expected = new Map<string, number>();
    for (const word of input.flatMap((l) => l.value.split(' '))) expected.set(word, (expected.get(word) ?? 0) + 1);
    const output = lastJsonLine<Record<string, string[]>>(await runJava(classpath, 'TransactionsCheck', ['consume', broker.bootstrap, 'words-out', 'read_committed', '0', '30000']));
    // A word's counts are in one partition, in the order they were counted: 1, 2, ..., n, each once.
    const counts = new Map<string, number[]>();
    for (const record of Object.values(output).flat()) {
      const [word, count] = record.split('=') as [string, string];
      counts.set(word, [...(counts.get(word) ?? []), Number(count)]);
    }
    // The input holds each line once (the expectation is computed from it).
    const inputRecords = lastJsonLine<Record<string, string[]>>(await runJava(classpath, 'TransactionsCheck', ['consume', broker.bootstrap, 'words-in', 'read_uncommitted', '0', '30000']));
    expect(Object.values(inputRecords).flat().sort()).toEqual(input.map((l) => `${l.key}=${l.value}`).sort());
    expect(new Set(counts.keys())).toEqual(new Set(expected.keys()));
    for (const [word, n] of expected) expect({ word, counts: counts.get(word) }).toEqual({ word, counts: Array.from({ length: n }, (_, i) => i + 1) });
  }, 300_000);
});
