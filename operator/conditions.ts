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

/** JSON text of a value with object keys sorted, so that key order does not matter. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Whether two statuses say the same thing: compared field by field whatever the key order (the
 * API server's JSON and ours differ), ignoring the conditions' lastTransitionTime.
 */
export function sameStatus<S extends { conditions?: Condition[] }>(a: S | undefined, b: S | undefined): boolean {
  const strip = (s: S | undefined) => ({ ...s, conditions: s?.conditions?.map(({ lastTransitionTime: _t, ...c }) => c) });
  return canonical(strip(a)) === canonical(strip(b));
}
