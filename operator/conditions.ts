// Status conditions as Kubernetes API conventions describe them: lastTransitionTime changes
// only when the status does.
import type { Condition } from './crds/types.js';

export function setCondition(conditions: Condition[] | undefined, type: string, status: Condition['status'], reason: string, message: string, generation?: number): Condition[] {
  const list = [...(conditions ?? [])];
  const at = list.findIndex((c) => c.type === type);
  const previous = at >= 0 ? list[at] : undefined;
  const next: Condition = {
    type,
    status,
    reason,
    message,
    lastTransitionTime: previous && previous.status === status ? previous.lastTransitionTime : new Date().toISOString(),
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
  if (at >= 0) list[at] = next;
  else list.push(next);
  return list;
}

/** Ready, Reconciling and Degraded at once, from one verdict. */
export function verdict(conditions: Condition[] | undefined, state: 'ready' | 'progressing' | 'failed', reason: string, message: string, generation?: number): Condition[] {
  let list = setCondition(conditions, 'Ready', state === 'ready' ? 'True' : 'False', reason, message, generation);
  list = setCondition(list, 'Reconciling', state === 'progressing' ? 'True' : 'False', reason, message, generation);
  return setCondition(list, 'Degraded', state === 'failed' ? 'True' : 'False', reason, message, generation);
}
