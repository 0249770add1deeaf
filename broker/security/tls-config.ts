// TLS settings of SSL and SASL_SSL listeners, by Kafka's names. Each may also be given for one
// listener as listener.name.<listener>.<setting> (read with BrokerConfig.listenerValue).
import type { ConfigDef } from '../config.js';
import { parsePrincipalMappingRules } from './ssl-principal.js';

export const tlsConfigDefs: readonly ConfigDef[] = [
  { name: 'ssl.keystore.type', type: 'string', default: 'PEM', values: ['PEM'], doc: 'Format of the key store: PEM (a file with the private key and the certificate chain).' },
  { name: 'ssl.keystore.location', type: 'string', default: '', unsetByDefault: true, doc: 'PEM file with the private key (PKCS#8, encrypted with ssl.key.password or not) and the certificate chain, leaf first. Reloaded when it changes.' },
  { name: 'ssl.key.password', type: 'string', default: '', unsetByDefault: true, sensitive: true, doc: 'Password of the encrypted private key in ssl.keystore.location.' },
  { name: 'ssl.truststore.type', type: 'string', default: 'PEM', values: ['PEM'], doc: 'Format of the trust store: PEM (CA certificates).' },
  { name: 'ssl.truststore.location', type: 'string', default: '', unsetByDefault: true, doc: 'PEM file with the CA certificates client certificates (and, between brokers, server certificates) are checked against. Reloaded when it changes.' },
  { name: 'ssl.client.auth', type: 'string', default: 'none', values: ['required', 'requested', 'none'], doc: 'Client certificates: required (mTLS), requested (checked when given) or none.' },
  { name: 'ssl.enabled.protocols', type: 'list', default: 'TLSv1.2,TLSv1.3', values: ['TLSv1.2', 'TLSv1.3'], doc: 'TLS versions accepted.' },
  { name: 'ssl.principal.mapping.rules', type: 'string', default: 'DEFAULT', check: (v) => void parsePrincipalMappingRules(v), doc: 'How a client certificate\'s subject (RFC 2253) becomes the user name: RULE:pattern/replacement/[LU],...,DEFAULT (KIP-371).' },
  { name: 'ssl.endpoint.identification.algorithm', type: 'string', default: 'https', values: ['https', ''], doc: 'https: a broker connecting to another checks that the certificate names the host; empty: it does not.' },
];
