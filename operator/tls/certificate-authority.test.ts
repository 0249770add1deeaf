import { X509Certificate, createPrivateKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { certificateExpiry, createCertificateAuthority, issueCertificate, validForDays } from './certificate-authority.js';

describe('certificate authority', () => {
  const ca = createCertificateAuthority('samsa-test-ca', validForDays(30));

  it('signs server certificates that verify against the CA and name their hosts', () => {
    const server = issueCertificate(ca, { commonName: 'broker-0', hosts: ['broker-0.my-cluster.svc', '127.0.0.1'], usage: 'server' }, validForDays(10));
    const cert = new X509Certificate(server.cert);
    const caCert = new X509Certificate(ca.cert);
    expect(caCert.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.checkHost('broker-0.my-cluster.svc')).toBe('broker-0.my-cluster.svc');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkHost('other.svc')).toBeUndefined();
    expect(cert.checkPrivateKey(createPrivateKey(server.key))).toBe(true);
    expect(server.key).toContain('BEGIN PRIVATE KEY');
  });

  it('puts the common name and organisation in the subject and keeps the validity asked for', () => {
    const validity = validForDays(2);
    const client = issueCertificate(ca, { commonName: 'alice', organization: 'team-a', usage: 'client' }, validity);
    const cert = new X509Certificate(client.cert);
    expect(cert.subject).toBe('O=team-a\nCN=alice');
    expect(cert.issuer).toBe('CN=samsa-test-ca');
    expect(certificateExpiry(client.cert).getTime()).toBe(Math.floor(validity.notAfter.getTime() / 1000) * 1000);
    expect(cert.serialNumber).not.toBe(new X509Certificate(issueCertificate(ca, { commonName: 'alice', usage: 'client' }, validity).cert).serialNumber);
  });
});
