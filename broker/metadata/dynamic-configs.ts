// Dynamic broker settings in the MetadataStore, so that they survive restarts: "config/brokers/<id>"
// holds one broker's, "config/brokers/<default>" the cluster-wide default, each a JSON object of
// name → value. Every broker follows them with a list-then-watch (started before any log is
// opened), so a setting written through any broker is in force on the broker it names at once.
import type { Logger } from 'pino';
import { type BrokerConfig, type DynamicLayer, ConfigError, brokerConfigDef, validateValue } from '../config.js';
import type { MetadataStore, StoredValue } from './metadata-store.js';
import { PrefixFollower } from './prefix-follower.js';

const PREFIX = 'config/brokers/';
const DEFAULT_NAME = '<default>';

/** Whose settings: a broker's (by node id) or the cluster-wide default. */
export type ConfigOwner = number | 'default';

export class DynamicBrokerConfigs {
  /** Every broker's stored layer (and the default), as last seen: what a compare-and-set expects. */
  private readonly stored = new Map<string, StoredValue>();
  private readonly listeners: (() => void)[] = [];
  private readonly follower: PrefixFollower;

  constructor(
    private readonly store: MetadataStore,
    private readonly nodeId: number,
    private readonly config: BrokerConfig,
    private readonly logger: Logger,
  ) {
    this.follower = new PrefixFollower(store, PREFIX, 'dynamic broker config', {
      listed: (snapshot, relisted) => {
        for (const key of [...this.stored.keys()]) if (!snapshot.has(key)) this.apply(key, undefined, false);
        for (const [key, value] of snapshot) this.apply(key, value, false);
        for (const layer of ['default', 'broker'] as const) this.adopt(layer);
        // At start the logs open with these settings; after a broken watch they may have changed.
        if (relisted) this.notify();
      },
      changed: (key, value) => this.apply(key, value, true),
    }, logger);
  }

  private key(owner: ConfigOwner): string {
    return PREFIX + (owner === 'default' ? DEFAULT_NAME : String(owner));
  }

  /** The owner of the layer `layer` of this broker. */
  private ownerOf(layer: DynamicLayer): ConfigOwner {
    return layer === 'broker' ? this.nodeId : 'default';
  }

  /** Calls `listener` after this broker's settings in force changed (here or through another broker). */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Lists every broker's settings, puts this broker's in force, and follows changes. */
  load(): Promise<void> {
    return this.follower.start();
  }

  private apply(key: string, value: StoredValue | undefined, live: boolean): void {
    const current = this.stored.get(key);
    if (value) {
      // A write this broker made was applied when the store accepted it; the watch brings it again.
      if (current && current.version >= value.version) return;
      this.stored.set(key, value);
    } else this.stored.delete(key);
    if (!live) return;
    const layer = key === this.key('default') ? 'default' : key === this.key(this.nodeId) ? 'broker' : null;
    if (layer) {
      this.adopt(layer);
      this.logger.info({ layer, configs: Object.fromEntries(this.config.dynamic(layer)) }, 'dynamic broker configs changed');
      this.notify();
    }
  }

  private notify(): void {
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (err) {
        this.logger.error({ err }, 'applying changed dynamic broker configs failed');
      }
    }
  }

  /** Puts the stored settings of one of this broker's layers in force. */
  private adopt(layer: DynamicLayer): void {
    const stored = this.stored.get(this.key(this.ownerOf(layer)));
    const settings = new Map<string, string>();
    for (const [name, value] of Object.entries(stored ? (JSON.parse(stored.value) as Record<string, string>) : {})) {
      // A setting stored by another version of the broker may no longer be known or dynamic.
      try {
        const def = brokerConfigDef(name);
        if (!def?.dynamic) throw new ConfigError(`${name} is not a dynamic broker config`);
        settings.set(name, validateValue(def, value));
      } catch (err) {
        this.logger.warn({ layer, config: name, value, reason: (err as Error).message }, 'ignoring a stored dynamic broker config');
      }
    }
    this.config.setDynamic(layer, settings);
  }

  /** The stored settings of a broker or of the default. */
  settings(owner: ConfigOwner): Map<string, string> {
    const stored = this.stored.get(this.key(owner));
    return new Map(Object.entries(stored ? (JSON.parse(stored.value) as Record<string, string>) : {}));
  }

  /** Writes the settings of a broker or the default (validated by the caller); this broker's own are in force at once. */
  async set(owner: ConfigOwner, settings: ReadonlyMap<string, string>): Promise<void> {
    const key = this.key(owner);
    const version = this.stored.get(key)?.version ?? 0;
    if (settings.size > 0) {
      const value = JSON.stringify(Object.fromEntries(settings));
      this.stored.set(key, { value, version: await this.store.put(key, value, version) });
    } else if (version > 0) {
      await this.store.delete(key, version);
      this.stored.delete(key);
    }
    if (owner === 'default') this.adopt('default');
    else if (owner === this.nodeId) this.adopt('broker');
  }

  stop(): void {
    this.follower.stop();
  }
}
