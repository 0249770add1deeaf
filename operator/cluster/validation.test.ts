// The operator's own check of a KafkaCluster spec, against the broker's config definitions.
import { describe, expect, it } from 'vitest';
import { API_VERSION, type KafkaCluster } from '../crds/types.js';
import { validateCluster } from './validation.js';

const cluster = (spec: Partial<KafkaCluster['spec']> = {}): KafkaCluster => ({
  apiVersion: API_VERSION,
  kind: 'KafkaCluster',
  metadata: { name: 'prod', namespace: 'data', generation: 1 },
  spec: { replicas: 3, image: 'samsa:0.1.0', storage: { size: '1Gi', deleteClaimsOnClusterDelete: false, deleteClaimsOnScaleDown: false }, listeners: [{ name: 'plain', port: 9092, tls: false, authentication: 'none' }], http: { port: 9644 }, tls: { certificateValidityDays: 365, renewalDays: 30 }, ...spec },
});

describe('validateCluster', () => {
  it('accepts known settings with good values', () => {
    expect(validateCluster(cluster({ config: { 'log.retention.ms': '3600000', 'log.cleanup.policy': 'compact,delete', 'auto.create.topics.enable': 'false' } }))).toEqual([]);
  });

  it('names every unknown, ill-typed or out-of-range setting', () => {
    expect(validateCluster(cluster({ config: { 'log.retention.ms': 'soon', 'no.such.thing': '1', 'num.partitions': '0', 'log.cleanup.policy': 'shred', 'node.id': '4' } }))).toEqual([
      'log.retention.ms must be a whole number, got "soon"',
      'unknown broker config "no.such.thing"',
      'num.partitions must be at least 1, got 0',
      'log.cleanup.policy does not support "shred" (supported: delete, compact)',
      'node.id cannot be set: each broker gets its id from its pod ordinal',
    ]);
  });

  it('refuses the settings the operator writes from the listeners, certificates and authorization', () => {
    expect(validateCluster(cluster({ config: { 'ssl.client.auth': 'none', 'super.users': 'User:x', 'listener.name.plain.ssl.client.auth': 'required', 'allow.everyone.if.no.acl.found': 'true' } }))).toEqual([
      'broker config ssl.client.auth is set by the operator from spec.listeners, spec.tls and spec.authorization',
      'broker config super.users is set by the operator from spec.listeners, spec.tls and spec.authorization',
      'broker config listener.name.plain.ssl.client.auth is set by the operator from spec.listeners, spec.tls and spec.authorization',
    ]);
  });

  it('refuses listeners on taken ports or names, client certificates without TLS, and malformed images', () => {
    const listener = (name: string, port: number, tls = false, authentication: 'none' | 'tls' | 'scram-sha-512' = 'none') => ({ name, port, tls, authentication });
    expect(validateCluster(cluster({ listeners: [listener('plain', 9644)] }))).toEqual(['listener plain: port 9644 is taken by http.port']);
    expect(validateCluster(cluster({ listeners: [listener('plain', 9091)] }))).toEqual(['listener plain: port 9091 is taken by the internal replication listener']);
    expect(validateCluster(cluster({ listeners: [listener('plain', 9092), listener('tls', 9092, true)] }))).toEqual(['listener tls: port 9092 is taken by listener plain']);
    expect(validateCluster(cluster({ listeners: [listener('plain', 9092), listener('plain', 9093)] }))).toEqual(['listener name plain is used twice']);
    expect(validateCluster(cluster({ listeners: [listener('replication', 9093, true)] }))).toEqual(['listener name replication is reserved']);
    expect(validateCluster(cluster({ listeners: [listener('mtls', 9093, false, 'tls')] }))).toEqual(['listener mtls: authentication tls (client certificates) needs tls: true']);
    expect(validateCluster(cluster({ listeners: [listener('plain', 9092), listener('mtls', 9093, true, 'tls'), listener('scram', 9094, true, 'scram-sha-512')] }))).toEqual([]);
    for (const good of ['samsa:0.1.0', 'ghcr.io/acme/samsa:1.2', 'localhost:5000/samsa', `samsa@sha256:${'a'.repeat(64)}`]) expect(validateCluster(cluster({ image: good }))).toEqual([]);
    for (const bad of ['Samsa:1', 'samsa:', 'samsa::1', 'sam sa', 'samsa:1 ', '/samsa']) expect(validateCluster(cluster({ image: bad })), bad).toEqual([`image "${bad}" is not a valid image reference`]);
  });

  it('refuses a termination grace period shorter than a controlled shutdown may take', () => {
    const pod = (terminationGracePeriodSeconds: number) => ({ podTemplate: { terminationGracePeriodSeconds } });
    expect(validateCluster(cluster(pod(40)))).toEqual([]);
    expect(validateCluster(cluster(pod(39)))).toEqual([
      'podTemplate.terminationGracePeriodSeconds (39) is too short for controlled.shutdown.timeout.ms (30000): a broker needs up to 40s to move its leaderships away and close its logs before it is killed',
    ]);
    expect(validateCluster(cluster({ ...pod(15), config: { 'controlled.shutdown.timeout.ms': '5000' } }))).toEqual([]);
    expect(validateCluster(cluster({ ...pod(5), config: { 'controlled.shutdown.enable': 'false' } }))).toEqual([]);
    // The bad value itself is what is reported.
    expect(validateCluster(cluster({ ...pod(5), config: { 'controlled.shutdown.timeout.ms': 'soon' } }))).toEqual(['controlled.shutdown.timeout.ms must be a whole number, got "soon"']);
  });

  it('takes spec.rack only with the ClusterRole that lets brokers read their node, and not with broker.rack', () => {
    const rack = { topologyKey: 'topology.kubernetes.io/zone' };
    expect(validateCluster(cluster({ rack }), { brokerClusterRole: 'samsa-operator-broker' })).toEqual([]);
    expect(validateCluster(cluster({ rack }))[0]).toContain('--broker-cluster-role');
    expect(validateCluster(cluster({ rack, config: { 'broker.rack': 'a' } }), { brokerClusterRole: 'r' })).toEqual(['broker.rack cannot be set with spec.rack: each broker takes its rack from its node']);
  });
});
