// A Samsa cluster of real broker processes sharing one real etcd, for tests, benchmarks and the
// operator's tests: node ids 0..N-1, each broker on its own free ports and data directory, all
// naming the same `etcd://…/samsa/<random>` metadata URL (or another store the caller gives).
// Written without parameter properties so that Node's type stripping can run it (bench/).
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { BrokerProcess } from './broker-process.ts';
import { EtcdProcess } from './etcd-process.ts';

export interface SamsaClusterOptions {
  brokers: number;
  /** Broker settings (--config) every broker gets, e.g. listeners and their TLS files. */
  config?: Record<string, string>;
  /** `broker.rack` of broker i is racks[i % racks.length]. */
  racks?: string[];
  /** An etcd to use (left running by stop()); by default the cluster starts its own. */
  etcd?: EtcdProcess;
  /** Another metadata store instead of etcd (e.g. kubernetes://ns/name), with the environment the brokers need to reach it. */
  store?: { url: string; env?: Record<string, string> };
  /** Further command-line options of every broker (e.g. --log-level debug). */
  extraArgs?: string[];
  /** How long each broker may take to become ready (registered in the cluster). */
  readyTimeoutMs?: number;
}

export class SamsaCluster {
  readonly brokers: BrokerProcess[];
  readonly metadataUrl: string;
  private readonly etcdProcess: EtcdProcess | undefined;
  private readonly ownsEtcd: boolean;
  private readonly readyTimeoutMs: number;
  private readonly options: SamsaClusterOptions;

  private constructor(brokers: BrokerProcess[], etcd: EtcdProcess | undefined, metadataUrl: string, ownsEtcd: boolean, readyTimeoutMs: number, options: SamsaClusterOptions) {
    this.brokers = brokers;
    this.etcdProcess = etcd;
    this.metadataUrl = metadataUrl;
    this.ownsEtcd = ownsEtcd;
    this.readyTimeoutMs = readyTimeoutMs;
    this.options = options;
  }

  /** Starts etcd (unless given, or another store is) and the brokers, all at once, and waits until every broker is ready. */
  static async start(options: SamsaClusterOptions): Promise<SamsaCluster> {
    if (!Number.isInteger(options.brokers) || options.brokers < 1) throw new Error(`brokers must be a positive integer, got ${options.brokers}`);
    const etcd = options.store ? undefined : (options.etcd ?? (await EtcdProcess.start()));
    const metadataUrl = options.store?.url ?? etcd!.url(`samsa/${randomBytes(6).toString('hex')}`);
    const brokers: BrokerProcess[] = [];
    const cluster = new SamsaCluster(brokers, etcd, metadataUrl, !options.store && options.etcd === undefined, options.readyTimeoutMs ?? 60_000, options);
    try {
      for (let id = 0; id < options.brokers; id++) brokers.push(await cluster.createBroker(id));
      // Launched together: a broker may wait for the others (a controller, replicas) to be ready.
      for (const broker of brokers) await broker.launch({ wait: false });
      await Promise.all(brokers.map((broker) => broker.waitReady(cluster.readyTimeoutMs)));
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  private createBroker(id: number): Promise<BrokerProcess> {
    const config = { ...this.options.config };
    if (this.options.racks?.length) config['broker.rack'] = this.options.racks[id % this.options.racks.length]!;
    return BrokerProcess.create(config, ['--node-id', String(id), '--metadata', this.metadataUrl, ...(this.options.extraArgs ?? [])], [], { env: this.options.store?.env });
  }

  /** Starts one more broker (the next node id, the same settings) and waits until it is ready: a scale-up. */
  async addBroker(): Promise<BrokerProcess> {
    const broker = await this.createBroker(this.brokers.length);
    this.brokers.push(broker);
    await broker.launch({ readyTimeoutMs: this.readyTimeoutMs });
    return broker;
  }

  /** The cluster's etcd (a cluster on another store has none). */
  get etcd(): EtcdProcess {
    if (!this.etcdProcess) throw new Error(`this cluster keeps its metadata in ${this.metadataUrl}, not in an etcd`);
    return this.etcdProcess;
  }

  /** Every broker's listener, comma-separated (a client's bootstrap.servers). */
  get bootstrap(): string {
    return this.brokers.map((b) => b.bootstrap).join(',');
  }

  /** Every broker's listener `name` (see BrokerProcess.bootstrapOn), comma-separated. */
  bootstrapOn(name: string): string {
    return this.brokers.map((b) => b.bootstrapOn(name)).join(',');
  }

  broker(nodeId: number): BrokerProcess {
    const broker = this.brokers[nodeId];
    if (!broker) throw new Error(`no broker with node id ${nodeId} (0..${this.brokers.length - 1})`);
    return broker;
  }

  /** SIGKILL (resolves once the process is gone), SIGSTOP or SIGCONT (resolve at once). */
  async kill(nodeId: number, signal: 'SIGKILL' | 'SIGSTOP' | 'SIGCONT' = 'SIGKILL'): Promise<void> {
    const broker = this.broker(nodeId);
    if (signal === 'SIGKILL') await broker.kill();
    else broker.signal(signal);
  }

  /** Stops the broker (SIGTERM, unless it is already gone) and starts it on the same ports and data. */
  async restart(nodeId: number): Promise<void> {
    const broker = this.broker(nodeId);
    if (broker.running) await broker.stop();
    await broker.launch({ readyTimeoutMs: this.readyTimeoutMs });
  }

  /** Stops every broker (SIGTERM, all at once), removes their data, and stops etcd if it is ours. */
  async stop(): Promise<void> {
    await Promise.all(this.brokers.map((b) => stopWithin(b, 30_000)));
    for (const b of this.brokers) rmSync(b.dataDir, { recursive: true, force: true });
    if (this.ownsEtcd) await this.etcdProcess?.stop();
  }
}

/** SIGTERM, then SIGKILL if the broker has not exited in time (a stuck shutdown must not hang a test). */
async function stopWithin(broker: BrokerProcess, graceMs: number): Promise<void> {
  if (!broker.running) return;
  const timer = setTimeout(() => broker.signal('SIGKILL'), graceMs);
  try {
    await broker.stop();
  } finally {
    clearTimeout(timer);
  }
}
