// One Kafka listener: accepts TCP (or, on SSL listeners, TLS) connections and hands each to a
// Connection that knows the listener's name, security protocol and the client's principal. It refuses
// connections over max.connections / max.connections.per.ip at accept, and a sweep closes those
// past connections.max.idle.ms or socket.request.read.timeout.ms.
import { createServer, isIPv4, type Server, type Socket } from 'node:net';
import { type TLSSocket, createServer as createTlsServer } from 'node:tls';
import type { Logger } from 'pino';
import { type BrokerConfig, parseConnectionsPerIpOverrides } from '../config.js';
import type { BrokerContext } from '../context.js';
import { Connection } from './connection.js';
import type { ListenerSecurity } from '../security/listener-security.js';
import type { ListenerTls, TlsMetrics } from '../security/tls.js';
import { principalString } from '../security/principal.js';

/** What a server needs of its listener: what its connections are told (name, protocol, SASL mechanisms), and TLS for SSL and SASL_SSL. */
export interface ServedListener extends ListenerSecurity {
  tls?: { files: ListenerTls; metrics: TlsMetrics };
}

const PLAINTEXT_LISTENER: ServedListener = { name: 'PLAINTEXT', securityProtocol: 'PLAINTEXT', saslMechanisms: [] };

export interface ListenerSettings {
  maxRequestBytes: number;
  /** -1: never. */
  idleMs: number;
  /** -1: never. */
  readTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
  /** Per-address limits in place of maxConnectionsPerIp. */
  perIpOverrides: ReadonlyMap<string, number>;
}

export function listenerSettings(config: BrokerConfig): ListenerSettings {
  return {
    maxRequestBytes: config.int('socket.request.max.bytes'),
    idleMs: config.int('connections.max.idle.ms'),
    readTimeoutMs: config.int('socket.request.read.timeout.ms'),
    maxConnections: config.int('max.connections'),
    maxConnectionsPerIp: config.int('max.connections.per.ip'),
    perIpOverrides: parseConnectionsPerIpOverrides(config.get('max.connections.per.ip.overrides')),
  };
}

/** A flood of refused or timed-out connections is logged as a count at most this often. */
const FLOOD_LOG_INTERVAL_MS = 10_000;

/** Counts closed connections by reason and logs them as one line at most every interval. */
class FloodLog {
  private readonly counts = new Map<string, number>();
  private readonly remotes = new Set<string>();
  private lastAt = -Infinity;

  constructor(
    private readonly logger: Logger,
    private readonly message: string,
  ) {}

  add(reason: string, remote: string): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
    if (this.remotes.size < 10) this.remotes.add(remote);
  }

  /** Logs what was counted if the interval since the last line has passed. */
  flush(now: number): void {
    if (this.counts.size === 0 || now - this.lastAt < FLOOD_LOG_INTERVAL_MS) return;
    this.logger.warn({ closed: Object.fromEntries(this.counts), remotes: [...this.remotes] }, this.message);
    this.counts.clear();
    this.remotes.clear();
    this.lastAt = now;
  }
}

/** The client's address, with IPv4-mapped IPv6 addresses as plain IPv4. */
function clientIp(socket: Socket): string | undefined {
  const address = socket.remoteAddress;
  return address?.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

export class KafkaServer {
  private readonly server: Server;
  private readonly connections = new Set<Connection>();
  private readonly perIp = new Map<string, number>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweepIntervalMs = 1000;
  private lastSweepAt = 0;
  private readonly refusals: FloodLog;
  private readonly readTimeouts: FloodLog;
  private readonly handshakeFailures: FloodLog;
  private nextId = 0;

  constructor(
    private readonly broker: BrokerContext,
    private readonly settings: ListenerSettings,
    private readonly logger: Logger,
    private readonly listener: ServedListener = PLAINTEXT_LISTENER,
  ) {
    const tls = listener.tls;
    if (tls) {
      // A handshake that does not finish counts as a request that does not arrive (socket.request.read.timeout.ms).
      const handshakeTimeout = settings.readTimeoutMs >= 0 ? settings.readTimeoutMs : 0;
      const server = createTlsServer({ ...tls.files.serverOptions(), handshakeTimeout }, (socket) => this.acceptTls(socket, tls));
      // New connections get reloaded certificates; open ones keep the context they were made with.
      tls.files.onReload((material) => server.setSecureContext(material.context));
      server.on('tlsClientError', (err, socket) => {
        // With this listener node:tls leaves the socket open: close it here.
        socket.destroy();
        tls.metrics.refused.inc({ listener: listener.name, reason: 'handshake' });
        this.handshakeFailures.add(err.message, socket.remoteAddress ?? '');
        this.handshakeFailures.flush(Date.now());
      });
      this.server = server;
    } else {
      this.server = createServer((socket) => this.accept(socket));
    }
    this.handshakeFailures = new FloodLog(logger, 'TLS handshakes failed');
    this.refusals = new FloodLog(logger, 'refused new connections over max.connections or max.connections.per.ip');
    this.readTimeouts = new FloodLog(logger, 'closed connections whose request did not arrive within socket.request.read.timeout.ms');
  }

  /** A completed handshake: the principal comes from the client's certificate. */
  private acceptTls(socket: TLSSocket, tls: NonNullable<ServedListener['tls']>): void {
    const who = tls.files.principalOf(socket);
    if ('refused' in who) {
      tls.metrics.refused.inc({ listener: this.listener.name, reason: who.reason });
      this.logger.warn({ remote: socket.remoteAddress, reason: who.refused }, 'TLS connection refused');
      socket.destroy();
      return;
    }
    const connection = this.accept(socket);
    if (!connection) return;
    connection.principal = who.principal;
    this.logger.debug({ connection: connection.id, principal: principalString(who.principal), subject: who.subject ?? null }, 'TLS connection authenticated');
  }

  private accept(socket: Socket): Connection | undefined {
    const ip = clientIp(socket);
    if (ip === undefined) {
      socket.destroy(); // already gone
      return;
    }
    const fromIp = this.perIp.get(ip) ?? 0;
    if (this.connections.size >= this.settings.maxConnections) return this.refuse(socket, ip, 'max_connections');
    if (fromIp >= (this.settings.perIpOverrides.get(ip) ?? this.settings.maxConnectionsPerIp)) return this.refuse(socket, ip, 'max_connections_per_ip');
    this.perIp.set(ip, fromIp + 1);
    const id = `${socket.remoteAddress}:${socket.remotePort}#${this.nextId++}`;
    const connection = new Connection(socket, id, this.broker, this.settings.maxRequestBytes, this.logger, this.listener);
    this.connections.add(connection);
    this.broker.metrics.connections.inc();
    this.broker.metrics.connectionsTotal.inc();
    socket.on('close', () => {
      this.connections.delete(connection);
      const left = this.perIp.get(ip)! - 1;
      if (left === 0) this.perIp.delete(ip);
      else this.perIp.set(ip, left);
      this.broker.metrics.connections.dec();
    });
    return connection;
  }

  /** Closes a new connection over a limit, as Kafka does; the client backs off and retries. */
  private refuse(socket: Socket, ip: string, reason: 'max_connections' | 'max_connections_per_ip'): undefined {
    socket.destroy();
    this.broker.metrics.connectionsClosed.inc({ reason });
    this.refusals.add(reason, ip);
    this.refusals.flush(Date.now());
    return undefined;
  }

  private sweep(): void {
    const now = Date.now();
    // A sweep that comes late (the process was stopped, or the event loop stalled) judges
    // nothing: what clients sent meanwhile has not been read yet.
    const late = now - this.lastSweepAt > 2 * this.sweepIntervalMs;
    this.lastSweepAt = now;
    if (late) return;
    let idle = 0;
    for (const c of this.connections) {
      const reason = c.timedOut(now, this.settings.idleMs, this.settings.readTimeoutMs);
      if (reason === null) continue;
      c.destroy();
      this.broker.metrics.connectionsClosed.inc({ reason });
      if (reason === 'idle') idle++;
      else this.readTimeouts.add(reason, c.id);
    }
    if (idle > 0) this.logger.debug({ closed: idle, idleMs: this.settings.idleMs }, 'closed idle connections');
    this.refusals.flush(now);
    this.readTimeouts.flush(now);
    this.handshakeFailures.flush(now);
  }

  listen(host: string, port: number): Promise<number> {
    // One timer for all connections; a timeout fires up to one interval late.
    const timeouts = [this.settings.idleMs, this.settings.readTimeoutMs].filter((ms) => ms >= 0);
    this.sweepIntervalMs = Math.max(10, Math.min(1000, ...timeouts.map((ms) => ms / 4)));
    this.lastSweepAt = Date.now();
    this.sweepTimer = setInterval(() => this.sweep(), this.sweepIntervalMs);
    this.sweepTimer.unref();
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port }, () => {
        this.server.off('error', reject);
        const address = this.server.address();
        resolve(typeof address === 'object' && address ? address.port : port);
      });
    });
  }

  /** Stops accepting and ends every connection; clients that do not hang up are cut off. */
  async close(graceMs = 2000): Promise<void> {
    clearInterval(this.sweepTimer);
    this.listener.tls?.files.stop();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of this.connections) c.close();
    const cutoff = setTimeout(() => {
      for (const c of this.connections) c.destroy();
    }, graceMs);
    await closed;
    clearTimeout(cutoff);
  }
}
