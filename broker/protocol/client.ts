// A minimal Kafka protocol client over one TCP (or TLS) connection, built on the generated codecs:
// sends requests with increasing correlation ids and matches responses to them.
import { connect, isIP, type Socket } from 'node:net';
import { type ConnectionOptions, connect as connectTls } from 'node:tls';
import { encodeRequest, isFlexible } from './frame.js';
import { type ApiSpec, ApiKey } from './messages/index.js';
import { Reader } from './reader.js';

interface Pending {
  resolve: (frame: Buffer) => void;
  reject: (err: Error) => void;
}

export class KafkaConnection {
  private nextCorrelationId = 1;
  private readonly pending = new Map<number, Pending>();
  private buffered: Buffer = Buffer.alloc(0);
  private closedError: Error | null = null;
  /** Resolves when the broker or we close the connection. */
  readonly closed: Promise<void>;

  private constructor(
    private readonly socket: Socket,
    private readonly clientId: string,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.closedError = new Error('connection closed');
        for (const p of this.pending.values()) p.reject(this.closedError);
        this.pending.clear();
        resolve();
      });
    });
    socket.on('error', () => {});
  }

  /**
   * Connects in clear text, or with `options.tls` over TLS (CAs, a client certificate for mTLS;
   * the host name is checked against the broker's certificate unless checkServerIdentity says otherwise).
   */
  static open(host: string, port: number, clientId = 'samsa', options: { tls?: ConnectionOptions } = {}): Promise<KafkaConnection> {
    return new Promise((resolve, reject) => {
      const ready = () => {
        socket.off('error', reject);
        resolve(new KafkaConnection(socket, clientId));
      };
      const socket = options.tls ? connectTls({ ...options.tls, host, port, servername: options.tls.servername ?? (isIP(host) ? undefined : host) }, ready) : connect({ host, port }, ready);
      socket.once('error', reject);
    });
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= 4) {
      const size = this.buffered.readInt32BE(0);
      if (this.buffered.length < 4 + size) return;
      const frame = this.buffered.subarray(4, 4 + size);
      this.buffered = this.buffered.subarray(4 + size);
      const correlationId = frame.readInt32BE(0);
      const p = this.pending.get(correlationId);
      this.pending.delete(correlationId);
      p?.resolve(frame);
    }
  }

  /** Sends a request and decodes its response. */
  async send<Req, Res>(api: ApiSpec<Req, Res>, version: number, body: Req): Promise<Res> {
    const correlationId = this.nextCorrelationId++;
    const frame = await this.exchange(correlationId, encodeRequest(api, version, correlationId, this.clientId, body));
    const r = new Reader(frame, 4);
    // ApiVersions responses always use header v0; other flexible responses carry tagged fields.
    if (isFlexible(api as ApiSpec<unknown, unknown>, version) && api.key !== ApiKey.ApiVersions) r.skipTaggedFields();
    return api.readResponse(r, version);
  }

  /** Writes bytes as they are and returns the next response frame (without its size), if any. */
  sendRaw(bytes: Buffer, correlationId: number): Promise<Buffer> {
    return this.exchange(correlationId, bytes);
  }

  private exchange(correlationId: number, bytes: Buffer): Promise<Buffer> {
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      this.pending.set(correlationId, { resolve, reject });
      this.socket.write(bytes);
    });
  }

  close(): Promise<void> {
    this.socket.end();
    return this.closed;
  }
}
