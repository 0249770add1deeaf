// Kafka's listeners: `listeners` names the sockets the broker binds (NAME://host:port), the
// security protocol of each comes from `listener.security.protocol.map`, `advertised.listeners`
// says how clients and other brokers reach each one, and `inter.broker.listener.name` is the one
// replication uses. Without `listeners`, the command line's --host/--port/--advertised-* make
// one PLAINTEXT listener, as before listeners existed.
import { hostname } from 'node:os';
import type { ConfigDef } from '../config.js';
import { ConfigError } from '../config-error.js';

export type SecurityProtocol = 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL';
const PROTOCOLS: readonly SecurityProtocol[] = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'];
const DEFAULT_PROTOCOL_MAP = 'PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL';

export const listenerConfigDefs: readonly ConfigDef[] = [
  { name: 'listeners', type: 'string', default: '', check: (v) => void parseEndpoints('listeners', v), doc: 'Listeners to bind, as NAME://host:port,... (port 0: any free port; empty host: every address). Empty: one PLAINTEXT listener from --host/--port.' },
  { name: 'advertised.listeners', type: 'string', default: '', unsetByDefault: true, check: (v) => void parseEndpoints('advertised.listeners', v), doc: 'How clients and brokers reach each listener, as NAME://host:port,...; a listener not named here is advertised as it binds (port 0: the bound port).' },
  { name: 'listener.security.protocol.map', type: 'string', default: DEFAULT_PROTOCOL_MAP, check: (v) => void parseProtocolMap(v), doc: 'Security protocol of each listener name, as NAME:PROTOCOL,... (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL).' },
  { name: 'inter.broker.listener.name', type: 'string', default: '', unsetByDefault: true, doc: 'Listener other brokers replicate through; default: the first listener.' },
];

/** A NAME://host:port item of `listeners` or `advertised.listeners`. */
export interface ListenerEndpoint {
  name: string;
  host: string;
  port: number;
}

export interface Listener {
  /** Upper-case name, as in `listeners` (PLAINTEXT, SSL, INTERNAL ...). */
  name: string;
  protocol: SecurityProtocol;
  /** Address to bind ('' binds every address). */
  host: string;
  /** Port to bind; 0 for any free port. */
  port: number;
  /** How others reach it; a port of 0 means the bound port. */
  advertisedHost: string;
  advertisedPort: number;
}

export interface ListenerPlan {
  listeners: Listener[];
  /** Name of the listener replication uses. */
  interBroker: string;
}

/** The listener-less command line: one PLAINTEXT listener. */
export interface LegacyListener {
  host: string;
  port: number;
  advertisedHost?: string;
  advertisedPort?: number;
}

const ENDPOINT = /^([A-Za-z0-9_-]+):\/\/(\[[^\]]*\]|[^:/]*):(\d+)$/;

export function parseEndpoints(setting: string, value: string): ListenerEndpoint[] {
  const out: ListenerEndpoint[] = [];
  for (const item of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = ENDPOINT.exec(item);
    if (!m) throw new ConfigError(`${setting}: "${item}" is not NAME://host:port`);
    const port = Number(m[3]);
    if (port > 65535) throw new ConfigError(`${setting}: port ${port} of ${m[1]} is out of range`);
    const host = m[2]!.startsWith('[') ? m[2]!.slice(1, -1) : m[2]!;
    const name = m[1]!.toUpperCase();
    if (out.some((e) => e.name === name)) throw new ConfigError(`${setting}: listener name ${name} appears twice`);
    out.push({ name, host, port });
  }
  return out;
}

export function parseProtocolMap(value: string): Map<string, SecurityProtocol> {
  const map = new Map<string, SecurityProtocol>();
  for (const item of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [name, protocol, ...rest] = item.split(':').map((s) => s.trim());
    if (!name || !protocol || rest.length > 0) throw new ConfigError(`listener.security.protocol.map: "${item}" is not NAME:PROTOCOL`);
    const upper = protocol.toUpperCase() as SecurityProtocol;
    if (!PROTOCOLS.includes(upper)) throw new ConfigError(`listener.security.protocol.map: unknown security protocol "${protocol}" for ${name} (known: ${PROTOCOLS.join(', ')})`);
    map.set(name.toUpperCase(), upper);
  }
  return map;
}

const isWildcard = (host: string) => host === '' || host === '0.0.0.0' || host === '::';

/** The listeners to bind and advertise; throws ConfigError on settings that do not fit together. */
export function planListeners(settings: { get(name: string): string }, legacy: LegacyListener): ListenerPlan {
  const declared = settings.get('listeners');
  if (declared === '') {
    if (settings.get('advertised.listeners') !== '') throw new ConfigError('advertised.listeners needs listeners');
    const interBroker = settings.get('inter.broker.listener.name').toUpperCase();
    if (interBroker !== '' && interBroker !== 'PLAINTEXT') throw new ConfigError(`inter.broker.listener.name ${interBroker} is not a listener (without listeners the broker has one: PLAINTEXT)`);
    return {
      listeners: [{ name: 'PLAINTEXT', protocol: 'PLAINTEXT', host: legacy.host, port: legacy.port, advertisedHost: legacy.advertisedHost ?? legacy.host, advertisedPort: legacy.advertisedPort ?? 0 }],
      interBroker: 'PLAINTEXT',
    };
  }
  const protocols = parseProtocolMap(settings.get('listener.security.protocol.map'));
  const bound = parseEndpoints('listeners', declared);
  if (bound.length === 0) throw new ConfigError('listeners names no listener');
  const ports = new Map<number, string>();
  for (const e of bound) {
    const protocol = protocols.get(e.name);
    if (!protocol) throw new ConfigError(`listeners: ${e.name} has no security protocol (add ${e.name}:<PROTOCOL> to listener.security.protocol.map)`);
    const other = ports.get(e.port);
    if (e.port !== 0 && other !== undefined) throw new ConfigError(`listeners: ${other} and ${e.name} both bind port ${e.port}`);
    ports.set(e.port, e.name);
  }
  const advertised = parseEndpoints('advertised.listeners', settings.get('advertised.listeners'));
  for (const a of advertised) {
    if (!bound.some((e) => e.name === a.name)) throw new ConfigError(`advertised.listeners: ${a.name} is not in listeners`);
    if (isWildcard(a.host)) throw new ConfigError(`advertised.listeners: ${a.name} must name a host clients can connect to, not "${a.host}"`);
  }
  const listeners = bound.map((e): Listener => {
    const a = advertised.find((x) => x.name === e.name);
    return {
      name: e.name,
      protocol: protocols.get(e.name)!,
      host: e.host,
      port: e.port,
      // As Kafka: a listener bound to every address is advertised under the machine's name.
      advertisedHost: a ? a.host : isWildcard(e.host) ? hostname() : e.host,
      advertisedPort: a ? a.port : 0,
    };
  });
  const interBroker = settings.get('inter.broker.listener.name').toUpperCase() || listeners[0]!.name;
  const inter = listeners.find((l) => l.name === interBroker);
  if (!inter) throw new ConfigError(`inter.broker.listener.name ${interBroker} is not in listeners (${listeners.map((l) => l.name).join(', ')})`);
  return { listeners, interBroker };
}
