import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { subjectDistinguishedName } from '../../broker/security/ssl-principal.js';
import { createCertificateAuthority, validForDays } from '../tls/certificate-authority.js';
import { TRUST_PROPAGATION_MS } from '../tls/cluster-certificates.js';
import { planUserCertificate } from './certificate.js';

const TLS = { certificateValidityDays: 30, renewalDays: 5 };
const DAY = 86_400_000;
const t0 = new Date('2026-01-01T00:00:00Z');
const at = (ms: number) => new Date(t0.getTime() + ms);
const ca = createCertificateAuthority('c-clients-ca', validForDays(150, t0));

describe('a tls user\'s certificate', () => {
  it('is issued from the clients CA with subject CN=<user>, the broker\'s principal for it', () => {
    const plan = planUserCertificate('alice', null, ca, ca.cert, TLS, t0);
    expect(plan.why).toBe('created');
    const cert = new X509Certificate(plan.cert);
    expect(subjectDistinguishedName(cert)).toBe('CN=alice');
    expect(cert.verify(new X509Certificate(ca.cert).publicKey)).toBe(true);
    expect(plan.notAfter.getTime()).toBe(Math.floor((t0.getTime() + 30 * DAY) / 1000) * 1000);
    expect(plan.nextCheck).toEqual(new Date(plan.notAfter.getTime() - 5 * DAY));
  });

  it('is kept while good, issued again within renewalDays of its expiry', () => {
    const first = planUserCertificate('alice', null, ca, ca.cert, TLS, t0);
    const kept = planUserCertificate('alice', first, ca, ca.cert, TLS, at(24 * DAY));
    expect(kept).toMatchObject({ why: null, cert: first.cert, key: first.key });
    const renewed = planUserCertificate('alice', first, ca, ca.cert, TLS, at(25 * DAY + 1000));
    expect(renewed.why).toMatch(/^it expires .*, within 5 day\(s\)$/);
    expect(renewed.cert).not.toBe(first.cert);
  });

  it('is issued again when its key does not match or the Secret holds no certificate', () => {
    const a = planUserCertificate('alice', null, ca, ca.cert, TLS, t0);
    const b = planUserCertificate('alice', null, ca, ca.cert, TLS, t0);
    expect(planUserCertificate('alice', { key: b.key, cert: a.cert }, ca, ca.cert, TLS, t0).why).toBe('the Secret\'s user.key does not match user.crt');
    expect(planUserCertificate('alice', { key: a.key, cert: 'junk' }, ca, ca.cert, TLS, t0).why).toBe('the Secret\'s user.crt or user.key is not readable');
  });

  it('signed by a renewed clients CA: kept until the new CA is trusted everywhere, then issued again; a foreign CA\'s at once', () => {
    const old = planUserCertificate('alice', null, ca, ca.cert, TLS, t0);
    const renewedAt = at(10 * DAY);
    const next = createCertificateAuthority('c-clients-ca', validForDays(150, renewedAt));
    const bundle = `${next.cert}${ca.cert}`;
    const waiting = planUserCertificate('alice', old, next, bundle, TLS, at(10 * DAY + 60_000));
    expect(waiting.why).toBeNull();
    // validFrom is a minute before the CA was made.
    expect(waiting.nextCheck).toEqual(new Date(renewedAt.getTime() - 60_000 + TRUST_PROPAGATION_MS));
    const reissued = planUserCertificate('alice', old, next, bundle, TLS, waiting.nextCheck);
    expect(reissued.why).toBe('the clients CA was renewed');
    expect(new X509Certificate(reissued.cert).verify(new X509Certificate(next.cert).publicKey)).toBe(true);
    expect(planUserCertificate('alice', old, next, next.cert, TLS, at(10 * DAY + 60_000)).why).toBe('the clients CA changed');
  });
});
