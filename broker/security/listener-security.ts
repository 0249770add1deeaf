// What a listener asks of its connections: its name, its security protocol (Kafka's four), and the
// SASL mechanisms it offers. KafkaServer builds one per listener and gives it to each Connection;
// the connection authenticates with SASL when the protocol is SASL_PLAINTEXT or SASL_SSL.
import { type BrokerConfig, type ConfigDef, ConfigError } from '../config.js';

export type SecurityProtocol = 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL';

export interface ListenerSecurity {
  /** The listener's name in `listeners` (e.g. PLAINTEXT, SASL_PLAINTEXT, INTERNAL). */
  readonly name: string;
  readonly securityProtocol: SecurityProtocol;
  /** The SASL mechanisms a SASL listener accepts (sasl.enabled.mechanisms). */
  readonly saslMechanisms: readonly string[];
}

export function usesSasl(protocol: SecurityProtocol): boolean {
  return protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL';
}

// Stand-in until named listeners land (h-tls): this broker has one listener, bound by --host and
// --port; a single `listeners` entry only names its security protocol. Without TLS here, only
// PLAINTEXT and SASL_PLAINTEXT are accepted. A function, not a constant: config.ts and this module
// import each other, and a function declaration is usable before its module has run.
export function singleListenerConfigDefs(): ConfigDef[] {
  return [{ name: 'listeners', type: 'string', default: '', check: (v) => void parseSingleListener(v), doc: 'The listener as NAME://host:port (one entry; PLAINTEXT or SASL_PLAINTEXT); its address is --host/--port. Default: PLAINTEXT.' }];
}

function parseSingleListener(value: string): 'PLAINTEXT' | 'SASL_PLAINTEXT' {
  if (value === '') return 'PLAINTEXT';
  const match = /^([A-Z_]+):\/\/[^,]*:\d+$/.exec(value);
  if (!match) throw new ConfigError(`listeners must be one NAME://host:port entry, got "${value}"`);
  if (match[1] !== 'PLAINTEXT' && match[1] !== 'SASL_PLAINTEXT') throw new ConfigError(`listeners: security protocol ${match[1]} is not supported (PLAINTEXT or SASL_PLAINTEXT)`);
  return match[1];
}

/** The one listener's security, from `listeners` and `sasl.enabled.mechanisms`. */
export function singleListenerSecurity(config: BrokerConfig): ListenerSecurity {
  const protocol = parseSingleListener(config.get('listeners'));
  return { name: protocol, securityProtocol: protocol, saslMechanisms: config.get('sasl.enabled.mechanisms').split(',') };
}
