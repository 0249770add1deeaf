// reconcile(namespace/name) of a KafkaUser: its credential, ACLs and quotas in Kafka equal to the
// spec, and a Secret (owned by the KafkaUser) with what its clients need. The principal is
// User:<name> for scram-sha-512 and User:CN=<name> for tls. The SCRAM-SHA-512 credential is set
// (salted here, kafka-user.ts) only when the password changed or the brokers lack it: the Secret
// remembers a hash of the password it last set. A tls user's client certificate comes from the
// cluster's clients CA and is issued again before it expires or once a renewed CA is trusted
// (certificate.ts). Deleting the resource (finalizer) removes the credential, the ACLs and the
// quotas — access is revoked (a certificate stays valid, but with the authorizer on a principal
// without ACLs is refused) — and the Secret goes with its owner.
import type { Logger } from 'pino';
import type { KafkaConnection } from '../../broker/protocol/client.js';
import type { ConnectToCluster } from '../cluster/admin-connection.js';
import { sameStatus, verdict } from '../conditions.js';
import type { ReconcileResult, Reconciler } from '../controller/controller.js';
import { API_VERSION, type KafkaCluster, type KafkaUser, type KafkaUserStatus } from '../crds/types.js';
import type { Kube, KubernetesObject } from '../kube.js';
import { describeAcl, desiredAcls } from './acls.js';
import { KafkaExchangeFailed, KafkaRefusal, deleteAcls, deleteQuotas, deleteScramCredential, hasScramCredential, setScramCredential, syncAcls, syncQuotas } from './kafka-user.js';
import { clientListener, clusterCaCertificate } from './listeners.js';
import { desiredQuotas } from './quotas.js';
import { generatePassword, passwordHash } from './scram.js';
import { PASSWORD_HASH_ANNOTATION, scramSecretData, tlsSecretData, userSecret } from './secret.js';
import { CA_CERT_KEY, caFromSecret, secretNames } from '../tls/cluster-certificates.js';
import { type UserCertificatePlan, planUserCertificate } from './certificate.js';

export const USER_FINALIZER = 'samsa.dev/user';
/** Longest wait before looking at a certificate again (setTimeout's limit is about 24.8 days). */
const MAX_REQUEUE_MS = 24 * 3_600_000;

type User = KafkaUser & KubernetesObject;
type Cluster = KafkaCluster & KubernetesObject;
type Secret = KubernetesObject & { data?: Record<string, string> };

/** The user's name in Kafka: its resource name, or the certificate's subject for tls. */
export const kafkaUsername = (u: KafkaUser) => (u.spec.authentication.type === 'tls' ? `CN=${u.metadata.name}` : u.metadata.name);
export const principalOf = (u: KafkaUser) => `User:${kafkaUsername(u)}`;

const decode = (secret: Secret | null, key: string) => {
  const value = secret?.data?.[key];
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
};

/** A state the reconcile stops in: its verdict on the user. */
class Verdict {
  constructor(
    readonly state: 'progressing' | 'failed',
    readonly reason: string,
    readonly message: string,
    readonly requeueAfterMs?: number,
  ) {}
}

export class UserReconciler implements Reconciler {
  readonly name = 'kafkauser';

  constructor(
    private readonly kube: Kube,
    private readonly logger: Logger,
    /** How the operator reaches the brokers with the rights to manage credentials and ACLs. */
    private readonly connect: ConnectToCluster,
  ) {}

  async reconcile(key: string): Promise<ReconcileResult | void> {
    const [namespace, name] = key.split('/') as [string, string];
    const user = await this.kube.getOrNull<User>(API_VERSION, 'KafkaUser', namespace, name);
    if (!user) return;
    const finalizers = user.metadata.finalizers ?? [];
    const cluster = await this.kube.getOrNull<Cluster>(API_VERSION, 'KafkaCluster', namespace, user.spec.clusterRef.name);

    if (user.metadata.deletionTimestamp) {
      if (!finalizers.includes(USER_FINALIZER)) return;
      // A cluster that is gone (or going) holds no access to revoke.
      if (cluster && !cluster.metadata.deletionTimestamp) {
        const conn = await this.connect(cluster);
        if (!conn) return this.status(user, {}, new Verdict('progressing', 'BrokersNotReady', `no broker of ${cluster.metadata.name} answers: the user's access is revoked once one does`, 5000));
        try {
          await this.revoke(user, conn);
        } catch (err) {
          if (err instanceof KafkaRefusal) return this.status(user, {}, new Verdict('failed', 'KafkaRefused', err.message, 30_000));
          if (err instanceof KafkaExchangeFailed) return this.status(user, {}, new Verdict('failed', 'KafkaExchangeFailed', err.message, 30_000));
          throw err;
        } finally {
          await conn.close();
        }
        this.logger.info({ user: key, principal: principalOf(user) }, 'revoked the user\'s credential, ACLs and quotas');
      }
      await this.kube.mergePatch(user, { metadata: { finalizers: finalizers.filter((f) => f !== USER_FINALIZER), resourceVersion: user.metadata.resourceVersion } });
      return;
    }
    if (!finalizers.includes(USER_FINALIZER)) {
      await this.kube.mergePatch(user, { metadata: { finalizers: [...finalizers, USER_FINALIZER], resourceVersion: user.metadata.resourceVersion } });
    }
    const facts = { username: kafkaUsername(user) };
    try {
      return await this.converge(user, cluster);
    } catch (err) {
      if (err instanceof Verdict) return this.status(user, facts, err);
      if (err instanceof KafkaRefusal) return this.status(user, facts, new Verdict('failed', 'KafkaRefused', err.message, 30_000));
      if (err instanceof KafkaExchangeFailed) return this.status(user, facts, new Verdict('failed', 'KafkaExchangeFailed', err.message, 30_000));
      throw err;
    }
  }

  private async converge(user: User, cluster: Cluster | null): Promise<ReconcileResult | void> {
    const { namespace, name } = user.metadata;
    const username = kafkaUsername(user);
    if (!cluster) throw new Verdict('progressing', 'ClusterNotFound', `KafkaCluster ${user.spec.clusterRef.name} does not exist`, 10_000);
    const existing = await this.kube.getOrNull<Secret>('v1', 'Secret', namespace, name);
    if (existing && !existing.metadata?.ownerReferences?.some((o) => o.controller && o.uid === user.metadata.uid)) {
      throw new Verdict('failed', 'SecretConflict', `Secret ${name} exists and is not this KafkaUser's: the operator will not overwrite it (delete it, or name the user otherwise)`);
    }
    const listener = clientListener(cluster, user.spec.authentication.type);
    const caCertificate = await clusterCaCertificate(this.kube, cluster);
    let secret: ReturnType<typeof userSecret>;
    let nextCheck: Date | null = null;
    if (user.spec.authentication.type === 'tls') {
      const certificate = await this.certificate(user, cluster, existing);
      nextCheck = certificate.nextCheck;
      await this.withKafka(cluster, (conn) => this.alignKafka(user, conn, null, existing));
      const keepKeystore = !certificate.why && decode(existing, 'ca.crt') === (caCertificate ?? undefined) && existing?.data?.['user.p12'] && decode(existing, 'user.password');
      const p12 = keepKeystore ? { password: decode(existing, 'user.password')!, keystore: Buffer.from(existing!.data!['user.p12']!, 'base64') } : { password: generatePassword(), keystore: null };
      secret = userSecret(user, tlsSecretData({ certificate, listener, caCertificate, p12 }), {});
    } else {
      const password = await this.password(user, existing);
      await this.withKafka(cluster, (conn) => this.alignKafka(user, conn, password, existing));
      secret = userSecret(user, scramSecretData({ username, password, listener, caCertificate }), { [PASSWORD_HASH_ANNOTATION]: passwordHash(password) });
    }
    await this.kube.apply(secret);
    const facts = { username, secret: name };
    if (!listener) {
      return this.status(user, facts, new Verdict('failed', 'NoMatchingListener', `KafkaCluster ${cluster.metadata.name} has no listener with authentication ${user.spec.authentication.type}: the credential, ACLs and quotas are set, but clients have no listener to use them on`));
    }
    const result = await this.status(user, facts, 'ready');
    // Back when the certificate is due for renewal (timers cap near 24.8 days; resyncs come sooner).
    return nextCheck ? { requeueAfterMs: Math.min(Math.max(nextCheck.getTime() - Date.now(), 1000), MAX_REQUEUE_MS) } : result;
  }

  private async withKafka(cluster: Cluster, work: (conn: KafkaConnection) => Promise<void>): Promise<void> {
    const conn = await this.connect(cluster);
    if (!conn) throw new Verdict('progressing', 'BrokersNotReady', `no broker of ${cluster.metadata.name} is ready`, 5000);
    try {
      await work(conn);
    } finally {
      await conn.close();
    }
  }

  /** The tls user's client certificate: the Secret's while it is good, else a new one from the clients CA (with an Event). */
  private async certificate(user: User, cluster: Cluster, existing: Secret | null): Promise<UserCertificatePlan> {
    const names = secretNames(cluster.metadata.name);
    const clientsCa = caFromSecret(await this.kube.getOrNull<Secret>('v1', 'Secret', cluster.metadata.namespace, names.clientsCa));
    const bundle = decode(await this.kube.getOrNull<Secret>('v1', 'Secret', cluster.metadata.namespace, names.clientsCaCert), CA_CERT_KEY);
    if (!clientsCa || !bundle) throw new Verdict('progressing', 'ClientsCaNotReady', `the clients CA of ${cluster.metadata.name} (Secret ${names.clientsCa}) does not exist yet`, 5000);
    const key = decode(existing, 'user.key');
    const cert = decode(existing, 'user.crt');
    const plan = planUserCertificate(user.metadata.name, key && cert ? { key, cert } : null, clientsCa, bundle, cluster.spec.tls);
    if (plan.why) await this.kube.event(user, 'Normal', 'CertificateIssued', `issued the client certificate of ${principalOf(user)} (expires ${plan.notAfter.toISOString()}): ${plan.why}`);
    return plan;
  }

  /** The password: the user's own (spec), or the one the Secret holds, or a new random one. */
  private async password(user: User, existing: Secret | null): Promise<string> {
    const ref = user.spec.authentication.password?.valueFrom.secretKeyRef;
    if (!ref) return decode(existing, 'password') ?? generatePassword();
    const source = await this.kube.getOrNull<Secret>('v1', 'Secret', user.metadata.namespace, ref.name);
    const password = decode(source, ref.key);
    if (password === undefined) throw new Verdict('failed', 'PasswordNotFound', source ? `Secret ${ref.name} has no key ${ref.key}` : `Secret ${ref.name} (the password) does not exist`, 30_000);
    if (password.length === 0) throw new Verdict('failed', 'PasswordNotFound', `key ${ref.key} of Secret ${ref.name} is empty`, 30_000);
    return password;
  }

  /** Credential (SCRAM: its password; null for tls), ACLs and quotas in Kafka equal to the spec, with an Event for each change. */
  private async alignKafka(user: User, conn: KafkaConnection, password: string | null, existing: Secret | null): Promise<void> {
    const username = kafkaUsername(user);
    const principal = principalOf(user);
    const known = password !== null && existing?.metadata?.annotations?.[PASSWORD_HASH_ANNOTATION] === passwordHash(password);
    if (password !== null && (!known || !(await hasScramCredential(conn, username)))) {
      await setScramCredential(conn, username, password);
      await this.kube.event(user, 'Normal', 'PasswordSet', `set the SCRAM-SHA-512 credential of ${username}${existing ? ' (the password changed or the brokers did not have it)' : ''}`);
    }
    const acls = await syncAcls(conn, principal, desiredAcls(principal, user.spec.authorization?.acls ?? []));
    if (acls.created.length + acls.deleted.length > 0) {
      const what = [...acls.created.map((b) => `+ ${describeAcl(b)}`), ...acls.deleted.map((b) => `- ${describeAcl(b)}`)];
      await this.kube.event(user, 'Normal', 'AclsChanged', `ACLs of ${principal}: ${what.join('; ')}`);
    }
    const quotas = await syncQuotas(conn, username, desiredQuotas(user.spec.quotas));
    if (quotas.length > 0) await this.kube.event(user, 'Normal', 'QuotasChanged', `quotas of user ${username}: ${quotas.join(', ')}`);
  }

  /** The user's access, removed from Kafka: credential, ACLs, quotas. */
  private async revoke(user: User, conn: KafkaConnection): Promise<void> {
    const username = kafkaUsername(user);
    if (user.spec.authentication.type === 'scram-sha-512') await deleteScramCredential(conn, username);
    await deleteAcls(conn, principalOf(user));
    await deleteQuotas(conn, username);
  }

  /**
   * Writes status when it says something new and gives a Warning Event when a failure's reason or
   * message changes, not at every reconcile.
   */
  private async status(user: User, facts: Pick<KafkaUserStatus, 'username' | 'secret'>, verdictOf: Verdict | 'ready'): Promise<ReconcileResult | void> {
    const v = verdictOf === 'ready' ? { state: 'ready' as const, reason: 'UserReady', message: `${principalOf(user)} has its credential, ACLs and quotas as specified; Secret ${user.metadata.name} holds what its clients need`, requeueAfterMs: undefined } : verdictOf;
    const previous = user.status?.conditions?.find((c) => c.type === 'Ready');
    const status: KafkaUserStatus = {
      ...user.status,
      observedGeneration: user.metadata.generation,
      ...facts,
      conditions: verdict(user.status?.conditions, v.state, v.reason, v.message, user.metadata.generation),
    };
    if (!sameStatus(status, user.status)) await this.kube.mergePatch(user, { status }, 'status');
    if (v.state === 'failed' && (previous?.reason !== v.reason || previous.message !== v.message)) await this.kube.event(user, 'Warning', v.reason, v.message);
    return v.requeueAfterMs ? { requeueAfterMs: v.requeueAfterMs } : undefined;
  }
}
