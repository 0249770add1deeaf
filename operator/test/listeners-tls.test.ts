// Listeners and TLS on a real control plane with the chart-rendered operator: the shipped
// example (one plain listener) replicates over the internal mTLS listener; a TLS listener serves
// kcat with the cluster CA from its Secret; a listener with authentication tls refuses a
// certificate of another CA and takes one of the clients CA; a SCRAM-SHA-512 listener signs a user
// in; with the authorizer on, the operator works as a super user; a samsa.dev/force-renew renews the
// broker certificates in their Secret and the running brokers serve the new one without a restart,
// while the operator keeps reaching them with its own certificate.
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { kcatConsume, kcatMetadata, kcatProduce } from '../../broker/test/kcat.js';
import { KafkaConnection } from '../../broker/protocol/client.js';
import { alterUserScramCredentialsApi, apiVersionsApi } from '../../broker/protocol/messages/index.js';
import { saltedPassword } from '../../broker/security/sasl/scram.js';
import { API_VERSION } from '../crds/types.js';
import type { Kube, KubernetesObject } from '../kube.js';
import { createCertificateAuthority, issueCertificate, validForDays } from '../tls/certificate-authority.js';
import { caFromSecret, FORCE_RENEW_ANNOTATION, issueUserCertificate, operatorIdentity, type Secret } from '../tls/cluster-certificates.js';
import { type Obj, OperatorHarness } from './operator-harness.js';

const NS = 'secure';
const ROOT = resolve(import.meta.dirname, '../..');

let harness: OperatorHarness;
let admin: Kube;
const files = mkdtempSync(join(tmpdir(), 'samsa-tls-test-'));

const waitFor = <T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs?: number) => harness.waitFor(what, probe, timeoutMs);
const cluster = (name: string) => harness.get('KafkaCluster', NS, name);
const ready = async (name: string) => (await cluster(name)).status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
const secret = (name: string) => admin.get<Secret & KubernetesObject>('v1', 'Secret', NS, name);
const decoded = (s: Secret, key: string) => Buffer.from(s.data![key]!, 'base64').toString();
const pod = (name: string) => admin.get<Obj>('v1', 'Pod', NS, name);
/** A file with `text`, for kcat's -X ssl.*.location. */
const file = (name: string, text: string) => {
  const path = join(files, name);
  writeFileSync(path, text);
  return path;
};

/** The certificate a broker serves on a new TLS connection, checked against `ca` and the pod's DNS name. */
function servedCertificate(host: string, port: number, ca: string, servername: string): Promise<X509Certificate> {
  return new Promise((resolvePromise, reject) => {
    const socket = connect({ host, port, ca, servername }, () => {
      const cert = socket.getPeerX509Certificate()!;
      socket.end();
      resolvePromise(cert);
    });
    socket.once('error', reject);
  });
}

beforeAll(async () => {
  harness = await OperatorHarness.start([NS]);
  admin = harness.admin;
  await harness.startOperator(['resyncSeconds=5']);
}, 600_000);

afterAll(async () => {
  await harness?.stop();
});

describe('listeners and TLS', () => {
  it('runs the shipped example as it is: a plain listener for clients, replication between the brokers over mutual TLS on 9091', async () => {
    const example = parse(readFileSync(join(ROOT, 'examples/kafka-cluster.yaml'), 'utf8'));
    await admin.create({ ...example, metadata: { ...example.metadata, namespace: NS } });
    await waitFor('my-cluster ready', () => ready('my-cluster'), 240_000);
    const kc = await cluster('my-cluster');
    expect(kc.status!.listeners).toEqual([{ name: 'plain', bootstrap: `my-cluster.${NS}.svc:9092`, tls: false, authentication: 'none' }]);
    expect(kc.status!.bootstrap).toBe(`my-cluster.${NS}.svc:9092`);
    expect(kc.status!.certificates.map((c: { name: string }) => c.name)).toEqual(['cluster-ca', 'clients-ca', 'my-cluster-0', 'my-cluster-1', 'my-cluster-2', 'operator']);
    for (const name of ['my-cluster-cluster-ca', 'my-cluster-cluster-ca-cert', 'my-cluster-clients-ca', 'my-cluster-clients-ca-cert', 'my-cluster-broker-certs', 'my-cluster-operator-certs']) {
      expect((await secret(name)).metadata!.ownerReferences![0]).toMatchObject({ kind: 'KafkaCluster', name: 'my-cluster', controller: true });
    }

    // acks=all with min.insync.replicas 2 on a topic of replication factor 3: the followers fetch over the REPLICATION listener.
    const ip = (await pod('my-cluster-0')).status!.podIP as string;
    await kcatProduce(`${ip}:9092`, 'replicated', ['a', 'b', 'c'], ['-X', 'acks=all']);
    expect((await kcatConsume(`${ip}:9092`, 'replicated')).map((r) => r.value).sort()).toEqual(['a', 'b', 'c']);
    const metadata = await waitFor('every replica in sync', async () => {
      const m = await kcatMetadata(`${ip}:9092`, 'replicated');
      return /isrs: \d,\d,\d/.test(m) ? m : null;
    });
    expect(metadata).toMatch(/replicas: \d,\d,\d/);

    // 9091 is TLS and wants a client certificate of the cluster CA: the operator's opens it, none does not.
    const operator = operatorIdentity(await secret('my-cluster-operator-certs'))!;
    const servername = `my-cluster-0.my-cluster-brokers.${NS}.svc`;
    const conn = await KafkaConnection.open(ip, 9091, 'test', { tls: { ...operator, servername } });
    expect((await conn.send(apiVersionsApi, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' })).errorCode).toBe(0);
    await conn.close();
    const anonymous = await KafkaConnection.open(ip, 9091, 'test', { tls: { ca: operator.ca, servername } }).then(
      (c) => c.send(apiVersionsApi, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' }).then(() => 'answered', () => 'refused'),
      () => 'refused',
    );
    expect(anonymous).toBe('refused');
  }, 400_000);

  it('serves a TLS listener with the cluster CA, takes only client certificates of the clients CA where authentication is tls, and signs SCRAM-SHA-512 users in; with the authorizer on', async () => {
    await admin.create({
      apiVersion: API_VERSION,
      kind: 'KafkaCluster',
      metadata: { name: 'tls', namespace: NS },
      spec: {
        replicas: 1,
        config: { 'offsets.topic.replication.factor': '1' },
        // No ACLs: only super users may do anything. The anonymous clients of the plain and tls
        // listeners and alice are made super users here; the operator must already be one.
        authorization: { type: 'simple', superUsers: ['User:ANONYMOUS', 'User:CN=alice', 'User:bob'] },
        listeners: [
          { name: 'plain', port: 9092 },
          { name: 'tls', port: 9093, tls: true },
          { name: 'mtls', port: 9094, tls: true, authentication: 'tls' },
          { name: 'scram', port: 9095, tls: true, authentication: 'scram-sha-512' },
        ],
      },
    } as KubernetesObject);
    await waitFor('tls cluster ready', () => ready('tls'), 180_000);
    expect((await cluster('tls')).status!.listeners).toEqual([
      { name: 'plain', bootstrap: `tls.${NS}.svc:9092`, tls: false, authentication: 'none' },
      { name: 'tls', bootstrap: `tls.${NS}.svc:9093`, tls: true, authentication: 'none' },
      { name: 'mtls', bootstrap: `tls.${NS}.svc:9094`, tls: true, authentication: 'tls' },
      { name: 'scram', bootstrap: `tls.${NS}.svc:9095`, tls: true, authentication: 'scram-sha-512' },
    ]);
    const ip = (await pod('tls-0')).status!.podIP as string;
    // What a client is given: the CA certificate alone.
    const caSecret = await secret('tls-cluster-ca-cert');
    expect(Object.keys(caSecret.data!)).toEqual(['ca.crt']);
    const caFile = file('tls-ca.crt', decoded(caSecret, 'ca.crt'));
    // The test kubelet has no cluster DNS, so brokers advertise pod addresses, which certificates
    // do not carry: kcat checks the chain, and node:tls below checks the host name.
    const ssl = ['-X', 'security.protocol=SSL', '-X', `ssl.ca.location=${caFile}`, '-X', 'ssl.endpoint.identification.algorithm=none'];
    await kcatProduce(`${ip}:9093`, 'over-tls', ['one', 'two'], ssl);
    expect((await kcatConsume(`${ip}:9093`, 'over-tls', 'beginning', ssl)).map((r) => r.value)).toEqual(['one', 'two']);
    const served = await servedCertificate(ip, 9093, decoded(caSecret, 'ca.crt'), `tls-0.tls-brokers.${NS}.svc`);
    expect(served.subject).toBe('O=samsa\nCN=tls-broker');
    // A CA the client does not know: kcat refuses the broker.
    const otherCa = createCertificateAuthority('someone-else', validForDays(1));
    await expect(kcatProduce(`${ip}:9093`, 'over-tls', ['x'], ['-X', 'security.protocol=SSL', '-X', `ssl.ca.location=${file('other-ca.crt', otherCa.cert)}`, '-X', 'ssl.endpoint.identification.algorithm=none', '-X', 'message.timeout.ms=5000'])).rejects.toThrow();

    // authentication tls: a certificate of another CA is refused, one of the clients CA is taken.
    const stranger = issueCertificate(otherCa, { commonName: 'mallory', usage: 'client' }, validForDays(1));
    const withCert = (name: string, cert: { key: string; cert: string }) => [...ssl, '-X', `ssl.certificate.location=${file(`${name}.crt`, cert.cert)}`, '-X', `ssl.key.location=${file(`${name}.key`, cert.key)}`, '-X', 'message.timeout.ms=5000'];
    await expect(kcatProduce(`${ip}:9094`, 'over-mtls', ['refused'], withCert('mallory', stranger))).rejects.toThrow();
    const alice = issueUserCertificate(caFromSecret(await secret('tls-clients-ca'))!, 'alice', 1);
    await kcatProduce(`${ip}:9094`, 'over-mtls', ['accepted'], withCert('alice', alice));
    expect((await kcatConsume(`${ip}:9094`, 'over-mtls', 'beginning', withCert('alice', alice))).map((r) => r.value)).toEqual(['accepted']);

    // authentication scram-sha-512: SASL_SSL with SCRAM-SHA-512; bob's credential set through the replication listener as the operator would.
    const operator = operatorIdentity(await secret('tls-operator-certs'))!;
    const admin9091 = await KafkaConnection.open(ip, 9091, 'test', { tls: { ...operator, servername: `tls-0.tls-brokers.${NS}.svc` } });
    const salt = Buffer.from('tls-test-salt');
    const altered = await admin9091.send(alterUserScramCredentialsApi, 0, {
      deletions: [],
      upsertions: [{ name: 'bob', mechanism: 2, iterations: 4096, salt, saltedPassword: await saltedPassword('SCRAM-SHA-512', 'bob-secret', salt, 4096) }],
    });
    await admin9091.close();
    expect(altered.results).toEqual([{ user: 'bob', errorCode: 0, errorMessage: null }]);
    const sasl = (password: string) => ['-X', 'security.protocol=SASL_SSL', '-X', 'sasl.mechanisms=SCRAM-SHA-512', '-X', 'sasl.username=bob', '-X', `sasl.password=${password}`, '-X', `ssl.ca.location=${caFile}`, '-X', 'ssl.endpoint.identification.algorithm=none', '-X', 'message.timeout.ms=5000'];
    await expect(kcatProduce(`${ip}:9095`, 'over-scram', ['refused'], sasl('wrong'))).rejects.toThrow();
    await kcatProduce(`${ip}:9095`, 'over-scram', ['signed-in'], sasl('bob-secret'));
    expect((await kcatConsume(`${ip}:9095`, 'over-scram', 'beginning', sasl('bob-secret'))).map((r) => r.value)).toEqual(['signed-in']);
  }, 400_000);

  it('renews the broker certificates on samsa.dev/force-renew: the running broker serves the new one without a restart, and the operator still reaches it', async () => {
    const ip = (await pod('tls-0')).status!.podIP as string;
    const ca = decoded(await secret('tls-cluster-ca-cert'), 'ca.crt');
    const servername = `tls-0.tls-brokers.${NS}.svc`;
    const before = await servedCertificate(ip, 9093, ca, servername);
    const pid = harness.kubelet.pidOf('tls-0', NS);
    const restarts = (await pod('tls-0')).status!.containerStatuses[0].restartCount;
    const operatorBefore = decoded(await secret('tls-operator-certs'), 'tls.crt');

    const kc = await cluster('tls');
    await admin.mergePatch(kc, { metadata: { annotations: { [FORCE_RENEW_ANNOTATION]: 'now' } } });
    const renewed = await waitFor('a new certificate in the Secret', async () => {
      const pem = decoded(await secret('tls-broker-certs'), 'tls-0.pem');
      const cert = new X509Certificate(pem);
      return cert.serialNumber !== before.serialNumber ? cert : null;
    });
    await waitFor('a new operator certificate', async () => decoded(await secret('tls-operator-certs'), 'tls.crt') !== operatorBefore);
    // A new connection gets the new certificate once the kubelet has refreshed the files and the broker reloaded them.
    const served = await waitFor('the broker serving the new certificate', async () => {
      const cert = await servedCertificate(ip, 9093, ca, servername);
      return cert.serialNumber === renewed.serialNumber ? cert : null;
    }, 60_000);
    expect(served.validTo).toBe(renewed.validTo);
    expect(harness.kubelet.pidOf('tls-0', NS)).toBe(pid);
    expect((await pod('tls-0')).status!.containerStatuses[0].restartCount).toBe(restarts);
    await waitFor('status with the new certificate', async () => (await cluster('tls')).status!.certificates.find((c: { name: string }) => c.name === 'tls-0').notAfter === new Date(renewed.validTo).toISOString());
    const events = await admin.list<Obj>('v1', 'Event', NS);
    expect(events.some((e) => e.reason === 'CertificatesRenewed' && e.involvedObject.name === 'tls' && String(e.message).includes(`${FORCE_RENEW_ANNOTATION}: now`))).toBe(true);

    // The operator goes on working through the replication listener with its renewed certificate,
    // as a super user (there are no ACLs): a topic it creates.
    await admin.create({ apiVersion: API_VERSION, kind: 'KafkaTopic', metadata: { name: 'after-renewal', namespace: NS }, spec: { clusterRef: { name: 'tls' }, partitions: 2 } } as KubernetesObject);
    await waitFor('topic ready', async () => (await harness.get('KafkaTopic', NS, 'after-renewal')).status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True', 60_000);
    expect(await kcatMetadata(`${ip}:9092`, 'after-renewal')).toContain('2 partitions');
    expect(harness.kubelet.pidOf('tls-0', NS)).toBe(pid);
  }, 300_000);

  it('replaces the cluster CA whose key Secret is deleted: the new CA joins the trust bundle beside the old one, and brokers, clients and the operator go on working', async () => {
    const ip = (await pod('tls-0')).status!.podIP as string;
    const oldCa = decoded(await secret('tls-cluster-ca'), 'ca.crt');
    const pid = harness.kubelet.pidOf('tls-0', NS);
    await admin.delete(await secret('tls-cluster-ca'));
    const bundle = await waitFor('a trust bundle with the new CA and the old', async () => {
      const text = decoded(await secret('tls-cluster-ca-cert'), 'ca.crt');
      return (text.match(/BEGIN CERTIFICATE/g) ?? []).length === 2 ? text : null;
    });
    const newCa = decoded(await secret('tls-cluster-ca'), 'ca.crt');
    expect(newCa).not.toBe(oldCa);
    expect(bundle.indexOf(newCa.trim())).toBe(0);
    expect(bundle).toContain(oldCa.trim());
    // The brokers keep the old CA's certificates until the new CA is trusted everywhere: a client with the bundle connects.
    const ssl = ['-X', 'security.protocol=SSL', '-X', `ssl.ca.location=${file('bundle.crt', bundle)}`, '-X', 'ssl.endpoint.identification.algorithm=none'];
    await kcatProduce(`${ip}:9093`, 'over-tls', ['three'], ssl);
    expect((await kcatConsume(`${ip}:9093`, 'over-tls', 'beginning', ssl)).map((r) => r.value)).toEqual(['one', 'two', 'three']);
    const newExpiry = new Date(new X509Certificate(newCa).validTo).toISOString();
    await waitFor('status with the new CA', async () => (await cluster('tls')).status!.certificates.find((c: { name: string }) => c.name === 'cluster-ca').notAfter === newExpiry);
    // The operator, whose trust is the bundle too, still reaches the brokers.
    await admin.create({ apiVersion: API_VERSION, kind: 'KafkaTopic', metadata: { name: 'after-new-ca', namespace: NS }, spec: { clusterRef: { name: 'tls' }, partitions: 1 } } as KubernetesObject);
    await waitFor('topic ready', async () => (await harness.get('KafkaTopic', NS, 'after-new-ca')).status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True', 60_000);
    expect(harness.kubelet.pidOf('tls-0', NS)).toBe(pid);
  }, 300_000);
});

