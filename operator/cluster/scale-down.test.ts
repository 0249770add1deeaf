// When a scale-down is checked and what stops it without asking a broker (the integration test
// in operator/test/cluster-safety.test.ts asks real brokers what they hold).
import { describe, expect, it } from 'vitest';
import { API_VERSION, type KafkaCluster } from '../crds/types.js';
import { SKIP_SCALEDOWN_CHECK, scaleDownBlocker } from './scale-down.js';

const cluster = (replicas: number, annotations?: Record<string, string>): KafkaCluster => ({
  apiVersion: API_VERSION,
  kind: 'KafkaCluster',
  metadata: { name: 'prod', namespace: 'data', generation: 1, ...(annotations ? { annotations } : {}) },
  spec: { replicas, image: 'samsa:0.1.0', storage: { size: '1Gi', deleteClaimsOnClusterDelete: false, deleteClaimsOnScaleDown: false }, listeners: { kafkaPort: 9092, httpPort: 9644 } },
});

const unasked = async (): Promise<never> => {
  throw new Error('no broker should be asked');
};

describe('scaleDownBlocker', () => {
  it('checks nothing when the cluster keeps or gains brokers, or the check is skipped', async () => {
    expect(await scaleDownBlocker(cluster(3), 3, unasked)).toBeNull();
    expect(await scaleDownBlocker(cluster(5), 3, unasked)).toBeNull();
    expect(await scaleDownBlocker(cluster(1, { [SKIP_SCALEDOWN_CHECK]: 'true' }), 3, unasked)).toBeNull();
  });

  it('holds a scale-down while a broker to be removed cannot be asked what it holds', async () => {
    const brokers = async () => [0, 1, 2, 3].map((id) => ({ id, host: null }));
    const blocked = await scaleDownBlocker(cluster(2, { [SKIP_SCALEDOWN_CHECK]: 'false' }), 4, brokers);
    expect(blocked).toContain('scaling down from 4 to 2 broker(s) is on hold');
    expect(blocked).toContain('broker 2 is not ready, so what it holds cannot be checked; broker 3 is not ready');
    expect(blocked).toContain(`${SKIP_SCALEDOWN_CHECK}: "true"`);
  });
});
