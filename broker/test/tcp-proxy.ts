// A TCP proxy the test controls, to partition one client from a server: cut() silently drops
// every byte both ways on the open connections (no RST, as a network partition looks to TCP)
// and refuses new ones; heal() forwards again; reset() breaks the open connections.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { freePort } from './broker-process.js';

export class TcpProxy {
  private cutOff = false;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<TcpProxy> {
    const port = await freePort();
    let proxy: TcpProxy | undefined;
    const server = createServer((client) => {
      if (proxy!.cutOff) return void client.destroy();
      const upstream = connect({ host: '127.0.0.1', port: targetPort });
      for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
        proxy!.sockets.add(from);
        from.on('data', (chunk: Buffer) => proxy!.cutOff || to.write(chunk));
        from.on('close', () => {
          proxy!.sockets.delete(from);
          to.destroy();
        });
        from.on('error', () => to.destroy());
      }
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    proxy = new TcpProxy(server, port);
    return proxy;
  }

  get endpoint(): string {
    return `127.0.0.1:${this.port}`;
  }

  cut(): void {
    this.cutOff = true;
  }

  heal(): void {
    this.cutOff = false;
  }

  /** Closes every open connection, as a crashed middlebox would; new ones are accepted unless cut. */
  reset(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
