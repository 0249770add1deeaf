// Status comparison: what the API server gives back (its own key order, timestamps) and what a
// reconcile computes are the same status when they say the same thing.
import { describe, expect, it } from 'vitest';
import { sameStatus, verdict } from './conditions.js';

describe('sameStatus', () => {
  const conditions = verdict(undefined, 'failed', 'ConfigRejected', 'retention.ms: not a number', 3);

  it('ignores key order and lastTransitionTime', () => {
    const ours = { observedGeneration: 3, topicId: 'abc', partitions: 2, conditions };
    const fromServer = JSON.parse(JSON.stringify({ conditions: conditions.map((c) => ({ message: c.message, reason: c.reason, lastTransitionTime: '2020-01-01T00:00:00Z', status: c.status, type: c.type, observedGeneration: 3 })), partitions: 2, topicId: 'abc', observedGeneration: 3 }));
    expect(JSON.stringify(ours)).not.toBe(JSON.stringify(fromServer));
    expect(sameStatus(ours, fromServer)).toBe(true);
  });

  it('sees a changed reason, message, status or fact', () => {
    const base = { partitions: 2, conditions };
    expect(sameStatus(base, { ...base, partitions: 3 })).toBe(false);
    expect(sameStatus(base, { ...base, conditions: verdict(undefined, 'failed', 'ConfigRejected', 'another message', 3) })).toBe(false);
    expect(sameStatus(base, { ...base, conditions: verdict(undefined, 'ready', 'TopicReady', 'retention.ms: not a number', 3) })).toBe(false);
    expect(sameStatus(base, undefined)).toBe(false);
  });
});
