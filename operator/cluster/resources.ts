// What a KafkaCluster becomes: the objects the operator applies, as pure functions of the
// resource. Every object carries an owner reference to the KafkaCluster, so deleting it
// deletes them (garbage collection), and every name derives from the cluster's name.
import { createHash } from 'node:crypto';
import type { KubernetesObject } from '../kube.js';
import { API_VERSION, type KafkaCluster } from '../crds/types.js';
import { isDynamic } from './dynamic-config.js';
import { allListeners, BROKER_CERTS_PATH, CLIENTS_CA_PATH, CLUSTER_CA_PATH, listenerSettings } from './listeners.js';
import { secretNames } from '../tls/cluster-certificates.js';

export const DATA_PATH = '/var/lib/samsa';
export const CONFIG_PATH = '/etc/samsa';
export const CONFIG_FILE = 'server.properties';

export const names = (cluster: string) => ({
  statefulSet: cluster,
  headless: `${cluster}-brokers`,
  bootstrap: cluster,
  /** Prefix of the versioned ConfigMaps: `<cluster>-config-<hash of server.properties>`. */
  config: `${cluster}-config`,
  serviceAccount: `${cluster}-broker`,
  role: `${cluster}-broker`,
  pdb: cluster,
});

/** What the operator was told at start that shapes every cluster's objects. */
export interface OperatorSettings {
  /** The ClusterRole (shipped by the chart) that lets brokers read their node: needed for spec.rack. */
  brokerClusterRole?: string;
}

/**
 * The ClusterRoleBinding that lets a cluster's brokers read their node's labels (spec.rack).
 * Cluster-scoped, so it cannot be owned by the KafkaCluster: the reconciler deletes it by this name.
 * Namespaces have no dots, so the name is unambiguous.
 */
export const nodeReaderBindingName = (namespace: string, cluster: string) => `samsa-broker.${namespace}.${cluster}`;

export function selectorLabels(cluster: string): Record<string, string> {
  return { 'app.kubernetes.io/name': 'samsa', 'app.kubernetes.io/instance': cluster, 'app.kubernetes.io/component': 'broker' };
}

function labels(cluster: string): Record<string, string> {
  return { ...selectorLabels(cluster), 'app.kubernetes.io/managed-by': 'samsa-operator', 'app.kubernetes.io/part-of': 'samsa' };
}

function ownerReference(kc: KafkaCluster) {
  return { apiVersion: API_VERSION, kind: 'KafkaCluster', name: kc.metadata.name, uid: kc.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

/** Metadata of an object the KafkaCluster owns: its labels and owner reference. */
export function meta(kc: KafkaCluster, name: string) {
  return { name, namespace: kc.metadata.namespace, labels: labels(kc.metadata.name), ownerReferences: [ownerReference(kc)] };
}

/**
 * server.properties of the brokers: the spec's read-only settings, sorted so the text is stable.
 * Dynamic ones are applied live (dynamic-config.ts), so changing them rolls nothing.
 */
export function serverProperties(kc: KafkaCluster): string {
  const config: Record<string, string> = Object.fromEntries(Object.entries(kc.spec.config ?? {}).filter(([name]) => !isDynamic(name)));
  return Object.keys(config)
    .sort()
    .map((k) => `${k}=${config[k]}`)
    .join('\n') + '\n';
}

/**
 * The ConfigMap of one version of server.properties. Each version is its own object, named by
 * its hash and referenced by the pod template, so a broker that restarts keeps the settings of
 * its own revision: a new (maybe bad) version reaches only the pods the roll replaces.
 */
export function configMapName(kc: KafkaCluster): string {
  const hash = createHash('sha256').update(serverProperties(kc)).digest('hex').slice(0, 10);
  return `${names(kc.metadata.name).config}-${hash}`;
}

/**
 * Where the brokers keep the cluster metadata, as their --metadata flag: the Kubernetes API
 * (the store named after the cluster in its namespace), or the etcd the spec names.
 */
export function metadataUrl(kc: KafkaCluster): string {
  const etcd = kc.spec.metadata?.etcd;
  if (!etcd) return `kubernetes://${kc.metadata.namespace}/${kc.metadata.name}`;
  return `etcd://${etcd.endpoints.join(',')}/${etcd.prefix ?? `samsa/${kc.metadata.namespace}/${kc.metadata.name}`}`;
}

/** The bootstrap address of the first listener. */
export function bootstrapAddress(kc: KafkaCluster): string {
  return `${names(kc.metadata.name).bootstrap}.${kc.metadata.namespace}.svc:${kc.spec.listeners[0]!.port}`;
}

/** Brokers a parallel roll restarts together at most, unless spec.rollingUpdate.maxParallel says. */
export const DEFAULT_MAX_PARALLEL = 3;

/** Annotating the KafkaCluster with a new value of this rolls every broker once: the value goes into the pod template. */
export const RESTART_ANNOTATION = 'samsa.dev/restart';

/** The spec's pod annotations, and the restart annotation's value when set. */
function podAnnotations(kc: KafkaCluster): Record<string, string> | undefined {
  const restart = kc.metadata.annotations?.[RESTART_ANNOTATION];
  const annotations = { ...(kc.spec.podTemplate?.annotations ?? {}), ...(restart !== undefined ? { [RESTART_ANNOTATION]: restart } : {}) };
  return Object.keys(annotations).length > 0 ? annotations : undefined;
}

export function desiredResources(kc: KafkaCluster, settings: OperatorSettings = {}): KubernetesObject[] {
  const n = names(kc.metadata.name);
  const httpPort = kc.spec.http.port;
  // A change of settings changes the ConfigMap the pod template names, and so rolls the brokers.
  const configMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(kc, configMapName(kc)), data: { [CONFIG_FILE]: serverProperties(kc) } };
  const pod = kc.spec.podTemplate;
  // One port per listener, named after it (the internal one is "replication"), and the HTTP port.
  const listenerPorts = allListeners(kc).map((l) => ({ name: l.name, port: l.port }));
  const ports = [...listenerPorts, { name: 'http', port: httpPort }].map((p) => ({ ...p, targetPort: p.name, protocol: 'TCP' }));
  const secrets = secretNames(kc.metadata.name);

  const serviceAccount = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(kc, n.serviceAccount) };
  // What the brokers' Kubernetes metadata store needs: Leases and ConfigMaps of the namespace.
  const role = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: meta(kc, n.role),
    rules: [
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
    ],
  };
  const roleBinding = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: meta(kc, n.role),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: n.role },
    subjects: [{ kind: 'ServiceAccount', name: n.serviceAccount, namespace: kc.metadata.namespace }],
  };
  const headless = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(kc, n.headless),
    // Every broker gets a stable DNS name, ready or not, so that brokers can find each other while starting.
    spec: { clusterIP: 'None', publishNotReadyAddresses: true, selector: selectorLabels(kc.metadata.name), ports },
  };
  const bootstrap = { apiVersion: 'v1', kind: 'Service', metadata: meta(kc, n.bootstrap), spec: { type: 'ClusterIP', selector: selectorLabels(kc.metadata.name), ports: ports.filter((p) => p.name !== 'http') } };

  const statefulSet = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: meta(kc, n.statefulSet),
    spec: {
      replicas: kc.spec.replicas,
      serviceName: n.headless,
      podManagementPolicy: 'Parallel',
      // The operator decides when each broker restarts, one at a time, waiting for readiness.
      updateStrategy: { type: 'OnDelete' },
      selector: { matchLabels: selectorLabels(kc.metadata.name) },
      persistentVolumeClaimRetentionPolicy: {
        whenDeleted: kc.spec.storage.deleteClaimsOnClusterDelete ? 'Delete' : 'Retain',
        whenScaled: kc.spec.storage.deleteClaimsOnScaleDown ? 'Delete' : 'Retain',
      },
      template: {
        metadata: {
          labels: { ...labels(kc.metadata.name), ...(pod?.labels ?? {}) },
          ...(podAnnotations(kc) ? { annotations: podAnnotations(kc) } : {}),
        },
        spec: {
          serviceAccountName: n.serviceAccount,
          terminationGracePeriodSeconds: pod?.terminationGracePeriodSeconds ?? 60,
          securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000 },
          ...(pod?.nodeSelector ? { nodeSelector: pod.nodeSelector } : {}),
          ...(pod?.tolerations ? { tolerations: pod.tolerations } : {}),
          ...(pod?.affinity ? { affinity: pod.affinity } : {}),
          ...(pod?.priorityClassName ? { priorityClassName: pod.priorityClassName } : {}),
          ...(kc.spec.rack
            ? { topologySpreadConstraints: [{ maxSkew: 1, topologyKey: kc.spec.rack.topologyKey, whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: selectorLabels(kc.metadata.name) } }] }
            : {}),
          containers: [
            {
              name: 'broker',
              image: kc.spec.image,
              command: ['node', 'dist/broker/main.js'],
              args: [
                '--http-host', '0.0.0.0',
                '--http-port', String(httpPort),
                '--data-dir', `${DATA_PATH}/data`,
                '--config-file', `${CONFIG_PATH}/${CONFIG_FILE}`,
                '--config', 'node.id=$(NODE_ID)',
                ...listenerSettings(kc).flatMap(([name, value]) => ['--config', `${name}=${value}`]),
                '--metadata', metadataUrl(kc),
                ...(kc.spec.rack ? ['--rack-from-node', kc.spec.rack.topologyKey] : []),
              ],
              env: [
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                // The StatefulSet controller labels each pod with its ordinal: the broker id.
                { name: 'NODE_ID', valueFrom: { fieldRef: { fieldPath: "metadata.labels['apps.kubernetes.io/pod-index']" } } },
                ...(kc.spec.rack ? [{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }] : []),
              ],
              ports: ports.map((p) => ({ name: p.name, containerPort: p.port, protocol: 'TCP' })),
              // A broker that exits on an error leaves its last log lines in the pod's status, where the operator reports them.
              terminationMessagePolicy: 'FallbackToLogsOnError',
              readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, periodSeconds: 5, failureThreshold: 3 },
              livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, initialDelaySeconds: 10, periodSeconds: 10, failureThreshold: 6 },
              ...(kc.spec.resources ? { resources: kc.spec.resources } : {}),
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              volumeMounts: [
                { name: 'data', mountPath: DATA_PATH },
                { name: 'config', mountPath: CONFIG_PATH, readOnly: true },
                // Certificates: renewed in their Secrets, refreshed in place by the kubelet, reloaded by the broker.
                { name: 'broker-certs', mountPath: BROKER_CERTS_PATH, readOnly: true },
                { name: 'cluster-ca', mountPath: CLUSTER_CA_PATH, readOnly: true },
                { name: 'clients-ca', mountPath: CLIENTS_CA_PATH, readOnly: true },
              ],
            },
          ],
          volumes: [
            { name: 'config', configMap: { name: configMap.metadata.name } },
            { name: 'broker-certs', secret: { secretName: secrets.brokers } },
            { name: 'cluster-ca', secret: { secretName: secrets.clusterCaCert } },
            { name: 'clients-ca', secret: { secretName: secrets.clientsCaCert } },
          ],
        },
      },
      volumeClaimTemplates: [
        {
          metadata: { name: 'data', labels: selectorLabels(kc.metadata.name) },
          spec: {
            accessModes: ['ReadWriteOnce'],
            ...(kc.spec.storage.storageClassName ? { storageClassName: kc.spec.storage.storageClassName } : {}),
            resources: { requests: { storage: kc.spec.storage.size } },
          },
        },
      ],
    },
  };
  // One broker at a time may go down voluntarily (drains, upgrades); with parallel rolling, as
  // many as a roll restarts together, since the roll evicts them.
  // A broker that is not ready serves nothing, so evicting it (a roll replacing a failing broker) never counts against the budget.
  const parallel = kc.spec.rollingUpdate?.parallelism ?? 'none';
  const pdb = {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta(kc, n.pdb),
    spec: { maxUnavailable: parallel === 'none' ? 1 : (kc.spec.rollingUpdate?.maxParallel ?? DEFAULT_MAX_PARALLEL), unhealthyPodEvictionPolicy: 'AlwaysAllow', selector: { matchLabels: selectorLabels(kc.metadata.name) } },
  };
  const objects: KubernetesObject[] = [serviceAccount, role, roleBinding, configMap, headless, bootstrap, statefulSet, pdb];
  // validateCluster refuses spec.rack without the ClusterRole before anything is applied.
  if (kc.spec.rack && settings.brokerClusterRole) {
    objects.unshift({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: nodeReaderBindingName(kc.metadata.namespace!, kc.metadata.name), labels: labels(kc.metadata.name) },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: settings.brokerClusterRole },
      subjects: [{ kind: 'ServiceAccount', name: n.serviceAccount, namespace: kc.metadata.namespace }],
    } as KubernetesObject);
  }
  return objects;
}
