import { describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { createCertificateAuthority, issueCertificate, validForDays } from '../../operator/tls/certificate-authority.js';
import { SslPrincipalMapper, parsePrincipalMappingRules, subjectDistinguishedName } from './ssl-principal.js';

describe('ssl.principal.mapping.rules (KIP-371)', () => {
  it('DEFAULT keeps the distinguished name', () => {
    expect(new SslPrincipalMapper('DEFAULT').name('CN=alice,O=team-a')).toBe('CN=alice,O=team-a');
  });

  it('the first rule whose pattern matches the whole name gives the replacement', () => {
    const mapper = new SslPrincipalMapper('RULE:^CN=([^,]+),O=ops$/ops-$1/U, RULE:^CN=([^,]+).*$/$1/,DEFAULT');
    expect(mapper.name('CN=alice,O=team-a')).toBe('alice');
    expect(mapper.name('CN=bob,O=ops')).toBe('OPS-BOB');
    expect(mapper.name('O=nobody')).toBe('O=nobody');
  });

  it('lower-cases with L and takes escaped slashes in patterns and replacements', () => {
    expect(new SslPrincipalMapper('RULE:^CN=(.*?),OU=(.*)$/$2\\/$1/L').name('CN=Alice,OU=Team')).toBe('team/alice');
  });

  it('a name no rule applies to is refused', () => {
    expect(() => new SslPrincipalMapper('RULE:^CN=admin$/admin/').name('CN=alice')).toThrow('no rule of ssl.principal.mapping.rules applies to "CN=alice"');
  });

  it('bad rules are refused when the setting is read', () => {
    expect(() => parsePrincipalMappingRules('RULE:^CN=(.*$/$1/')).toThrow('bad pattern');
    expect(() => parsePrincipalMappingRules('CN=alice')).toThrow('cannot read a rule at "CN=alice"');
    expect(() => parsePrincipalMappingRules('')).toThrow('names no rule');
  });
});

describe('the subject of a client certificate', () => {
  it('is written as RFC 2253 does it: last RDN first', () => {
    const ca = createCertificateAuthority('test-ca', validForDays(1));
    const client = issueCertificate(ca, { commonName: 'alice', organization: 'team-a', usage: 'client' }, validForDays(1));
    expect(subjectDistinguishedName(new X509Certificate(client.cert))).toBe('CN=alice,O=team-a');
  });
});
