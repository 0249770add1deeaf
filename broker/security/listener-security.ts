// What a listener asks of its connections: its name, its security protocol (Kafka's four), and the
// SASL mechanisms it offers. KafkaServer gives one to each Connection it accepts; the connection
// authenticates with SASL when the protocol is SASL_PLAINTEXT or SASL_SSL.
import type { SecurityProtocol } from './listeners.js';

export interface ListenerSecurity {
  /** The listener's name in `listeners` (e.g. PLAINTEXT, SASL_SSL, REPLICATION). */
  readonly name: string;
  readonly securityProtocol: SecurityProtocol;
  /** The SASL mechanisms a SASL listener accepts (sasl.enabled.mechanisms, per listener). */
  readonly saslMechanisms: readonly string[];
}

export function usesSasl(protocol: SecurityProtocol): boolean {
  return protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL';
}
