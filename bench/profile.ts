// Where a Samsa broker spends its CPU on the produce and fetch paths: runs the broker under
// node --cpu-prof while kcat produces and then consumes, and prints the functions with the most
// self time (and the share of idle time) from the profile.
//   npm run bench:profile -- [--records 1000000] [--size 100]
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BrokerProcess } from '../broker/test/broker-process.ts';

const { values } = parseArgs({ options: { records: { type: 'string', default: '1000000' }, size: { type: 'string', default: '100' } } });
const RECORDS = Number(values.records);
const SIZE = Number(values.size);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

function topSelfTime(file: string, top = 15): Array<{ name: string; share: number }> {
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

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'samsa-profile-'));
  const payload = join(work, 'payload.txt');
  const chunk = ('p'.repeat(SIZE - 1) + '\n').repeat(1000);
  writeFileSync(payload, '');
  for (let i = 0; i < RECORDS; i += 1000) appendFileSync(payload, chunk);
  for (const phase of ['produce', 'fetch'] as const) {
    const profiles = join(work, phase);
    const broker = await BrokerProcess.start({}, [], ['--cpu-prof', `--cpu-prof-dir=${profiles}`]);
    try {
      const produce = () => execFileSync('kcat', ['-b', broker.bootstrap, '-P', '-t', 'profiled', '-l', payload, '-X', 'acks=1', '-X', 'linger.ms=5'], { stdio: 'ignore' });
      const consume = () => execFileSync('kcat', ['-b', broker.bootstrap, '-C', '-t', 'profiled', '-o', 'beginning', '-e', '-q', '-c', String(RECORDS)], { stdio: 'ignore', maxBuffer: 1 << 30 });
      produce();
      if (phase === 'fetch') {
        // The profile covers produce too; consume three times so that fetch dominates it.
        for (let i = 0; i < 3; i++) consume();
      }
    } finally {
      await broker.stop();
    }
    const file = join(profiles, readdirSync(profiles).find((f) => f.endsWith('.cpuprofile'))!);
    console.log(`\n${phase} path (${RECORDS} records of ${SIZE} B${phase === 'fetch' ? ', produced once and fetched three times' : ''}): top self time`);
    for (const { name, share } of topSelfTime(file)) console.log(`${(share * 100).toFixed(1).padStart(5)}%  ${name}`);
    await broker.destroy();
  }
  rmSync(work, { recursive: true, force: true });
}

await main();
