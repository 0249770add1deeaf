// `npm run cluster` (scripts/cluster.ts) as a user runs it: bad flags are refused with exit code
// 2; real etcd and broker processes come up and form one cluster, and SIGINT stops every child
// (the brokers cleanly, then etcd). The script is run with node directly: npm run's build step
// is the same one every test here relies on.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { freePort } from './broker-process.ts';

const SCRIPT = resolve(import.meta.dirname, '../../scripts/cluster.ts');
const NODE_ARGS = ['--experimental-strip-types', '--no-warnings', SCRIPT];

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolveFree) => {
    const server = createServer();
    server.once('error', () => resolveFree(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolveFree(true)));
  });
}

/** The first of `count` consecutive free ports. */
async function freePorts(count: number): Promise<number> {
  for (;;) {
    const base = await freePort();
    if (base + count > 65535) continue;
    let free = true;
    for (let p = base + 1; p < base + count && free; p++) free = await portIsFree(p);
    if (free) return base;
  }
}

/** Pids whose parent is `pid`, from /proc. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return out;
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((r) => child.once('exit', (code) => r(code)));
}

describe('npm run cluster', () => {
  it('refuses bad flags with a clear error and exit code 2', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--brokers', '0'], /^cluster: --brokers must be an integer from 1 to 100, got "0"/],
      [['--brokers', 'three'], /^cluster: --brokers must be an integer from 1 to 100, got "three"/],
      [['--bogus'], /^cluster: Unknown option '--bogus'/],
      [['--racks', 'a,,b'], /^cluster: --racks takes comma-separated rack names, got "a,,b"/],
      [['--base-port', '9644'], /^cluster: port 9644 would be used twice/],
      [['--config', 'novalue'], /^cluster: --config takes NAME=VALUE, got "novalue"/],
    ];
    for (const [args, message] of cases) {
      const run = spawnSync(process.execPath, [...NODE_ARGS, ...args], { encoding: 'utf8', timeout: 30_000 });
      expect(run.status, args.join(' ')).toBe(2);
      expect(run.stderr).toMatch(message);
      expect(run.stdout).toBe('');
    }
  });

  it('starts etcd and 2 brokers that form one cluster, and SIGINT stops them all, brokers cleanly first', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'samsa-dev-cluster-'));
    const basePort = await freePorts(2);
    const baseHttpPort = await freePorts(2);
    const etcdPort = await freePorts(2);
    const script = spawn(process.execPath, [...NODE_ARGS, '--brokers', '2', '--racks', 'r1,r2', '--base-port', String(basePort), '--base-http-port', String(baseHttpPort), '--etcd-port', String(etcdPort), '--data-dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    script.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    script.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    let children: number[] = [];
    try {
      const bootstrap = await new Promise<string>((resolveReady, reject) => {
        const timer = setTimeout(() => reject(new Error(`no bootstrap line within 120 s:\n${stdout}\n${stderr}`)), 120_000);
        script.once('exit', (code) => reject(new Error(`cluster script exited with ${code}:\n${stdout}\n${stderr}`)));
        const check = () => {
          const m = /^bootstrap: (\S+)$/m.exec(stdout);
          if (m) {
            clearTimeout(timer);
            resolveReady(m[1]!);
          }
        };
        script.stdout!.on('data', check);
      });
      expect(bootstrap).toBe(`127.0.0.1:${basePort},127.0.0.1:${basePort + 1}`);
      children = childrenOf(script.pid!);
      expect(children).toHaveLength(3);
      const commandLines = children.map((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'));
      for (const id of [0, 1]) {
        const broker = commandLines.find((args) => args[args.indexOf('--node-id') + 1] === String(id));
        expect(broker).toEqual(expect.arrayContaining(['--metadata', `etcd://127.0.0.1:${etcdPort}/samsa/dev`, `broker.rack=r${id + 1}`]));
      }

      const kafka = new kafkajs.Kafka({ clientId: 'dev-cluster-test', brokers: bootstrap.split(','), logLevel: kafkajs.logLevel.NOTHING });
      const admin = kafka.admin();
      await admin.connect();
      try {
        const described = await admin.describeCluster();
        expect(described.brokers.map((b) => [b.nodeId, b.port]).sort()).toEqual([[0, basePort], [1, basePort + 1]]);
      } finally {
        await admin.disconnect();
      }
      for (const id of [0, 1]) {
        const log = readFileSync(join(dir, `broker-${id}.log`), 'utf8');
        expect(JSON.parse(log.split('\n')[0]!)).toHaveProperty('level');
      }

      script.kill('SIGINT');
      expect(await exited(script)).toBe(0);
      expect(children.filter(processExists)).toEqual([]);
      // A broker stopped by SIGTERM shuts down cleanly and leaves its marker; etcd went last.
      for (const id of [0, 1]) expect(existsSync(join(dir, `broker-${id}`, '.clean-shutdown'))).toBe(true);
      expect(stderr).toMatch(/stopping brokers\ncluster: stopping etcd\ncluster: stopped\n$/);
    } finally {
      script.kill('SIGKILL');
      for (const pid of children.filter(processExists)) process.kill(pid, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
