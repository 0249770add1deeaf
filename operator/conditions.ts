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

/** Canonical JSON: object keys sorted, so equal values give equal text whatever their key order. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/**
 * Whether two statuses say the same, whatever their key order (the API server returns keys in
 * its own order) and ignoring conditions' lastTransitionTime, which only follows their status.
 */
export function sameStatus(a: { conditions?: Condition[] } | undefined, b: { conditions?: Condition[] } | undefined): boolean {
  const strip = (s: { conditions?: Condition[] } | undefined) => ({ ...(s ?? {}), conditions: s?.conditions?.map(({ lastTransitionTime: _t, ...rest }) => rest) });
  return JSON.stringify(canonical(strip(a))) === JSON.stringify(canonical(strip(b)));
}
