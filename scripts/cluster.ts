// npm run cluster [-- options]: a local development cluster, one etcd and N brokers that share
// it as their metadata store. Broker i is node i, on --base-port + i (Kafka) and
// --base-http-port + i (HTTP), with its data in <data-dir>/broker-i and its log lines (pino
// JSON, untouched) in <data-dir>/broker-i.log; etcd keeps its data in <data-dir>/etcd and logs to
// <data-dir>/etcd.log. Prints the bootstrap string once every broker is ready. SIGINT (Ctrl-C)
// or SIGTERM stops the brokers cleanly (SIGTERM, wait), then etcd.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = resolve(import.meta.dirname, '..');
const MAIN = join(ROOT, 'dist/broker/main.js');
const PROJECT_ETCD = join(ROOT, '.cache/control-plane/bin/etcd');
/** A clean broker shutdown moves leaderships away first; past this it is killed. */
const BROKER_STOP_GRACE_MS = 60_000;
const ETCD_STOP_GRACE_MS = 10_000;
const READY_TIMEOUT_MS = 120_000;

const usage = `Usage: npm run cluster -- [options]

Options:
  --brokers N             Number of brokers, node ids 0..N-1 (default 3)
  --racks A,B,...         broker.rack of broker i is the (i mod count)-th name (default: none)
  --base-port PORT        Kafka port of broker 0; broker i listens on PORT+i (default 9092)
  --base-http-port PORT   HTTP port of broker 0; broker i on PORT+i (default 9644)
  --etcd-port PORT        etcd client port; its peer port is PORT+1 (default 2379)
  --data-dir DIR          Data and log files (default ./data-cluster)
  --config NAME=VALUE     A broker setting every broker gets; repeatable
  --help                  Show this help
`;

function fail(message: string): never {
  process.stderr.write(`cluster: ${message} (run with --help for the options)\n`);
  process.exit(2);
}

function integer(value: string, flag: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) fail(`${flag} must be an integer from ${min} to ${max}, got "${value}"`);
  return n;
}

function parseOptions() {
  try {
    return parseArgs({
      options: {
        brokers: { type: 'string', default: '3' },
        racks: { type: 'string' },
        'base-port': { type: 'string', default: '9092' },
        'base-http-port': { type: 'string', default: '9644' },
        'etcd-port': { type: 'string', default: '2379' },
        'data-dir': { type: 'string', default: 'data-cluster' },
        config: { type: 'string', multiple: true, default: [] },
        help: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    fail((err as Error).message);
  }
}
const values = parseOptions();
if (values.help) {
  process.stdout.write(usage);
  process.exit(0);
}
const brokerCount = integer(values.brokers, '--brokers', 1, 100);
const basePort = integer(values['base-port'], '--base-port', 1, 65535 - brokerCount + 1);
const baseHttpPort = integer(values['base-http-port'], '--base-http-port', 1, 65535 - brokerCount + 1);
const etcdPort = integer(values['etcd-port'], '--etcd-port', 1, 65534);
const racks = values.racks === undefined ? [] : values.racks.split(',');
if (racks.some((r) => r.trim() === '')) fail(`--racks takes comma-separated rack names, got "${values.racks}"`);
const kafkaPorts = Array.from({ length: brokerCount }, (_, i) => basePort + i);
const httpPorts = Array.from({ length: brokerCount }, (_, i) => baseHttpPort + i);
const taken = [...kafkaPorts, ...httpPorts, etcdPort, etcdPort + 1];
const clash = taken.find((p, i) => taken.indexOf(p) !== i);
if (clash !== undefined) fail(`port ${clash} would be used twice: choose --base-port, --base-http-port and --etcd-port apart`);
for (const item of values.config) if (item.indexOf('=') <= 0) fail(`--config takes NAME=VALUE, got "${item}"`);
if (!existsSync(MAIN)) fail(`${MAIN} is missing: run npm run build (npm run cluster builds first)`);
const dataDir = resolve(values['data-dir']);
const metadataUrl = `etcd://127.0.0.1:${etcdPort}/samsa/dev`;

/** The project's etcd, else one on PATH, else build the project's (scripts/control-plane/build.sh). */
function etcdBinary(): string {
  if (existsSync(PROJECT_ETCD)) return PROJECT_ETCD;
  const onPath = spawnSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' }).stdout.trim();
  if (onPath) return onPath;
  process.stderr.write('cluster: building etcd (scripts/control-plane/build.sh)\n');
  execFileSync('sh', [join(ROOT, 'scripts/control-plane/build.sh')], { stdio: ['ignore', 2, 2] });
  if (!existsSync(PROJECT_ETCD)) fail(`etcd not found at ${PROJECT_ETCD} nor on PATH`);
  return PROJECT_ETCD;
}

interface Child {
  name: string;
  logFile: string;
  process: ChildProcess;
  exited: Promise<void>;
}
const brokers: Child[] = [];
let etcd: Child | undefined;
let stopping = false;
/** Set once every broker was ready: from then on a broker that exits is reported as it happens. */
let up = false;

/** Output goes to `logFile` (appended); its own process group, so a terminal's Ctrl-C reaches only us. */
function launch(name: string, command: string, args: string[], logFile: string): Child {
  const fd = openSync(logFile, 'a');
  const child = spawn(command, args, { stdio: ['ignore', fd, fd], detached: true });
  closeSync(fd);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return { name, logFile, process: child, exited };
}

function alive(child: Child): boolean {
  return child.process.exitCode === null && child.process.signalCode === null;
}

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

async function poll(what: string, child: Child, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive(child)) throw new Error(`${child.name} exited (${child.process.exitCode ?? child.process.signalCode}) before ${what}; last lines of ${child.logFile}:\n${tail(child.logFile)}`);
    if (stopping) return;
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${child.name} not ${what} within ${timeoutMs / 1000}s; last lines of ${child.logFile}:\n${tail(child.logFile)}`);
}

/** SIGTERM and wait; SIGKILL once `graceMs` has passed. */
async function terminate(child: Child, graceMs: number): Promise<void> {
  if (!alive(child)) return;
  child.process.kill('SIGTERM');
  const timer = setTimeout(() => {
    process.stderr.write(`cluster: ${child.name} still running ${graceMs / 1000}s after SIGTERM: SIGKILL\n`);
    child.process.kill('SIGKILL');
  }, graceMs);
  await child.exited;
  clearTimeout(timer);
}

async function shutdown(exitCode: number): Promise<never> {
  stopping = true;
  process.stderr.write('cluster: stopping brokers\n');
  await Promise.all(brokers.map((b) => terminate(b, BROKER_STOP_GRACE_MS)));
  if (etcd) {
    process.stderr.write('cluster: stopping etcd\n');
    await terminate(etcd, ETCD_STOP_GRACE_MS);
  }
  process.stderr.write('cluster: stopped\n');
  process.exit(exitCode);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (!stopping) void shutdown(0);
  });
}

async function main(): Promise<void> {
  mkdirSync(dataDir, { recursive: true });
  const client = `http://127.0.0.1:${etcdPort}`;
  const peer = `http://127.0.0.1:${etcdPort + 1}`;
  etcd = launch('etcd', etcdBinary(), [
    '--name', 'samsa-dev', '--data-dir', join(dataDir, 'etcd'),
    '--listen-client-urls', client, '--advertise-client-urls', client,
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `samsa-dev=${peer}`,
  ], join(dataDir, 'etcd.log'));
  await poll('healthy', etcd, async () => {
    const res = await fetch(`${client}/health`);
    return res.ok && ((await res.json()) as { health?: string }).health === 'true';
  }, 30_000);

  for (let id = 0; id < brokerCount && !stopping; id++) {
    const args = [MAIN, '--node-id', String(id), '--port', String(kafkaPorts[id]), '--http-port', String(httpPorts[id]), '--data-dir', join(dataDir, `broker-${id}`), '--metadata', metadataUrl];
    if (racks.length > 0) args.push('--config', `broker.rack=${racks[id % racks.length]!.trim()}`);
    for (const item of values.config) args.push('--config', item);
    const broker = launch(`broker ${id}`, process.execPath, args, join(dataDir, `broker-${id}.log`));
    brokers.push(broker);
    void broker.exited.then(() => {
      if (up && !stopping) process.stderr.write(`cluster: ${broker.name} exited (${broker.process.exitCode ?? broker.process.signalCode}); see ${broker.logFile}\n`);
    });
  }
  await Promise.all(brokers.map((b, id) => poll('ready', b, async () => (await fetch(`http://127.0.0.1:${httpPorts[id]}/readyz`)).status === 200, READY_TIMEOUT_MS)));
  if (stopping) return;
  up = true;
  const bootstrap = kafkaPorts.map((p) => `127.0.0.1:${p}`).join(',');
  for (const [id, b] of brokers.entries()) {
    process.stdout.write(`broker ${id}: kafka 127.0.0.1:${kafkaPorts[id]}, http 127.0.0.1:${httpPorts[id]}${racks.length ? `, rack ${racks[id % racks.length]}` : ''}, pid ${b.process.pid}, log ${b.logFile}\n`);
  }
  process.stdout.write(`etcd: ${client} (metadata ${metadataUrl}), pid ${etcd.process.pid}, log ${etcd.logFile}\n`);
  process.stdout.write(`bootstrap: ${bootstrap}\n`);
  process.stdout.write('Ctrl-C stops the cluster.\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`cluster: ${(err as Error).message}\n`);
  if (!stopping) void shutdown(1);
});
