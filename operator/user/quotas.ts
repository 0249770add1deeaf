// A KafkaUser's quotas as Kafka's client-quota keys on its user entity, and the AlterClientQuotas
// operations that make the broker's values equal the spec (setting changed ones, removing those
// no longer in it).
import type { KafkaUserSpec } from '../crds/types.js';

/** The spec's quota names and Kafka's keys for them. */
const QUOTA_KEYS = { producerByteRate: 'producer_byte_rate', consumerByteRate: 'consumer_byte_rate', requestPercentage: 'request_percentage' } as const;
export const KNOWN_QUOTA_KEYS: readonly string[] = Object.values(QUOTA_KEYS);

export interface QuotaOp {
  key: string;
  value: number;
  remove: boolean;
}

/** Kafka's quota values the spec gives, by key. */
export function desiredQuotas(quotas: KafkaUserSpec['quotas']): Map<string, number> {
  const out = new Map<string, number>();
  for (const [field, key] of Object.entries(QUOTA_KEYS)) {
    const value = quotas?.[field as keyof typeof QUOTA_KEYS];
    if (value !== undefined) out.set(key, value);
  }
  return out;
}

/**
 * Operations turning `current` into `desired`. Only the keys a KafkaUser manages are removed:
 * others (e.g. controller_mutation_rate set with kafka-configs) are left alone.
 */
export function quotaOps(current: Map<string, number>, desired: Map<string, number>): QuotaOp[] {
  const ops: QuotaOp[] = [];
  for (const [key, value] of desired) if (current.get(key) !== value) ops.push({ key, value, remove: false });
  for (const key of current.keys()) if (!desired.has(key) && KNOWN_QUOTA_KEYS.includes(key)) ops.push({ key, value: 0, remove: true });
  return ops;
}
