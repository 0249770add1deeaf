// X.509 certificates for a cluster's TLS: a self-signed CA and the certificates it signs (broker
// server certificates, client certificates for mTLS users and the operator). Keys are RSA 2048
// from node:crypto, in PKCS#8 PEM as Kafka's PEM keystores and Node's tls both read them;
// node-forge builds and signs the certificates (node:crypto only parses them).
import { X509Certificate, generateKeyPairSync, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

/** A key and its certificate, both PEM. */
export interface KeyAndCertificate {
  key: string;
  cert: string;
}

export interface Validity {
  notBefore: Date;
  notAfter: Date;
}

export interface CertificateRequest {
  commonName: string;
  /** Host names and IP addresses the certificate is valid for (a server's subjectAltName). */
  hosts?: readonly string[];
  /** Server, client or both (extendedKeyUsage). */
  usage: 'server' | 'client' | 'server-and-client';
  /** Further subject fields, e.g. { organizationName: 'samsa' }. */
  organization?: string;
}

/** Validity starting a minute ago (clock skew between nodes) and lasting `days`. */
export function validForDays(days: number, now = new Date()): Validity {
  return { notBefore: new Date(now.getTime() - 60_000), notAfter: new Date(now.getTime() + days * 86_400_000) };
}

function newKeyPair(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { privatePem: privateKey, publicPem: publicKey };
}

function subject(commonName: string, organization?: string): forge.pki.CertificateField[] {
  return [...(organization ? [{ name: 'organizationName', value: organization }] : []), { name: 'commonName', value: commonName }];
}

function sign(cert: forge.pki.Certificate, issuerKeyPem: string): string {
  cert.sign(forge.pki.privateKeyFromPem(issuerKeyPem), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

function baseCertificate(publicPem: string, validity: Validity): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicPem);
  // Positive 128-bit serial: unique per certificate without a counter to keep.
  cert.serialNumber = '01' + randomBytes(15).toString('hex');
  cert.validity.notBefore = validity.notBefore;
  cert.validity.notAfter = validity.notAfter;
  return cert;
}

/** A self-signed certificate authority. */
export function createCertificateAuthority(commonName: string, validity: Validity, organization?: string): KeyAndCertificate {
  const { privatePem, publicPem } = newKeyPair();
  const cert = baseCertificate(publicPem, validity);
  cert.setSubject(subject(commonName, organization));
  cert.setIssuer(subject(commonName, organization));
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  return { key: privatePem, cert: sign(cert, privatePem) };
}

/** A certificate signed by `ca`, with a new key. */
export function issueCertificate(ca: KeyAndCertificate, request: CertificateRequest, validity: Validity): KeyAndCertificate {
  const { privatePem, publicPem } = newKeyPair();
  const caCert = forge.pki.certificateFromPem(ca.cert);
  const cert = baseCertificate(publicPem, validity);
  cert.setSubject(subject(request.commonName, request.organization));
  cert.setIssuer(caCert.subject.attributes);
  const hosts = request.hosts ?? [];
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: request.usage !== 'client', clientAuth: request.usage !== 'server' },
    ...(hosts.length > 0 ? [{ name: 'subjectAltName', altNames: hosts.map((h) => (isIP(h) ? { type: 7, ip: h } : { type: 2, value: h })) }] : []),
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  return { key: privatePem, cert: sign(cert, ca.key) };
}

/** When a PEM certificate (the first in the text) stops being valid. */
export function certificateExpiry(pem: string): Date {
  return new Date(new X509Certificate(pem).validTo);
}
