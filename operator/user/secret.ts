// The Secret a KafkaUser's client connects with, as pure functions: the credentials, the
// cluster's bootstrap address and CA, and the same ready to use as a Java client's
// client.properties and a librdkafka (kcat, confluent-kafka-*) config file — for a SCRAM-SHA-512
// user its password, for a tls user its client certificate.
import forge from 'node-forge';
import type { KubernetesObject } from '../kube.js';
import type { KeyAndCertificate } from '../tls/certificate-authority.js';

/** A listener of the cluster a client of the user connects to. */
export interface ClientListener {
  /** host:port[,host:port...] of the listener. */
  bootstrap: string;
  tls: boolean;
}

export interface ScramSecretInput {
  username: string;
  password: string;
  /** The cluster's listener with SCRAM-SHA-512 authentication; null when it has none. */
  listener: ClientListener | null;
  /** The cluster CA's certificate (PEM), which a client on a TLS listener trusts. */
  caCertificate: string | null;
}

/** The annotation on the user's Secret holding the hash of the password last set in Kafka. */
export const PASSWORD_HASH_ANNOTATION = 'samsa.dev/password-hash';

/** A value as a Java .properties file writes it: backslashes and line breaks escaped. */
export function propertiesValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\r/g, '\\r').replace(/\n/g, '\\n').replace(/^ /, '\\ ');
}

/** A JAAS option value, quoted: quotes and backslashes escaped as JAAS's tokenizer reads them. */
function jaasQuoted(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export function scramJaasConfig(username: string, password: string): string {
  return `org.apache.kafka.common.security.scram.ScramLoginModule required username=${jaasQuoted(username)} password=${jaasQuoted(password)};`;
}

const properties = (entries: Array<[string, string]>) => entries.map(([k, v]) => `${k}=${propertiesValue(v)}`).join('\n') + '\n';

/** The keys of a SCRAM-SHA-512 user's Secret. */
export function scramSecretData(input: ScramSecretInput): Record<string, string> {
  const { username, password, listener, caCertificate } = input;
  const jaas = scramJaasConfig(username, password);
  const data: Record<string, string> = { username, password, 'sasl.jaas.config': jaas };
  if (caCertificate) data['ca.crt'] = caCertificate;
  if (!listener) return data;
  data.bootstrap = listener.bootstrap;
  const trust: Array<[string, string]> = listener.tls && caCertificate ? [['ssl.truststore.type', 'PEM'], ['ssl.truststore.certificates', caCertificate]] : [];
  data['client.properties'] = properties([
    ['bootstrap.servers', listener.bootstrap],
    ['security.protocol', listener.tls ? 'SASL_SSL' : 'SASL_PLAINTEXT'],
    ['sasl.mechanism', 'SCRAM-SHA-512'],
    ['sasl.jaas.config', jaas],
    ...trust,
  ]);
  // librdkafka reads one property per line and a CA from a file: ca.crt of this Secret, relative
  // to the directory the client runs in (where the Secret is mounted).
  data['librdkafka.config'] =
    (listener.tls && caCertificate ? '# ssl.ca.location: the ca.crt of this Secret, relative to where the client runs; give its full path elsewhere\n' : '') +
    [
      `bootstrap.servers=${listener.bootstrap}`,
      `security.protocol=${listener.tls ? 'sasl_ssl' : 'sasl_plaintext'}`,
      'sasl.mechanisms=SCRAM-SHA-512',
      `sasl.username=${username}`,
      `sasl.password=${password}`,
      ...(listener.tls && caCertificate ? ['ssl.ca.location=ca.crt'] : []),
    ].join('\n') +
    '\n';
  return data;
}

export interface TlsSecretInput {
  /** The user's client certificate and its key (PKCS#8 PEM). */
  certificate: KeyAndCertificate;
  /** The cluster's listener with authentication tls; null when it has none. */
  listener: ClientListener | null;
  /** The cluster CA's certificate (PEM), which the client trusts the brokers by. */
  caCertificate: string | null;
  /** user.p12's password, and the keystore itself when the Secret's is still right (null: make it). */
  p12: { password: string; keystore: Buffer | null };
}

/**
 * The keys of a tls user's Secret: user.crt, user.key, ca.crt, the same as PKCS#12 (user.p12 with
 * user.password, for clients that want a keystore file), and client configs for its listener.
 * The Java client reads PEM inline (KIP-651: ssl.keystore.key, ssl.keystore.certificate.chain,
 * ssl.truststore.certificates); librdkafka's config file has one property per line, so it names
 * this Secret's files, relative to the directory the client runs in (where the Secret is mounted).
 */
export function tlsSecretData(input: TlsSecretInput): Record<string, string | Buffer> {
  const { certificate, listener, caCertificate, p12 } = input;
  const data: Record<string, string | Buffer> = {
    'user.crt': certificate.cert,
    'user.key': certificate.key,
    'user.p12': p12.keystore ?? pkcs12(certificate, caCertificate, p12.password),
    'user.password': p12.password,
  };
  if (caCertificate) data['ca.crt'] = caCertificate;
  if (!listener) return data;
  data.bootstrap = listener.bootstrap;
  data['client.properties'] = properties([
    ['bootstrap.servers', listener.bootstrap],
    ['security.protocol', 'SSL'],
    ['ssl.keystore.type', 'PEM'],
    ['ssl.keystore.key', certificate.key],
    ['ssl.keystore.certificate.chain', certificate.cert],
    ...(caCertificate ? ([['ssl.truststore.type', 'PEM'], ['ssl.truststore.certificates', caCertificate]] as Array<[string, string]>) : []),
  ]);
  data['librdkafka.config'] =
    '# ssl.*.location: the files of this Secret, relative to where the client runs; give their full paths elsewhere\n' +
    [
      `bootstrap.servers=${listener.bootstrap}`,
      'security.protocol=ssl',
      'ssl.certificate.location=user.crt',
      'ssl.key.location=user.key',
      ...(caCertificate ? ['ssl.ca.location=ca.crt'] : []),
    ].join('\n') +
    '\n';
  return data;
}

/** Key, certificate and the cluster CA as a PKCS#12 keystore (AES-256 as Java 8u301+ and OpenSSL 3 read it). */
function pkcs12(certificate: KeyAndCertificate, caCertificate: string | null, password: string): Buffer {
  const chain = [forge.pki.certificateFromPem(certificate.cert), ...(caCertificate ? [forge.pki.certificateFromPem(caCertificate)] : [])];
  const asn1 = forge.pkcs12.toPkcs12Asn1(forge.pki.privateKeyFromPem(certificate.key), chain, password, { algorithm: 'aes256', friendlyName: 'user' });
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
}

/** The Secret object: the data base64-encoded, owned by the KafkaUser so that it goes with it. */
export function userSecret(user: KubernetesObject, data: Record<string, string | Buffer>, annotations: Record<string, string>): KubernetesObject & { type: string; data: Record<string, string> } {
  const meta = user.metadata!;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: meta.name,
      namespace: meta.namespace,
      labels: { 'app.kubernetes.io/managed-by': 'samsa-operator', 'app.kubernetes.io/part-of': 'samsa', 'samsa.dev/kafka-user': meta.name! },
      annotations,
      ownerReferences: [{ apiVersion: user.apiVersion!, kind: user.kind!, name: meta.name!, uid: meta.uid!, controller: true, blockOwnerDeletion: true }],
    },
    type: 'Opaque',
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, (typeof v === 'string' ? Buffer.from(v, 'utf8') : v).toString('base64')])),
  };
}
