// Produce and consume throughput of one Samsa broker on this machine, driven by kcat
// (librdkafka) and @platformatic/kafka. Prints a table of medians over several rounds.
//   npm run bench -- [--records N] [--rounds R]
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Admin, Producer } from '@platformatic/kafka';
import { BrokerProcess } from '../broker/test/broker-process.ts';

const { values } = parseArgs({ options: { records: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '3' } } });
const RECORDS = Number(values.records);
const ROUNDS = Number(values.rounds);

interface Row {
  scenario: string;
  seconds: number[];
  records: number;
  bytes: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function timed(fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function timedAsync(fn: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function payloadFile(dir: string, size: number): string {
  const path = join(dir, `payload-${size}.txt`);
  // Written in chunks: a gigabyte does not fit in one JS string.
  const chunk = ('x'.repeat(size - 1) + '\n').repeat(1000);
  writeFileSync(path, '');
  for (let written = 0; written < RECORDS; written += 1000) appendFileSync(path, written + 1000 <= RECORDS ? chunk : chunk.slice(0, (RECORDS - written) * size));
  return path;
}

async function main(): Promise<void> {
  spawnSync('kcat', ['-V']).status === 0 || (console.error('bench needs kcat (apt-get install kcat)'), process.exit(1));
  const work = mkdtempSync(join(tmpdir(), 'samsa-bench-'));
  const broker = await BrokerProcess.start({ 'num.partitions': '1' });
  const rows: Row[] = [];
  try {
    for (const size of [100, 1024]) {
      const file = payloadFile(work, size);
      const produce: Row = { scenario: `kcat produce ${size} B, acks=1`, seconds: [], records: RECORDS, bytes: RECORDS * size };
      const consume: Row = { scenario: `kcat consume ${size} B`, seconds: [], records: RECORDS, bytes: RECORDS * size };
      for (let round = 0; round < ROUNDS; round++) {
        const topic = `kcat-${size}-${round}`;
        produce.seconds.push(timed(() => execFileSync('kcat', ['-b', broker.bootstrap, '-P', '-t', topic, '-l', file, '-X', 'acks=1', '-X', 'linger.ms=5'], { stdio: 'ignore' })));
        consume.seconds.push(timed(() => execFileSync('kcat', ['-b', broker.bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-c', String(RECORDS)], { stdio: 'ignore', maxBuffer: 1 << 30 })));
      }
      rows.push(produce, consume);
    }
    // The fsync policy's cost: the same producer on topics with flush.messages=1 (a sync per
    // append) against the default (never), with large and with small sends.
    const value = Buffer.alloc(100, 'y');
    const admin = new Admin({ clientId: 'bench-admin', bootstrapBrokers: [broker.bootstrap] });
    for (const [batch, records] of [[1000, RECORDS], [10, Math.min(RECORDS, 20_000)]] as const) {
      for (const flush of [null, '1']) {
        const row: Row = { scenario: `@platformatic/kafka produce 100 B, acks=1, ${batch}/send${flush ? `, flush.messages=${flush}` : ''}`, seconds: [], records, bytes: records * 100 };
        for (let round = 0; round < ROUNDS; round++) {
          const topic = `pk-${batch}-${flush ?? 'default'}-${round}`;
          await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1, configs: flush ? [{ name: 'flush.messages', value: flush }] : [] });
          const producer = new Producer({ clientId: 'bench', bootstrapBrokers: [broker.bootstrap] });
          const messages = Array.from({ length: batch }, () => ({ topic, value }));
          await producer.send({ messages: messages.slice(0, 1), acks: 1 });
          row.seconds.push(
            await timedAsync(async () => {
              for (let sent = 0; sent < records; sent += batch) await producer.send({ messages, acks: 1 });
            }),
          );
          await producer.close();
        }
        rows.push(row);
      }
    }
    await admin.close();
  } finally {
    await broker.stop();
    await broker.destroy();
    rmSync(work, { recursive: true, force: true });
  }

  const header = ['scenario', 'records', 'median s', 'min–max s', 'records/s', 'MB/s'];
  const table = rows.map((r) => {
    const m = median(r.seconds);
    return [r.scenario, String(r.records), m.toFixed(2), `${Math.min(...r.seconds).toFixed(2)}–${Math.max(...r.seconds).toFixed(2)}`, Math.round(r.records / m).toLocaleString('en-US'), (r.bytes / m / 1e6).toFixed(1)];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |';
  console.log(`Samsa single broker, ${ROUNDS} rounds, ${RECORDS} records per round, node ${process.version}`);
  console.log(line(header));
  console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const row of table) console.log(line(row));
}

await main();
