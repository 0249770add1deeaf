// Runs Apache Kafka (the pinned release of scripts/kafka/pom.xml) on free loopback ports: a
// single-node KRaft broker (KafkaProcess) or a cluster of combined broker+controller nodes
// (KafkaCluster), the reference for benchmarks and compatibility tests.
// Written without parameter properties so that Node's type stripping can run it (bench/).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createConnection } from 'node:net';
import kafkajs from 'kafkajs';
import { freePort, terminate } from './broker-process.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
export const KAFKA_LIB = join(ROOT, '.cache/kafka/lib');

/** Fetches Apache Kafka from Maven Central when it is not cached yet. */
export function ensureKafka(): void {
  execFileSync('sh', [join(ROOT, 'scripts/maven-deps.sh'), 'scripts/kafka/pom.xml', '.cache/kafka/lib'], { stdio: 'inherit' });
}

/** JVM settings of Kafka's own start scripts (kafka-server-start.sh, kafka-run-class.sh), heap aside. */
const BROKER_JVM = ['-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-XX:InitiatingHeapOccupancyPercent=35', '-XX:+ExplicitGCInvokesConcurrent', '-Djava.awt.headless=true'];
const QUIET = ['-Dorg.slf4j.simpleLogger.defaultLogLevel=warn', '-Dorg.slf4j.simpleLogger.logFile=System.err'];

/** Runs one of Kafka's main classes (tools, CLI commands) and returns its standard output. */
export function kafkaTool(mainClass: string, args: string[], timeoutMs = 120_000): string {
  return execFileSync('java', [...QUIET, '-Xmx512M', '-cp', `${KAFKA_LIB}/*`, mainClass, ...args], { timeout: timeoutMs, maxBuffer: 64 << 20 }).toString();
}

/** A cluster id as Kafka's own tool makes them: 16 random bytes, base64url. */
export function randomClusterId(): string {
  return randomBytes(16).toString('base64url');
}

export interface KafkaProcessOptions {
  /** Listener ports; free ones by default. A cluster picks them first to name its voters. */
  port?: number;
  controllerPort?: number;
  /** -Xmx and -Xms (kafka-server-start.sh's default is 1G). */
  heap?: string;
}

export class KafkaProcess {
  private child: ChildProcess | null = null;
  output = '';
  /** performance.now() when the process was last spawned. */
  launchedAt = 0;
  readonly port: number;
  readonly controllerPort: number;
  readonly dir: string;
  readonly heap: string;

  private constructor(port: number, controllerPort: number, dir: string, heap: string) {
    this.port = port;
    this.controllerPort = controllerPort;
    this.dir = dir;
    this.heap = heap;
  }

  get bootstrap(): string {
    return `127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.child?.pid ?? -1;
  }

  /** Writes server.properties and formats the storage with `clusterId`; does not launch. */
  static async create(settings: Record<string, string> = {}, clusterId = randomClusterId(), options: KafkaProcessOptions = {}): Promise<KafkaProcess> {
    ensureKafka();
    const kafka = new KafkaProcess(options.port ?? (await freePort()), options.controllerPort ?? (await freePort()), mkdtempSync(join(tmpdir(), 'kafka-ref-')), options.heap ?? '1G');
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

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the JVM on the same ports and data and, unless `wait` is false, waits until it answers. */
  async launch(options: { wait?: boolean } = {}): Promise<void> {
    this.launchedAt = performance.now();
    const jvm = [`-Xmx${this.heap}`, `-Xms${this.heap}`, ...BROKER_JVM];
    const child = spawn('java', [...jvm, ...QUIET, '-cp', `${KAFKA_LIB}/*`, 'kafka.Kafka', this.propertiesFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    // The tail only: a node of a long benchmark logs for a long time.
    const keep = (d: Buffer) => (this.output = (this.output + d.toString()).slice(-100_000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    if (options.wait !== false) await this.waitReady();
  }

  /** Waits until the listener answers Metadata with a broker; fails when the JVM exits first. */
  async waitReady(timeoutMs = 60_000): Promise<void> {
    const child = this.child;
    if (!child) throw new Error('Kafka not launched');
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`Kafka exited with ${child.exitCode ?? child.signalCode}:\n${this.output}`);
      if (await this.answersMetadata()) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`Kafka not ready within ${timeoutMs / 1000}s:\n${this.output}`);
  }

  /** Sends a signal without waiting for its effect (SIGSTOP/SIGCONT). */
  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  /** SIGKILL and wait until the JVM is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    await new Promise<void>((resolveExit) => {
      child.once('exit', () => resolveExit());
      child.kill('SIGKILL');
    });
  }

  /**
   * True once the listener answers a Metadata request (v1, no topics) that lists a broker: a KRaft
   * broker answers ApiVersions before it has caught up with the metadata log and is unfenced.
   */
  private answersMetadata(): Promise<boolean> {
    return new Promise((resolveReady) => {
      const socket = createConnection({ host: '127.0.0.1', port: this.port });
      const request = Buffer.from([0, 0, 0, 14, 0, 3, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 0, 0, 0, 0]);
      let answer = Buffer.alloc(0);
      socket.once('connect', () => socket.write(request));
      socket.on('data', (d: Buffer) => {
        answer = Buffer.concat([answer, d]);
        // size, correlation id, then the brokers array's length.
        if (answer.length < 12) return;
        socket.destroy();
        resolveReady(answer.readInt32BE(8) > 0);
      });
      socket.once('error', () => resolveReady(false));
      setTimeout(() => {
        socket.destroy();
        resolveReady(false);
      }, 2000).unref();
    });
  }

  async stop(): Promise<void> {
    if (!this.child) return;
    const stopped = terminate(this.child, 30_000);
    // A paused JVM would not act on SIGTERM until continued.
    this.child.kill('SIGCONT');
    await stopped;
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface KafkaClusterOptions {
  nodes?: number;
  /** server.properties settings every node gets (over the cluster's own). */
  settings?: Record<string, string>;
  /** Each node's -Xmx/-Xms; several 1G JVMs beside Samsa are too much for a small machine. */
  heap?: string;
}

/**
 * A KRaft cluster of combined broker+controller nodes (node ids 0..N-1, every node a voter),
 * formatted with one cluster id, on free loopback ports.
 */
export class KafkaCluster {
  readonly nodes: KafkaProcess[];
  readonly clusterId: string;

  private constructor(nodes: KafkaProcess[], clusterId: string) {
    this.nodes = nodes;
    this.clusterId = clusterId;
  }

  static async start(options: KafkaClusterOptions = {}): Promise<KafkaCluster> {
    const count = options.nodes ?? 3;
    const ports: Array<{ port: number; controllerPort: number }> = [];
    for (let id = 0; id < count; id++) ports.push({ port: await freePort(), controllerPort: await freePort() });
    const voters = ports.map((p, id) => `${id}@127.0.0.1:${p.controllerPort}`).join(',');
    const clusterId = randomClusterId();
    const replication = String(Math.min(3, count));
    const nodes: KafkaProcess[] = [];
    const cluster = new KafkaCluster(nodes, clusterId);
    try {
      for (let id = 0; id < count; id++) {
        const settings = {
          'node.id': String(id),
          'controller.quorum.voters': voters,
          'offsets.topic.replication.factor': replication,
          'transaction.state.log.replication.factor': replication,
          'transaction.state.log.min.isr': String(Math.min(2, count)),
          ...options.settings,
        };
        nodes.push(await KafkaProcess.create(settings, clusterId, { ...ports[id]!, heap: options.heap }));
      }
      // Together: a node's broker serves only once a quorum of controllers has elected a leader.
      for (const node of nodes) await node.launch({ wait: false });
      await Promise.all(nodes.map((node) => node.waitReady(120_000)));
      await cluster.waitForBrokers(count, 60_000);
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  get bootstrap(): string {
    return this.nodes.map((n) => n.bootstrap).join(',');
  }

  node(nodeId: number): KafkaProcess {
    const node = this.nodes[nodeId];
    if (!node) throw new Error(`no Kafka node with id ${nodeId} (0..${this.nodes.length - 1})`);
    return node;
  }

  /** SIGKILL (resolves once the JVM is gone), SIGSTOP or SIGCONT (resolve at once). */
  async kill(nodeId: number, signal: 'SIGKILL' | 'SIGSTOP' | 'SIGCONT' = 'SIGKILL'): Promise<void> {
    const node = this.node(nodeId);
    if (signal === 'SIGKILL') await node.kill();
    else node.signal(signal);
  }

  /** Stops the node (SIGTERM, unless already gone) and starts it on the same ports and data. */
  async restart(nodeId: number): Promise<void> {
    const node = this.node(nodeId);
    if (node.running) await node.stop();
    await node.launch({ wait: false });
    await node.waitReady(120_000);
  }

  /**
   * Waits until Metadata, asked of each live node in turn, lists `count` brokers: each node has
   * its own copy of the cluster metadata, and a client may ask any of them.
   */
  async waitForBrokers(count: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const seen = new Map<string, number>();
    for (const bootstrap of this.nodes.filter((n) => n.running).map((n) => n.bootstrap)) {
      // A fresh client per node: its first Metadata goes to its only seed broker.
      while ((seen.get(bootstrap) ?? -1) !== count) {
        if (Date.now() >= deadline) {
          const counts = [...seen].map(([node, n]) => `${node}: ${n}`).join(', ');
          throw new Error(`Kafka cluster: not every node lists ${count} brokers after ${timeoutMs / 1000}s (${counts})`);
        }
        const kafka = new kafkajs.Kafka({ clientId: 'kafka-cluster', brokers: [bootstrap], logLevel: kafkajs.logLevel.NOTHING, retry: { retries: 0 } });
        const admin = kafka.admin();
        try {
          await admin.connect();
          seen.set(bootstrap, (await admin.describeCluster()).brokers.length);
        } catch {
          // the node is still starting
        } finally {
          await admin.disconnect().catch(() => {});
        }
        if (seen.get(bootstrap) !== count) await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /** Stops every node (SIGTERM, all at once) and removes their data. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.destroy()));
  }
}
