// Runs Apache Kafka (the pinned release of scripts/kafka/pom.xml) as a single-node
// KRaft broker on free loopback ports: the reference for benchmarks and compatibility tests.
// Written without parameter properties so that Node's type stripping can run it (bench/).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createConnection } from 'node:net';
import { freePort, terminate } from './broker-process.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
export const KAFKA_LIB = join(ROOT, '.cache/kafka/lib');

/** Fetches Apache Kafka from Maven Central when it is not cached yet. */
export function ensureKafka(): void {
  execFileSync('sh', [join(ROOT, 'scripts/maven-deps.sh'), 'scripts/kafka/pom.xml', '.cache/kafka/lib'], { stdio: 'inherit' });
}

/** JVM settings of Kafka's own start scripts (kafka-server-start.sh, kafka-run-class.sh). */
const BROKER_JVM = ['-Xmx1G', '-Xms1G', '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-XX:InitiatingHeapOccupancyPercent=35', '-XX:+ExplicitGCInvokesConcurrent', '-Djava.awt.headless=true'];
const QUIET = ['-Dorg.slf4j.simpleLogger.defaultLogLevel=warn', '-Dorg.slf4j.simpleLogger.logFile=System.err'];

/** Runs one of Kafka's main classes (tools, CLI commands) and returns its standard output. */
export function kafkaTool(mainClass: string, args: string[], timeoutMs = 120_000): string {
  return execFileSync('java', [...QUIET, '-Xmx512M', '-cp', `${KAFKA_LIB}/*`, mainClass, ...args], { timeout: timeoutMs, maxBuffer: 64 << 20 }).toString();
}

/** A cluster id as Kafka's own tool makes them: 16 random bytes, base64url. */
export function randomClusterId(): string {
  return randomBytes(16).toString('base64url');
}

export class KafkaProcess {
  private child: ChildProcess | null = null;
  output = '';
  /** performance.now() when the process was last spawned. */
  launchedAt = 0;
  readonly port: number;
  readonly controllerPort: number;
  readonly dir: string;

  private constructor(port: number, controllerPort: number, dir: string) {
    this.port = port;
    this.controllerPort = controllerPort;
    this.dir = dir;
  }

  get bootstrap(): string {
    return `127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.child?.pid ?? -1;
  }

  /** Writes server.properties and formats the storage with `clusterId`; does not launch. */
  static async create(settings: Record<string, string> = {}, clusterId = randomClusterId()): Promise<KafkaProcess> {
    ensureKafka();
    const kafka = new KafkaProcess(await freePort(), await freePort(), mkdtempSync(join(tmpdir(), 'kafka-ref-')));
    const properties = {
      'process.roles': 'broker,controller',
      'node.id': '1',
      'controller.quorum.voters': `1@127.0.0.1:${kafka.controllerPort}`,
      listeners: `PLAINTEXT://127.0.0.1:${kafka.port},CONTROLLER://127.0.0.1:${kafka.controllerPort}`,
      'advertised.listeners': `PLAINTEXT://127.0.0.1:${kafka.port}`,
      'controller.listener.names': 'CONTROLLER',
      'inter.broker.listener.name': 'PLAINTEXT',
      'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      'log.dirs': kafka.logDir,
      'offsets.topic.replication.factor': '1',
      'transaction.state.log.replication.factor': '1',
      'transaction.state.log.min.isr': '1',
      'group.initial.rebalance.delay.ms': '0',
      ...settings,
    };
    writeFileSync(kafka.propertiesFile, Object.entries(properties).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
    // `--cluster-id=<id>` in one argument: a random id may begin with '-', which as a separate
    // argument the tool's parser takes for an option.
    kafkaTool('kafka.tools.StorageTool', ['format', `--cluster-id=${clusterId}`, '-c', kafka.propertiesFile]);
    return kafka;
  }

  static async start(settings: Record<string, string> = {}): Promise<KafkaProcess> {
    const kafka = await KafkaProcess.create(settings);
    await kafka.launch();
    return kafka;
  }

  get propertiesFile(): string {
    return join(this.dir, 'server.properties');
  }

  get logDir(): string {
    return join(this.dir, 'logs');
  }

  private async launch(): Promise<void> {
    this.launchedAt = performance.now();
    const child = spawn('java', [...BROKER_JVM, ...QUIET, '-cp', `${KAFKA_LIB}/*`, 'kafka.Kafka', this.propertiesFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`Kafka exited with ${child.exitCode}:\n${this.output}`);
      if (await this.answersMetadata()) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`Kafka not ready within 60s:\n${this.output}`);
  }

  /** True once the listener accepts a connection and answers an ApiVersions request. */
  private answersMetadata(): Promise<boolean> {
    return new Promise((resolveReady) => {
      const socket = createConnection({ host: '127.0.0.1', port: this.port });
      const request = Buffer.from([0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0xff, 0xff]);
      socket.once('connect', () => socket.write(request));
      socket.once('data', () => {
        socket.destroy();
        resolveReady(true);
      });
      socket.once('error', () => resolveReady(false));
      setTimeout(() => {
        socket.destroy();
        resolveReady(false);
      }, 2000).unref();
    });
  }

  async stop(): Promise<void> {
    if (this.child) await terminate(this.child, 30_000);
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
