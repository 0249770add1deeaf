// Partition reassignment (KIP-455) as pure transitions of a PartitionState. While a reassignment
// is in flight, `replicas` holds the target followed by the current replicas not in it, `adding`
// the target replicas that were not replicas, `removing` the replicas not in the target. The new
// replicas catch up as followers and join the ISR like any other; once every target replica is in
// the ISR the controller completes the move (`replicas` = target, the removed ones leave the ISR
// and, if one led, leadership).
import type { Liveness, PartitionState } from './partition-state.js';

/** Why a reassignment request is refused; the state is left as it was. */
export class ReassignmentError extends Error {
  constructor(
    readonly reason: 'invalid-assignment' | 'no-reassignment',
    message: string,
  ) {
    super(message);
  }
}

const without = (list: readonly number[], drop: readonly number[]) => list.filter((id) => !drop.includes(id));

function bumped(state: PartitionState, next: Partial<PartitionState>, controllerEpoch: number): PartitionState {
  const leaderChanged = next.leader !== undefined && next.leader !== state.leader;
  return { ...state, ...next, leaderEpoch: leaderChanged ? state.leaderEpoch + 1 : state.leaderEpoch, partitionEpoch: state.partitionEpoch + 1, controllerEpoch };
}

/** Kafka's checks of a manual assignment: not empty, no broker twice, every broker registered. */
export function validateTarget(target: readonly number[], registered: ReadonlySet<number>): void {
  if (target.length === 0) throw new ReassignmentError('invalid-assignment', 'The manual partition assignment includes an empty replica list.');
  const seen = new Set<number>();
  for (const id of target) {
    if (seen.has(id)) throw new ReassignmentError('invalid-assignment', `The manual partition assignment includes the replica ${id} more than once.`);
    seen.add(id);
  }
  for (const id of target) {
    if (!registered.has(id)) throw new ReassignmentError('invalid-assignment', `The manual partition assignment includes broker ${id}, but no such broker is registered.`);
  }
}

export const reassigning = (state: PartitionState) => state.adding.length > 0 || state.removing.length > 0;

/**
 * Starts a reassignment to `target` (validated), replacing one in flight: the replicas are then
 * the target followed by every current replica not in it. Returns null when `target` is already
 * the assignment and nothing is in flight.
 */
export function startReassignment(state: PartitionState, target: readonly number[], controllerEpoch: number): PartitionState | null {
  const current = state.replicas;
  const replicas = [...target, ...without(current, target)];
  const adding = without(target, current);
  const removing = without(current, target);
  if (adding.length === 0 && removing.length === 0 && !reassigning(state) && current.every((id, i) => id === target[i])) return null;
  return bumped(state, { replicas, adding, removing }, controllerEpoch);
}

/**
 * Cancels the reassignment in flight: back to the replicas before it (replicas − adding), the
 * added ones leave the ISR, and a leader among them hands over to the first original replica in
 * the ISR that can lead.
 */
export function cancelReassignment(state: PartitionState, live: Liveness, controllerEpoch: number): PartitionState {
  if (!reassigning(state)) throw new ReassignmentError('no-reassignment', 'No partition reassignment is in progress.');
  const replicas = without(state.replicas, state.adding);
  const isr = without(state.isr, state.adding);
  if (isr.length === 0) throw new ReassignmentError('invalid-assignment', 'Cannot cancel the reassignment: none of the original replicas is in sync.');
  let leader = state.leader;
  if (state.adding.includes(leader)) leader = replicas.find((id) => isr.includes(id) && live.alive.has(id) && !live.shuttingDown.has(id)) ?? -1;
  return bumped(state, { replicas, isr, leader, adding: [], removing: [] }, controllerEpoch);
}

/**
 * The controller's step: once every target replica (replicas − removing) is in the ISR, the
 * partition takes the target as its replicas, the removed replicas leave the ISR, and a leader
 * being removed is replaced by the first target replica in the ISR that can lead. Null while the
 * new replicas are still catching up (or nothing is in flight).
 */
export function completeReassignment(state: PartitionState, live: Liveness, controllerEpoch: number): PartitionState | null {
  if (!reassigning(state)) return null;
  const target = without(state.replicas, state.removing);
  if (!target.every((id) => state.isr.includes(id))) return null;
  const isr = without(state.isr, state.removing);
  let leader = state.leader;
  if (!target.includes(leader)) {
    leader = target.find((id) => isr.includes(id) && live.alive.has(id) && !live.shuttingDown.has(id)) ?? -1;
    // No target replica can lead now: wait rather than take the partition offline.
    if (leader === -1) return null;
  }
  return bumped(state, { replicas: target, isr, leader, adding: [], removing: [] }, controllerEpoch);
}
