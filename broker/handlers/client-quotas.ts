// DescribeClientQuotas and AlterClientQuotas (KIP-546): what kafka-configs.sh --entity-type
// users/clients uses. Quotas are kept in the metadata store (security/client-quotas.ts).
import type { BrokerContext } from '../context.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import type { AlterClientQuotasRequest, AlterClientQuotasResponse, DescribeClientQuotasRequest, DescribeClientQuotasResponse } from '../protocol/messages/index.js';
import {
  CLIENT_ID,
  USER,
  type QuotaEntity,
  type QuotaError,
  type QuotaKey,
  type QuotaOp,
  matchesFilter,
  parseEntityPath,
  validateEntity,
  validateFilter,
  validateQuota,
} from '../security/client-quotas.js';

function entityData(entity: QuotaEntity): { entityType: string; entityName: string | null }[] {
  const data: { entityType: string; entityName: string | null }[] = [];
  if (entity.user !== undefined) data.push({ entityType: USER, entityName: entity.user });
  if (entity.clientId !== undefined) data.push({ entityType: CLIENT_ID, entityName: entity.clientId });
  return data;
}

export function handleDescribeClientQuotas(broker: BrokerContext, req: DescribeClientQuotasRequest): DescribeClientQuotasResponse {
  const invalid = validateFilter(req.components);
  if (invalid) return { throttleTimeMs: 0, errorCode: invalid.code, errorMessage: invalid.message, entries: null };
  const entries: DescribeClientQuotasResponse['entries'] = [];
  for (const [path, values] of broker.quotas.store.quotas) {
    const entity = parseEntityPath(path);
    if (!entity || !matchesFilter(entity, req.components, req.strict)) continue;
    const quotaValues = Object.entries(values).map(([key, value]) => ({ key, value: value as number }));
    if (quotaValues.length > 0) entries.push({ entity: entityData(entity), values: quotaValues });
  }
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, entries };
}

export async function handleAlterClientQuotas(broker: BrokerContext, req: AlterClientQuotasRequest): Promise<AlterClientQuotasResponse> {
  const entries: AlterClientQuotasResponse['entries'] = [];
  for (const entry of req.entries) {
    const answer = (error: QuotaError | null) =>
      entries.push({ errorCode: error?.code ?? ErrorCode.NONE, errorMessage: error?.message ?? null, entity: entry.entity.map((e) => ({ entityType: e.entityType, entityName: e.entityName })) });
    const entity = validateEntity(entry.entity);
    if ('code' in entity) {
      answer(entity);
      continue;
    }
    const ops: QuotaOp[] = [];
    let error: QuotaError | null = null;
    const keys = new Set<string>();
    for (const op of entry.ops) {
      error = keys.has(op.key) ? { code: ErrorCode.INVALID_REQUEST, message: `Duplicate quota key ${op.key} in one entry` } : validateQuota(op.key, op.value, op.remove);
      if (error) break;
      keys.add(op.key);
      ops.push({ key: op.key as QuotaKey, value: op.value, remove: op.remove });
    }
    if (error || req.validateOnly || ops.length === 0) {
      answer(error);
      continue;
    }
    try {
      await broker.quotas.store.alter(entity, ops);
      answer(null);
    } catch (err) {
      if (err instanceof KafkaError) answer({ code: err.code, message: err.message });
      else throw err;
    }
  }
  return { throttleTimeMs: 0, entries };
}
