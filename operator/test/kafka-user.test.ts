// The KafkaUser on a real control plane, installed from the chart (its CRD, RBAC, the operator
// process): bad manifests are refused with the CRD's messages, examples/kafka-user.yaml applies
// as shipped, the reconciler reports a missing cluster and a broker that does not serve the
// user APIs through conditions and Events (and writes no Secret), refuses to overwrite a Secret
// it does not own, and a deleted KafkaUser whose cluster is gone leaves nothing behind.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { API_VERSION } from '../crds/types.js';
import type { Kube, KubeError, KubernetesObject } from '../kube.js';
import { type Obj, OperatorHarness } from './operator-harness.js';

const ROOT = resolve(import.meta.dirname, '../..');
const NS = 'users';

let harness: OperatorHarness;
let admin: Kube;

const user = (name: string, spec: Record<string, unknown>) => ({ apiVersion: API_VERSION, kind: 'KafkaUser', metadata: { name, namespace: NS }, spec }) as KubernetesObject;
const getUser = (name: string) => admin.get<Obj>(API_VERSION, 'KafkaUser', NS, name);
const ready = (o: Obj) => o.status?.conditions?.find((c) => c.type === 'Ready');
const waitFor = <T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs?: number) => harness.waitFor(what, probe, timeoutMs);

async function refused(obj: KubernetesObject): Promise<string> {
  try {
    await admin.create(obj);
  } catch (err) {
    return (err as KubeError).message;
  }
  throw new Error('expected the API server to refuse the manifest');
}

async function waitForReason(name: string, reason: string): Promise<Obj> {
  return waitFor(`KafkaUser ${name} reason ${reason}`, async () => {
    const u = await getUser(name);
    return ready(u)?.reason === reason ? u : null;
  }, 120_000);
}

beforeAll(async () => {
  harness = await OperatorHarness.start([NS]);
  admin = harness.admin;
  await harness.startOperator(['resyncSeconds=10']);
}, 600_000);

afterAll(async () => {
  await harness?.stop();
});

describe('KafkaUser on a real control plane', () => {
  it('refuses bad manifests with messages a user understands', async () => {
    const scram = { type: 'scram-sha-512' };
    const acl = (resource: Record<string, unknown>, operations: string[] = ['Read']) => ({ clusterRef: { name: 'c' }, authentication: scram, authorization: { acls: [{ resource, operations }] } });
    expect(await refused(user('a', acl({ type: 'cluster', name: 'x' }, ['Alter'])))).toContain('a cluster resource has no name');
    expect(await refused(user('b', acl({ type: 'topic' })))).toContain('resource.name is required for topic, group and transactionalId');
    expect(await refused(user('c', acl({ type: 'topic', name: 't' }, ['Read', 'Read'])))).toContain('operations must not repeat');
    expect(await refused(user('d', acl({ type: 'topic', name: 't' }, ['Fly'])))).toContain('Unsupported value: "Fly"');
    expect(await refused(user('e', { clusterRef: { name: 'c' }, authentication: { type: 'tls', password: { valueFrom: { secretKeyRef: { name: 's', key: 'k' } } } } }))).toContain('authentication.password is only for type scram-sha-512');
    expect(await refused(user('f', { clusterRef: { name: 'c' }, authentication: scram, quotas: { producerByteRate: -1 } }))).toContain('spec.quotas.producerByteRate in body should be greater than or equal to 0');
    await admin.create(user('g', { clusterRef: { name: 'c' }, authentication: scram }));
    try {
      await admin.mergePatch(await getUser('g'), { spec: { authentication: { type: 'tls' } } });
      throw new Error('expected a changed authentication type to be refused');
    } catch (err) {
      expect((err as KubeError).message).toContain('authentication.type cannot be changed after creation');
    }
    await admin.delete(user('g', {}));
  });

  it('applies examples/kafka-user.yaml as shipped; without its cluster it waits, and deleting it leaves nothing', async () => {
    const example = parse(readFileSync(join(ROOT, 'examples/kafka-user.yaml'), 'utf8')) as Obj;
    await admin.create({ ...example, metadata: { ...example.metadata, namespace: NS } }, '?fieldValidation=Strict');
    const name = example.metadata!.name!;
    const waiting = await waitForReason(name, 'ClusterNotFound');
    expect(ready(waiting)).toMatchObject({ status: 'False', message: 'KafkaCluster my-cluster does not exist' });
    expect(waiting.status).toMatchObject({ username: name, observedGeneration: 1 });
    expect(waiting.metadata!.finalizers).toEqual(['samsa.dev/user']);
    // Defaults from the CRD schema.
    expect(waiting.spec.authorization.acls[0]).toMatchObject({ host: '*', type: 'allow', resource: { patternType: 'literal' } });
    expect(await admin.getOrNull('v1', 'Secret', NS, name)).toBeNull();
    await admin.delete(waiting);
    await waitFor('the KafkaUser gone', async () => (await admin.getOrNull(API_VERSION, 'KafkaUser', NS, name)) === null);
  }, 180_000);

  it('reports what stops it: a Secret it does not own, a missing password, brokers that do not serve SCRAM', async () => {
    await admin.create({ apiVersion: API_VERSION, kind: 'KafkaCluster', metadata: { name: 'plain', namespace: NS }, spec: { replicas: 1 } } as KubernetesObject);
    await waitFor('cluster ready', async () => ready(await admin.get<Obj>(API_VERSION, 'KafkaCluster', NS, 'plain'))?.status === 'True', 180_000);

    await admin.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'taken', namespace: NS }, stringData: { password: 'mine' } } as KubernetesObject);
    await admin.create(user('taken', { clusterRef: { name: 'plain' }, authentication: { type: 'scram-sha-512' } }));
    expect(ready(await waitForReason('taken', 'SecretConflict'))!.message).toContain('Secret taken exists and is not this KafkaUser\'s');
    const secret = await admin.get<Obj & { data: Record<string, string> }>('v1', 'Secret', NS, 'taken');
    expect(Buffer.from(secret.data.password!, 'base64').toString()).toBe('mine');

    await admin.create(user('own', { clusterRef: { name: 'plain' }, authentication: { type: 'scram-sha-512', password: { valueFrom: { secretKeyRef: { name: 'taken', key: 'pw' } } } } }));
    expect(ready(await waitForReason('own', 'PasswordNotFound'))!.message).toBe('Secret taken has no key pw');

    // The brokers of this cluster do not serve the SCRAM APIs yet: the broker closes the
    // connection, and the user says so; no Secret holds a password Kafka does not know.
    await admin.create(user('alice', { clusterRef: { name: 'plain' }, authentication: { type: 'scram-sha-512' } }));
    const failing = await waitForReason('alice', 'KafkaExchangeFailed');
    expect(ready(failing)!.message).toContain('AlterUserScramCredentials v0 got no answer');
    expect(failing.status!.conditions!.find((c) => c.type === 'Degraded')!.status).toBe('True');
    expect(await admin.getOrNull('v1', 'Secret', NS, 'alice')).toBeNull();
    const events = await admin.list<Obj & { reason: string; type: string; involvedObject: { name: string } }>('v1', 'Event', NS);
    expect(events.filter((e) => e.involvedObject.name === 'alice' && e.type === 'Warning').map((e) => e.reason)).toEqual(['KafkaExchangeFailed']);
  }, 300_000);
});
