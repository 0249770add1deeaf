// The certificate Secrets of a cluster: issued once, kept while good, renewed before expiry, on
// a new force-renew value, and when the CA is not the one that signed them.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { subjectDistinguishedName as subjectOf } from '../../broker/security/ssl-principal.js';
import { API_VERSION, type KafkaCluster } from '../crds/types.js';
import { FORCE_RENEW_ANNOTATION, type Secret, brokerPrincipal, caFromSecret, issueUserCertificate, operatorIdentity, operatorPrincipal, planCertificates } from './cluster-certificates.js';

const cluster = (annotations?: Record<string, string>, tls = { certificateValidityDays: 10, renewalDays: 2 }): KafkaCluster => ({
  apiVersion: API_VERSION,
  kind: 'KafkaCluster',
  metadata: { name: 'prod', namespace: 'data', uid: 'uid-1', ...(annotations ? { annotations } : {}) },
  spec: {
    replicas: 2,
    image: 'samsa:0.1.0',
    storage: { size: '1Gi', deleteClaimsOnClusterDelete: false, deleteClaimsOnScaleDown: false },
    listeners: [{ name: 'plain', port: 9092, tls: false, authentication: 'none' }],
    http: { port: 9644 },
    tls,
  },
});

const bySecret = (secrets: Secret[]) => new Map(secrets.map((s) => [s.metadata!.name!, s]));
const decoded = (s: Secret | undefined, key: string) => Buffer.from(s!.data![key]!, 'base64').toString();
const DAY = 86_400_000;

describe('planCertificates', () => {
  const now = new Date('2026-11-30T00:00:00Z');
  const first = planCertificates(cluster(), new Map(), 2, now);
  const secrets = bySecret(first.secrets);

  it('creates both CAs, a keystore per broker with the pod and bootstrap names, and the operator certificate', () => {
    expect([...secrets.keys()]).toEqual(['prod-cluster-ca', 'prod-cluster-ca-cert', 'prod-clients-ca', 'prod-clients-ca-cert', 'prod-broker-certs', 'prod-operator-certs']);
    expect(first.issued.map((i) => i.name)).toEqual(['cluster-ca', 'clients-ca', 'prod-0', 'prod-1', 'operator']);
    // The -cert Secrets hold no key: they are for clients.
    expect(Object.keys(secrets.get('prod-cluster-ca-cert')!.data!)).toEqual(['ca.crt']);
    const ca = new X509Certificate(decoded(secrets.get('prod-cluster-ca'), 'ca.crt'));
    const pem = decoded(secrets.get('prod-broker-certs'), 'prod-1.pem');
    const broker = new X509Certificate(pem);
    expect(broker.verify(ca.publicKey)).toBe(true);
    expect(broker.checkHost('prod-1.prod-brokers.data.svc')).toBeDefined();
    expect(broker.checkHost('prod-1.prod-brokers.data.svc.cluster.local')).toBeDefined();
    expect(broker.checkHost('prod.data.svc')).toBeDefined();
    expect(broker.checkHost('prod-0.prod-brokers.data.svc')).toBeUndefined();
    expect(broker.checkPrivateKey(createPrivateKey(pem))).toBe(true);
    expect(`User:${subjectOf(broker)}`).toBe(brokerPrincipal('prod'));
    // The keystore carries its chain: the CA follows the broker's certificate.
    expect(pem.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    const operator = operatorIdentity(secrets.get('prod-operator-certs'))!;
    expect(`User:${subjectOf(new X509Certificate(operator.cert))}`).toBe(operatorPrincipal('prod'));
    expect(operatorPrincipal('prod')).toBe('User:CN=prod-operator,O=samsa');
    expect(new X509Certificate(operator.cert).verify(ca.publicKey)).toBe(true);
    // Leaves last certificateValidityDays and are renewed renewalDays before; CAs last five times as long.
    const seconds = (ms: number) => Math.floor(ms / 1000) * 1000;
    expect(new Date(new X509Certificate(operator.cert).validTo).getTime()).toBe(seconds(now.getTime() + 10 * DAY));
    expect(first.status.find((s) => s.name === 'operator')!.renewAt).toBe(new Date(now.getTime() + 8 * DAY).toISOString());
    expect(new Date(ca.validTo).getTime()).toBe(seconds(now.getTime() + 50 * DAY));
    expect(first.nextRenewal!.toISOString()).toBe(new Date(now.getTime() + 8 * DAY).toISOString());
  });

  it('keeps good certificates as they are', () => {
    const again = planCertificates(cluster(), secrets, 2, new Date(now.getTime() + 7 * DAY));
    expect(again.issued).toEqual([]);
    expect(again.secrets).toEqual(first.secrets);
  });

  it('renews broker and operator certificates renewalDays before they expire, keeping the CA', () => {
    const later = planCertificates(cluster(), secrets, 2, new Date(now.getTime() + 8 * DAY));
    expect(later.issued.map((i) => [i.name, i.why])).toEqual([
      ['prod-0', expect.stringMatching(/^it expires .* within 2 day\(s\)$/)],
      ['prod-1', expect.stringMatching(/^it expires/)],
      ['operator', expect.stringMatching(/^it expires/)],
    ]);
    const renewed = bySecret(later.secrets);
    expect(renewed.get('prod-cluster-ca')).toEqual(secrets.get('prod-cluster-ca'));
    expect(decoded(renewed.get('prod-broker-certs'), 'prod-0.pem')).not.toBe(decoded(secrets.get('prod-broker-certs'), 'prod-0.pem'));
  });

  it('renews on a new samsa.dev/force-renew value, once', () => {
    const forced = planCertificates(cluster({ [FORCE_RENEW_ANNOTATION]: '1' }), secrets, 2, now);
    expect(forced.issued.map((i) => i.name)).toEqual(['prod-0', 'prod-1', 'operator']);
    expect(forced.issued[0]!.why).toBe(`${FORCE_RENEW_ANNOTATION}: 1`);
    expect(planCertificates(cluster({ [FORCE_RENEW_ANNOTATION]: '1' }), bySecret(forced.secrets), 2, now).issued).toEqual([]);
    expect(planCertificates(cluster({ [FORCE_RENEW_ANNOTATION]: '2' }), bySecret(forced.secrets), 2, now).issued).toHaveLength(3);
  });

  it('issues certificates for new brokers and drops those of removed ones', () => {
    const grown = planCertificates(cluster(), secrets, 3, now);
    expect(grown.issued.map((i) => i.name)).toEqual(['prod-2']);
    expect(Object.keys(bySecret(grown.secrets).get('prod-broker-certs')!.data!)).toEqual(['prod-0.pem', 'prod-1.pem', 'prod-2.pem']);
    expect(Object.keys(bySecret(planCertificates(cluster(), secrets, 1, now).secrets).get('prod-broker-certs')!.data!)).toEqual(['prod-0.pem']);
  });

  it('issues every certificate again at once when the cluster CA is gone, and after the trust has spread when only its key is', () => {
    const withoutCa = new Map(secrets);
    withoutCa.delete('prod-cluster-ca');
    withoutCa.delete('prod-cluster-ca-cert');
    const redone = planCertificates(cluster(), withoutCa, 2, now);
    expect(redone.issued.map((i) => [i.name, i.why])).toEqual([
      ['cluster-ca', 'created'],
      ['prod-0', 'the cluster CA changed'],
      ['prod-1', 'the cluster CA changed'],
      ['operator', 'the cluster CA changed'],
    ]);
    // The trust bundle still has the old CA: the brokers keep their certificates until every one trusts the new CA.
    const withoutKey = new Map(secrets);
    withoutKey.delete('prod-cluster-ca');
    expect(planCertificates(cluster(), withoutKey, 2, now).issued.map((i) => i.name)).toEqual(['cluster-ca']);
  });

  it('issues KafkaUser certificates from the clients CA, which the cluster CA does not vouch for', () => {
    const clientsCa = caFromSecret(secrets.get('prod-clients-ca'))!;
    const user = new X509Certificate(issueUserCertificate(clientsCa, 'alice', 5, now).cert);
    expect(subjectOf(user)).toBe('CN=alice');
    expect(user.verify(new X509Certificate(clientsCa.cert).publicKey)).toBe(true);
    expect(user.verify(new X509Certificate(decoded(secrets.get('prod-cluster-ca'), 'ca.crt')).publicKey)).toBe(false);
  });

  it('replaces a CA renewalDays before it expires, trusts both until the old one expires, and moves the brokers to the new one once every broker can trust it', () => {
    const at = (days: number, minutes = 0) => new Date(now.getTime() + days * DAY + minutes * 60_000);
    const bundle = (secrets: Map<string, Secret>) => decoded(secrets.get('prod-cluster-ca-cert'), 'ca.crt').match(/BEGIN CERTIFICATE/g)!.length;
    const issuerOf = (secrets: Map<string, Secret>, key: string) => new X509Certificate(decoded(secrets.get('prod-broker-certs'), key)).issuer;
    // Day 45: the brokers' certificates (10 days) are renewed by the CA, which lasts until day 50.
    const day45 = bySecret(planCertificates(cluster(), secrets, 2, at(45)).secrets);
    const oldCa = decoded(day45.get('prod-cluster-ca'), 'ca.crt');
    // Day 48: the CA is within renewalDays (2) of its expiry: a new CA, both in the trust bundle, the brokers keep their certificates for now.
    const renewal = planCertificates(cluster(), day45, 2, at(48, 1));
    expect(renewal.issued.map((i) => [i.name, i.why])).toEqual([
      ['cluster-ca', expect.stringMatching(/^it expires .* within 2 day\(s\)$/)],
      ['clients-ca', expect.stringMatching(/^it expires/)],
    ]);
    const day48 = bySecret(renewal.secrets);
    expect(decoded(day48.get('prod-cluster-ca'), 'ca.crt')).not.toBe(oldCa);
    expect(bundle(day48)).toBe(2);
    expect(decoded(day48.get('prod-cluster-ca-cert'), 'ca.crt')).toContain(oldCa.trim());
    expect(decoded(day48.get('prod-operator-certs'), 'ca.crt')).toBe(decoded(day48.get('prod-cluster-ca-cert'), 'ca.crt'));
    expect(decoded(day48.get('prod-broker-certs'), 'prod-0.pem')).toBe(decoded(day45.get('prod-broker-certs'), 'prod-0.pem'));
    expect(renewal.nextRenewal!.getTime()).toBe(new Date(new X509Certificate(decoded(day48.get('prod-cluster-ca'), 'ca.crt')).validFrom).getTime() + 6 * 60_000);
    // Minutes later the new CA is trusted everywhere: the brokers and the operator get certificates it signs.
    const moved = planCertificates(cluster(), day48, 2, at(48, 8));
    expect(moved.issued.map((i) => [i.name, i.why])).toEqual([
      ['prod-0', 'the cluster CA was renewed'],
      ['prod-1', 'the cluster CA was renewed'],
      ['operator', 'the cluster CA was renewed'],
    ]);
    const after = bySecret(moved.secrets);
    expect(issuerOf(after, 'prod-0.pem')).toBe(new X509Certificate(decoded(day48.get('prod-cluster-ca'), 'ca.crt')).subject);
    expect(bundle(after)).toBe(2);
    // Once the old CA has expired, the bundle holds the new one alone.
    expect(bundle(bySecret(planCertificates(cluster(), after, 2, at(50, 60)).secrets))).toBe(1);
  });
});

