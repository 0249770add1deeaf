// A KafkaCluster's listeners as the brokers' Kafka settings: the internal REPLICATION listener
// (TLS on 9091, client certificates of the cluster CA required: the brokers replicate over it and
// the operator connects through it) and spec.listeners, each a Kafka listener named after it in
// upper case, with its security protocol, certificates and authentication. Per-pod values (the
// advertised names, the broker's own keystore) use the container's $(POD_NAME) expansion.
import { STANDARD_AUTHORIZER } from '../../broker/security/authorizer.js';
import { type KafkaCluster, type Listener, REPLICATION_LISTENER, REPLICATION_PORT } from '../crds/types.js';
import { brokerKeystoreKey, brokerPrincipal, CA_CERT_KEY, operatorPrincipal } from '../tls/cluster-certificates.js';

/** Where the certificate Secrets are mounted in a broker container. */
export const TLS_PATH = '/etc/samsa-tls';
export const BROKER_CERTS_PATH = `${TLS_PATH}/broker`;
export const CLUSTER_CA_PATH = `${TLS_PATH}/cluster-ca`;
export const CLIENTS_CA_PATH = `${TLS_PATH}/clients-ca`;

/** The internal listener, in the same shape as the spec's. */
export const replicationListener: Listener = { name: REPLICATION_LISTENER, port: REPLICATION_PORT, tls: true, authentication: 'tls' };

/** Every listener a broker serves: the internal one first, then the spec's. */
export const allListeners = (kc: KafkaCluster): Listener[] => [replicationListener, ...kc.spec.listeners];

/** The Kafka listener name of a listener: its name in upper case. */
export const kafkaListenerName = (l: Listener) => l.name.toUpperCase();

export function securityProtocol(l: Listener): 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL' {
  const sasl = l.authentication === 'scram-sha-512';
  if (l.tls) return sasl ? 'SASL_SSL' : 'SSL';
  return sasl ? 'SASL_PLAINTEXT' : 'PLAINTEXT';
}

/**
 * The broker settings of the listeners, certificates and authorization, as --config NAME=VALUE
 * arguments (they name per-pod values and mounted files, so they are not in server.properties).
 */
export function listenerSettings(kc: KafkaCluster): Array<[string, string]> {
  const listeners = allListeners(kc);
  const headless = `${kc.metadata.name}-brokers`;
  const settings: Array<[string, string]> = [
    ['listeners', listeners.map((l) => `${kafkaListenerName(l)}://0.0.0.0:${l.port}`).join(',')],
    ['advertised.listeners', listeners.map((l) => `${kafkaListenerName(l)}://$(POD_NAME).${headless}.$(POD_NAMESPACE).svc:${l.port}`).join(',')],
    ['listener.security.protocol.map', listeners.map((l) => `${kafkaListenerName(l)}:${securityProtocol(l)}`).join(',')],
    ['inter.broker.listener.name', kafkaListenerName(replicationListener)],
    // The broker's certificate serves every TLS listener; it and the cluster CA are also what a
    // broker presents and trusts as a client of the others.
    ['ssl.keystore.type', 'PEM'],
    ['ssl.keystore.location', `${BROKER_CERTS_PATH}/${brokerKeystoreKey('$(POD_NAME)')}`],
    ['ssl.truststore.type', 'PEM'],
    ['ssl.truststore.location', `${CLUSTER_CA_PATH}/${CA_CERT_KEY}`],
    [`listener.name.${REPLICATION_LISTENER}.ssl.client.auth`, 'required'],
    // Only the operator issues certificates of the cluster CA, and its only server certificates
    // are the brokers': that is what a broker checks of another (as Strimzi's replication
    // listener does). The host name is not checked, so that brokers reached at pod addresses
    // (no cluster DNS, as under the test kubelet) still replicate.
    [`listener.name.${REPLICATION_LISTENER}.ssl.endpoint.identification.algorithm`, ''],
  ];
  for (const l of kc.spec.listeners) {
    if (l.authentication !== 'tls') continue;
    // Client certificates of the clients CA (KafkaUsers), not the cluster CA's (brokers, operator).
    settings.push([`listener.name.${l.name}.ssl.client.auth`, 'required'], [`listener.name.${l.name}.ssl.truststore.location`, `${CLIENTS_CA_PATH}/${CA_CERT_KEY}`]);
  }
  if (kc.spec.listeners.some((l) => l.authentication === 'scram-sha-512')) settings.push(['sasl.enabled.mechanisms', 'SCRAM-SHA-512']);
  const authorization = kc.spec.authorization;
  if (authorization) {
    const superUsers = [brokerPrincipal(kc.metadata.name), operatorPrincipal(kc.metadata.name), ...authorization.superUsers];
    settings.push(['authorizer.class.name', STANDARD_AUTHORIZER], ['super.users', superUsers.join(';')]);
  }
  return settings;
}

/** What is wrong with the listeners (the CRD refuses these too; this catches CRDs older than the operator). */
export function listenerProblems(kc: KafkaCluster): string[] {
  const problems: string[] = [];
  const ports = new Map<number, string>([[REPLICATION_PORT, `the internal ${REPLICATION_LISTENER} listener`], [kc.spec.http.port, 'http.port']]);
  const names = new Set([REPLICATION_LISTENER, 'http']);
  for (const l of kc.spec.listeners) {
    if (names.has(l.name)) problems.push(`listener name ${l.name} is ${l.name === REPLICATION_LISTENER || l.name === 'http' ? 'reserved' : 'used twice'}`);
    names.add(l.name);
    const taken = ports.get(l.port);
    if (taken) problems.push(`listener ${l.name}: port ${l.port} is taken by ${taken}`);
    ports.set(l.port, `listener ${l.name}`);
    if (l.authentication === 'tls' && !l.tls) problems.push(`listener ${l.name}: authentication tls (client certificates) needs tls: true`);
  }
  if (kc.spec.http.port === REPLICATION_PORT) problems.push(`http.port cannot be ${REPLICATION_PORT}: the internal ${REPLICATION_LISTENER} listener uses it`);
  return problems;
}

/** Each listener and its bootstrap address (the bootstrap Service, the listener's port), for status.listeners. */
export function listenerStatus(kc: KafkaCluster): Array<{ name: string; bootstrap: string; tls: boolean; authentication: string }> {
  return kc.spec.listeners.map((l) => ({ name: l.name, bootstrap: `${kc.metadata.name}.${kc.metadata.namespace}.svc:${l.port}`, tls: l.tls, authentication: l.authentication }));
}
