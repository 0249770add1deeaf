// The roll planner's rules over made-up facts (the brokers' answers are fakes here; the
// integration tests in operator/test/roll-order.test.ts and operator/test/rolling-restart.test.ts
// ask real brokers).
import { describe, expect, it } from 'vitest';
import { type RollBroker, type RollFacts, type Safety, planRoll, unsafeBecause } from './planner.js';

const safe: Safety = { state: 'safe' };
const underMinIsr = (topic: string, partition: number, min = 2): Safety => ({ state: 'unsafe', blocking: [{ topic, partition, reason: 'would-go-under-min-isr', minInsyncReplicas: min }] });

/** Three brokers, all ready, all on the old template, every one safe to stop; broker 0 the controller; one partition on all three. */
function facts(overrides: Partial<RollFacts> = {}, brokers?: Array<Partial<RollBroker> & { id: number }>): RollFacts {
  const list = (brokers ?? [{ id: 0 }, { id: 1 }, { id: 2 }]).map((b) => ({ outdated: true, ready: true, failing: false, ...b }));
  return {
    brokers: list,
    expected: list.length,
    safety: new Map(list.filter((b) => b.outdated).map((b) => [b.id, safe])),
    caughtUp: new Map(list.filter((b) => !b.outdated).map((b) => [b.id, null])),
    controllerId: 0,
    racks: new Map(),
    replicas: new Map([['orders-0', list.map((b) => b.id)]]),
    rollingUpdate: {},
    ...overrides,
  };
}

const ids = (f: RollFacts) => planRoll(f).restart.map((r) => r.id);

describe('planRoll', () => {
  it('restarts the highest ordinal first, one at a time, and the controller last', () => {
    expect(ids(facts())).toEqual([2]);
    const plan = planRoll(facts({ controllerId: 2 }));
    expect(plan.restart.map((r) => r.id)).toEqual([1]);
    expect(plan).toMatchObject({ done: [], left: [0, 1, 2], waiting: null });
    // Only the controller left: now it goes.
    const last = planRoll(facts({ controllerId: 2 }, [{ id: 0, outdated: false }, { id: 1, outdated: false }, { id: 2 }]));
    expect(last.restart).toEqual([{ id: 2, why: 'last, being the controller, to apply the new pod template' }]);
    expect(last).toMatchObject({ done: [0, 1], left: [2] });
  });

  it('is over when no pod runs an old template', () => {
    expect(planRoll(facts({}, [{ id: 0, outdated: false }, { id: 1, outdated: false }]))).toEqual({ restart: [], waiting: null, done: [0, 1], left: [] });
  });

  it('waits while a broker says stopping it would take a partition below min.insync.replicas, and restarts another that may stop', () => {
    const f = facts({ safety: new Map([[0, safe], [1, safe], [2, underMinIsr('orders', 0)]]) });
    expect(ids(f)).toEqual([1]);
    const waiting = planRoll(facts({ safety: new Map([[0, safe], [1, underMinIsr('orders', 3)], [2, underMinIsr('orders', 0)]]) }));
    expect(waiting.restart).toEqual([]);
    expect(waiting.waiting).toBe('broker 2 would take orders-0 below min.insync.replicas (2) (broker 0, the controller, goes last)');
  });

  it('waits while a broker cannot tell or was not asked', () => {
    const plan = planRoll(facts({ controllerId: null, safety: new Map([[0, { state: 'unknown', reason: 'the cluster metadata is loading' }]]) }, [{ id: 0 }]));
    expect(plan).toMatchObject({ restart: [], waiting: 'broker 0 cannot tell whether it may stop: the cluster metadata is loading' });
    expect(planRoll(facts({ safety: new Map() }, [{ id: 0 }])).waiting).toBe('broker 0 was not asked whether it may stop');
    // Broker 2 may stop, but broker 1 does not answer: nobody goes while it is not well.
    const stopped = planRoll(facts({ safety: new Map<number, Safety>([[0, safe], [1, { state: 'unknown', reason: 'it did not answer (timeout)' }], [2, safe]]) }));
    expect(stopped).toMatchObject({ restart: [], waiting: 'broker 1 cannot tell whether it may stop: it did not answer (timeout)' });
  });

  it('does not let a partition that can never be safe (replication factor ≤ min.insync.replicas) hold the roll', () => {
    const rf1: Safety = { state: 'unsafe', blocking: [{ topic: 'logs', partition: 0, reason: 'would-go-offline', minInsyncReplicas: 1 }] };
    expect(unsafeBecause(2, rf1, new Map([['logs-0', [2]]]))).toBeNull();
    // The same answer for a partition of three replicas whose ISR shrank: wait.
    expect(unsafeBecause(2, rf1, new Map([['logs-0', [0, 1, 2]]]))).toBe('broker 2 would take logs-0 offline');
    // Replicas unknown: wait.
    expect(unsafeBecause(2, rf1, new Map())).toBe('broker 2 would take logs-0 offline');
  });

  it('restarts the next broker only after the restarted one is ready and caught up', () => {
    const restarted = [{ id: 0 }, { id: 1 }, { id: 2, outdated: false }];
    expect(planRoll(facts({}, [{ id: 0 }, { id: 1 }, { id: 2, outdated: false, ready: false }])).waiting).toBe('broker 2 not ready yet');
    const lagging = planRoll(facts({ caughtUp: new Map([[2, 'orders-0 not-in-isr']]) }, restarted));
    expect(lagging).toMatchObject({ restart: [], waiting: 'broker 2 is not caught up: orders-0 not-in-isr' });
    expect(ids(facts({ caughtUp: new Map([[2, null]]) }, restarted))).toEqual([1]);
    // A pod the StatefulSet has not created again yet.
    expect(planRoll(facts({ expected: 3 }, [{ id: 0 }, { id: 1 }])).waiting).toBe('1 broker pod(s) are still being created');
  });

  it('restarts a failing broker on the old template first, unsafe or not, unless a broker fails on the new one', () => {
    const failing = facts({ safety: new Map([[0, safe], [2, safe]]) }, [{ id: 0 }, { id: 1, ready: false, failing: true }, { id: 2 }]);
    expect(planRoll(failing).restart).toEqual([{ id: 1, why: 'that is failing, to apply the new pod template' }]);
    const broken = planRoll(facts({}, [{ id: 0 }, { id: 1, ready: false, failing: true }, { id: 2, outdated: false, ready: false, failing: true }]));
    expect(broken).toMatchObject({ restart: [], waiting: 'broker 2 fails on the new template; the roll stops until the spec is fixed' });
  });

  it('waits without the controller and the partitions', () => {
    expect(planRoll(facts({ replicas: null })).waiting).toBe('no broker told the controller and the partitions (DescribeCluster, Metadata)');
  });

  describe('parallel', () => {
    // Six brokers; partitions on {0,1,2}, {3,4,5}, {1,4}; racks a: 0,3  b: 1,4  c: 2,5.
    const six = [0, 1, 2, 3, 4, 5].map((id) => ({ id }));
    const replicas = new Map([
      ['a-0', [0, 1, 2]],
      ['b-0', [3, 4, 5]],
      ['c-0', [1, 4]],
    ]);
    const racks = new Map([0, 1, 2, 3, 4, 5].map((id) => [id, 'abc'[id % 3]!]));

    it("'disjoint' restarts together brokers that share no partition, the controller still alone and last", () => {
      expect(ids(facts({ replicas, racks, rollingUpdate: { parallelism: 'disjoint' } }, six))).toEqual([5, 2]);
      expect(ids(facts({ replicas, racks, rollingUpdate: { parallelism: 'disjoint', maxParallel: 1 } }, six))).toEqual([5]);
      // 5 may not stop: 4 goes, with 2 (0 is the controller).
      const safety = new Map(six.map(({ id }) => [id, id === 5 ? underMinIsr('b', 0) : safe]));
      expect(ids(facts({ replicas, racks, safety, rollingUpdate: { parallelism: 'disjoint' } }, six))).toEqual([4, 2]);
    });

    it("'rack' restarts one rack's brokers together, only those that share no partition", () => {
      expect(ids(facts({ replicas, racks, rollingUpdate: { parallelism: 'rack' } }, six))).toEqual([5, 2]);
      const shared = new Map([...replicas, ['d-0', [2, 5]]]);
      expect(ids(facts({ replicas: shared, racks, rollingUpdate: { parallelism: 'rack' } }, six))).toEqual([5]);
      // 2 in another rack than 5: not together, though they share no partition.
      const moved = new Map([...racks, [2, 'b']]);
      expect(ids(facts({ replicas, racks: moved, rollingUpdate: { parallelism: 'rack' } }, six))).toEqual([5]);
      expect(ids(facts({ replicas, racks: moved, rollingUpdate: { parallelism: 'disjoint' } }, six))).toEqual([5, 2]);
    });

    it('never restarts the controller with others', () => {
      const done = six.map(({ id }) => ({ id, outdated: id === 0 || id === 4 }));
      expect(ids(facts({ replicas, racks, rollingUpdate: { parallelism: 'disjoint' } }, done))).toEqual([4]);
      const controllerLeft = six.map(({ id }) => ({ id, outdated: id === 0 }));
      expect(ids(facts({ replicas, racks, rollingUpdate: { parallelism: 'disjoint' } }, controllerLeft))).toEqual([0]);
    });
  });
});
