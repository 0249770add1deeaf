// TLS of one SSL (or SASL_SSL) listener from PEM files, as Kafka's PEM key and trust stores hold
// them: the key store is one file with the private key (PKCS#8, encrypted with ssl.key.password
// or not) and the certificate chain, leaf first; the trust store one file of CA certificates.
// The files are read again every few seconds (cert-manager and Kubernetes secret volumes replace
// them through symlink swaps, which file watches miss): new contents that load become the
// context of new connections, open ones keep theirs; contents that do not load leave the old
// context in place, logged and counted.
import { X509Certificate, createHash, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type ConnectionOptions, type SecureContextOptions, type TLSSocket, type TlsOptions, createSecureContext } from 'node:tls';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { BrokerConfig } from '../config.js';
import { ConfigError } from '../config-error.js';
import { ANONYMOUS, type KafkaPrincipal, userPrincipal } from './principal.js';
import { SslPrincipalMapper, subjectDistinguishedName } from './ssl-principal.js';

/** How often the key and trust store files are read again for changes. */
export const RELOAD_CHECK_INTERVAL_MS = 3000;

export type ClientAuth = 'required' | 'requested' | 'none';

export interface ListenerTlsSettings {
  listener: string;
  keystore: string;
  keyPassword: string;
  truststore: string;
  clientAuth: ClientAuth;
  minVersion: 'TLSv1.2' | 'TLSv1.3';
  maxVersion: 'TLSv1.2' | 'TLSv1.3';
  principalMappingRules: string;
  /** A broker connecting to another checks the host name in its certificate. */
  verifyHostName: boolean;
}

/** The TLS settings of `listener`, per-listener values first; ConfigError when they cannot work. */
export function listenerTlsSettings(config: BrokerConfig, listener: string): ListenerTlsSettings {
  const get = (name: string) => config.listenerValue(listener, name);
  const protocols = get('ssl.enabled.protocols').split(',');
  const settings: ListenerTlsSettings = {
    listener,
    keystore: get('ssl.keystore.location'),
    keyPassword: get('ssl.key.password'),
    truststore: get('ssl.truststore.location'),
    clientAuth: get('ssl.client.auth') as ClientAuth,
    minVersion: protocols.includes('TLSv1.2') ? 'TLSv1.2' : 'TLSv1.3',
    maxVersion: protocols.includes('TLSv1.3') ? 'TLSv1.3' : 'TLSv1.2',
    principalMappingRules: get('ssl.principal.mapping.rules'),
    verifyHostName: get('ssl.endpoint.identification.algorithm') === 'https',
  };
  const scoped = `listener.name.${listener.toLowerCase()}.`;
  if (settings.keystore === '') throw new ConfigError(`listener ${listener} uses TLS but has no ssl.keystore.location (or ${scoped}ssl.keystore.location)`);
  if (settings.clientAuth !== 'none' && settings.truststore === '') {
    throw new ConfigError(`listener ${listener}: ssl.client.auth=${settings.clientAuth} needs ssl.truststore.location (or ${scoped}ssl.truststore.location) to check client certificates`);
  }
  return settings;
}

/** A key or trust store file that cannot be used: the message names the file and the problem. */
export class TlsFileError extends Error {
  override name = 'TlsFileError';
}

export interface TlsMaterial {
  /** Key, certificate chain, CAs and versions, as node:tls takes them. */
  context: SecureContextOptions;
  /** The leaf certificate this broker presents. */
  certificate: X509Certificate;
  /** Of the files' contents, to tell a change. */
  digest: string;
}

const KEY_BLOCK = /-----BEGIN ((?:ENCRYPTED |RSA |EC )?PRIVATE KEY)-----[\s\S]+?-----END \1-----/;
const CERT_BLOCKS = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function readStore(setting: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new TlsFileError(`${setting} ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

function certificates(setting: string, path: string, text: string): X509Certificate[] {
  const blocks = text.match(CERT_BLOCKS) ?? [];
  if (blocks.length === 0) throw new TlsFileError(`${setting} ${path}: no PEM certificate (-----BEGIN CERTIFICATE-----) in it`);
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new TlsFileError(`${setting} ${path}: certificate ${i + 1} cannot be read (${(err as Error).message})`);
    }
  });
}

function privateKey(path: string, text: string, password: string): KeyObject {
  const block = KEY_BLOCK.exec(text);
  if (!block) throw new TlsFileError(`ssl.keystore.location ${path}: no PEM private key (-----BEGIN PRIVATE KEY----- or ENCRYPTED PRIVATE KEY) in it`);
  const encrypted = block[1] === 'ENCRYPTED PRIVATE KEY';
  if (encrypted && password === '') throw new TlsFileError(`ssl.keystore.location ${path}: the private key is encrypted and ssl.key.password is not set`);
  try {
    return createPrivateKey({ key: block[0], format: 'pem', ...(encrypted ? { passphrase: password } : {}) });
  } catch (err) {
    const why = encrypted ? 'cannot decrypt the private key with ssl.key.password' : 'the private key cannot be read';
    throw new TlsFileError(`ssl.keystore.location ${path}: ${why} (${(err as Error).message})`);
  }
}

const digestOf = (...texts: string[]) => createHash('sha256').update(texts.join('\0')).digest('hex');

/** Reads and checks the listener's files; TlsFileError naming the file when one cannot be used. */
export function loadTlsMaterial(settings: ListenerTlsSettings): TlsMaterial {
  const keystoreText = readStore('ssl.keystore.location', settings.keystore);
  const truststoreText = settings.truststore === '' ? '' : readStore('ssl.truststore.location', settings.truststore);
  const chain = certificates('ssl.keystore.location', settings.keystore, keystoreText);
  const key = privateKey(settings.keystore, keystoreText, settings.keyPassword);
  if (!chain[0]!.checkPrivateKey(key)) throw new TlsFileError(`ssl.keystore.location ${settings.keystore}: the private key does not belong to the first certificate (the chain must start with this broker's own certificate)`);
  const cas = settings.truststore === '' ? undefined : certificates('ssl.truststore.location', settings.truststore, truststoreText);
  const context: SecureContextOptions = {
    key: key.export({ type: 'pkcs8', format: 'pem' }),
    cert: chain.map((c) => c.toString()).join('\n'),
    ...(cas ? { ca: cas.map((c) => c.toString()) } : {}),
    minVersion: settings.minVersion,
    maxVersion: settings.maxVersion,
  };
  try {
    createSecureContext(context);
  } catch (err) {
    throw new TlsFileError(`ssl.keystore.location ${settings.keystore}: TLS cannot use the key and certificates (${(err as Error).message})`);
  }
  return { context, certificate: chain[0]!, digest: digestOf(keystoreText, truststoreText) };
}

export class TlsMetrics {
  readonly reloads: Counter<'listener'>;
  readonly reloadFailures: Counter<'listener'>;
  readonly expiry: Gauge<'listener'>;
  readonly refused: Counter<'listener' | 'reason'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.reloads = new Counter({ name: 'samsa_tls_certificate_reloads_total', help: 'Changed key or trust store files taken into use, by listener.', labelNames: ['listener'], registers });
    this.reloadFailures = new Counter({ name: 'samsa_tls_certificate_reload_failures_total', help: 'Changed key or trust store files that could not be used (the previous ones stay in use), by listener.', labelNames: ['listener'], registers });
    this.expiry = new Gauge({ name: 'samsa_tls_certificate_expiry_timestamp_seconds', help: 'When the certificate a listener presents expires (Unix time).', labelNames: ['listener'], registers });
    this.refused = new Counter({ name: 'samsa_tls_connections_refused_total', help: 'TLS connections refused, by listener and reason (handshake: failed TLS handshake, incl. a missing, untrusted or expired client certificate under ssl.client.auth=required; untrusted_certificate: a client certificate that does not verify under ssl.client.auth=requested; principal_mapping: no ssl.principal.mapping.rules rule applies).', labelNames: ['listener', 'reason'], registers });
  }
}

/** One TLS listener's files, context and client authentication. */
export class ListenerTls {
  private material: TlsMaterial;
  private failedDigest: string | null = null;
  private timer: NodeJS.Timeout | undefined;
  private readonly reloadListeners: ((material: TlsMaterial) => void)[] = [];
  private readonly mapper: SslPrincipalMapper;

  constructor(
    readonly settings: ListenerTlsSettings,
    private readonly metrics: TlsMetrics,
    private readonly logger: Logger,
  ) {
    this.material = loadTlsMaterial(settings);
    this.mapper = new SslPrincipalMapper(settings.principalMappingRules);
    this.metrics.expiry.set({ listener: settings.listener }, certificateExpirySeconds(this.material.certificate));
  }

  get current(): TlsMaterial {
    return this.material;
  }

  /** Options of a TLS server for this listener. */
  serverOptions(): TlsOptions {
    return { ...this.material.context, requestCert: this.settings.clientAuth !== 'none', rejectUnauthorized: this.settings.clientAuth === 'required' };
  }

  /** Options to connect to another broker's listener of this name: its CAs, and this broker's certificate for mTLS. */
  clientOptions(): ConnectionOptions {
    const { key, cert, ca, minVersion, maxVersion } = this.material.context;
    return { key, cert, ca, minVersion, maxVersion, ...(this.settings.verifyHostName ? {} : { checkServerIdentity: () => undefined }) };
  }

  onReload(listener: (material: TlsMaterial) => void): void {
    this.reloadListeners.push(listener);
  }

  startReloading(intervalMs = RELOAD_CHECK_INTERVAL_MS): void {
    this.timer = setInterval(() => this.checkFiles(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Takes changed files into use if they load; otherwise keeps the current ones. */
  checkFiles(): void {
    const { keystore, truststore, listener } = this.settings;
    let digest: string;
    try {
      digest = digestOf(readFileSync(keystore, 'utf8'), truststore === '' ? '' : readFileSync(truststore, 'utf8'));
    } catch (err) {
      // Mid-swap, or removed: judged when it is back, by its contents.
      this.logger.debug({ err, listener }, 'TLS files unreadable; keeping the current ones');
      return;
    }
    if (digest === this.material.digest || digest === this.failedDigest) return;
    try {
      const material = loadTlsMaterial(this.settings);
      this.material = material;
      this.failedDigest = null;
      this.metrics.reloads.inc({ listener });
      this.metrics.expiry.set({ listener }, certificateExpirySeconds(material.certificate));
      this.logger.info({ listener, serial: material.certificate.serialNumber, subject: material.certificate.subject, notAfter: material.certificate.validTo }, 'TLS certificate files reloaded');
      for (const l of this.reloadListeners) l(material);
    } catch (err) {
      this.failedDigest = digest;
      this.metrics.reloadFailures.inc({ listener });
      this.logger.error({ listener, error: (err as Error).message }, 'changed TLS certificate files cannot be used; keeping the previous ones');
    }
  }

  /**
   * Who a client on this listener is, from its verified certificate (ANONYMOUS without one), or
   * null when the connection must be refused: a certificate that did not verify (with
   * ssl.client.auth=requested node:tls lets it through; Kafka fails the handshake) or a subject no
   * mapping rule applies to.
   */
  principalOf(socket: TLSSocket): { principal: KafkaPrincipal; subject?: string } | { refused: string; reason: 'untrusted_certificate' | 'principal_mapping' } {
    const cert = socket.getPeerX509Certificate();
    if (!cert) return { principal: ANONYMOUS };
    if (!socket.authorized) return { refused: `client certificate not trusted: ${String(socket.authorizationError)}`, reason: 'untrusted_certificate' };
    const subject = subjectDistinguishedName(cert);
    try {
      return { principal: userPrincipal(this.mapper.name(subject)), subject };
    } catch (err) {
      return { refused: (err as Error).message, reason: 'principal_mapping' };
    }
  }
}

const certificateExpirySeconds = (cert: X509Certificate) => Math.floor(new Date(cert.validTo).getTime() / 1000);
