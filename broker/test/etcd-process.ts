// A real single-member etcd for tests, on free ports in a temp dir, from the binary that
// scripts/control-plane/build.sh builds (a no-op once built). A missing etcd is an error,
// never a skipped test. pause()/resume() are SIGSTOP/SIGCONT: an etcd that stops answering.
// Written without parameter properties so that Node's type stripping can run it (bench/, scripts/).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, terminate } from './broker-process.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const ETCD = join(ROOT, '.cache/control-plane/bin/etcd');

/** The project's etcd, built by scripts/control-plane/build.sh when missing (a no-op once built). */
export function ensureEtcd(): string {
  if (!existsSync(ETCD)) execFileSync('sh', [join(ROOT, 'scripts/control-plane/build.sh')], { stdio: 'inherit' });
  if (!existsSync(ETCD)) throw new Error(`etcd not found at ${ETCD}: run scripts/control-plane/build.sh`);
  return ETCD;
}

export class EtcdProcess {
  output = '';
  private child: ChildProcess | undefined;

  readonly clientPort: number;
  private readonly peerPort: number;
  private readonly dir: string;

  private constructor(clientPort: number, peerPort: number, dir: string) {
    this.clientPort = clientPort;
    this.peerPort = peerPort;
    this.dir = dir;
  }

  static async start(): Promise<EtcdProcess> {
    ensureEtcd();
    const etcd = new EtcdProcess(await freePort(), await freePort(), mkdtempSync(join(tmpdir(), 'samsa-etcd-')));
    try {
      await etcd.launch();
    } catch (err) {
      await etcd.stop();
      throw err;
    }
    return etcd;
  }

  /** SIGKILL, then a new etcd on the same ports and data. */
  async restart(): Promise<void> {
    const child = this.child!;
    await new Promise<void>((resolveExit) => {
      child.once('exit', () => resolveExit());
      child.kill('SIGKILL');
    });
    await this.launch();
  }

  private async launch(): Promise<void> {
    const client = `http://127.0.0.1:${this.clientPort}`;
    const peer = `http://127.0.0.1:${this.peerPort}`;
    // Short raft ticks lower etcd's minimum lease TTL (1.5 election timeouts) to 1 s.
    const child = spawn(
      ETCD,
      [
        '--data-dir', join(this.dir, 'data'), '--listen-client-urls', client, '--advertise-client-urls', client,
        '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `default=${peer}`,
        '--heartbeat-interval', '10', '--election-timeout', '100', '--unsafe-no-fsync=true', '--log-level', 'warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    const keep = (d: Buffer) => (this.output = (this.output + d.toString()).slice(-20_000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    await this.waitHealthy(30_000);
  }

  get endpoint(): string {
    return `127.0.0.1:${this.clientPort}`;
  }

  /** A metadata URL for this etcd under `prefix`. */
  url(prefix: string): string {
    return `etcd://${this.endpoint}/${prefix}`;
  }

  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    if (this.child) {
      this.resume();
      await terminate(this.child, 5000);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child?.exitCode != null) throw new Error(`etcd exited with ${this.child.exitCode}:\n${this.output}`);
      try {
        const res = await fetch(`http://${this.endpoint}/health`);
        if (res.ok && ((await res.json()) as { health?: string }).health === 'true') return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`etcd not healthy within ${timeoutMs} ms:\n${this.output}`);
  }
}
