// Where a Samsa broker spends its CPU on the produce and fetch paths: runs the broker under
// node --cpu-prof while kcat produces and then consumes, and while @platformatic/kafka produces
// as bench/compare.ts does (1000 records a send, each awaited, acks=1), and prints the functions
// with the most self time (and the share of idle time) from the profile.
//   npm run bench:profile -- [--records 1000000] [--size 100] [--phases produce,fetch,platformatic]
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Producer } from '@platformatic/kafka';
import { BrokerProcess } from '../broker/test/broker-process.ts';

const PHASES = ['produce', 'fetch', 'platformatic'] as const;
const { values } = parseArgs({
  options: { records: { type: 'string', default: '1000000' }, size: { type: 'string', default: '100' }, phases: { type: 'string', default: PHASES.join(',') } },
});
const RECORDS = Number(values.records);
const SIZE = Number(values.size);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

function topSelfTime(file: string, top = 25): Array<{ name: string; share: number }> {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[] };
  const counts = new Map<number, number>();
  for (const id of profile.samples) counts.set(id, (counts.get(id) ?? 0) + 1);
  const byFunction = new Map<string, number>();
  for (const node of profile.nodes) {
    const hits = counts.get(node.id) ?? 0;
    if (hits === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url ? `${url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${lineNumber + 1}` : '';
    const name = `${functionName || '(anonymous)'} ${where}`.trim();
    byFunction.set(name, (byFunction.get(name) ?? 0) + hits);
  }
  const total = profile.samples.length;
  return [...byFunction.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, hits]) => ({ name, share: hits / total }));
}

/** The records as bench/compare.ts sends them: sends of 1000, each awaited before the next. */
async function producePlatformatic(bootstrap: string): Promise<void> {
  const producer = new Producer({ clientId: 'profile', bootstrapBrokers: [bootstrap], autocreateTopics: true });
  try {
    const messages = Array.from({ length: 1000 }, () => ({ topic: 'profiled', value: Buffer.alloc(SIZE, 'p') }));
    for (let i = 0; i < RECORDS; i += 1000) await producer.send({ messages, acks: 1 });
  } finally {
    await producer.close();
  }
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'samsa-profile-'));
  const payload = join(work, 'payload.txt');
  const chunk = ('p'.repeat(SIZE - 1) + '\n').repeat(1000);
  writeFileSync(payload, '');
  for (let i = 0; i < RECORDS; i += 1000) appendFileSync(payload, chunk);
  const described = {
    produce: 'produced with kcat, acks=1, linger.ms=5',
    fetch: 'produced once with kcat and fetched three times',
    platformatic: 'produced with @platformatic/kafka, 1000 records a send, each awaited, acks=1',
  };
  const phases = PHASES.filter((p) => values.phases.split(',').includes(p));
  for (const phase of phases) {
    const profiles = join(work, phase);
    const broker = await BrokerProcess.start({}, [], ['--cpu-prof', `--cpu-prof-dir=${profiles}`]);
    let seconds: number;
    try {
      const produce = () => execFileSync('kcat', ['-b', broker.bootstrap, '-P', '-t', 'profiled', '-l', payload, '-X', 'acks=1', '-X', 'linger.ms=5'], { stdio: 'ignore' });
      const consume = () => execFileSync('kcat', ['-b', broker.bootstrap, '-C', '-t', 'profiled', '-o', 'beginning', '-e', '-q', '-c', String(RECORDS)], { stdio: 'ignore', maxBuffer: 1 << 30 });
      const started = performance.now();
      if (phase === 'platformatic') await producePlatformatic(broker.bootstrap);
      else produce();
      if (phase === 'fetch') {
        // The profile covers produce too; consume three times so that fetch dominates it.
        for (let i = 0; i < 3; i++) consume();
      }
      seconds = (performance.now() - started) / 1000;
    } finally {
      await broker.stop();
    }
    const file = join(profiles, readdirSync(profiles).find((f) => f.endsWith('.cpuprofile'))!);
    console.log(`\n${phase} path (${RECORDS} records of ${SIZE} B, ${described[phase]}; ${seconds.toFixed(1)} s): top self time`);
    for (const { name, share } of topSelfTime(file)) console.log(`${(share * 100).toFixed(1).padStart(5)}%  ${name}`);
    await broker.destroy();
  }
  rmSync(work, { recursive: true, force: true });
}

await main();
