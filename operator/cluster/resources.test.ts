// The objects a KafkaCluster becomes, checked for N brokers (the integration test runs one).
import { describe, expect, it } from 'vitest';
import { API_VERSION, type KafkaCluster } from '../crds/types.js';
import { RESTART_ANNOTATION, desiredResources, serverProperties } from './resources.js';

const cluster = (spec: Partial<KafkaCluster['spec']> = {}): KafkaCluster => ({
  apiVersion: API_VERSION,
  kind: 'KafkaCluster',
  metadata: { name: 'prod', namespace: 'data', uid: 'uid-1', generation: 3 },
  spec: {
    replicas: 5,
    image: 'samsa:1.2.3',
    storage: { size: '50Gi', storageClassName: 'fast', deleteClaimsOnClusterDelete: true, deleteClaimsOnScaleDown: false },
    listeners: { kafkaPort: 9092, httpPort: 9644 },
    ...spec,
  },
});

/** The first object of a kind that the cluster becomes. */
const pick = (kc: KafkaCluster, kind: string): any => desiredResources(kc).find((o) => o.kind === kind)!;

describe('desiredResources', () => {
  it('gives N brokers stable identities, ids from their ordinals, and addresses other brokers can reach', () => {
    const sts = pick(cluster(), 'StatefulSet');
    expect(sts.spec.replicas).toBe(5);
    expect(sts.spec.podManagementPolicy).toBe('Parallel');
    const container = sts.spec.template.spec.containers[0];
    expect(container.args).toEqual(expect.arrayContaining(['--advertised-host', '$(POD_NAME).prod-brokers.$(POD_NAMESPACE).svc', '--config', 'node.id=$(NODE_ID)']));
    expect(container.env.find((e: { name: string }) => e.name === 'NODE_ID').valueFrom.fieldRef.fieldPath).toBe("metadata.labels['apps.kubernetes.io/pod-index']");
    expect(sts.spec.volumeClaimTemplates[0].spec).toMatchObject({ storageClassName: 'fast', resources: { requests: { storage: '50Gi' } } });
    expect(sts.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: 'Delete', whenScaled: 'Retain' });
  });

  it('makes the brokers one cluster: metadata in the Kubernetes API of the namespace, or the etcd the spec names', () => {
    const args = (kc: KafkaCluster): string[] => pick(kc, 'StatefulSet').spec.template.spec.containers[0].args;
    const metadata = (kc: KafkaCluster) => args(kc)[args(kc).indexOf('--metadata') + 1];
    expect(metadata(cluster())).toBe('kubernetes://data/prod');
    expect(metadata(cluster({ metadata: { etcd: { endpoints: ['etcd-0.etcd:2379', 'etcd-1.etcd:2379'] } } }))).toBe('etcd://etcd-0.etcd:2379,etcd-1.etcd:2379/samsa/data/prod');
    expect(metadata(cluster({ metadata: { etcd: { endpoints: ['etcd:2379'], prefix: 'fleet/prod' } } }))).toBe('etcd://etcd:2379/fleet/prod');
    // The brokers' store works with exactly these rights, in their own namespace.
    expect(pick(cluster(), 'Role').rules.map((r: { resources: string[] }) => r.resources[0])).toEqual(['leases', 'configmaps']);
  });

  it('with spec.rack, lets each broker read its node\'s zone: the node name, the flag, and a binding of the chart\'s ClusterRole', () => {
    const kc = cluster({ rack: { topologyKey: 'topology.kubernetes.io/zone' } });
    const objects = desiredResources(kc, { brokerClusterRole: 'samsa-operator-broker' });
    const container = (objects.find((o) => o.kind === 'StatefulSet') as any).spec.template.spec.containers[0];
    expect(container.args.join(' ')).toContain('--rack-from-node topology.kubernetes.io/zone');
    expect(container.env).toContainEqual({ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } });
    expect(objects.find((o) => o.kind === 'ClusterRoleBinding')).toMatchObject({
      metadata: { name: 'samsa-broker.data.prod' },
      roleRef: { kind: 'ClusterRole', name: 'samsa-operator-broker' },
      subjects: [{ kind: 'ServiceAccount', name: 'prod-broker', namespace: 'data' }],
    });
    expect(desiredResources(cluster()).find((o) => o.kind === 'ClusterRoleBinding')).toBeUndefined();
  });

  it('writes the spec\'s read-only settings and nothing the brokers do not do (no replication factor of their own)', () => {
    expect(serverProperties(cluster({ replicas: 5 }))).toBe('\n');
    expect(serverProperties(cluster({ config: { 'log.retention.check.interval.ms': '1000', 'default.replication.factor': '1' } }))).toBe('default.replication.factor=1\nlog.retention.check.interval.ms=1000\n');
  });

  it('versions the config: each version of the read-only settings is its own ConfigMap, named in the pod template', () => {
    const mounted = (kc: KafkaCluster) => pick(kc, 'StatefulSet').spec.template.spec.volumes[0].configMap.name;
    const changed = cluster({ config: { 'log.retention.check.interval.ms': '1' } });
    expect(mounted(cluster())).toBe(mounted(cluster()));
    expect(mounted(changed)).not.toBe(mounted(cluster()));
    expect(mounted(changed)).toMatch(/^prod-config-[0-9a-f]{10}$/);
    expect(pick(changed, 'ConfigMap').metadata.name).toBe(mounted(changed));
    expect(pick(changed, 'ConfigMap').data['server.properties']).toBe('log.retention.check.interval.ms=1\n');
  });

  it('rolls pods when a read-only setting changes, and only then', () => {
    const mounted = (kc: KafkaCluster) => pick(kc, 'StatefulSet').spec.template.spec.volumes[0].configMap.name;
    // Dynamic settings are applied live, not through server.properties.
    expect(mounted(cluster({ config: { 'log.retention.ms': '1', 'message.max.bytes': '2000000' } }))).toBe(mounted(cluster()));
    expect(serverProperties(cluster({ replicas: 1, config: { 'log.retention.ms': '1', 'num.partitions': '3' } }))).toBe('num.partitions=3\n');
  });

  it('keeps the last log lines of a failed broker in its pod status', () => {
    expect(pick(cluster(), 'StatefulSet').spec.template.spec.containers[0].terminationMessagePolicy).toBe('FallbackToLogsOnError');
  });

  it('spreads brokers over racks and applies pod template overrides', () => {
    const sts = pick(cluster({ rack: { topologyKey: 'topology.kubernetes.io/zone' }, podTemplate: { nodeSelector: { pool: 'kafka' }, labels: { team: 'data' }, terminationGracePeriodSeconds: 120 } }), 'StatefulSet');
    expect(sts.spec.template.spec.topologySpreadConstraints[0]).toMatchObject({ topologyKey: 'topology.kubernetes.io/zone', maxSkew: 1 });
    expect(sts.spec.template.spec.nodeSelector).toEqual({ pool: 'kafka' });
    expect(sts.spec.template.metadata.labels.team).toBe('data');
    expect(sts.spec.template.spec.terminationGracePeriodSeconds).toBe(120);
  });

  it('owns everything it creates, lets one broker at a time be disrupted, and gives brokers only Leases and ConfigMaps', () => {
    const objects = desiredResources(cluster());
    expect(objects.map((o) => o.kind)).toEqual(['ServiceAccount', 'Role', 'RoleBinding', 'ConfigMap', 'Service', 'Service', 'StatefulSet', 'PodDisruptionBudget']);
    for (const o of objects) expect(o.metadata!.ownerReferences).toEqual([{ apiVersion: API_VERSION, kind: 'KafkaCluster', name: 'prod', uid: 'uid-1', controller: true, blockOwnerDeletion: true }]);
    const pdb = pick(cluster(), 'PodDisruptionBudget');
    const role = pick(cluster(), 'Role');
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(role.rules.map((r: { resources: string[] }) => r.resources[0])).toEqual(['leases', 'configmaps']);
  });

  it('puts the samsa.dev/restart annotation of the KafkaCluster into the pod template, so that a new value rolls every broker', () => {
    const annotated = (annotations: Record<string, string> | undefined, podAnnotations?: Record<string, string>): KafkaCluster => {
      const kc = cluster(podAnnotations ? { podTemplate: { terminationGracePeriodSeconds: 60, annotations: podAnnotations } } : {});
      return { ...kc, metadata: { ...kc.metadata, ...(annotations ? { annotations } : {}) } };
    };
    const templateAnnotations = (kc: KafkaCluster) => pick(kc, 'StatefulSet').spec.template.metadata.annotations;
    expect(templateAnnotations(annotated(undefined))).toBeUndefined();
    expect(templateAnnotations(annotated({ [RESTART_ANNOTATION]: '2026-11-29T22:00' }))).toEqual({ [RESTART_ANNOTATION]: '2026-11-29T22:00' });
    expect(templateAnnotations(annotated({ [RESTART_ANNOTATION]: '1', other: 'x' }, { team: 'data' }))).toEqual({ team: 'data', [RESTART_ANNOTATION]: '1' });
  });
});

