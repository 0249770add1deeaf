// The Kafka listener: accepts TCP connections and hands each to a Connection.
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { BrokerContext } from '../context.js';
import { Connection } from './connection.js';

export class KafkaServer {
  private readonly server: Server;
  private readonly connections = new Set<Connection>();
  private nextId = 0;

  constructor(
    private readonly broker: BrokerContext,
    private readonly maxRequestBytes: number,
    private readonly logger: Logger,
  ) {
    this.server = createServer((socket) => this.accept(socket));
  }

  private accept(socket: Socket): void {
    const id = `${socket.remoteAddress}:${socket.remotePort}#${this.nextId++}`;
    const connection = new Connection(socket, id, this.broker, this.maxRequestBytes, this.logger);
    this.connections.add(connection);
    this.broker.metrics.connections.inc();
    this.broker.metrics.connectionsTotal.inc();
    socket.on('close', () => {
      this.connections.delete(connection);
      this.broker.metrics.connections.dec();
    });
  }

  listen(host: string, port: number): Promise<number> {
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
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of this.connections) c.close();
    const cutoff = setTimeout(() => {
      for (const c of this.connections) c.destroy();
    }, graceMs);
    await closed;
    clearTimeout(cutoff);
  }
}
