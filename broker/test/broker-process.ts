// Runs a real broker process (dist/broker/main.js) on free loopback ports for integration tests.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const MAIN = resolve(import.meta.dirname, '../../dist/broker/main.js');

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** SIGTERM, then SIGKILL if the process has not exited after `graceMs`; resolves on exit. */
export function terminate(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), graceMs).unref();
  });
}

export interface BrokerProcessOptions {
  dataDir?: string;
  /** See BrokerProcess.launcher. */
  launcher?: string[];
  /** See BrokerProcess.env. */
  env?: Record<string, string>;
}

// Written without parameter properties so that Node's type stripping can run it (bench/).
export class BrokerProcess {
  private child: ChildProcess | null = null;
  output = '';
  /** performance.now() when the process was last spawned. */
  launchedAt = 0;
  /**
   * The Kafka port: --port, or with the `listeners` setting the first listener's bound port
   * (known once ready; listeners with port 0 get new ports at each launch).
   */
  port: number;
  /** Bound port of each listener by name, from the 'broker ready' log line. */
  readonly listenerPorts = new Map<string, number>();
  /** Length of `output` when the process was last spawned: its ready line comes after. */
  private outputAtLaunch = 0;
  readonly httpPort: number;
  readonly dataDir: string;
  readonly config: Record<string, string>;
  readonly extraArgs: string[];
  /** Options for node itself, before the script (e.g. --cpu-prof). */
  nodeArgs: string[] = [];
  /** A command that runs node, e.g. ['prlimit', '--nofile=256:256'] (it must exec, keeping the pid). */
  launcher: string[] = [];
  /** Environment variables added to the test's own (e.g. KUBECONFIG for a Kubernetes metadata store). */
  env: Record<string, string> | undefined;

  private constructor(port: number, httpPort: number, dataDir: string, config: Record<string, string>, extraArgs: string[]) {
    this.port = port;
    this.httpPort = httpPort;
    this.dataDir = dataDir;
    this.config = config;
    this.extraArgs = extraArgs;
  }

  /** `extraArgs` go to the command line as they are (e.g. --advertised-port). */
  static async start(config: Record<string, string> = {}, extraArgs: string[] = [], nodeArgs: string[] = [], options: BrokerProcessOptions = {}): Promise<BrokerProcess> {
    const broker = await BrokerProcess.create(config, extraArgs, nodeArgs, options);
    await broker.launch();
    return broker;
  }

  /** Picks free ports and a data directory; does not launch. */
  static async create(config: Record<string, string> = {}, extraArgs: string[] = [], nodeArgs: string[] = [], options: BrokerProcessOptions = {}): Promise<BrokerProcess> {
    const port = config.listeners === undefined ? await freePort() : 0;
    const broker = new BrokerProcess(port, await freePort(), options.dataDir ?? mkdtempSync(join(tmpdir(), 'samsa-test-')), config, extraArgs);
    broker.nodeArgs = nodeArgs;
    broker.launcher = options.launcher ?? [];
    broker.env = options.env;
    return broker;
  }

  get pid(): number {
    return this.child?.pid ?? -1;
  }

  get bootstrap(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** 127.0.0.1 and the bound port of the listener `name` (with the `listeners` setting). */
  bootstrapOn(name: string): string {
    const port = this.listenerPorts.get(name);
    if (port === undefined) throw new Error(`broker has no listener ${name} (listeners: ${[...this.listenerPorts.keys()].join(', ') || 'not ready yet'})`);
    return `127.0.0.1:${port}`;
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  /** True while the process has been spawned and has not exited (stopped with SIGSTOP counts). */
  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Starts the process on the same ports and data directory and, unless `wait` is false,
   * waits until /readyz says ready (see waitReady).
   */
  async launch(options: { wait?: boolean; readyTimeoutMs?: number } = {}): Promise<void> {
    const args = [...this.nodeArgs, MAIN, ...(this.config.listeners === undefined ? ['--port', String(this.port)] : []), '--http-port', String(this.httpPort), '--data-dir', this.dataDir];
    this.listenerPorts.clear();
    this.outputAtLaunch = this.output.length;
    for (const [k, v] of Object.entries(this.config)) args.push('--config', `${k}=${v}`);
    args.push(...this.extraArgs);
    this.launchedAt = performance.now();
    const [command, ...prefix] = [...this.launcher, process.execPath];
    const child = spawn(command!, [...prefix, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: this.env && { ...process.env, ...this.env } });
    this.child = child;
    child.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    if (options.wait !== false) await this.waitReady(options.readyTimeoutMs);
  }

  /**
   * Polls /readyz until it answers 200; fails when the process exits first or time runs out.
   * The limit only bounds a broker that never gets ready: a loaded machine (two cores running
   * Java clients beside it) can take well over 20 s to start a Node process.
   */
  async waitReady(timeoutMs = 60_000): Promise<void> {
    const child = this.child;
    if (!child) throw new Error('broker not launched');
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`broker exited with ${child.exitCode ?? child.signalCode}:\n${this.output}`);
      try {
        const res = await fetch(`${this.httpUrl}/readyz`);
        // The ready line may reach this process's pipe just after /readyz answers; only brokers
        // with the listeners setting need it (their ports are in it).
        if (res.status === 200 && (this.readListenerPorts() || this.config.listeners === undefined)) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`broker not ready within ${timeoutMs / 1000}s:\n${this.output}`);
  }

  /** Learns the listeners' ports from this launch's 'broker ready' line; false until it has arrived. */
  private readListenerPorts(): boolean {
    const line = this.output.slice(this.outputAtLaunch).split('\n').find((l) => l.includes('"msg":"broker ready"') && l.endsWith('}'));
    if (!line) return false;
    const ready = JSON.parse(line) as { listeners?: Record<string, { bound: string }> };
    for (const [name, { bound }] of Object.entries(ready.listeners ?? {})) this.listenerPorts.set(name, Number(bound.slice(bound.lastIndexOf(':') + 1)));
    if (this.config.listeners !== undefined) this.port = this.listenerPorts.values().next().value!;
    return true;
  }

  /** Sends a signal without waiting (SIGSTOP/SIGCONT to pause and resume it). */
  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  private waitExit(): Promise<number | null> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child?.exitCode ?? null);
    return new Promise((r) => child.once('exit', (code) => r(code)));
  }

  /** SIGTERM and wait: the clean shutdown path. Resolves with the exit code. */
  async stop(): Promise<number | null> {
    const exited = this.waitExit();
    this.child?.kill('SIGTERM');
    // A paused process would not act on SIGTERM until continued.
    this.child?.kill('SIGCONT');
    return exited;
  }

  /** SIGKILL: no shutdown code runs at all. */
  async kill(): Promise<void> {
    const exited = this.waitExit();
    this.child?.kill('SIGKILL');
    await exited;
  }

  async restart(hard = false): Promise<void> {
    if (hard) await this.kill();
    else await this.stop();
    await this.launch();
  }

  async destroy(): Promise<void> {
    await this.kill();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
