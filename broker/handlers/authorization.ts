// The authorizer's checks of each API, as Kafka's request handling does them: a request is split
// into the items the principal may act on and those it may not; the handler serves the first
// (unchanged code, as without an authorizer), the others are answered with
// TOPIC/GROUP/CLUSTER/TRANSACTIONAL_ID_AUTHORIZATION_FAILED per item, and listings leave out what
// the principal may not describe. api-table.ts calls these only when an authorizer is configured.
// The broker's own paths (the group coordinator's offsets log, the controller) are in-process and
// not checked; a follower's fetches arrive over the wire and need CLUSTER_ACTION on the cluster.
import type { BrokerContext, RequestContext } from '../context.js';
import { ErrorCode } from '../protocol/errors.js';
import type * as M from '../protocol/messages/index.js';
import type { PartitionProduceResponse } from '../protocol/messages/produce-response.js';
import type { PartitionData } from '../protocol/messages/fetch-response.js';
import type { MetadataResponseTopic } from '../protocol/messages/metadata-response.js';
import { AclOperation as Op, CLUSTER_NAME, ResourceType as R } from '../security/acls.js';
import type { Authorizer } from '../security/authorizer.js';
import { handleProduce } from './produce.js';
import { handleFetch } from './fetch.js';
import { handleListOffsets, handleOffsetForLeaderEpoch } from './offsets.js';
import { handleDescribeProducers } from './describe-producers.js';
import { handleDeleteRecords } from './delete-records.js';
import { handleMetadata, handleDescribeCluster, handleDescribeTopicPartitions } from './metadata.js';
import { handleCreateTopics, handleDeleteTopics, handleCreatePartitions } from './topics-admin.js';
import { handleDescribeConfigs, handleAlterConfigs, handleIncrementalAlterConfigs } from './configs.js';
import { handleInitProducerId } from './init-producer-id.js';
import { handleElectLeaders } from './elect-leaders.js';
import { handleAlterPartitionReassignments, handleListPartitionReassignments } from './reassignments.js';
import { handleDescribeLogDirs } from './describe-log-dirs.js';
import { handleDescribeUserScramCredentials, handleAlterUserScramCredentials } from './scram-credentials.js';
import { handleDescribeClientQuotas, handleAlterClientQuotas } from './client-quotas.js';
import { handleConsumerGroupHeartbeat, describeGroup as describeConsumerGroup } from './consumer-groups.js';
import {
  handleFindCoordinator,
  handleJoinGroup,
  handleSyncGroup,
  handleHeartbeat,
  handleLeaveGroup,
  handleOffsetCommit,
  handleTxnOffsetCommit,
  handleOffsetFetch,
  handleDescribeGroups,
  handleListGroups,
  handleDeleteGroups,
  handleOffsetDelete,
} from './groups.js';
import {
  addPartitionsResponse,
  handleAddOffsetsToTxn,
  handleAddPartitionsToTxn,
  handleDescribeTransactions,
  handleEndTxn,
  handleListTransactions,
  handleWriteTxnMarkers,
} from './transactions.js';

const NOT_REQUESTED = -2147483648;
const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA';
const EMPTY = Buffer.alloc(0);
// The operations Kafka reports in authorized-operations fields, per resource type.
const TOPIC_OPERATIONS = [Op.READ, Op.WRITE, Op.CREATE, Op.DELETE, Op.ALTER, Op.DESCRIBE, Op.DESCRIBE_CONFIGS, Op.ALTER_CONFIGS];
const CLUSTER_OPERATIONS = [Op.CREATE, Op.ALTER, Op.DESCRIBE, Op.CLUSTER_ACTION, Op.DESCRIBE_CONFIGS, Op.ALTER_CONFIGS, Op.IDEMPOTENT_WRITE];
const GROUP_OPERATIONS = [Op.READ, Op.DELETE, Op.DESCRIBE];

const TOPIC_DENIED = 'Topic authorization failed.';
const GROUP_DENIED = 'Group authorization failed.';
const CLUSTER_DENIED = 'Cluster authorization failed.';
const TRANSACTIONAL_ID_DENIED = 'Transactional Id authorization failed.';

const az = (broker: BrokerContext): Authorizer => broker.authorizer!;

function split<T>(items: readonly T[], allowed: (item: T) => boolean): [T[], T[]] {
  const yes: T[] = [];
  const no: T[] = [];
  for (const item of items) (allowed(item) ? yes : no).push(item);
  return [yes, no];
}

const onCluster = (broker: BrokerContext, ctx: RequestContext, op: number, log = true) => az(broker).authorize(ctx, op, R.CLUSTER, CLUSTER_NAME, log);
const onTopic = (broker: BrokerContext, ctx: RequestContext, op: number, name: string, log = true) => az(broker).authorize(ctx, op, R.TOPIC, name, log);
const onGroup = (broker: BrokerContext, ctx: RequestContext, op: number, name: string, log = true) => az(broker).authorize(ctx, op, R.GROUP, name, log);

// ---- Produce, Fetch, offsets ----

function produceFailed(index: number, errorCode: number, errorMessage: string): PartitionProduceResponse {
  return { index, errorCode, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, recordErrors: [], errorMessage, currentLeader: { leaderId: -1, leaderEpoch: -1 } };
}

/** WRITE on each topic; WRITE on the transactional id of a transactional producer. */
export async function authorizedProduce(broker: BrokerContext, req: M.ProduceRequest, ctx: RequestContext): Promise<M.ProduceResponse | null> {
  const failAll = (topics: M.ProduceRequest['topicData'], code: number, message: string) =>
    topics.map((t) => ({ name: t.name, partitionResponses: t.partitionData.map((p) => produceFailed(p.index, code, message)) }));
  if (req.transactionalId !== null && !az(broker).authorize(ctx, Op.WRITE, R.TRANSACTIONAL_ID, req.transactionalId)) {
    return req.acks === 0 ? null : { responses: failAll(req.topicData, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, TRANSACTIONAL_ID_DENIED), throttleTimeMs: 0, nodeEndpoints: [] };
  }
  const [allowed, refused] = split(req.topicData, (t) => onTopic(broker, ctx, Op.WRITE, t.name));
  if (refused.length === 0) return handleProduce(broker, req, ctx);
  const response = await handleProduce(broker, { ...req, topicData: allowed }, ctx);
  response?.responses.push(...failAll(refused, ErrorCode.TOPIC_AUTHORIZATION_FAILED, TOPIC_DENIED));
  return response;
}

function fetchFailed(partitionIndex: number, errorCode: number): PartitionData {
  return {
    partitionIndex,
    errorCode,
    highWatermark: -1,
    lastStableOffset: -1,
    logStartOffset: -1,
    divergingEpoch: { epoch: -1, endOffset: -1 },
    currentLeader: { leaderId: -1, leaderEpoch: -1 },
    snapshotId: { endOffset: -1, epoch: -1 },
    abortedTransactions: [],
    preferredReadReplica: -1,
    records: EMPTY,
  };
}

/** READ on each topic for consumers; CLUSTER_ACTION on the cluster for a follower's fetch. */
export async function authorizedFetch(broker: BrokerContext, req: M.FetchRequest, ctx: RequestContext): Promise<M.FetchResponse> {
  const byId = ctx.apiVersion >= 13;
  const follower = (ctx.apiVersion >= 15 ? req.replicaState.replicaId : req.replicaId) >= 0;
  const nameOf = (t: M.FetchRequest['topics'][number]) => (byId ? broker.registry.getById(t.topicId)?.name : t.topic);
  let allowed: M.FetchRequest['topics'];
  let refused: M.FetchRequest['topics'];
  if (follower) [allowed, refused] = onCluster(broker, ctx, Op.CLUSTER_ACTION) ? [req.topics, []] : [[], req.topics];
  else
    [allowed, refused] = split(req.topics, (t) => {
      const name = nameOf(t);
      // An unknown topic id is the handler's to answer (UNKNOWN_TOPIC_ID).
      return name === undefined || onTopic(broker, ctx, Op.READ, name);
    });
  if (refused.length === 0) return handleFetch(broker, req, ctx.apiVersion, ctx.listenerName);
  const response = await handleFetch(broker, { ...req, topics: allowed }, ctx.apiVersion, ctx.listenerName);
  for (const t of refused) {
    response.responses.push({ topic: nameOf(t) ?? t.topic, topicId: t.topicId, partitions: t.partitions.map((p) => fetchFailed(p.partition, ErrorCode.TOPIC_AUTHORIZATION_FAILED)) });
  }
  return response;
}

/** DESCRIBE on each topic; CLUSTER_ACTION on the cluster for a follower's (replica id >= 0). */
export function authorizedListOffsets(broker: BrokerContext, req: M.ListOffsetsRequest, ctx: RequestContext): M.ListOffsetsResponse {
  const [allowed, refused] =
    req.replicaId >= 0 ? (onCluster(broker, ctx, Op.CLUSTER_ACTION) ? [req.topics, []] : [[], req.topics]) : split(req.topics, (t) => onTopic(broker, ctx, Op.DESCRIBE, t.name));
  if (refused.length === 0) return handleListOffsets(broker, req);
  const response = handleListOffsets(broker, { ...req, topics: allowed });
  for (const t of refused) {
    response.topics.push({
      name: t.name,
      partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, oldStyleOffsets: [], timestamp: -1, offset: -1, leaderEpoch: -1 })),
    });
  }
  return response;
}

/** READ on each topic. */
export function authorizedDescribeProducers(broker: BrokerContext, req: M.DescribeProducersRequest, ctx: RequestContext): M.DescribeProducersResponse {
  const [allowed, refused] = split(req.topics, (t) => onTopic(broker, ctx, Op.READ, t.name));
  if (refused.length === 0) return handleDescribeProducers(broker, req);
  const response = handleDescribeProducers(broker, { ...req, topics: allowed });
  for (const t of refused) {
    response.topics.push({ name: t.name, partitions: t.partitionIndexes.map((partitionIndex) => ({ partitionIndex, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: TOPIC_DENIED, activeProducers: [] })) });
  }
  return response;
}

/** CLUSTER_ACTION on the cluster (followers), or DESCRIBE on each topic (consumers, KIP-320). */
export function authorizedOffsetForLeaderEpoch(broker: BrokerContext, req: M.OffsetForLeaderEpochRequest, ctx: RequestContext): M.OffsetForLeaderEpochResponse {
  if (onCluster(broker, ctx, Op.CLUSTER_ACTION, false)) return handleOffsetForLeaderEpoch(broker, req);
  const [allowed, refused] = split(req.topics, (t) => onTopic(broker, ctx, Op.DESCRIBE, t.topic));
  const response = handleOffsetForLeaderEpoch(broker, { ...req, topics: allowed });
  for (const t of refused) {
    response.topics.push({ topic: t.topic, partitions: t.partitions.map((p) => ({ errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, partition: p.partition, leaderEpoch: -1, endOffset: -1 })) });
  }
  return response;
}

/** DELETE on each topic. */
export async function authorizedDeleteRecords(broker: BrokerContext, req: M.DeleteRecordsRequest, ctx: RequestContext): Promise<M.DeleteRecordsResponse> {
  const [allowed, refused] = split(req.topics, (t) => onTopic(broker, ctx, Op.DELETE, t.name));
  const response = await handleDeleteRecords(broker, { ...req, topics: allowed });
  for (const t of refused) {
    response.topics.push({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, lowWatermark: -1, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED })) });
  }
  return response;
}

// ---- Metadata ----

function topicRefused(name: string | null, topicId: string): MetadataResponseTopic {
  return { errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, name, topicId, isInternal: false, partitions: [], topicAuthorizedOperations: NOT_REQUESTED };
}

/**
 * DESCRIBE on each topic: left out of an all-topics answer, TOPIC_AUTHORIZATION_FAILED when
 * named. Auto-creating a named topic needs CREATE on the cluster or the topic.
 */
export async function authorizedMetadata(broker: BrokerContext, req: M.MetadataRequest, ctx: RequestContext): Promise<M.MetadataResponse> {
  const all = req.topics === null || (ctx.apiVersion === 0 && req.topics.length === 0);
  const refused: MetadataResponseTopic[] = [];
  let request = req;
  let handlerCtx = ctx;
  if (!all) {
    const mayCreate = (ctx.apiVersion < 4 || req.allowAutoTopicCreation) && broker.config.bool('auto.create.topics.enable');
    let createOnCluster: boolean | undefined;
    const allowed = req.topics!.filter((t) => {
      const name = t.name ?? broker.registry.getById(t.topicId)?.name;
      if (name === undefined) return true;
      if (!onTopic(broker, ctx, Op.DESCRIBE, name)) {
        refused.push(topicRefused(t.name, t.name === null ? t.topicId : ZERO_UUID));
        return false;
      }
      if (t.name !== null && mayCreate && !broker.registry.get(name)) {
        createOnCluster ??= onCluster(broker, ctx, Op.CREATE, false);
        if (!createOnCluster && !onTopic(broker, ctx, Op.CREATE, name)) {
          refused.push(topicRefused(name, ZERO_UUID));
          return false;
        }
      }
      return true;
    });
    request = { ...req, topics: allowed };
    // An empty list asks for every topic in v0 only: none are left to describe here.
    if (ctx.apiVersion === 0 && allowed.length === 0) handlerCtx = { ...ctx, apiVersion: 1 };
  }
  const response = await handleMetadata(broker, request, handlerCtx);
  if (all) response.topics = response.topics.filter((t) => t.name !== null && onTopic(broker, ctx, Op.DESCRIBE, t.name, false));
  response.topics.push(...refused);
  for (const t of response.topics) {
    if (t.topicAuthorizedOperations !== NOT_REQUESTED && t.name !== null) t.topicAuthorizedOperations = az(broker).authorizedOperations(ctx, R.TOPIC, t.name, TOPIC_OPERATIONS);
  }
  if (req.includeClusterAuthorizedOperations) response.clusterAuthorizedOperations = clusterOperations(broker, ctx);
  return response;
}

function clusterOperations(broker: BrokerContext, ctx: RequestContext): number {
  return onCluster(broker, ctx, Op.DESCRIBE, false) ? az(broker).authorizedOperations(ctx, R.CLUSTER, CLUSTER_NAME, CLUSTER_OPERATIONS) : 0;
}

/** Served to everyone; the cluster's authorized operations (when asked) need DESCRIBE on it. */
export function authorizedDescribeCluster(broker: BrokerContext, req: M.DescribeClusterRequest, ctx: RequestContext): M.DescribeClusterResponse {
  const response = handleDescribeCluster(broker, req, ctx);
  if (req.includeClusterAuthorizedOperations) response.clusterAuthorizedOperations = clusterOperations(broker, ctx);
  return response;
}

/** DESCRIBE on each topic, as Metadata. */
export function authorizedDescribeTopicPartitions(broker: BrokerContext, req: M.DescribeTopicPartitionsRequest, ctx: RequestContext): M.DescribeTopicPartitionsResponse {
  const [allowed, refused] = split(req.topics, (t) => onTopic(broker, ctx, Op.DESCRIBE, t.name));
  const denied = refused.map((t) => ({ ...topicRefused(t.name, ZERO_UUID), name: t.name, partitions: [] }));
  // No topic named is left: an empty list would ask for all of them.
  if (req.topics.length > 0 && allowed.length === 0) return { throttleTimeMs: 0, topics: denied, nextCursor: null };
  const response = handleDescribeTopicPartitions(broker, { ...req, topics: allowed });
  if (req.topics.length === 0) response.topics = response.topics.filter((t) => t.name !== null && onTopic(broker, ctx, Op.DESCRIBE, t.name, false));
  for (const t of response.topics) if (t.errorCode === ErrorCode.NONE && t.name !== null) t.topicAuthorizedOperations = az(broker).authorizedOperations(ctx, R.TOPIC, t.name, TOPIC_OPERATIONS);
  response.topics.push(...denied);
  return response;
}

// ---- Topic administration and configs ----

/** CREATE on the cluster or on each topic; the created topic's configs only with DESCRIBE_CONFIGS on it. */
export async function authorizedCreateTopics(broker: BrokerContext, req: M.CreateTopicsRequest, ctx: RequestContext): Promise<M.CreateTopicsResponse> {
  const [allowed, refused] = onCluster(broker, ctx, Op.CREATE, false) ? [req.topics, []] : split(req.topics, (t) => onTopic(broker, ctx, Op.CREATE, t.name));
  const response = await handleCreateTopics(broker, { ...req, topics: allowed });
  for (const t of response.topics) {
    if (t.configs !== null && t.configs.length > 0 && !onTopic(broker, ctx, Op.DESCRIBE_CONFIGS, t.name, false)) {
      t.topicConfigErrorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
      t.configs = [];
    }
  }
  for (const t of refused) {
    response.topics.push({ name: t.name, topicId: ZERO_UUID, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: TOPIC_DENIED, topicConfigErrorCode: ErrorCode.NONE, numPartitions: -1, replicationFactor: -1, configs: null });
  }
  return response;
}

/** DELETE on each topic (named, or by id). */
export async function authorizedDeleteTopics(broker: BrokerContext, req: M.DeleteTopicsRequest, ctx: RequestContext): Promise<M.DeleteTopicsResponse> {
  const [names, refusedNames] = split(req.topicNames, (name) => onTopic(broker, ctx, Op.DELETE, name));
  const [topics, refusedTopics] = split(req.topics, (t) => {
    const name = t.name ?? broker.registry.getById(t.topicId)?.name;
    return name === undefined || onTopic(broker, ctx, Op.DELETE, name);
  });
  if (refusedNames.length + refusedTopics.length === 0) return handleDeleteTopics(broker, req, ctx.apiVersion);
  const response = await handleDeleteTopics(broker, { ...req, topicNames: names, topics }, ctx.apiVersion);
  const denied = (name: string | null, topicId: string) => ({ name, topicId, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: TOPIC_DENIED });
  response.responses.push(...refusedNames.map((name) => denied(name, ZERO_UUID)), ...refusedTopics.map((t) => denied(t.name, t.topicId)));
  return response;
}

/** ALTER on each topic. */
export async function authorizedCreatePartitions(broker: BrokerContext, req: M.CreatePartitionsRequest, ctx: RequestContext): Promise<M.CreatePartitionsResponse> {
  const [allowed, refused] = split(req.topics, (t) => onTopic(broker, ctx, Op.ALTER, t.name));
  const response = await handleCreatePartitions(broker, { ...req, topics: allowed });
  response.results.push(...refused.map((t) => ({ name: t.name, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: TOPIC_DENIED })));
  return response;
}

const CONFIG_TOPIC = 2;
const CONFIG_BROKER = 4;
const CONFIG_BROKER_LOGGER = 8;

/** A config resource's check: on the topic, or on the cluster for a broker's settings; null when none applies. */
function configRefusal(broker: BrokerContext, ctx: RequestContext, op: number, r: { resourceType: number; resourceName: string }): { errorCode: number; errorMessage: string } | null {
  if (r.resourceType === CONFIG_TOPIC) return onTopic(broker, ctx, op, r.resourceName) ? null : { errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: TOPIC_DENIED };
  if (r.resourceType === CONFIG_BROKER || r.resourceType === CONFIG_BROKER_LOGGER) return onCluster(broker, ctx, op) ? null : { errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: CLUSTER_DENIED };
  return null;
}

/** DESCRIBE_CONFIGS on each topic, or on the cluster for brokers. */
export function authorizedDescribeConfigs(broker: BrokerContext, req: M.DescribeConfigsRequest, ctx: RequestContext): M.DescribeConfigsResponse {
  const refused: M.DescribeConfigsResponse['results'] = [];
  const resources = req.resources.filter((r) => {
    const refusal = configRefusal(broker, ctx, Op.DESCRIBE_CONFIGS, r);
    if (refusal) refused.push({ ...refusal, resourceType: r.resourceType, resourceName: r.resourceName, configs: [] });
    return !refusal;
  });
  const response = handleDescribeConfigs(broker, { ...req, resources });
  response.results.push(...refused);
  return response;
}

/** ALTER_CONFIGS on each topic, or on the cluster for brokers (AlterConfigs and IncrementalAlterConfigs). */
function authorizedAlter<Req extends { resources: { resourceType: number; resourceName: string }[] }>(
  handle: (broker: BrokerContext, req: Req) => Promise<{ throttleTimeMs: number; responses: { errorCode: number; errorMessage: string | null; resourceType: number; resourceName: string }[] }>,
) {
  return async (broker: BrokerContext, req: Req, ctx: RequestContext) => {
    const refused: { errorCode: number; errorMessage: string | null; resourceType: number; resourceName: string }[] = [];
    const resources = req.resources.filter((r) => {
      const refusal = configRefusal(broker, ctx, Op.ALTER_CONFIGS, r);
      if (refusal) refused.push({ ...refusal, resourceType: r.resourceType, resourceName: r.resourceName });
      return !refusal;
    });
    const response = await handle(broker, { ...req, resources });
    response.responses.push(...refused);
    return response;
  };
}

export const authorizedAlterConfigs = authorizedAlter<M.AlterConfigsRequest>(handleAlterConfigs);
export const authorizedIncrementalAlterConfigs = authorizedAlter<M.IncrementalAlterConfigsRequest>(handleIncrementalAlterConfigs);

// ---- Cluster operations ----

/** ALTER on the cluster. */
export async function authorizedElectLeaders(broker: BrokerContext, req: M.ElectLeadersRequest, ctx: RequestContext): Promise<M.ElectLeadersResponse> {
  if (onCluster(broker, ctx, Op.ALTER)) return handleElectLeaders(broker, req, ctx.apiVersion);
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
    replicaElectionResults: (req.topicPartitions ?? []).map((t) => ({
      topic: t.topic,
      partitionResult: t.partitions.map((partitionId) => ({ partitionId, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: CLUSTER_DENIED })),
    })),
  };
}

/** ALTER on the cluster. */
export async function authorizedAlterPartitionReassignments(broker: BrokerContext, req: M.AlterPartitionReassignmentsRequest, ctx: RequestContext): Promise<M.AlterPartitionReassignmentsResponse> {
  if (onCluster(broker, ctx, Op.ALTER)) return handleAlterPartitionReassignments(broker, req);
  return { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: CLUSTER_DENIED, responses: [] };
}

/** DESCRIBE on the cluster. */
export function authorizedListPartitionReassignments(broker: BrokerContext, req: M.ListPartitionReassignmentsRequest, ctx: RequestContext): M.ListPartitionReassignmentsResponse {
  if (onCluster(broker, ctx, Op.DESCRIBE)) return handleListPartitionReassignments(broker, req);
  return { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: CLUSTER_DENIED, topics: [] };
}

/** DESCRIBE on the cluster. */
export function authorizedDescribeLogDirs(broker: BrokerContext, req: M.DescribeLogDirsRequest, ctx: RequestContext): M.DescribeLogDirsResponse {
  if (onCluster(broker, ctx, Op.DESCRIBE)) return handleDescribeLogDirs(broker, req);
  return { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, results: [] };
}

/**
 * Transactional: WRITE on the transactional id. Idempotent: IDEMPOTENT_WRITE on the cluster, or
 * WRITE on any topic (KIP-679, Kafka 3).
 */
export async function authorizedInitProducerId(broker: BrokerContext, req: M.InitProducerIdRequest, ctx: RequestContext): Promise<M.InitProducerIdResponse> {
  const refused = (errorCode: number): M.InitProducerIdResponse => ({ throttleTimeMs: 0, errorCode, producerId: -1, producerEpoch: -1 });
  if (req.transactionalId !== null) {
    if (!az(broker).authorize(ctx, Op.WRITE, R.TRANSACTIONAL_ID, req.transactionalId)) return refused(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
  } else if (!onCluster(broker, ctx, Op.IDEMPOTENT_WRITE, false) && !az(broker).authorizeAny(ctx, Op.WRITE, R.TOPIC)) {
    return refused(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
  }
  return handleInitProducerId(broker, req, ctx);
}

// ---- Groups ----

/** DESCRIBE on the group (or the transactional id) whose coordinator is asked for. */
export async function authorizedFindCoordinator(broker: BrokerContext, req: M.FindCoordinatorRequest, ctx: RequestContext): Promise<M.FindCoordinatorResponse> {
  const transaction = req.keyType === 1;
  const allowedKey = (key: string) => az(broker).authorize(ctx, Op.DESCRIBE, transaction ? R.TRANSACTIONAL_ID : R.GROUP, key);
  const code = transaction ? ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED : ErrorCode.GROUP_AUTHORIZATION_FAILED;
  const message = transaction ? TRANSACTIONAL_ID_DENIED : GROUP_DENIED;
  if (ctx.apiVersion < 4) {
    if (allowedKey(req.key)) return handleFindCoordinator(broker, req, ctx);
    return { throttleTimeMs: 0, errorCode: code, errorMessage: message, nodeId: -1, host: '', port: -1, coordinators: [] };
  }
  const [allowed, refused] = split(req.coordinatorKeys, allowedKey);
  const denied = refused.map((key) => ({ key, nodeId: -1, host: '', port: -1, errorCode: code, errorMessage: message }));
  if (allowed.length === 0) return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, nodeId: -1, host: '', port: -1, coordinators: denied };
  const response = await handleFindCoordinator(broker, { ...req, coordinatorKeys: allowed }, ctx);
  response.coordinators.push(...denied);
  return response;
}

/** READ on the group. */
export async function authorizedJoinGroup(broker: BrokerContext, req: M.JoinGroupRequest, ctx: RequestContext): Promise<M.JoinGroupResponse> {
  if (onGroup(broker, ctx, Op.READ, req.groupId)) return handleJoinGroup(broker, req, ctx);
  return { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, generationId: -1, protocolType: null, protocolName: ctx.apiVersion >= 7 ? null : '', leader: '', skipAssignment: false, memberId: req.memberId, members: [] };
}

/** READ on the group. */
export async function authorizedSyncGroup(broker: BrokerContext, req: M.SyncGroupRequest, ctx: RequestContext): Promise<M.SyncGroupResponse> {
  if (onGroup(broker, ctx, Op.READ, req.groupId)) return handleSyncGroup(broker, req);
  return { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, protocolType: null, protocolName: null, assignment: EMPTY };
}

/** READ on the group. */
export function authorizedHeartbeat(broker: BrokerContext, req: M.HeartbeatRequest, ctx: RequestContext): M.HeartbeatResponse {
  if (onGroup(broker, ctx, Op.READ, req.groupId)) return handleHeartbeat(broker, req);
  return { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED };
}

/** READ on the group. */
export async function authorizedConsumerGroupHeartbeat(broker: BrokerContext, req: M.ConsumerGroupHeartbeatRequest, ctx: RequestContext): Promise<M.ConsumerGroupHeartbeatResponse> {
  if (onGroup(broker, ctx, Op.READ, req.groupId)) return handleConsumerGroupHeartbeat(broker, req, ctx);
  return { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, errorMessage: null, memberId: null, memberEpoch: -1, heartbeatIntervalMs: 0, assignment: null };
}

/** DESCRIBE on each group. */
export function authorizedConsumerGroupDescribe(broker: BrokerContext, req: M.ConsumerGroupDescribeRequest, ctx: RequestContext): M.ConsumerGroupDescribeResponse {
  return {
    throttleTimeMs: 0,
    groups: req.groupIds.map((groupId) => {
      if (!onGroup(broker, ctx, Op.DESCRIBE, groupId)) {
        return { errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, errorMessage: null, groupId, groupState: '', groupEpoch: -1, assignmentEpoch: -1, assignorName: '', members: [], authorizedOperations: NOT_REQUESTED };
      }
      const operations = req.includeAuthorizedOperations ? az(broker).authorizedOperations(ctx, R.GROUP, groupId, GROUP_OPERATIONS) : NOT_REQUESTED;
      return describeConsumerGroup(broker, groupId, operations);
    }),
  };
}

/** READ on the group. */
export function authorizedLeaveGroup(broker: BrokerContext, req: M.LeaveGroupRequest, ctx: RequestContext): M.LeaveGroupResponse {
  if (onGroup(broker, ctx, Op.READ, req.groupId)) return handleLeaveGroup(broker, req, ctx);
  return { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, members: [] };
}

/** READ on the group, then READ on each topic. */
export async function authorizedOffsetCommit(broker: BrokerContext, req: M.OffsetCommitRequest, ctx: RequestContext): Promise<M.OffsetCommitResponse> {
  const failAll = (topics: M.OffsetCommitRequest['topics'], errorCode: number) => topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })) }));
  if (!onGroup(broker, ctx, Op.READ, req.groupId)) return { throttleTimeMs: 0, topics: failAll(req.topics, ErrorCode.GROUP_AUTHORIZATION_FAILED) };
  const [allowed, refused] = split(req.topics, (t) => onTopic(broker, ctx, Op.READ, t.name));
  if (refused.length === 0) return handleOffsetCommit(broker, req);
  const response = allowed.length > 0 ? await handleOffsetCommit(broker, { ...req, topics: allowed }) : { throttleTimeMs: 0, topics: [] };
  response.topics.push(...failAll(refused, ErrorCode.TOPIC_AUTHORIZATION_FAILED));
  return response;
}

/** WRITE on the transactional id, READ on the group, then READ on each topic (Kafka's order). */
export async function authorizedTxnOffsetCommit(broker: BrokerContext, req: M.TxnOffsetCommitRequest, ctx: RequestContext): Promise<M.TxnOffsetCommitResponse> {
  const failAll = (topics: M.TxnOffsetCommitRequest['topics'], errorCode: number) => topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })) }));
  if (!az(broker).authorize(ctx, Op.WRITE, R.TRANSACTIONAL_ID, req.transactionalId)) return { throttleTimeMs: 0, topics: failAll(req.topics, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED) };
  if (!onGroup(broker, ctx, Op.READ, req.groupId)) return { throttleTimeMs: 0, topics: failAll(req.topics, ErrorCode.GROUP_AUTHORIZATION_FAILED) };
  const [allowed, refused] = split(req.topics, (t) => onTopic(broker, ctx, Op.READ, t.name));
  if (refused.length === 0) return handleTxnOffsetCommit(broker, req);
  const response = allowed.length > 0 ? await handleTxnOffsetCommit(broker, { ...req, topics: allowed }) : { throttleTimeMs: 0, topics: [] };
  response.topics.push(...failAll(refused, ErrorCode.TOPIC_AUTHORIZATION_FAILED));
  return response;
}

/**
 * DESCRIBE on the group; the offsets of topics named without DESCRIBE on them answer
 * TOPIC_AUTHORIZATION_FAILED, and those of every topic (none named) leave such topics out.
 */
export function authorizedOffsetFetch(broker: BrokerContext, req: M.OffsetFetchRequest, ctx: RequestContext): M.OffsetFetchResponse {
  const describable = (name: string) => onTopic(broker, ctx, Op.DESCRIBE, name);
  const filterTopics = <T extends { name: string; partitionIndexes: number[] }>(topics: T[] | null) => (topics === null ? [null, []] : split(topics, (t) => describable(t.name))) as [T[] | null, T[]];
  const deniedTopics = (topics: { name: string; partitionIndexes: number[] }[]) =>
    topics.map((t) => ({ name: t.name, partitions: t.partitionIndexes.map((partitionIndex) => ({ partitionIndex, committedOffset: -1, committedLeaderEpoch: -1, metadata: null, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED })) }));
  const visible = <T extends { name: string }>(topics: T[], all: boolean) => (all ? topics.filter((t) => onTopic(broker, ctx, Op.DESCRIBE, t.name, false)) : topics);
  if (ctx.apiVersion >= 8) {
    const denied = new Map<string, M.OffsetFetchResponse['groups'][number]>();
    const groups: M.OffsetFetchRequest['groups'] = [];
    const refusedTopics = new Map<string, { name: string; partitionIndexes: number[] }[]>();
    for (const g of req.groups) {
      if (!onGroup(broker, ctx, Op.DESCRIBE, g.groupId)) {
        denied.set(g.groupId, { groupId: g.groupId, topics: [], errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED });
        continue;
      }
      const [topics, refused] = filterTopics(g.topics);
      refusedTopics.set(g.groupId, refused);
      groups.push({ ...g, topics });
    }
    const response = groups.length > 0 ? handleOffsetFetch(broker, { ...req, groups }, ctx) : { throttleTimeMs: 0, topics: [], errorCode: ErrorCode.NONE, groups: [] };
    for (const g of response.groups) {
      const asked = req.groups.find((r) => r.groupId === g.groupId);
      g.topics = [...visible(g.topics, asked?.topics === null), ...deniedTopics(refusedTopics.get(g.groupId) ?? [])];
    }
    response.groups.push(...denied.values());
    return response;
  }
  if (!onGroup(broker, ctx, Op.DESCRIBE, req.groupId)) return { throttleTimeMs: 0, topics: [], errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, groups: [] };
  const [topics, refused] = filterTopics(req.topics);
  const response = handleOffsetFetch(broker, { ...req, topics }, ctx);
  response.topics = [...visible(response.topics, req.topics === null), ...deniedTopics(refused)];
  return response;
}

/** DESCRIBE on each group. */
export function authorizedDescribeGroups(broker: BrokerContext, req: M.DescribeGroupsRequest, ctx: RequestContext): M.DescribeGroupsResponse {
  const [allowed, refused] = split(req.groups, (g) => onGroup(broker, ctx, Op.DESCRIBE, g));
  const response = allowed.length > 0 ? handleDescribeGroups(broker, { ...req, groups: allowed }, ctx.apiVersion) : { throttleTimeMs: 0, groups: [] };
  if (req.includeAuthorizedOperations) for (const g of response.groups) g.authorizedOperations = az(broker).authorizedOperations(ctx, R.GROUP, g.groupId, GROUP_OPERATIONS);
  response.groups.push(
    ...refused.map((groupId) => ({ errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, errorMessage: null, groupId, groupState: '', protocolType: '', protocolData: '', members: [], authorizedOperations: NOT_REQUESTED })),
  );
  return response;
}

/** Every group with DESCRIBE on the cluster; otherwise the groups the principal may describe. */
export function authorizedListGroups(broker: BrokerContext, req: M.ListGroupsRequest, ctx: RequestContext): M.ListGroupsResponse {
  const response = handleListGroups(broker, req);
  if (!onCluster(broker, ctx, Op.DESCRIBE, false)) response.groups = response.groups.filter((g) => onGroup(broker, ctx, Op.DESCRIBE, g.groupId, false));
  return response;
}

/** DELETE on each group. */
export function authorizedDeleteGroups(broker: BrokerContext, req: M.DeleteGroupsRequest, ctx: RequestContext): M.DeleteGroupsResponse {
  const [allowed, refused] = split(req.groupsNames, (g) => onGroup(broker, ctx, Op.DELETE, g));
  const response = allowed.length > 0 ? handleDeleteGroups(broker, { groupsNames: allowed }) : { throttleTimeMs: 0, results: [] };
  response.results.push(...refused.map((groupId) => ({ groupId, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED })));
  return response;
}

/** DELETE on the group, then READ on each topic. */
export function authorizedOffsetDelete(broker: BrokerContext, req: M.OffsetDeleteRequest, ctx: RequestContext): M.OffsetDeleteResponse {
  if (!onGroup(broker, ctx, Op.DELETE, req.groupId)) return { errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, throttleTimeMs: 0, topics: [] };
  const [allowed, refused] = split(req.topics, (t) => onTopic(broker, ctx, Op.READ, t.name));
  const response = handleOffsetDelete(broker, { ...req, topics: allowed });
  response.topics.push(...refused.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED })) })));
  return response;
}

/** DESCRIBE on the cluster: who has which SCRAM credentials. */
export function authorizedDescribeUserScramCredentials(broker: BrokerContext, req: M.DescribeUserScramCredentialsRequest, ctx: RequestContext): M.DescribeUserScramCredentialsResponse {
  if (onCluster(broker, ctx, Op.DESCRIBE)) return handleDescribeUserScramCredentials(broker, req);
  return { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: CLUSTER_DENIED, results: [] };
}

/** ALTER on the cluster; refused, every user named in the request gets the error. */
export async function authorizedAlterUserScramCredentials(broker: BrokerContext, req: M.AlterUserScramCredentialsRequest, ctx: RequestContext): Promise<M.AlterUserScramCredentialsResponse> {
  if (onCluster(broker, ctx, Op.ALTER)) return handleAlterUserScramCredentials(broker, req);
  const users = new Set([...req.deletions, ...req.upsertions].map((c) => c.name));
  return { throttleTimeMs: 0, results: [...users].map((user) => ({ user, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: CLUSTER_DENIED })) };
}

/** DESCRIBE_CONFIGS on the cluster. */
export function authorizedDescribeClientQuotas(broker: BrokerContext, req: M.DescribeClientQuotasRequest, ctx: RequestContext): M.DescribeClientQuotasResponse {
  if (onCluster(broker, ctx, Op.DESCRIBE_CONFIGS)) return handleDescribeClientQuotas(broker, req);
  return { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: CLUSTER_DENIED, entries: null };
}

/** ALTER_CONFIGS on the cluster; refused, every entry gets the error. */
export async function authorizedAlterClientQuotas(broker: BrokerContext, req: M.AlterClientQuotasRequest, ctx: RequestContext): Promise<M.AlterClientQuotasResponse> {
  if (onCluster(broker, ctx, Op.ALTER_CONFIGS)) return handleAlterClientQuotas(broker, req);
  return { throttleTimeMs: 0, entries: req.entries.map((e) => ({ errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: CLUSTER_DENIED, entity: e.entity })) };
}

// ---- Transactions ----

const onTransactionalId = (broker: BrokerContext, ctx: RequestContext, op: number, id: string, log = true) => az(broker).authorize(ctx, op, R.TRANSACTIONAL_ID, id, log);

/** WRITE on the transactional id, then WRITE on each topic (the others of a refused request are not attempted). */
export async function authorizedAddPartitionsToTxn(broker: BrokerContext, req: M.AddPartitionsToTxnRequest, ctx: RequestContext): Promise<M.AddPartitionsToTxnResponse> {
  const topics = req.v3AndBelowTopics;
  if (!onTransactionalId(broker, ctx, Op.WRITE, req.v3AndBelowTransactionalId)) return addPartitionsResponse(topics, () => ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
  const refused = new Set(topics.filter((t) => !onTopic(broker, ctx, Op.WRITE, t.name)).map((t) => t.name));
  if (refused.size === 0) return handleAddPartitionsToTxn(broker, req, ctx);
  return addPartitionsResponse(topics, (topic) => (refused.has(topic) ? ErrorCode.TOPIC_AUTHORIZATION_FAILED : ErrorCode.OPERATION_NOT_ATTEMPTED));
}

/** WRITE on the transactional id, READ on the group. */
export async function authorizedAddOffsetsToTxn(broker: BrokerContext, req: M.AddOffsetsToTxnRequest, ctx: RequestContext): Promise<M.AddOffsetsToTxnResponse> {
  if (!onTransactionalId(broker, ctx, Op.WRITE, req.transactionalId)) return { throttleTimeMs: 0, errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED };
  if (!onGroup(broker, ctx, Op.READ, req.groupId)) return { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED };
  return handleAddOffsetsToTxn(broker, req, ctx);
}

/** WRITE on the transactional id. */
export async function authorizedEndTxn(broker: BrokerContext, req: M.EndTxnRequest, ctx: RequestContext): Promise<M.EndTxnResponse> {
  if (onTransactionalId(broker, ctx, Op.WRITE, req.transactionalId)) return handleEndTxn(broker, req, ctx);
  return { throttleTimeMs: 0, errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, producerId: -1, producerEpoch: -1 };
}

/** CLUSTER_ACTION on the cluster: only brokers (transaction coordinators) write markers. */
export async function authorizedWriteTxnMarkers(broker: BrokerContext, req: M.WriteTxnMarkersRequest, ctx: RequestContext): Promise<M.WriteTxnMarkersResponse> {
  if (onCluster(broker, ctx, Op.CLUSTER_ACTION)) return handleWriteTxnMarkers(broker, req);
  return {
    markers: req.markers.map((m) => ({
      producerId: m.producerId,
      topics: m.topics.map((t) => ({ name: t.name, partitions: t.partitionIndexes.map((partitionIndex) => ({ partitionIndex, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED })) })),
    })),
  };
}

/** Lists only the transactional ids the principal may DESCRIBE. */
export function authorizedListTransactions(broker: BrokerContext, req: M.ListTransactionsRequest, ctx: RequestContext): M.ListTransactionsResponse {
  return handleListTransactions(broker, req, ctx, (id) => onTransactionalId(broker, ctx, Op.DESCRIBE, id, false));
}

/** DESCRIBE on each transactional id; the topics of a transaction the principal may not DESCRIBE are left out. */
export function authorizedDescribeTransactions(broker: BrokerContext, req: M.DescribeTransactionsRequest, ctx: RequestContext): M.DescribeTransactionsResponse {
  const [allowed, refused] = split(req.transactionalIds, (id) => onTransactionalId(broker, ctx, Op.DESCRIBE, id));
  const response = handleDescribeTransactions(broker, { transactionalIds: allowed }, (topic) => onTopic(broker, ctx, Op.DESCRIBE, topic, false));
  response.transactionStates.push(
    ...refused.map((transactionalId) => ({ errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, transactionalId, transactionState: '', transactionTimeoutMs: 0, transactionStartTimeMs: -1, producerId: -1, producerEpoch: -1, topics: [] })),
  );
  return response;
}
