// The throttle's parts in-process: the token bucket and the throttled-replicas lists. The
// integration test (test/reassignment.test.ts) measures a throttled catch-up on real brokers.
import { describe, expect, it } from 'vitest';
import { ConfigError, parseThrottledReplicas, validateTopicConfigs } from '../config.js';
import { listsReplica, ReplicationQuota } from './replication-quota.js';

describe('replication quota', () => {
  it('lets a second of bytes through, then is used up until the rate has refilled it', () => {
    let rate = 1000;
    const quota = new ReplicationQuota(() => rate, 0);
    expect(quota.exceeded(0)).toBe(false);
    quota.record(1500, 0);
    expect(quota.exceeded(0)).toBe(true);
    expect(quota.exceeded(400)).toBe(true);
    expect(quota.exceeded(600)).toBe(false);
    // The rate is dynamic: a higher one refills faster.
    quota.record(10_000, 600);
    rate = 100_000;
    expect(quota.exceeded(700)).toBe(false);
  });

  it('Long.MAX (the default) is never used up', () => {
    const quota = new ReplicationQuota(() => Number('9223372036854775807'), 0);
    quota.record(2 ** 40, 0);
    expect(quota.exceeded(0)).toBe(false);
  });

  it('reads "*" and partition:broker lists, and refuses anything else', () => {
    expect(parseThrottledReplicas('*')).toBe('*');
    expect(parseThrottledReplicas('0:1, 1:2')).toEqual(new Set(['0:1', '1:2']));
    expect(parseThrottledReplicas('')).toEqual(new Set());
    expect(() => parseThrottledReplicas('0:x')).toThrow(ConfigError);
    expect(() => validateTopicConfigs({ 'leader.replication.throttled.replicas': '1-2' })).toThrow('partition:broker pairs');
    expect(listsReplica({ 'follower.replication.throttled.replicas': '0:2,1:2' }, 'follower.replication.throttled.replicas', 1, 2)).toBe(true);
    expect(listsReplica({ 'follower.replication.throttled.replicas': '0:2,1:2' }, 'follower.replication.throttled.replicas', 1, 1)).toBe(false);
    expect(listsReplica({ 'leader.replication.throttled.replicas': '*' }, 'leader.replication.throttled.replicas', 7, 0)).toBe(true);
    expect(listsReplica({}, 'leader.replication.throttled.replicas', 0, 0)).toBe(false);
  });
});
