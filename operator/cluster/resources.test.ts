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
    listeners: [{ name: 'plain', port: 9092, tls: false, authentication: 'none' }],
    http: { port: 9644 },
    tls: { certificateValidityDays: 365, renewalDays: 30 },
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
    expect(container.args).toEqual(expect.arrayContaining(['--config', 'advertised.listeners=REPLICATION://$(POD_NAME).prod-brokers.$(POD_NAMESPACE).svc:9091,PLAIN://$(POD_NAME).prod-brokers.$(POD_NAMESPACE).svc:9092', '--config', 'node.id=$(NODE_ID)']));
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

  describe('listeners', () => {
    const tlsCluster = cluster({
      listeners: [
        { name: 'plain', port: 9092, tls: false, authentication: 'none' },
        { name: 'tls', port: 9093, tls: true, authentication: 'none' },
        { name: 'mtls', port: 9094, tls: true, authentication: 'tls' },
        { name: 'scram', port: 9095, tls: true, authentication: 'scram-sha-512' },
      ],
      authorization: { type: 'simple', superUsers: ['User:admin'] },
    });
    /** The --config settings of the broker container, by name. */
    const settings = (kc: KafkaCluster): Record<string, string> => {
      const args: string[] = pick(kc, 'StatefulSet').spec.template.spec.containers[0].args;
      return Object.fromEntries(args.flatMap((a, i) => (args[i - 1] === '--config' ? [[a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]] : [])));
    };

    it('gives the shipped example one plain listener and the internal replication listener with mTLS', () => {
      expect(settings(cluster())).toEqual({
        'node.id': '$(NODE_ID)',
        listeners: 'REPLICATION://0.0.0.0:9091,PLAIN://0.0.0.0:9092',
        'advertised.listeners': 'REPLICATION://$(POD_NAME).prod-brokers.$(POD_NAMESPACE).svc:9091,PLAIN://$(POD_NAME).prod-brokers.$(POD_NAMESPACE).svc:9092',
        'listener.security.protocol.map': 'REPLICATION:SSL,PLAIN:PLAINTEXT',
        'inter.broker.listener.name': 'REPLICATION',
        'ssl.keystore.type': 'PEM',
        'ssl.keystore.location': '/etc/samsa-tls/broker/$(POD_NAME).pem',
        'ssl.truststore.type': 'PEM',
        'ssl.truststore.location': '/etc/samsa-tls/cluster-ca/ca.crt',
        'listener.name.replication.ssl.client.auth': 'required',
        'listener.name.replication.ssl.endpoint.identification.algorithm': '',
      });
    });

    it('maps each listener to its security protocol; client certificates of the clients CA where authentication is tls; SCRAM; the authorizer with the brokers and the operator as super users', () => {
      const s = settings(tlsCluster);
      expect(s['listener.security.protocol.map']).toBe('REPLICATION:SSL,PLAIN:PLAINTEXT,TLS:SSL,MTLS:SSL,SCRAM:SASL_SSL');
      expect(s['listener.name.mtls.ssl.client.auth']).toBe('required');
      expect(s['listener.name.mtls.ssl.truststore.location']).toBe('/etc/samsa-tls/clients-ca/ca.crt');
      expect(s['listener.name.tls.ssl.client.auth']).toBeUndefined();
      expect(s['sasl.enabled.mechanisms']).toBe('SCRAM-SHA-512');
      expect(s['authorizer.class.name']).toBe('org.apache.kafka.metadata.authorizer.StandardAuthorizer');
      expect(s['super.users']).toBe('User:CN=prod-broker,O=samsa;User:CN=prod-operator,O=samsa;User:admin');
      expect(settings(cluster())['authorizer.class.name']).toBeUndefined();
      expect(settings(cluster({ listeners: [{ name: 'plain', port: 9092, tls: false, authentication: 'scram-sha-512' }] }))['listener.security.protocol.map']).toBe('REPLICATION:SSL,PLAIN:SASL_PLAINTEXT');
    });

    it('opens a port per listener on the pods and Services, and mounts the broker certificates and both CA certificates from their Secrets', () => {
      const sts = pick(tlsCluster, 'StatefulSet');
      const container = sts.spec.template.spec.containers[0];
      expect(container.ports.map((p: { name: string; containerPort: number }) => `${p.name}:${p.containerPort}`)).toEqual(['replication:9091', 'plain:9092', 'tls:9093', 'mtls:9094', 'scram:9095', 'http:9644']);
      const [headless, bootstrap] = desiredResources(tlsCluster).filter((o) => o.kind === 'Service') as any[];
      expect(headless.spec.ports.map((p: { name: string }) => p.name)).toEqual(['replication', 'plain', 'tls', 'mtls', 'scram', 'http']);
      expect(bootstrap.spec.ports.map((p: { name: string }) => p.name)).toEqual(['replication', 'plain', 'tls', 'mtls', 'scram']);
      expect(sts.spec.template.spec.volumes.filter((v: { secret?: unknown }) => v.secret)).toEqual([
        { name: 'broker-certs', secret: { secretName: 'prod-broker-certs' } },
        { name: 'cluster-ca', secret: { secretName: 'prod-cluster-ca-cert' } },
        { name: 'clients-ca', secret: { secretName: 'prod-clients-ca-cert' } },
      ]);
      expect(container.volumeMounts).toEqual(expect.arrayContaining([{ name: 'broker-certs', mountPath: '/etc/samsa-tls/broker', readOnly: true }]));
      // The HTTP port is its own setting now.
      expect(container.args.join(' ')).toContain('--http-port 9644');
      expect(pick(cluster({ http: { port: 8080 } }), 'StatefulSet').spec.template.spec.containers[0].readinessProbe.httpGet.port).toBe('http');
    });
  });
});
