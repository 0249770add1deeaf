import { describe, expect, it } from 'vitest';
import forge from 'node-forge';
import { createCertificateAuthority, validForDays } from '../tls/certificate-authority.js';
import { issueUserCertificate } from '../tls/cluster-certificates.js';
import { propertiesValue, scramSecretData, tlsSecretData, userSecret } from './secret.js';

const CA = '-----BEGIN CERTIFICATE-----\nMIIB\nAAAA\n-----END CERTIFICATE-----\n';

/** Reads a .properties file as java.util.Properties does for the escapes used here. */
function parseProperties(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.indexOf('=');
    out[line.slice(0, at)] = line.slice(at + 1).replace(/\\(.)/g, (_m, c: string) => ({ n: '\n', r: '\r', t: '\t' })[c] ?? c);
  }
  return out;
}

describe('user Secret', () => {
  it('holds a SCRAM user\'s password, JAAS config, bootstrap, CA and client configs for a SASL_SSL listener', () => {
    const data = scramSecretData({ username: 'alice', password: 'pw123', listener: { bootstrap: 'demo.kafka.svc:9093', tls: true }, caCertificate: CA });
    expect(Object.keys(data).sort()).toEqual(['bootstrap', 'ca.crt', 'client.properties', 'librdkafka.config', 'password', 'sasl.jaas.config', 'username']);
    expect(data['sasl.jaas.config']).toBe('org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="pw123";');
    expect(data.bootstrap).toBe('demo.kafka.svc:9093');
    expect(data['ca.crt']).toBe(CA);
    expect(parseProperties(data['client.properties']!)).toEqual({
      'bootstrap.servers': 'demo.kafka.svc:9093',
      'security.protocol': 'SASL_SSL',
      'sasl.mechanism': 'SCRAM-SHA-512',
      'sasl.jaas.config': data['sasl.jaas.config'],
      'ssl.truststore.type': 'PEM',
      'ssl.truststore.certificates': CA,
    });
    expect(parseProperties(data['librdkafka.config']!)).toEqual({
      'bootstrap.servers': 'demo.kafka.svc:9093',
      'security.protocol': 'sasl_ssl',
      'sasl.mechanisms': 'SCRAM-SHA-512',
      'sasl.username': 'alice',
      'sasl.password': 'pw123',
      'ssl.ca.location': 'ca.crt',
    });
  });

  it('has no TLS settings for a SASL_PLAINTEXT listener, and no client configs without a listener', () => {
    const plain = scramSecretData({ username: 'bob', password: 'p', listener: { bootstrap: 'h:9092', tls: false }, caCertificate: null });
    expect(plain['client.properties']).toBe('bootstrap.servers=h:9092\nsecurity.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\nsasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="bob" password="p";\n');
    expect(plain['librdkafka.config']).toBe('bootstrap.servers=h:9092\nsecurity.protocol=sasl_plaintext\nsasl.mechanisms=SCRAM-SHA-512\nsasl.username=bob\nsasl.password=p\n');
    expect(plain['ca.crt']).toBeUndefined();
    const none = scramSecretData({ username: 'bob', password: 'p', listener: null, caCertificate: CA });
    expect(Object.keys(none).sort()).toEqual(['ca.crt', 'password', 'sasl.jaas.config', 'username']);
  });

  it('escapes a password of the user\'s own in JAAS and in .properties', () => {
    const password = 'a"b\\c d';
    const data = scramSecretData({ username: 'carol', password, listener: { bootstrap: 'h:1', tls: false }, caCertificate: null });
    expect(data['sasl.jaas.config']).toBe('org.apache.kafka.common.security.scram.ScramLoginModule required username="carol" password="a\\"b\\\\c d";');
    expect(parseProperties(data['client.properties']!)['sasl.jaas.config']).toBe(data['sasl.jaas.config']);
    expect(propertiesValue(' lead\nline')).toBe('\\ lead\\nline');
  });

  it('is owned by its KafkaUser and carries the data base64-encoded', () => {
    const secret = userSecret({ apiVersion: 'samsa.dev/v1alpha1', kind: 'KafkaUser', metadata: { name: 'alice', namespace: 'kafka', uid: 'u-1' } }, { password: 'pw' }, { 'samsa.dev/password-hash': 'h' });
    expect(secret.metadata).toMatchObject({ name: 'alice', namespace: 'kafka', labels: { 'samsa.dev/kafka-user': 'alice' }, annotations: { 'samsa.dev/password-hash': 'h' } });
    expect(secret.metadata!.ownerReferences).toEqual([{ apiVersion: 'samsa.dev/v1alpha1', kind: 'KafkaUser', name: 'alice', uid: 'u-1', controller: true, blockOwnerDeletion: true }]);
    expect(secret.data).toEqual({ password: Buffer.from('pw').toString('base64') });
  });
});

describe('tls user Secret', () => {
  const ca = createCertificateAuthority('c-clients-ca', validForDays(10));
  const clusterCa = createCertificateAuthority('c-cluster-ca', validForDays(10));
  const certificate = issueUserCertificate(ca, 'alice', 5);

  it('holds the certificate, key, cluster CA, a PKCS#12 keystore and client configs for the mTLS listener', () => {
    const data = tlsSecretData({ certificate, listener: { bootstrap: 'demo.kafka.svc:9094', tls: true }, caCertificate: clusterCa.cert, p12: { password: 'p12pw', keystore: null } });
    expect(Object.keys(data).sort()).toEqual(['bootstrap', 'ca.crt', 'client.properties', 'librdkafka.config', 'user.crt', 'user.key', 'user.p12', 'user.password']);
    expect(data).toMatchObject({ 'user.crt': certificate.cert, 'user.key': certificate.key, 'ca.crt': clusterCa.cert, bootstrap: 'demo.kafka.svc:9094', 'user.password': 'p12pw' });
    expect(parseProperties(data['client.properties'] as string)).toEqual({
      'bootstrap.servers': 'demo.kafka.svc:9094',
      'security.protocol': 'SSL',
      'ssl.keystore.type': 'PEM',
      'ssl.keystore.key': certificate.key,
      'ssl.keystore.certificate.chain': certificate.cert,
      'ssl.truststore.type': 'PEM',
      'ssl.truststore.certificates': clusterCa.cert,
    });
    expect(parseProperties(data['librdkafka.config'] as string)).toEqual({
      'bootstrap.servers': 'demo.kafka.svc:9094',
      'security.protocol': 'ssl',
      'ssl.certificate.location': 'user.crt',
      'ssl.key.location': 'user.key',
      'ssl.ca.location': 'ca.crt',
    });
    // The keystore opens with its password and holds the key, the certificate and the cluster CA.
    const p12 = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(forge.util.createBuffer((data['user.p12'] as Buffer).toString('binary'))), 'p12pw');
    const certBag = forge.pki.oids.certBag!;
    const certs = p12.getBags({ bagType: certBag })[certBag]!.map((b: forge.pkcs12.Bag) => forge.pki.certificateToPem(b.cert!).trim());
    expect(certs).toEqual([certificate.cert.trim(), clusterCa.cert.trim()]);
    const keyBag = forge.pki.oids.pkcs8ShroudedKeyBag!;
    const key = p12.getBags({ bagType: keyBag })[keyBag]![0]!.key as forge.pki.rsa.PrivateKey;
    expect(forge.pki.publicKeyToPem(forge.pki.setRsaPublicKey(key.n, key.e))).toBe(forge.pki.publicKeyToPem(forge.pki.certificateFromPem(certificate.cert).publicKey));
    expect(() => forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(forge.util.createBuffer((data['user.p12'] as Buffer).toString('binary'))), 'wrong')).toThrow();
  });

  it('keeps a keystore it is given, and has no client configs without a listener', () => {
    const keystore = Buffer.from([1, 2, 3]);
    const data = tlsSecretData({ certificate, listener: null, caCertificate: clusterCa.cert, p12: { password: 'x', keystore } });
    expect(Object.keys(data).sort()).toEqual(['ca.crt', 'user.crt', 'user.key', 'user.p12', 'user.password']);
    expect(data['user.p12']).toBe(keystore);
    expect(userSecret({ apiVersion: 'v', kind: 'KafkaUser', metadata: { name: 'a', namespace: 'n', uid: 'u' } }, data, {}).data['user.p12']).toBe('AQID');
  });
});
