// The fsync policy, observed on a real broker process: strace counts the fsync calls the broker
// makes while records are produced. By default (Kafka's: never) appends are left to the page
// cache; flush.messages=N syncs after every N records; flush.ms syncs records that have waited
// that long, checked every log.flush.scheduler.interval.ms.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../protocol/client.js';
import { ErrorCode } from '../protocol/errors.js';
import { produceApi } from '../protocol/messages/index.js';
import { buildRecordBatch } from '../records/batch-builder.js';
import { BrokerProcess } from './broker-process.js';
import { mustCreateTopic } from './topics.js';

let broker: BrokerProcess | undefined;
let tracer: ChildProcess | undefined;
const work = mkdtempSync(join(tmpdir(), 'samsa-flush-'));

afterEach(async () => {
  tracer?.kill('SIGKILL');
  tracer = undefined;
  await broker?.destroy();
  broker = undefined;
});

/** Attaches strace to the broker's main thread (where fs calls run); resolves once attached. */
function traceFsyncs(pid: number, out: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn('strace', ['-p', String(pid), '-e', 'trace=fsync,fdatasync', '-o', out], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('attached')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`strace exited with ${code}: ${err}`)));
  });
}

const fsyncs = (out: string) => readFileSync(out, 'utf8').split('\n').filter((l) => /^(fsync|fdatasync)\(/.test(l)).length;

async function produce(c: KafkaConnection, topic: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const res = await c.send(produceApi, 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records: buildRecordBatch([{ value: Buffer.from(`r${i}`) }]) }] }] });
    expect(res.responses[0]!.partitionResponses[0]!.errorCode).toBe(ErrorCode.NONE);
  }
}

describe('fsync policy', () => {
  it('syncs never by default, every flush.messages records, and after flush.ms', async () => {
    // The scheduler runs often here; log.flush.interval.ms is set so that it does not default to it.
    broker = await BrokerProcess.start({ 'log.flush.scheduler.interval.ms': '50', 'log.flush.interval.ms': '9223372036854775807' });
    const c = await KafkaConnection.open('127.0.0.1', broker.port);
    await mustCreateTopic(c, 'page-cache');
    await mustCreateTopic(c, 'every-five', { configs: { 'flush.messages': '5' } });
    await mustCreateTopic(c, 'timed', { configs: { 'flush.ms': '200' } });
    const out = join(work, 'strace.out');
    tracer = await traceFsyncs(broker.pid, out);

    await produce(c, 'page-cache', 20);
    expect(fsyncs(out)).toBe(0);
    await produce(c, 'every-five', 20);
    expect(fsyncs(out)).toBe(4);

    await produce(c, 'timed', 1);
    for (let waited = 0; fsyncs(out) < 5 && waited < 10_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    expect(fsyncs(out)).toBe(5);
    await c.close();
    rmSync(work, { recursive: true, force: true });
  });
});
