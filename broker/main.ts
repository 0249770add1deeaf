#!/usr/bin/env node
// Command line entry point: starts one broker and stops it cleanly on SIGTERM or SIGINT.
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import pino from 'pino';
import { Broker, type BrokerOptions } from './broker.js';
import { BrokerConfig, ConfigError, brokerConfigDefs } from './config.js';
import { openMetadataStore } from './metadata/store-url.js';
import type { MetadataStore } from './metadata/metadata-store.js';
import { rackFromNode } from './rack-from-node.js';
import { TlsFileError } from './security/tls.js';
import { type ScramSeed, parseAddScram } from './security/scram-seed.js';

const usage = `Usage: samsa-broker [options]

Options:
  --host HOST              Kafka listener address (default 127.0.0.1), when the listeners setting is not given
  --port PORT              Kafka listener port (default 9092), when the listeners setting is not given
  --advertised-host HOST   Host clients are told to use (default: --host), without listeners
  --advertised-port PORT   Port clients are told to use (default: --port), without listeners
                           With --config listeners=NAME://host:port,... (and advertised.listeners,
                           listener.security.protocol.map, inter.broker.listener.name) the broker
                           binds those listeners instead, e.g. PLAINTEXT://127.0.0.1:9092,SSL://:9093
  --http-host HOST         HTTP address for /healthz, /readyz, /metrics (default: --host); may
                           differ from every Kafka listener's, e.g. a pod-internal address
  --http-port PORT         HTTP port (default 9644)
  --data-dir DIR           Where logs (and, without --metadata, the metadata file) live (default ./data)
  --node-id N              This broker's id in the cluster (same as --config node.id=N)
  --metadata URL           The cluster's metadata store: etcd://host:port[,host:port...]/prefix, or
                           kubernetes://<namespace>/<name> (ConfigMaps and Leases in that namespace;
                           credentials from KUBECONFIG, else the pod's service account). Brokers
                           naming the same store form one cluster. Without it the broker is a
                           single-node cluster with its metadata in --data-dir.
  --rack-from-node LABEL   On Kubernetes: broker.rack is this label of the node the broker runs on
                           (NODE_NAME names the node; credentials in-cluster or from KUBECONFIG)
  --config-file FILE       Broker settings in Java properties form (name=value lines)
  --config NAME=VALUE      A broker setting by its Kafka name; repeatable, overrides the file
  --add-scram CREDENTIAL   A SCRAM user stored at start, as kafka-storage format --add-scram takes it:
                           'SCRAM-SHA-256=[name=admin,password=admin-secret]' (iterations=N optional,
                           4096 to 16384, default 4096); repeatable. Kept if already stored with that
                           password; a changed password replaces it.
  --log-level LEVEL        trace, debug, info, warn, error (default info, or LOG_LEVEL)
  --help                   Show this help

Broker settings (--config; "dynamic" ones can also be changed on a running broker with
IncrementalAlterConfigs, e.g. kafka-configs --entity-type brokers --entity-default; ssl.* and
sasl.* settings may also be given for one listener as listener.name.<listener in lower case>.<name>):
${brokerConfigDefs.map((d) => `  ${d.name.padEnd(34)} ${d.doc} (default ${d.default === '' ? 'none' : d.default}${d.dynamic ? ', dynamic' : ''})`).join('\n')}
`;

/** Java properties: name=value (or name: value) lines; # and ! start comments. */
function parseProperties(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    const at = line.search(/[=:]/);
    if (at <= 0) fail(`--config-file line "${line}" is not name=value`);
    out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return out;
}

function fail(message: string): never {
  // One line: under Kubernetes the last line of a failed container's output is its termination message.
  process.stderr.write(`samsa-broker: ${message} (run with --help for the options)\n`);
  process.exit(2);
}

function port(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) fail(`${flag} must be a port number, got "${value}"`);
  return n;
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        'advertised-host': { type: 'string' },
        'advertised-port': { type: 'string' },
        'http-host': { type: 'string' },
        'http-port': { type: 'string' },
        'data-dir': { type: 'string' },
        'node-id': { type: 'string' },
        metadata: { type: 'string' },
        'rack-from-node': { type: 'string' },
        config: { type: 'string', multiple: true },
        'add-scram': { type: 'string', multiple: true },
        'config-file': { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(usage);
    return;
  }
  const settings: Record<string, string> = {};
  if (values['config-file'] !== undefined) {
    let text: string;
    try {
      text = readFileSync(values['config-file'], 'utf8');
    } catch (err) {
      fail(`cannot read --config-file: ${(err as Error).message}`);
    }
    Object.assign(settings, parseProperties(text));
  }
  for (const item of values.config ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) fail(`--config takes NAME=VALUE, got "${item}"`);
    settings[item.slice(0, eq).trim()] = item.slice(eq + 1);
  }
  if (values['node-id'] !== undefined) settings['node.id'] = values['node-id'];
  if (values['rack-from-node'] !== undefined) {
    try {
      settings['broker.rack'] = await rackFromNode(values['rack-from-node'], process.env.NODE_NAME);
    } catch (err) {
      fail(`--rack-from-node: ${(err as Error).message}`);
    }
  }
  let store: MetadataStore | undefined;
  if (values.metadata !== undefined) {
    try {
      store = await openMetadataStore(values.metadata);
    } catch (err) {
      fail(`--metadata: ${(err as Error).message}`);
    }
  }
  let scramSeeds: ScramSeed[];
  try {
    scramSeeds = (values['add-scram'] ?? []).map(parseAddScram);
  } catch (err) {
    fail((err as Error).message);
  }
  let config: BrokerConfig;
  try {
    config = new BrokerConfig(settings);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  if (config.get('listeners') !== '') {
    const legacy = (['host', 'port', 'advertised-host', 'advertised-port'] as const).filter((flag) => values[flag] !== undefined);
    if (legacy.length > 0) fail(`--${legacy.join(', --')} cannot be combined with the listeners setting (give addresses there and in advertised.listeners)`);
  }
  const host = values.host ?? '127.0.0.1';
  // Components bind their own `component` on children of this root, so each line has it once.
  const rootLogger = pino({ level: values['log-level'] ?? process.env.LOG_LEVEL ?? 'info', base: { pid: process.pid } });
  const logger = rootLogger.child({ component: 'broker' });
  const options: BrokerOptions = {
    host,
    port: port(values.port, 9092, '--port'),
    advertisedHost: values['advertised-host'],
    advertisedPort: values['advertised-port'] === undefined ? undefined : port(values['advertised-port'], 0, '--advertised-port'),
    httpHost: values['http-host'] ?? host,
    httpPort: port(values['http-port'], 9644, '--http-port'),
    dataDir: resolve(values['data-dir'] ?? 'data'),
    store,
    config,
    logger: rootLogger,
    scramSeeds,
  };
  let broker: Broker;
  try {
    broker = new Broker(options);
  } catch (err) {
    // Listener settings that do not fit together, or a key or trust store that cannot be used.
    if (err instanceof ConfigError) fail(err.message);
    if (err instanceof TlsFileError) {
      process.stderr.write(`samsa-broker: ${err.message}\n`);
      process.exit(1);
    }
    // The data directory cannot be opened, say: one line that names why, for the pod's termination message.
    logger.fatal({ err }, 'broker failed to start');
    process.exit(1);
  }

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without a clean shutdown');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    broker.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  try {
    await broker.start();
  } catch (err) {
    logger.fatal({ err }, 'broker failed to start');
    process.exit(1);
  }
}

await main();
