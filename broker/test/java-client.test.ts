// The Java client (kafka-clients from Maven Central) with its defaults: an idempotent producer
// with acks=all, and a consumer in a classic group that commits. Needs a JDK and Maven, which
// scripts/maven-deps.sh installs when missing; there is no skipping this test.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrokerProcess } from './broker-process.js';
import { kcatConsume } from './kcat.js';

const ROOT = resolve(import.meta.dirname, '../..');
const LIB = join(ROOT, '.cache/java/lib');
const CLASSES = join(ROOT, '.cache/java/classes');
const classpath = () => `${CLASSES}:${LIB}/*`;

let broker: BrokerProcess;

beforeAll(async () => {
  execFileSync('sh', [join(ROOT, 'scripts/maven-deps.sh'), 'scripts/java/pom.xml', '.cache/java/lib'], { stdio: 'inherit' });
  mkdirSync(CLASSES, { recursive: true });
  execFileSync('javac', ['-d', CLASSES, '-cp', `${LIB}/*`, join(ROOT, 'broker/test/java/ClientCheck.java')], { stdio: 'inherit' });
  broker = await BrokerProcess.start({ 'group.initial.rebalance.delay.ms': '0' });
}, 180_000);

afterAll(async () => {
  await broker?.destroy();
});

// Asynchronous, so the broker's output keeps flowing into this process while Java runs.
async function runJava(topic: string, group: string, count: number, compression: string): Promise<{ lastOffset: number; received: number; inOrder: boolean; committed: number }> {
  const { stdout } = await promisify(execFile)('java', ['-cp', classpath(), 'ClientCheck', broker.bootstrap, topic, group, String(count), compression], { timeout: 90_000 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as { lastOffset: number; received: number; inOrder: boolean; committed: number };
}

describe('Java client', () => {
  it.each(['none', 'gzip', 'snappy', 'lz4', 'zstd'])('produces with its defaults (%s) and consumes in a group', async (compression) => {
    const topic = `java-${compression}`;
    const result = await runJava(topic, `java-group-${compression}`, 500, compression);
    expect(result).toEqual({ lastOffset: 499, received: 500, inOrder: true, committed: 500 });
    await new Promise((r) => setTimeout(r, 100));
    expect(broker.output).toContain('created the offsets topic');
    expect(broker.output).toContain('group stable');
  }, 120_000);

  it('wrote what it produced exactly once, readable by kcat', async () => {
    const records = await kcatConsume(broker.bootstrap, 'java-zstd');
    expect(records).toHaveLength(500);
    expect(records[0]).toMatchObject({ key: 'key-0', value: 'java-0', offset: 0 });
    expect(records[499]).toMatchObject({ key: 'key-499', value: 'java-499', offset: 499 });
  });
});
