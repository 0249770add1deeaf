// Status comparison: equal statuses are equal whatever the key order the API server returns.
import { describe, expect, it } from 'vitest';
import { sameStatus, verdict } from './conditions.js';

describe('sameStatus', () => {
  const conditions = verdict(undefined, 'failed', 'ApplyFailed', 'refused', 2);

  it('ignores key order, in objects at any depth', () => {
    const ours = { observedGeneration: 2, brokers: [{ id: 0, pod: 'a-0', ready: false }], conditions };
    const theirs = JSON.parse(JSON.stringify({ conditions: conditions.map((c) => Object.fromEntries(Object.entries(c).reverse())), brokers: [{ ready: false, pod: 'a-0', id: 0 }], observedGeneration: 2 }));
    expect(JSON.stringify(ours)).not.toBe(JSON.stringify(theirs));
    expect(sameStatus(ours, theirs)).toBe(true);
  });

  it('ignores lastTransitionTime but not what a condition says', () => {
    const later = conditions.map((c) => ({ ...c, lastTransitionTime: '2030-01-01T00:00:00Z' }));
    expect(sameStatus({ conditions }, { conditions: later })).toBe(true);
    expect(sameStatus({ conditions }, { conditions: verdict(conditions, 'failed', 'ApplyFailed', 'refused again', 2) })).toBe(false);
  });

  it('sees fields that appear, go or change, and array order', () => {
    expect(sameStatus({ conditions }, { conditions, observedGeneration: 1 } as never)).toBe(false);
    expect(sameStatus({ a: [1, 2] } as never, { a: [2, 1] } as never)).toBe(false);
    expect(sameStatus({ a: undefined } as never, {} as never)).toBe(true);
    expect(sameStatus(undefined, {})).toBe(true);
  });
});
