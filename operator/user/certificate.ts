// A tls KafkaUser's client certificate, as a pure plan: kept while it is good, issued again from
// the cluster's clients CA when missing, within spec.tls.renewalDays of its expiry, or signed by a
// CA that is no longer the current one. A renewed clients CA stays in the listeners' trust bundle
// until it expires, so a certificate it signed keeps working; it is issued again once the new CA
// is trusted by every broker (TRUST_PROPAGATION_MS after the new CA was made), not before — a
// client with a certificate of the new CA would be refused by a broker still on the old bundle.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { KeyAndCertificate } from '../tls/certificate-authority.js';
import { TRUST_PROPAGATION_MS, issueUserCertificate } from '../tls/cluster-certificates.js';

export interface UserCertificatePlan extends KeyAndCertificate {
  /** Why it was issued now; null when the existing one is kept. */
  why: string | null;
  notAfter: Date;
  /** When the plan must be made again: renewal, or the new CA being trusted everywhere. */
  nextCheck: Date;
}

const signedBy = (cert: X509Certificate, issuer: X509Certificate) => cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
const certificatesIn = (pem: string) => pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];

/**
 * `existing`: the key and certificate the user's Secret holds (null when none); `clientsCa`: the
 * current clients CA; `trustBundle`: the clients CA certificates the listeners trust (current and
 * earlier ones not yet expired).
 */
export function planUserCertificate(
  user: string,
  existing: KeyAndCertificate | null,
  clientsCa: KeyAndCertificate,
  trustBundle: string,
  tls: { certificateValidityDays: number; renewalDays: number },
  now = new Date(),
): UserCertificatePlan {
  const ca = new X509Certificate(clientsCa.cert);
  const renewAt = (notAfter: Date) => new Date(notAfter.getTime() - tls.renewalDays * 86_400_000);
  const switchAt = new Date(new Date(ca.validFrom).getTime() + TRUST_PROPAGATION_MS);
  const why = ((): string | null => {
    if (!existing) return 'created';
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(existing.cert);
      if (!cert.checkPrivateKey(createPrivateKey(existing.key))) return 'the Secret\'s user.key does not match user.crt';
    } catch {
      return 'the Secret\'s user.crt or user.key is not readable';
    }
    if (!signedBy(cert, ca)) {
      const earlier = certificatesIn(trustBundle).map((pem) => new X509Certificate(pem)).filter((c) => new Date(c.validTo) > now);
      if (!earlier.some((c) => signedBy(cert, c))) return 'the clients CA changed';
      if (switchAt <= now) return 'the clients CA was renewed';
    }
    if (renewAt(new Date(cert.validTo)) <= now) return `it expires ${new Date(cert.validTo).toISOString()}, within ${tls.renewalDays} day(s)`;
    return null;
  })();
  const kept = why === null ? existing! : issueUserCertificate(clientsCa, user, tls.certificateValidityDays, now);
  const notAfter = new Date(new X509Certificate(kept.cert).validTo);
  const waitingForTrust = why === null && !signedBy(new X509Certificate(kept.cert), ca);
  const nextCheck = waitingForTrust && switchAt < renewAt(notAfter) ? switchAt : renewAt(notAfter);
  return { key: kept.key, cert: kept.cert, why, notAfter, nextCheck };
}
