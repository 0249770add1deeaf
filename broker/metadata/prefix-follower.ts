// List-then-watch of every key under a prefix of the MetadataStore, as the broker's caches of
// stored state need it (dynamic configs, ACLs, SCRAM credentials, quotas): the listed keys first,
// then each change in order; a broken watch lists again (retrying every second) so nothing that
// changed meanwhile is missed.
import type { Logger } from 'pino';
import type { MetadataStore, StoredValue } from './metadata-store.js';

export interface PrefixListener {
  /** The keys under the prefix as listed; `relisted` after a broken watch (not at start). */
  listed(snapshot: ReadonlyMap<string, StoredValue>, relisted: boolean): void;
  /** One change after the listing: a new value, or undefined when the key was deleted. */
  changed(key: string, value: StoredValue | undefined): void;
}

export class PrefixFollower {
  private watch: { stop(): void } | undefined;
  private stopped = false;

  constructor(
    private readonly store: MetadataStore,
    private readonly prefix: string,
    /** What is followed, for the log line of a broken watch (e.g. "ACL"). */
    private readonly what: string,
    private readonly listener: PrefixListener,
    private readonly logger: Logger,
  ) {}

  /** Lists the keys and follows them; resolves once the listing is applied. */
  start(): Promise<void> {
    return this.follow(false);
  }

  private async follow(relisted: boolean): Promise<void> {
    const watch = await this.store.watch(this.prefix, (key, value) => this.listener.changed(key, value), (err) => {
      if (this.stopped) return;
      this.logger.warn({ err }, `${this.what} watch broken; listing again`);
      const retry = (): void => {
        if (!this.stopped) this.follow(true).catch(() => setTimeout(retry, 1000).unref());
      };
      retry();
    });
    if (this.stopped) return watch.stop();
    this.watch?.stop();
    this.watch = watch;
    this.listener.listed(watch.snapshot, relisted);
  }

  stop(): void {
    this.stopped = true;
    this.watch?.stop();
  }
}
