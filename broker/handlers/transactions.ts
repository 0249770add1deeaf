// The transaction APIs on the wire: AddPartitionsToTxn (client versions 0-3), AddOffsetsToTxn,
// EndTxn, ListTransactions, DescribeTransactions, and InitProducerId with a transactional id.
// Semantics live in transactions/coordinator.ts; this module maps versions and fields.
import type { BrokerContext, RequestContext } from '../context.js';
import { OFFSETS_TOPIC } from '../groups/coordinator.js';
import { partitionForGroup } from '../groups/offsets-records.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import type * as M from '../protocol/messages/index.js';
import type { AddPartitionsToTxnTopic } from '../protocol/messages/add-partitions-to-txn-request.js';
import type { AddPartitionsToTxnTopicResult } from '../protocol/messages/add-partitions-to-txn-response.js';
import { TxnState } from '../transactions/transaction-log-records.js';

/**
 * PRODUCER_FENCED exists from InitProducerId v4, AddPartitionsToTxn, AddOffsetsToTxn and EndTxn
 * v2 on (KIP-588); older clients get INVALID_PRODUCER_EPOCH, which they know as fatal.
 */
function fencedAs(code: number, apiVersion: number, firstVersion: number): number {
  return code === ErrorCode.PRODUCER_FENCED && apiVersion < firstVersion ? ErrorCode.INVALID_PRODUCER_EPOCH : code;
}

export async function handleTransactionalInitProducerId(broker: BrokerContext, req: M.InitProducerIdRequest & { transactionalId: string }, ctx: RequestContext): Promise<M.InitProducerIdResponse> {
  const fail = (errorCode: number): M.InitProducerIdResponse => ({ throttleTimeMs: 0, errorCode, producerId: -1, producerEpoch: -1 });
  // A producer id and epoch come together (a producer recovering, KIP-360) or not at all.
  if ((req.producerId === -1) !== (req.producerEpoch === -1)) return fail(ErrorCode.INVALID_REQUEST);
  const expected = req.producerId === -1 ? undefined : { producerId: req.producerId, producerEpoch: req.producerEpoch };
  try {
    const r = await broker.transactions.initProducerId(req.transactionalId, req.transactionTimeoutMs, expected);
    return { throttleTimeMs: 0, errorCode: fencedAs(r.errorCode, ctx.apiVersion, 4), producerId: r.producerId, producerEpoch: r.producerEpoch };
  } catch (err) {
    // Reserving a block of producer ids writes the metadata store; that can fail cleanly.
    if (!(err instanceof KafkaError)) throw err;
    broker.logger.error({ err, transactionalId: req.transactionalId }, 'cannot initialize a transactional producer');
    return fail(err.code);
  }
}

/** Partitions named that do not exist: UNKNOWN_TOPIC_OR_PARTITION, and the others of the request are not attempted. */
export function unknownPartitions(broker: BrokerContext, topics: readonly AddPartitionsToTxnTopic[]): AddPartitionsToTxnTopicResult[] | null {
  const exists = (topic: string, p: number) => broker.registry.get(topic)?.partitions[p] !== undefined;
  if (topics.every((t) => t.partitions.every((p) => exists(t.name, p)))) return null;
  return topics.map((t) => ({
    name: t.name,
    resultsByPartition: t.partitions.map((p) => ({ partitionIndex: p, partitionErrorCode: exists(t.name, p) ? ErrorCode.OPERATION_NOT_ATTEMPTED : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION })),
  }));
}

export function addPartitionsResponse(topics: readonly AddPartitionsToTxnTopic[], code: (topic: string, partition: number) => number): M.AddPartitionsToTxnResponse {
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    resultsByTransaction: [],
    resultsByTopicV3AndBelow: topics.map((t) => ({ name: t.name, resultsByPartition: t.partitions.map((p) => ({ partitionIndex: p, partitionErrorCode: code(t.name, p) })) })),
  };
}

export async function handleAddPartitionsToTxn(broker: BrokerContext, req: M.AddPartitionsToTxnRequest, ctx: RequestContext): Promise<M.AddPartitionsToTxnResponse> {
  const topics = req.v3AndBelowTopics;
  const unknown = unknownPartitions(broker, topics);
  if (unknown) return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, resultsByTransaction: [], resultsByTopicV3AndBelow: unknown };
  const partitions = new Map<string, number[]>();
  for (const t of topics) partitions.set(t.name, [...(partitions.get(t.name) ?? []), ...t.partitions]);
  const code = await broker.transactions.addPartitions(req.v3AndBelowTransactionalId, req.v3AndBelowProducerId, req.v3AndBelowProducerEpoch, partitions);
  return addPartitionsResponse(topics, () => fencedAs(code, ctx.apiVersion, 2));
}

/** The group's __consumer_offsets partition joins the transaction: its offsets commit with it. */
export async function handleAddOffsetsToTxn(broker: BrokerContext, req: M.AddOffsetsToTxnRequest, ctx: RequestContext): Promise<M.AddOffsetsToTxnResponse> {
  await broker.groups.ensureOffsetsTopic();
  const offsets = broker.registry.get(OFFSETS_TOPIC);
  if (!offsets) return { throttleTimeMs: 0, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE };
  const partition = partitionForGroup(req.groupId, offsets.partitions.length);
  const code = await broker.transactions.addPartitions(req.transactionalId, req.producerId, req.producerEpoch, new Map([[OFFSETS_TOPIC, [partition]]]));
  return { throttleTimeMs: 0, errorCode: fencedAs(code, ctx.apiVersion, 2) };
}

export async function handleEndTxn(broker: BrokerContext, req: M.EndTxnRequest, ctx: RequestContext): Promise<M.EndTxnResponse> {
  const code = await broker.transactions.endTransaction(req.transactionalId, req.producerId, req.producerEpoch, req.committed);
  // producerId/producerEpoch are v5 (transactions v2) fields; -1 as Kafka answers them under v1.
  return { throttleTimeMs: 0, errorCode: fencedAs(code, ctx.apiVersion, 2), producerId: -1, producerEpoch: -1 };
}

const STATE_NAMES: ReadonlySet<string> = new Set(Object.keys(TxnState));

export function handleListTransactions(broker: BrokerContext, req: M.ListTransactionsRequest, ctx: RequestContext, visible: (transactionalId: string) => boolean = () => true): M.ListTransactionsResponse {
  const unknownStateFilters = req.stateFilters.filter((s) => !STATE_NAMES.has(s));
  const states = new Set(req.stateFilters.filter((s) => STATE_NAMES.has(s)));
  // Only unknown states asked for: nothing can match.
  if (req.stateFilters.length > 0 && states.size === 0) return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, unknownStateFilters, transactionStates: [] };
  const listed = broker.transactions.list(states, new Set(req.producerIdFilters), ctx.apiVersion >= 1 ? req.durationFilter : -1);
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    unknownStateFilters,
    transactionStates: listed.filter((t) => visible(t.transactionalId)).map((t) => ({ transactionalId: t.transactionalId, producerId: t.producerId, transactionState: t.state })),
  };
}

export function handleDescribeTransactions(broker: BrokerContext, req: M.DescribeTransactionsRequest, topicVisible: (topic: string) => boolean = () => true): M.DescribeTransactionsResponse {
  return {
    throttleTimeMs: 0,
    transactionStates: req.transactionalIds.map((transactionalId) => {
      const found = broker.transactions.describe(transactionalId);
      if (typeof found === 'number') return { errorCode: found, transactionalId, transactionState: '', transactionTimeoutMs: 0, transactionStartTimeMs: -1, producerId: -1, producerEpoch: -1, topics: [] };
      return {
        errorCode: ErrorCode.NONE,
        transactionalId,
        transactionState: found.state,
        transactionTimeoutMs: found.txnTimeoutMs,
        transactionStartTimeMs: found.startTimestamp,
        producerId: found.producerId,
        producerEpoch: found.producerEpoch,
        topics: [...found.partitions].filter(([topic]) => topicVisible(topic)).map(([topic, ids]) => ({ topic, partitions: [...ids].sort((a, b) => a - b) })),
      };
    }),
  };
}

/** WriteTxnMarkers from a transaction coordinator: each partition's marker written here as its leader. */
export async function handleWriteTxnMarkers(broker: BrokerContext, req: M.WriteTxnMarkersRequest): Promise<M.WriteTxnMarkersResponse> {
  return {
    markers: await Promise.all(
      req.markers.map(async (m) => {
        const marker = { producerId: m.producerId, producerEpoch: m.producerEpoch, commit: m.transactionResult, coordinatorEpoch: m.coordinatorEpoch };
        return {
          producerId: m.producerId,
          topics: await Promise.all(
            m.topics.map(async (t) => ({
              name: t.name,
              partitions: await Promise.all(t.partitionIndexes.map(async (partitionIndex) => ({ partitionIndex, errorCode: await broker.txnMarkers.write(marker, t.name, partitionIndex) }))),
            })),
          ),
        };
      }),
    ),
  };
}
