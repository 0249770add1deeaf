// What a KafkaCluster's broker pod may do in the Kubernetes API, for tests that run brokers (or
// a metadata store) outside the operator: the ServiceAccount, Role and RoleBinding the operator
// gives the brokers (operator/cluster/resources.ts, taken from there so the test checks exactly
// those rights), and a TokenRequest token of that account in a kubeconfig file, as the test
// kubelet hands it to a broker process.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { desiredResources } from '../cluster/resources.js';
import { API_VERSION, type KafkaCluster } from '../crds/types.js';
import { Kube } from '../kube.js';
import type { ControlPlane } from './control-plane.js';

/** Creates the brokers' ServiceAccount and Role for a cluster `name` in `namespace`; returns a kubeconfig with its token. */
export async function brokerKubeconfig(cp: ControlPlane, namespace: string, name: string): Promise<string> {
  const config = new KubeConfig();
  config.loadFromFile(cp.kubeconfigFor('samsa-test-admin', ['system:masters']));
  const kube = new Kube(config);
  const cluster: KafkaCluster = {
    apiVersion: API_VERSION,
    kind: 'KafkaCluster',
    metadata: { name, namespace, uid: 'not-a-real-owner', generation: 1 },
    spec: {
      replicas: 3,
      image: 'samsa:test',
      storage: { size: '1Gi', deleteClaimsOnClusterDelete: true, deleteClaimsOnScaleDown: false },
      listeners: [{ name: 'plain', port: 9092, tls: false, authentication: 'none' }],
      http: { port: 9644 },
      tls: { certificateValidityDays: 365, renewalDays: 30 },
    },
  };
  const wanted = desiredResources(cluster).filter((o) => ['ServiceAccount', 'Role', 'RoleBinding'].includes(o.kind!));
  let account = '';
  for (const obj of wanted) {
    // No KafkaCluster owns them here: an owner reference to a missing owner gets them garbage-collected.
    delete obj.metadata!.ownerReferences;
    await kube.create(obj);
    if (obj.kind === 'ServiceAccount') account = obj.metadata!.name!;
  }
  const res = await kube.core.createNamespacedServiceAccountToken({ name: account, namespace, body: { spec: { expirationSeconds: 3600 } } });
  const kubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster: { server: cp.server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: account, user: { token: res.status!.token } }],
    contexts: [{ name: 'broker', context: { cluster: 'test', user: account, namespace } }],
    'current-context': 'broker',
  };
  const path = join(cp.dir, `${namespace}-${name}-broker.kubeconfig`);
  writeFileSync(path, JSON.stringify(kubeconfig));
  return path;
}
