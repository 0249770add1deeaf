// Dynamic broker settings in the MetadataStore, so that they survive restarts: "config/brokers/<id>"
// holds one broker's, "config/brokers/<default>" the cluster-wide default, each a JSON object of
// name → value. Loading puts them in force in the BrokerConfig before any log is opened.
import type { Logger } from 'pino';
import { type BrokerConfig, type DynamicLayer, ConfigError, brokerConfigDef, validateValue } from '../config.js';
import type { MetadataStore, StoredValue } from './metadata-store.js';

const PREFIX = 'config/brokers/';

export class DynamicBrokerConfigs {
  private readonly versions: Record<DynamicLayer, number> = { broker: 0, default: 0 };

  constructor(
    private readonly store: MetadataStore,
    private readonly nodeId: number,
    private readonly config: BrokerConfig,
    private readonly logger: Logger,
  ) {}

  private key(layer: DynamicLayer): string {
    return PREFIX + (layer === 'broker' ? String(this.nodeId) : '<default>');
  }

  async load(): Promise<void> {
    for (const layer of ['default', 'broker'] as const) this.adopt(layer, await this.store.get(this.key(layer)));
  }

  private adopt(layer: DynamicLayer, stored: StoredValue | undefined): void {
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
    this.versions[layer] = stored?.version ?? 0;
    this.config.setDynamic(layer, settings);
  }

  /** Writes one layer (validated by the caller) and puts it in force. */
  async set(layer: DynamicLayer, settings: ReadonlyMap<string, string>): Promise<void> {
    const key = this.key(layer);
    if (settings.size > 0) this.versions[layer] = await this.store.put(key, JSON.stringify(Object.fromEntries(settings)), this.versions[layer]);
    else if (this.versions[layer] > 0) {
      await this.store.delete(key, this.versions[layer]);
      this.versions[layer] = 0;
    }
    this.config.setDynamic(layer, settings);
  }
}
