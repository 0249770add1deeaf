// The certificates of a KafkaCluster, kept in Secrets it owns: a cluster CA (brokers and the
// operator: the internal replication listener trusts only it), a clients CA (KafkaUser
// certificates: listeners with authentication tls trust only it), each broker's server
// certificate and the operator's client certificate. `planCertificates` is pure: from the Secrets
// as they are, the spec and the time, the Secrets as they must be and what changed. A certificate
// is issued when missing, not signed by the current CA, within spec.tls.renewalDays of its expiry,
// or when the samsa.dev/force-renew annotation has a value its Secret has not seen; only the
// Secret changes, and the brokers load the new files without a restart. A CA near its expiry is
// replaced by a new one; the old one stays in the trust bundles (the -cert Secrets) until it expires.
import { X509Certificate } from 'node:crypto';
import { subjectDistinguishedName } from '../../broker/security/ssl-principal.js';
import type { KafkaCluster, KafkaClusterStatus } from '../crds/types.js';
import { createCertificateAuthority, issueCertificate, type KeyAndCertificate, validForDays } from './certificate-authority.js';

/** A new value of this annotation on the KafkaCluster renews the broker and operator certificates now. */
export const FORCE_RENEW_ANNOTATION = 'samsa.dev/force-renew';
/** The organisation of every certificate the operator issues for itself and the brokers. */
export const ORGANIZATION = 'samsa';
/** CAs last this many times spec.tls.certificateValidityDays, and are replaced renewalDays before they expire. */
export const CA_VALIDITY_FACTOR = 5;
/** How long a renewed cluster CA is only trusted before it signs the brokers' certificates: time for every broker to get the new trust bundle. */
export const TRUST_PROPAGATION_MS = 6 * 60_000;

export type CertificateStatus = NonNullable<KafkaClusterStatus['certificates']>[number];

export const secretNames = (cluster: string) => ({
  /** The cluster CA's key and certificate: only the operator reads it. */
  clusterCa: `${cluster}-cluster-ca`,
  /** The cluster CA's certificate alone (ca.crt): what clients of TLS listeners trust. */
  clusterCaCert: `${cluster}-cluster-ca-cert`,
  clientsCa: `${cluster}-clients-ca`,
  /** The clients CA's certificate alone: the truststore of listeners with authentication tls. */
  clientsCaCert: `${cluster}-clients-ca-cert`,
  /** One `<pod>.pem` per broker: its key, certificate and the cluster CA, as ssl.keystore.location reads it. */
  brokers: `${cluster}-broker-certs`,
  /** The operator's client certificate: tls.key, tls.crt and ca.crt. */
  operator: `${cluster}-operator-certs`,
});

export const CA_CERT_KEY = 'ca.crt';
export const CA_KEY_KEY = 'ca.key';
export const brokerKeystoreKey = (pod: string) => `${pod}.pem`;

/** The principal of the brokers' certificates (all brokers share it): a super user. */
export const brokerPrincipal = (cluster: string) => `User:${rfc2253({ commonName: `${cluster}-broker`, organization: ORGANIZATION })}`;
/** The principal of the operator's client certificate: a super user. */
export const operatorPrincipal = (cluster: string) => `User:${rfc2253({ commonName: `${cluster}-operator`, organization: ORGANIZATION })}`;

const rfc2253 = (s: { commonName: string; organization?: string }) => `CN=${s.commonName}${s.organization ? `,O=${s.organization}` : ''}`;


/** The DNS names a broker is reached at: its pod's name under the headless Service, and the bootstrap Service. */
export function brokerHosts(kc: KafkaCluster, pod: string): string[] {
  const ns = kc.metadata.namespace;
  const headless = `${kc.metadata.name}-brokers`;
  const bootstrap = kc.metadata.name;
  const inCluster = (name: string) => [`${name}.${ns}.svc`, `${name}.${ns}.svc.cluster.local`];
  return [...inCluster(`${pod}.${headless}`), bootstrap, `${bootstrap}.${ns}`, ...inCluster(bootstrap)];
}

/** The DNS name the operator checks a broker's certificate against (its connection goes to the pod's address). */
export const brokerServerName = (kc: KafkaCluster, pod: string) => `${pod}.${kc.metadata.name}-brokers.${kc.metadata.namespace}.svc`;

export interface Secret {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; annotations?: Record<string, string>; [k: string]: unknown };
  type?: string;
  data?: Record<string, string>;
}

const b64 = (text: string) => Buffer.from(text).toString('base64');
const text = (secret: Secret | null | undefined, key: string): string | undefined => {
  const value = secret?.data?.[key];
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString();
};
const certificatesIn = (pem: string) => pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
const firstCertificate = (pem: string): string | undefined => certificatesIn(pem)[0];
const firstKey = (pem: string) => pem.match(/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+?-----END [A-Z ]*PRIVATE KEY-----/)?.[0];

/** The CA kept in a `<cluster>-*-ca` Secret, or null when the Secret is missing or incomplete. */
export function caFromSecret(secret: Secret | null | undefined): KeyAndCertificate | null {
  const key = text(secret, CA_KEY_KEY);
  const cert = text(secret, CA_CERT_KEY);
  return key && cert ? { key, cert } : null;
}

/**
 * A KafkaUser's client certificate from the cluster's clients CA: subject CN=<user>, so the
 * brokers see the principal User:CN=<user>. Validity: spec.tls.certificateValidityDays.
 */
export function issueUserCertificate(clientsCa: KeyAndCertificate, user: string, validityDays: number, now = new Date()): KeyAndCertificate {
  return issueCertificate(clientsCa, { commonName: user, usage: 'client' }, validForDays(validityDays, now));
}

export interface CertificatePlan {
  /** Every certificate Secret as it must be (unchanged ones included): apply them all. */
  secrets: Secret[];
  /** What was issued this time, for Events and logs: e.g. "broker prod-0 (expires ...)". */
  issued: Array<{ name: string; why: string; notAfter: Date }>;
  status: CertificateStatus[];
  /** When the next certificate is due for renewal. */
  nextRenewal: Date | null;
}

interface Leaf {
  name: string;
  key: string;
  cert: string;
  /** The certificate of the CA that signed it, the rest of its chain. */
  issuer: string;
  why: string | null;
}

/**
 * The Secrets of a cluster's certificates, from the Secrets as they are (by name; null when
 * missing). `replicas` brokers get a certificate each.
 */
export function planCertificates(kc: KafkaCluster, existing: ReadonlyMap<string, Secret | null>, replicas: number, now = new Date()): CertificatePlan {
  const cluster = kc.metadata.name;
  const n = secretNames(cluster);
  const { certificateValidityDays: days, renewalDays } = kc.spec.tls;
  const forceRenew = kc.metadata.annotations?.[FORCE_RENEW_ANNOTATION];
  const issued: CertificatePlan['issued'] = [];
  const status: CertificateStatus[] = [];
  const renewAt = (notAfter: Date) => new Date(notAfter.getTime() - renewalDays * 86_400_000);

  const expiry = (pem: string) => new Date(new X509Certificate(pem).validTo);
  /**
   * A CA, created when missing and replaced by a new one renewalDays before it expires; its trust
   * bundle is the current CA's certificate followed by earlier ones until they expire, so that
   * certificates the old CA signed stay trusted while they are being issued again.
   */
  const ca = (name: string, secretName: string, bundleSecretName: string, commonName: string): { ca: KeyAndCertificate; bundle: string } => {
    const previous = caFromSecret(existing.get(secretName));
    let current = previous;
    if (!current || renewAt(expiry(current.cert)) <= now) {
      current = createCertificateAuthority(commonName, validForDays(days * CA_VALIDITY_FACTOR, now), ORGANIZATION);
      const why = previous ? `it expires ${expiry(previous.cert).toISOString()}, within ${renewalDays} day(s)` : 'created';
      issued.push({ name, why, notAfter: expiry(current.cert) });
    }
    const earlier = [...certificatesIn(text(existing.get(bundleSecretName), CA_CERT_KEY) ?? ''), ...(previous ? [previous.cert.trim()] : [])];
    const kept = [...new Set(earlier)].filter((c) => c !== current.cert.trim() && expiry(c) > now);
    const cert = new X509Certificate(current.cert);
    status.push({ name, secret: secretName, subject: subjectDistinguishedName(cert), notAfter: new Date(cert.validTo).toISOString(), renewAt: renewAt(expiry(current.cert)).toISOString() });
    return { ca: current, bundle: [current.cert.trim(), ...kept].join('\n') + '\n' };
  };
  const { ca: clusterCa, bundle: clusterTrust } = ca('cluster-ca', n.clusterCa, n.clusterCaCert, `${cluster}-cluster-ca`);
  const { ca: clientsCa, bundle: clientsTrust } = ca('clients-ca', n.clientsCa, n.clientsCaCert, `${cluster}-clients-ca`);
  const caCert = new X509Certificate(clusterCa.cert);
  const signedBy = (cert: X509Certificate, issuer: X509Certificate) => cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  const earlierCas = certificatesIn(clusterTrust).slice(1).map((pem) => ({ pem, cert: new X509Certificate(pem) }));
  // A renewed cluster CA signs certificates only once every broker can have its new trust bundle (the kubelet refreshes Secret volumes within about a minute).
  const switchAt = new Date(new Date(caCert.validFrom).getTime() + TRUST_PROPAGATION_MS);
  let waitingForTrust = false;

  /** Why a certificate (PEM, key and certificate) must be issued again; null while it is good. */
  const renewal = (pem: string | undefined, seenForceRenew: string | undefined): string | null => {
    const certPem = pem && firstCertificate(pem);
    if (!certPem || !firstKey(pem)) return 'created';
    const cert = new X509Certificate(certPem);
    if (!signedBy(cert, caCert)) {
      if (!earlierCas.some((ca) => signedBy(cert, ca.cert))) return 'the cluster CA changed';
      if (switchAt <= now) return 'the cluster CA was renewed';
      waitingForTrust = true;
    }
    if (renewAt(new Date(cert.validTo)) <= now) return `it expires ${new Date(cert.validTo).toISOString()}, within ${renewalDays} day(s)`;
    if (forceRenew !== undefined && forceRenew !== seenForceRenew) return `${FORCE_RENEW_ANNOTATION}: ${forceRenew}`;
    return null;
  };
  const leaf = (name: string, pem: string | undefined, seenForceRenew: string | undefined, request: Parameters<typeof issueCertificate>[1]): Leaf => {
    const why = renewal(pem, seenForceRenew);
    if (!why) {
      const cert = firstCertificate(pem!)!;
      const x509 = new X509Certificate(cert);
      const issuer = signedBy(x509, caCert) ? clusterCa.cert : earlierCas.find((ca) => signedBy(x509, ca.cert))!.pem;
      return { name, key: firstKey(pem!)!, cert, issuer, why };
    }
    const fresh = issueCertificate(clusterCa, request, validForDays(days, now));
    issued.push({ name, why, notAfter: new Date(new X509Certificate(fresh.cert).validTo) });
    return { name, ...fresh, issuer: clusterCa.cert, why };
  };
  const leafStatus = (l: Leaf, secret: string) => {
    const cert = new X509Certificate(l.cert);
    status.push({ name: l.name, secret, subject: subjectDistinguishedName(cert), notAfter: new Date(cert.validTo).toISOString(), renewAt: renewAt(new Date(cert.validTo)).toISOString() });
  };

  const brokerSecret = existing.get(n.brokers);
  const brokerSeen = brokerSecret?.metadata?.annotations?.[FORCE_RENEW_ANNOTATION];
  const brokers: Leaf[] = [];
  for (let i = 0; i < replicas; i++) {
    const pod = `${cluster}-${i}`;
    const l = leaf(pod, text(brokerSecret, brokerKeystoreKey(pod)), brokerSeen, { commonName: `${cluster}-broker`, organization: ORGANIZATION, hosts: brokerHosts(kc, pod), usage: 'server-and-client' });
    brokers.push(l);
    leafStatus(l, n.brokers);
  }
  const operatorSecret = existing.get(n.operator);
  const operatorPem = [text(operatorSecret, 'tls.key'), text(operatorSecret, 'tls.crt')].filter(Boolean).join('\n');
  const operator = leaf('operator', operatorPem, operatorSecret?.metadata?.annotations?.[FORCE_RENEW_ANNOTATION], { commonName: `${cluster}-operator`, organization: ORGANIZATION, usage: 'client' });
  leafStatus(operator, n.operator);

  const forceRenewSeen = forceRenew !== undefined ? { annotations: { [FORCE_RENEW_ANNOTATION]: forceRenew } } : {};
  const secret = (name: string, data: Record<string, string>, extra: object = {}): Secret => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: kc.metadata.namespace, ...extra },
    type: 'Opaque',
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
  });
  const secrets = [
    secret(n.clusterCa, { [CA_KEY_KEY]: clusterCa.key, [CA_CERT_KEY]: clusterCa.cert }),
    secret(n.clusterCaCert, { [CA_CERT_KEY]: clusterTrust }),
    secret(n.clientsCa, { [CA_KEY_KEY]: clientsCa.key, [CA_CERT_KEY]: clientsCa.cert }),
    secret(n.clientsCaCert, { [CA_CERT_KEY]: clientsTrust }),
    // Key, certificate, then the CA: a PEM keystore with its chain.
    secret(n.brokers, Object.fromEntries(brokers.map((b) => [brokerKeystoreKey(b.name), `${b.key.trim()}\n${b.cert.trim()}\n${b.issuer.trim()}\n`])), forceRenewSeen),
    secret(n.operator, { 'tls.key': `${operator.key.trim()}\n`, 'tls.crt': `${operator.cert.trim()}\n`, [CA_CERT_KEY]: clusterTrust }, forceRenewSeen),
  ];
  const renewals = [...status.flatMap((s) => (s.renewAt ? [new Date(s.renewAt).getTime()] : [])), ...(waitingForTrust ? [switchAt.getTime()] : [])];
  return { secrets, issued, status, nextRenewal: renewals.length > 0 ? new Date(Math.min(...renewals)) : null };
}

/** The operator's TLS identity for a cluster, from its Secret: what node:tls needs to reach the brokers. */
export interface OperatorIdentity {
  key: string;
  cert: string;
  ca: string;
}

export function operatorIdentity(secret: Secret | null | undefined): OperatorIdentity | null {
  const key = text(secret, 'tls.key');
  const cert = text(secret, 'tls.crt');
  const ca = text(secret, CA_CERT_KEY);
  return key && cert && ca ? { key, cert, ca } : null;
}
