// Certificates for TLS tests, from operator/tls/certificate-authority.ts, written as Kafka's PEM
// stores: a key store file holding the private key and the certificate chain, a trust store file
// holding CA certificates.
import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type KeyAndCertificate, type Validity, createCertificateAuthority, issueCertificate, validForDays } from '../../operator/tls/certificate-authority.ts';

/** The key (encrypted with `password` when given, as PKCS#8) followed by the certificate. */
export function keystorePem(kc: KeyAndCertificate, password?: string): string {
  const key = password === undefined ? kc.key : (createPrivateKey(kc.key).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: password }) as string);
  return `${key}${kc.cert}`;
}

// Written without parameter properties so that Node's type stripping can run it (bench/).
export class TlsTestFiles {
  readonly dir = mkdtempSync(join(tmpdir(), 'samsa-tls-'));
  readonly ca: KeyAndCertificate;

  constructor(ca: KeyAndCertificate = createCertificateAuthority('samsa-test-ca', validForDays(30))) {
    this.ca = ca;
  }

  /** A server-and-client certificate for brokers on this machine (127.0.0.1, localhost). */
  broker(validity: Validity = validForDays(30), ca = this.ca): KeyAndCertificate {
    return issueCertificate(ca, { commonName: 'broker', hosts: ['127.0.0.1', 'localhost'], usage: 'server-and-client' }, validity);
  }

  client(commonName: string, validity: Validity = validForDays(30), ca = this.ca, organization?: string): KeyAndCertificate {
    return issueCertificate(ca, { commonName, usage: 'client', organization }, validity);
  }

  /** Writes a file in the test directory (atomically, as a secret volume swaps it) and returns its path. */
  write(name: string, text: string): string {
    const path = join(this.dir, name);
    writeFileSync(`${path}.tmp`, text);
    renameSync(`${path}.tmp`, path);
    return path;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
