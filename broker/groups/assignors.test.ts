// The server-side assignors and a member's way to its target (pure functions).
import { describe, expect, it } from 'vitest';
import { type Assignment, rangeAssignor, uniformAssignor } from './assignors.js';
import { ConsumerGroup, type ConsumerMember, emptyMetadata, newMember, reconcile } from './consumer-group.js';

const member = (memberId: string, topics: string[], previous: Assignment = new Map()) => ({ memberId, topicIds: new Set(topics), previous });
const count = (a: Assignment | undefined) => [...(a?.values() ?? [])].reduce((n, l) => n + l.length, 0);

describe('uniform assignor', () => {
  it('spreads partitions evenly and keeps each member its partitions when one joins', () => {
    const first = uniformAssignor.assign([member('a', ['t']), member('b', ['t'])], new Map([['t', 6]]));
    expect([count(first.get('a')), count(first.get('b'))]).toEqual([3, 3]);
    const second = uniformAssignor.assign([member('a', ['t'], first.get('a')), member('b', ['t'], first.get('b')), member('c', ['t'])], new Map([['t', 6]]));
    expect([count(second.get('a')), count(second.get('b')), count(second.get('c'))]).toEqual([2, 2, 2]);
    // Sticky: what a and b keep comes from what they had.
    for (const id of ['a', 'b']) for (const p of second.get(id)!.get('t')!) expect(first.get(id)!.get('t')).toContain(p);
  });

  it('gives a topic only to its subscribers and balances the rest around them', () => {
    const out = uniformAssignor.assign([member('a', ['t', 'u']), member('b', ['u'])], new Map([['t', 2], ['u', 4]]));
    expect(out.get('b')!.get('t')).toBeUndefined();
    expect(count(out.get('a'))).toBe(3);
    expect(count(out.get('b'))).toBe(3);
  });
});

describe('range assignor', () => {
  it('gives each member a contiguous range, the first ones one more', () => {
    const out = rangeAssignor.assign([member('b', ['t']), member('a', ['t'])], new Map([['t', 5]]));
    expect(out.get('a')!.get('t')).toEqual([0, 1, 2]);
    expect(out.get('b')!.get('t')).toEqual([3, 4]);
  });
});

describe('reconcile', () => {
  const member = (memberId: string, epoch: number, assigned: Assignment): ConsumerMember =>
    newMember(memberId, { ...emptyMetadata(), subscribedTopicNames: ['t'], rebalanceTimeoutMs: 1000 }, { memberEpoch: epoch, assigned });

  it('revokes before the epoch moves, and gives a partition only once its owner has let it go', () => {
    const group = new ConsumerGroup('g');
    const a = member('a', 1, new Map([['t', [0, 1]]]));
    const b = member('b', 0, new Map());
    group.add(a);
    group.add(b);
    group.groupEpoch = group.assignmentEpoch = 2;
    group.targetAssignment.set('a', new Map([['t', [0]]]));
    group.targetAssignment.set('b', new Map([['t', [1]]]));

    const bWaits = reconcile(group, b, null);
    expect(bWaits).toMatchObject({ memberEpoch: 2, state: 'UNRELEASED_PARTITIONS', assigned: new Map() });
    Object.assign(b, bWaits);

    const aRevokes = reconcile(group, a, null);
    expect(aRevokes).toMatchObject({ memberEpoch: 1, state: 'UNREVOKED_PARTITIONS', assigned: new Map([['t', [0]]]), pendingRevocation: new Map([['t', [1]]]) });
    Object.assign(a, aRevokes);
    // Still owning partition 1: nothing moves.
    expect(reconcile(group, a, [{ topicId: 't', partitions: [0, 1] }])).toMatchObject({ memberEpoch: 1, state: 'UNREVOKED_PARTITIONS' });
    expect(reconcile(group, b, null).assigned).toEqual(new Map());

    Object.assign(a, reconcile(group, a, [{ topicId: 't', partitions: [0] }]));
    expect(a).toMatchObject({ memberEpoch: 2, previousMemberEpoch: 1, state: 'STABLE' });
    expect(reconcile(group, b, null)).toMatchObject({ memberEpoch: 2, state: 'STABLE', assigned: new Map([['t', [1]]]) });
  });
});
