// SASL settings, by Kafka's names. Samsa offers PLAIN and SCRAM; Kafka's default mechanism list
// is GSSAPI (Kerberos), which Samsa does not offer, so the default here lists the three it does.
import type { ConfigDef } from '../../config.js';

export const SUPPORTED_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;

export const saslConfigDefs: readonly ConfigDef[] = [
  { name: 'sasl.enabled.mechanisms', type: 'list', default: SUPPORTED_MECHANISMS.join(','), values: SUPPORTED_MECHANISMS, doc: 'SASL mechanisms a SASL_PLAINTEXT / SASL_SSL listener accepts (Kafka\'s default is GSSAPI, which Samsa does not offer).' },
  { name: 'connections.max.reauth.ms', type: 'long', default: '0', min: 0, doc: 'SASL session lifetime (KIP-368): a client must re-authenticate within it or its connection is closed at its next request; 0: sessions do not expire.' },
];
