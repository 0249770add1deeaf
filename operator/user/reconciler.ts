// reconcile(namespace/name) of a KafkaUser: its credential, ACLs and quotas in Kafka equal to the
// spec, and a Secret (owned by the KafkaUser) with what its clients need. The principal is
// User:<name> for scram-sha-512 and User:CN=<name> for tls. The SCRAM-SHA-512 credential is set
// (salted here, kafka-user.ts) only when the password changed or the brokers lack it: the Secret
// remembers a hash of the password it last set. Deleting the resource (finalizer) removes the
// credential, the ACLs and the quotas — access is revoked — and the Secret goes with its owner.
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
import { PASSWORD_HASH_ANNOTATION, scramSecretData, userSecret } from './secret.js';

export const USER_FINALIZER = 'samsa.dev/user';

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
    if (user.spec.authentication.type === 'tls') {
      throw new Verdict('failed', 'ClientCertificatesUnavailable', 'authentication type tls needs client certificates from the cluster\'s clients CA, which this operator does not issue yet');
    }
    const existing = await this.kube.getOrNull<Secret>('v1', 'Secret', namespace, name);
    if (existing && !existing.metadata?.ownerReferences?.some((o) => o.controller && o.uid === user.metadata.uid)) {
      throw new Verdict('failed', 'SecretConflict', `Secret ${name} exists and is not this KafkaUser's: the operator will not overwrite it (delete it, or name the user otherwise)`);
    }
    const password = await this.password(user, existing);
    const conn = await this.connect(cluster);
    if (!conn) throw new Verdict('progressing', 'BrokersNotReady', `no broker of ${cluster.metadata.name} is ready`, 5000);
    try {
      await this.alignKafka(user, conn, password, existing);
    } finally {
      await conn.close();
    }
    const listener = clientListener(cluster, user.spec.authentication.type);
    const data = scramSecretData({ username, password, listener, caCertificate: await clusterCaCertificate(this.kube, cluster) });
    await this.kube.apply(userSecret(user, data, { [PASSWORD_HASH_ANNOTATION]: passwordHash(password) }));
    const facts = { username, secret: name };
    if (!listener) {
      return this.status(user, facts, new Verdict('failed', 'NoMatchingListener', `KafkaCluster ${cluster.metadata.name} has no listener with authentication ${user.spec.authentication.type}: the credential, ACLs and quotas are set, but clients have no listener to use them on`));
    }
    return this.status(user, facts, 'ready');
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

  /** Credential, ACLs and quotas in Kafka equal to the spec, with an Event for each change. */
  private async alignKafka(user: User, conn: KafkaConnection, password: string, existing: Secret | null): Promise<void> {
    const username = kafkaUsername(user);
    const principal = principalOf(user);
    const known = existing?.metadata?.annotations?.[PASSWORD_HASH_ANNOTATION] === passwordHash(password);
    if (!known || !(await hasScramCredential(conn, username))) {
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
