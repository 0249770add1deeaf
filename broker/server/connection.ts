// One client connection. Frames are cut from the socket's chunks without copying when a frame
// lies within one chunk; a frame split across chunks is copied once into a buffer of its exact
// size. Requests are handled one at a time in arrival order (as Kafka does), so pipelined
// requests are answered in order and produce requests append in order. Responses go out corked.
// Timeouts are judged by the listener's sweep (timedOut), so reading a chunk only sets a flag.
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { BrokerContext } from '../context.js';
import { ErrorCode } from '../protocol/errors.js';
import { encodeResponse, isFlexible, readRequestHeaderRest, readRequestHeaderStart } from '../protocol/frame.js';
import { ApiKey, apiVersionsApi } from '../protocol/messages/index.js';
import { Reader } from '../protocol/reader.js';
import { apiVersionsResponse, servedApis } from '../handlers/api-table.js';
import { ANONYMOUS, type KafkaPrincipal } from '../security/principal.js';
import { type ListenerSecurity, usesSasl } from '../security/listener-security.js';
import { SaslAuthenticator, type SaslVerdict } from '../security/sasl/authenticator.js';
import { applyQuotas, clientThrottles } from '../security/quota-enforcement.js';

/** Smallest request: apiKey, apiVersion, correlationId. */
const MIN_REQUEST_BYTES = 8;
/** The verdict on every request of a listener without SASL. */
const SERVE: SaslVerdict = { action: 'serve' };
/** Frames queued before the socket stops being read. */
const MAX_QUEUED_FRAMES = 64;

export class Connection {
  private readonly sizeBuf = Buffer.alloc(4);
  private sizeFilled = 0;
  private frame: Buffer | null = null;
  private frameFilled = 0;
  private readonly queue: Buffer[] = [];
  private processing = false;
  private closed = false;
  private paused = false;
  /** Waiting for the client to read a response before handling the next request. */
  private writeBlocked = false;
  /** Bytes moved either way since the last sweep. */
  private active = false;
  private framesRead = 0;
  private lastActiveAt = Date.now();
  /** When a sweep first saw the request frame now in progress (frame number partialFrame). */
  private partialSince: number | null = null;
  private partialFrame = 0;
  /** Who requests on this connection act as. */
  principal: KafkaPrincipal = ANONYMOUS;
  /** Held back for a quota's throttle time: the socket is not read. */
  private muted = false;
  /** The listener this connection was accepted on. */
  readonly listenerName: string;
  /** SASL on a SASL_PLAINTEXT / SASL_SSL listener; null on the others. */
  private readonly sasl: SaslAuthenticator | null;

  constructor(
    private readonly socket: Socket,
    readonly id: string,
    private readonly broker: BrokerContext,
    private readonly maxRequestBytes: number,
    private readonly logger: Logger,
    security: ListenerSecurity,
  ) {
    this.listenerName = security.name;
    this.sasl = usesSasl(security.securityProtocol)
      ? new SaslAuthenticator(security, {
          credentials: (user, mechanism) => broker.scramCredentials.get(user, mechanism),
          reauthMs: () => broker.config.int('connections.max.reauth.ms'),
          metrics: broker.metrics,
          logger,
          connection: id,
          remote: socket.remoteAddress ?? '',
        })
      : null;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.logger.debug({ err, connection: id }, 'connection error'));
    socket.on('close', () => {
      this.closed = true;
      this.queue.length = 0;
    });
  }

  private onData(chunk: Buffer): void {
    this.active = true;
    let pos = 0;
    while (pos < chunk.length && !this.closed) {
      if (this.frame === null) {
        let size: number;
        if (this.sizeFilled === 0 && chunk.length - pos >= 4) {
          size = chunk.readInt32BE(pos);
          pos += 4;
        } else {
          const n = Math.min(4 - this.sizeFilled, chunk.length - pos);
          chunk.copy(this.sizeBuf, this.sizeFilled, pos, pos + n);
          this.sizeFilled += n;
          pos += n;
          if (this.sizeFilled < 4) return;
          size = this.sizeBuf.readInt32BE(0);
          this.sizeFilled = 0;
        }
        // A bare SASL token (after SaslHandshake v0) may be shorter than any Kafka request.
        if ((size < MIN_REQUEST_BYTES && !this.sasl?.awaitingRawToken) || size > this.maxRequestBytes) {
          const reason = size > this.maxRequestBytes ? 'too_large' : 'garbage';
          this.reject(reason, { size, limit: this.maxRequestBytes }, size > this.maxRequestBytes ? 'request larger than socket.request.max.bytes' : 'request frame too small to be a Kafka request');
          return;
        }
        if (chunk.length - pos >= size) {
          this.enqueue(chunk.subarray(pos, pos + size));
          pos += size;
          continue;
        }
        this.frame = Buffer.allocUnsafe(size);
        this.frameFilled = 0;
      }
      const n = Math.min(this.frame.length - this.frameFilled, chunk.length - pos);
      chunk.copy(this.frame, this.frameFilled, pos, pos + n);
      this.frameFilled += n;
      pos += n;
      if (this.frameFilled === this.frame.length) {
        this.enqueue(this.frame);
        this.frame = null;
      }
    }
  }

  private enqueue(frame: Buffer): void {
    this.framesRead++;
    this.queue.push(frame);
    if (this.queue.length >= MAX_QUEUED_FRAMES && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
    if (!this.processing) void this.drainQueue();
  }

  private async drainQueue(): Promise<void> {
    this.processing = true;
    while (this.queue.length > 0 && !this.closed) {
      const frame = this.queue.shift()!;
      const throttleMs = await this.handle(frame);
      if (throttleMs > 0) await this.mute(throttleMs);
      this.active = true;
      if (this.socket.writableNeedDrain) {
        this.writeBlocked = true;
        await new Promise((resolve) => this.socket.once('drain', resolve));
        this.writeBlocked = false;
        this.active = true;
      }
      if (this.paused && this.queue.length < MAX_QUEUED_FRAMES / 2) {
        this.paused = false;
        this.socket.resume();
      }
    }
    this.processing = false;
  }

  /** Stops reading requests for a quota's throttle time (KIP-219's channel muting). */
  private async mute(ms: number): Promise<void> {
    this.muted = true;
    this.socket.pause();
    await new Promise((resolve) => setTimeout(resolve, ms).unref());
    this.muted = false;
    this.active = true;
    if (!this.paused && !this.closed) this.socket.resume();
  }

  /** Handles one request; the time (ms) to mute the connection for after it, when a quota throttles it. */
  private async handle(frame: Buffer): Promise<number> {
    if (this.sasl?.awaitingRawToken) {
      await this.handleRawToken(this.sasl, frame);
      return 0;
    }
    const started = process.hrtime.bigint();
    const r = new Reader(frame);
    const header = readRequestHeaderStart(r);
    const api = servedApis.get(header.apiKey);
    if (!api) {
      this.reject('unknown_api', { apiKey: header.apiKey }, 'request for an API this broker does not serve');
      return 0;
    }
    const { apiVersion, correlationId } = header;
    if (apiVersion < api.minVersion || apiVersion > api.maxVersion) {
      if (header.apiKey === ApiKey.ApiVersions) {
        // Answered in the v0 layout so that any client can read the ranges and retry.
        this.send(encodeResponse(apiVersionsApi, 0, correlationId, apiVersionsResponse(ErrorCode.UNSUPPORTED_VERSION)));
        return 0;
      }
      this.reject('unsupported_version', { api: api.spec.name, apiVersion, min: api.minVersion, max: api.maxVersion }, 'request version outside the advertised range');
      return 0;
    }
    let body: unknown;
    try {
      readRequestHeaderRest(r, header, isFlexible(api.spec, apiVersion));
      body = api.spec.readRequest(r, apiVersion);
    } catch (err) {
      this.reject('undecodable', { api: api.spec.name, apiVersion, err }, 'request could not be decoded');
      return 0;
    }
    try {
      const verdict: SaslVerdict = this.sasl ? await this.sasl.check(header.apiKey, apiVersion, body, Date.now()) : SERVE;
      if (verdict.action === 'close') {
        this.logger.warn({ connection: this.id, remote: this.socket.remoteAddress, listener: this.listenerName, api: api.spec.name, reason: verdict.reason }, `closing connection: ${verdict.message}`);
        this.closed = true;
        this.queue.length = 0;
        this.socket.destroy();
        return 0;
      }
      if (verdict.action === 'respond') {
        if (!this.closed) this.send(encodeResponse(api.spec, apiVersion, correlationId, verdict.response));
        this.principal = this.sasl!.principal ?? this.principal;
        // A refused authentication is answered, then the connection closes once the answer is out.
        if (verdict.close) this.close();
        this.broker.metrics.request(api.spec.name, Number(process.hrtime.bigint() - started) / 1e9);
        return 0;
      }
      const pending = api.handle(this.broker, body, { apiVersion, clientId: header.clientId, clientHost: this.socket.remoteAddress ?? '', principal: this.principal, listenerName: this.listenerName });
      const quotas = this.broker.quotas;
      if (!quotas.active) {
        const response = await pending;
        if (response !== null && !this.closed) this.send(encodeResponse(api.spec, apiVersion, correlationId, response));
        this.broker.metrics.request(api.spec.name, Number(process.hrtime.bigint() - started) / 1e9);
        return 0;
      }
      // Time until the handler returned: the broker's own work on the request, not its waits (long polls, replication).
      const handlerNanos = Number(process.hrtime.bigint() - started);
      const response = await pending;
      const { chunks, throttleMs } = applyQuotas(quotas, api.spec, apiVersion, correlationId, body, response, frame.length, handlerNanos, this.principal.name, header.clientId ?? '');
      // A client too old to throttle itself is held back by answering after the throttle time.
      let muteAfter = throttleMs;
      if (throttleMs > 0 && !clientThrottles(header.apiKey, apiVersion)) {
        await this.mute(throttleMs);
        muteAfter = 0;
      }
      if (chunks !== null && !this.closed) this.send(chunks);
      this.broker.metrics.request(api.spec.name, Number(process.hrtime.bigint() - started) / 1e9);
      return muteAfter;
    } catch (err) {
      // An unexpected failure in the broker: log it and close, so the client retries elsewhere
      // or reconnects, rather than waiting on a response that will never come.
      this.broker.metrics.requestFailed(api.spec.name);
      this.logger.error({ err, api: api.spec.name, apiVersion, connection: this.id }, 'request failed');
      this.socket.destroy();
      return 0;
    }
  }

  /** A bare SASL token after SaslHandshake v0: the server's token goes back framed by its size. */
  private async handleRawToken(sasl: SaslAuthenticator, token: Buffer): Promise<void> {
    let reply: Buffer | null;
    try {
      reply = await sasl.rawToken(token, Date.now());
    } catch (err) {
      this.logger.error({ err, connection: this.id }, 'SASL authentication failed in the broker');
      reply = null;
    }
    if (reply === null) {
      this.close();
      return;
    }
    const size = Buffer.allocUnsafe(4);
    size.writeInt32BE(reply.length);
    this.send([size, reply]);
    this.principal = sasl.principal ?? this.principal;
  }

  private send(chunks: Buffer[]): void {
    this.socket.cork();
    for (const chunk of chunks) this.socket.write(chunk);
    this.socket.uncork();
  }

  /** Closes this connection over a bad request; everyone else keeps being served. */
  private reject(reason: string, details: Record<string, unknown>, message: string): void {
    this.broker.metrics.closedForBadFrames.inc({ reason });
    this.logger.warn({ connection: this.id, remote: this.socket.remoteAddress, ...details }, `closing connection: ${message}`);
    this.closed = true;
    this.queue.length = 0;
    this.socket.destroy();
  }

  /**
   * Which timeout this connection has passed, if any, judged at a sweep at time `now` (-1 turns a
   * timeout off). Idle: no request being handled and no bytes either way for `idleMs` (a
   * long-poll Fetch in progress is not idle; a client that does not read its responses is).
   * Read timeout: one request frame begun but not complete for `readTimeoutMs`, while the
   * broker is reading. Times are taken at sweeps, so a timeout fires up to one sweep late, never early.
   */
  timedOut(now: number, idleMs: number, readTimeoutMs: number): 'idle' | 'read_timeout' | null {
    const busy = this.processing && !this.writeBlocked;
    if (this.active || busy) {
      this.active = false;
      this.lastActiveAt = now;
    }
    if (this.frame !== null || this.sizeFilled > 0) {
      if (this.paused || this.muted || this.partialSince === null || this.partialFrame !== this.framesRead) {
        this.partialSince = this.paused || this.muted ? null : now;
        this.partialFrame = this.framesRead;
      } else if (readTimeoutMs >= 0 && now - this.partialSince >= readTimeoutMs) {
        return 'read_timeout';
      }
    } else {
      this.partialSince = null;
    }
    if (idleMs >= 0 && now - this.lastActiveAt >= idleMs) return 'idle';
    return null;
  }

  /** Ends the connection once the request in hand is answered. */
  close(): void {
    this.closed = true;
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }
}
