// This broker's membership of the cluster: an ephemeral `brokers/<id>` key owned by a session of
// `broker.session.timeout.ms`. A broker whose session expires (killed, paused, cut off from the
// store) is fenced: the key goes, and the controller takes it out of every ISR. A restarted
// broker waits for its previous life's key to expire rather than take it over, so two processes
// with one node id never both count as live. When the session is lost the broker registers again
// with a new one as soon as the store answers.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { BROKERS_PREFIX, type BrokerEndpoint, type BrokerRegistration } from './cluster-view.js';
import { type MetadataStore, type Session, VersionConflictError } from './metadata-store.js';

const RETRY_MS = 500;

export class BrokerRegistrar {
  private session: Session | null = null;
  private registration: BrokerRegistration;
  private closed = false;
  private readonly sessionListeners: ((session: Session) => void)[] = [];
  private version = 0;

  constructor(
    private readonly store: MetadataStore,
    registration: Omit<BrokerRegistration, 'incarnation' | 'shuttingDown'>,
    private readonly ttlMs: number,
    private readonly logger: Logger,
  ) {
    this.registration = { ...registration, incarnation: randomUUID(), shuttingDown: false };
  }

  /** The session the registration lives in, once registered (the controller campaigns in it too). */
  get current(): Session | null {
    return this.session;
  }

  get registered(): boolean {
    return this.session !== null && !this.session.lost;
  }

  /**
   * The endpoints of the broker's advertised listeners, known once they are bound; host and port
   * are the inter-broker listener's.
   */
  setEndpoints(endpoints: BrokerEndpoint[], interBroker: string, httpPort: number): void {
    const inter = endpoints.find((e) => e.listener === interBroker)!;
    this.registration = { ...this.registration, host: inter.host, port: inter.port, endpoints, httpPort };
  }

  /** Calls `listener` with every new session, once the broker is registered in it. */
  onSession(listener: (session: Session) => void): void {
    this.sessionListeners.push(listener);
  }

  /** Registers, waiting for a previous registration of this node id to expire; resolves once registered. */
  async register(): Promise<void> {
    let waitingLogged = false;
    while (!this.closed) {
      let session: Session | undefined;
      try {
        session = await this.store.openSession(this.ttlMs);
        this.version = await session.put(this.key, JSON.stringify(this.registration), 0);
      } catch (err) {
        await session?.close().catch(() => {});
        if (err instanceof VersionConflictError) {
          if (!waitingLogged) this.logger.warn({ nodeId: this.registration.nodeId }, 'another registration of this node id is live; waiting for it to expire');
          waitingLogged = true;
        } else {
          this.logger.warn({ err }, 'cannot register in the cluster metadata store; retrying');
        }
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
        continue;
      }
      this.session = session;
      session.onLost((err) => {
        if (this.closed) return;
        this.logger.error({ err }, 'cluster session lost: this broker is fenced until it registers again');
        this.session = null;
        void this.register();
      });
      this.logger.info({ nodeId: this.registration.nodeId, incarnation: this.registration.incarnation }, 'registered in the cluster');
      for (const listener of this.sessionListeners) listener(session);
      return;
    }
  }

  private get key(): string {
    return `${BROKERS_PREFIX}${this.registration.nodeId}`;
  }

  /** Marks the broker as shutting down: the controller moves its leaderships away. */
  async beginShutdown(): Promise<void> {
    this.registration = { ...this.registration, shuttingDown: true };
    if (!this.session) return;
    this.version = await this.session.put(this.key, JSON.stringify(this.registration), this.version);
  }

  /** Ends the session: the registration (and a controller role) go at once. */
  async close(): Promise<void> {
    this.closed = true;
    await this.session?.close();
    this.session = null;
  }
}
