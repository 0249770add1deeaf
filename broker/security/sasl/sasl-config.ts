// SASL settings, by Kafka's names. Samsa offers PLAIN and SCRAM; Kafka's default mechanism list
// is GSSAPI (Kerberos), which Samsa does not offer, so the default here lists the three it does.
import type { BrokerConfig, ConfigDef } from '../../config.js';
import { ConfigError } from '../../config-error.js';
import type { SaslCredentials } from '../../protocol/sasl-client.js';

export const SUPPORTED_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;

export const saslConfigDefs: readonly ConfigDef[] = [
  { name: 'sasl.enabled.mechanisms', type: 'list', default: SUPPORTED_MECHANISMS.join(','), values: SUPPORTED_MECHANISMS, doc: 'SASL mechanisms a SASL_PLAINTEXT / SASL_SSL listener accepts (Kafka\'s default is GSSAPI, which Samsa does not offer).' },
  { name: 'sasl.mechanism.inter.broker.protocol', type: 'string', default: 'SCRAM-SHA-512', values: SUPPORTED_MECHANISMS, doc: 'Mechanism brokers authenticate with to each other when inter.broker.listener.name is a SASL listener (Kafka\'s default is GSSAPI).' },
  { name: 'sasl.jaas.config', type: 'string', default: '', unsetByDefault: true, sensitive: true, doc: 'The broker\'s own SASL login on the inter-broker listener, as Kafka writes it: org.apache.kafka.common.security.scram.ScramLoginModule required username="..." password="..."; (also listener.name.<l>.<mechanism>.sasl.jaas.config).' },
  { name: 'connections.max.reauth.ms', type: 'long', default: '0', min: 0, doc: 'SASL session lifetime (KIP-368): a client must re-authenticate within it or its connection is closed at its next request; 0: sessions do not expire.' },
];

/**
 * The credentials this broker logs in with on a SASL inter-broker listener: the mechanism of
 * sasl.mechanism.inter.broker.protocol and the username/password of the JAAS line
 * (listener.name.<l>.<mechanism>.sasl.jaas.config, else listener.name.<l>.sasl.jaas.config, else sasl.jaas.config).
 */
export function interBrokerSaslCredentials(config: BrokerConfig, listener: string): SaslCredentials {
  const mechanism = config.get('sasl.mechanism.inter.broker.protocol') as SaslCredentials['mechanism'];
  const scoped = config.explicit.get(`listener.name.${listener.toLowerCase()}.${mechanism.toLowerCase()}.sasl.jaas.config`);
  const jaas = scoped ?? config.listenerValue(listener, 'sasl.jaas.config');
  if (jaas === '') throw new ConfigError(`inter.broker.listener.name ${listener} is a SASL listener: give the broker's login in listener.name.${listener.toLowerCase()}.${mechanism.toLowerCase()}.sasl.jaas.config (or sasl.jaas.config)`);
  const option = (key: string) => new RegExp(`\\b${key}\\s*=\\s*"([^"]*)"`).exec(jaas)?.[1];
  const username = option('username');
  const password = option('password');
  if (username === undefined || password === undefined) throw new ConfigError(`sasl.jaas.config for ${listener} needs username="..." and password="..." (e.g. org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="...";)`);
  return { mechanism, username, password };
}
