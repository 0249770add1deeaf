// The APIs this broker serves: advertised version ranges and the handler of each.
// Minimum versions follow Kafka 4 (KIP-896), except Produce, advertised from 0 as Kafka does
// because librdkafka checks the advertised minimum before sending compressed batches.
import type { BrokerContext, RequestContext } from '../context.js';
import { ErrorCode } from '../protocol/errors.js';
import {
  type ApiSpec,
  apiVersionsApi,
  metadataApi,
  produceApi,
  fetchApi,
  listOffsetsApi,
  offsetForLeaderEpochApi,
  deleteRecordsApi,
  createTopicsApi,
  deleteTopicsApi,
  createPartitionsApi,
  describeConfigsApi,
  alterConfigsApi,
  incrementalAlterConfigsApi,
  describeClusterApi,
  initProducerIdApi,
  findCoordinatorApi,
  joinGroupApi,
  syncGroupApi,
  heartbeatApi,
  leaveGroupApi,
  offsetCommitApi,
  offsetFetchApi,
  txnOffsetCommitApi,
  describeGroupsApi,
  listGroupsApi,
  deleteGroupsApi,
  offsetDeleteApi,
  electLeadersApi,
  alterPartitionReassignmentsApi,
  listPartitionReassignmentsApi,
  describeLogDirsApi,
  describeTopicPartitionsApi,
  describeAclsApi,
  createAclsApi,
  deleteAclsApi,
  saslHandshakeApi,
  saslAuthenticateApi,
  describeUserScramCredentialsApi,
  alterUserScramCredentialsApi,
  describeClientQuotasApi,
  alterClientQuotasApi,
  addPartitionsToTxnApi,
  addOffsetsToTxnApi,
  endTxnApi,
  writeTxnMarkersApi,
  listTransactionsApi,
  describeTransactionsApi,
  describeProducersApi,
  consumerGroupHeartbeatApi,
  consumerGroupDescribeApi,
  type ApiVersionsResponse,
  type FetchRequest,
  type FetchResponse,
} from '../protocol/messages/index.js';
import { handleMetadata, handleDescribeCluster, handleDescribeTopicPartitions } from './metadata.js';
import { handleProduce } from './produce.js';
import { handleFetch } from './fetch.js';
import { handleListOffsets, handleOffsetForLeaderEpoch } from './offsets.js';
import { handleDescribeProducers } from './describe-producers.js';
import { handleDeleteRecords } from './delete-records.js';
import { handleCreateTopics, handleDeleteTopics, handleCreatePartitions } from './topics-admin.js';
import { handleDescribeConfigs, handleAlterConfigs, handleIncrementalAlterConfigs } from './configs.js';
import { handleInitProducerId } from './init-producer-id.js';
import { handleElectLeaders } from './elect-leaders.js';
import { handleAlterPartitionReassignments, handleListPartitionReassignments } from './reassignments.js';
import { handleDescribeLogDirs } from './describe-log-dirs.js';
import { handleAlterUserScramCredentials, handleDescribeUserScramCredentials, handleSaslAuthenticateWithoutSasl, handleSaslHandshakeWithoutSasl } from './scram-credentials.js';
import { handleDescribeClientQuotas, handleAlterClientQuotas } from './client-quotas.js';
import { capFetchToQuota } from '../security/quota-enforcement.js';
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
import { handleConsumerGroupDescribe, handleConsumerGroupHeartbeat } from './consumer-groups.js';
import { handleDescribeAcls, handleCreateAcls, handleDeleteAcls } from './acls.js';
import { handleAddOffsetsToTxn, handleAddPartitionsToTxn, handleDescribeTransactions, handleEndTxn, handleListTransactions, handleWriteTxnMarkers } from './transactions.js';
import {
  authorizedAlterConfigs,
  authorizedAlterClientQuotas,
  authorizedAlterPartitionReassignments,
  authorizedAlterUserScramCredentials,
  authorizedCreatePartitions,
  authorizedCreateTopics,
  authorizedDeleteGroups,
  authorizedDeleteRecords,
  authorizedDeleteTopics,
  authorizedDescribeClientQuotas,
  authorizedDescribeCluster,
  authorizedDescribeConfigs,
  authorizedDescribeGroups,
  authorizedDescribeLogDirs,
  authorizedDescribeProducers,
  authorizedDescribeTopicPartitions,
  authorizedDescribeUserScramCredentials,
  authorizedElectLeaders,
  authorizedFetch,
  authorizedFindCoordinator,
  authorizedHeartbeat,
  authorizedIncrementalAlterConfigs,
  authorizedInitProducerId,
  authorizedJoinGroup,
  authorizedLeaveGroup,
  authorizedListGroups,
  authorizedListOffsets,
  authorizedListPartitionReassignments,
  authorizedMetadata,
  authorizedOffsetCommit,
  authorizedOffsetDelete,
  authorizedOffsetFetch,
  authorizedOffsetForLeaderEpoch,
  authorizedTxnOffsetCommit,
  authorizedProduce,
  authorizedSyncGroup,
  authorizedAddPartitionsToTxn,
  authorizedAddOffsetsToTxn,
  authorizedEndTxn,
  authorizedWriteTxnMarkers,
  authorizedListTransactions,
  authorizedDescribeTransactions,
  authorizedConsumerGroupHeartbeat,
  authorizedConsumerGroupDescribe,
} from './authorization.js';

/** A handler returns the response body, or null when none is sent (Produce with acks=0). */
type Handler<Req, Res> = (broker: BrokerContext, req: Req, ctx: RequestContext) => Res | null | Promise<Res | null>;

export interface ServedApi {
  spec: ApiSpec<unknown, unknown>;
  minVersion: number;
  maxVersion: number;
  handle: Handler<unknown, unknown>;
}

function serve<Req, Res>(spec: ApiSpec<Req, Res>, minVersion: number, handle: Handler<Req, Res>, maxVersion = spec.maxVersion): ServedApi {
  return { spec: spec as ApiSpec<unknown, unknown>, minVersion, maxVersion, handle: handle as Handler<unknown, unknown> };
}

/** With an authorizer, the API's checks (authorization.ts) around its handler; without, the handler alone. */
function guarded<Req, Res>(authorized: Handler<Req, Res>, handle: Handler<Req, Res>): Handler<Req, Res> {
  return (broker, req, ctx) => (broker.authorizer ? authorized(broker, req, ctx) : handle(broker, req, ctx));
}

/** A consumer's Fetch asks for no more than its byte-rate quota allows, whatever checks follow. */
function quotaCapped(handle: Handler<FetchRequest, FetchResponse>): Handler<FetchRequest, FetchResponse> {
  return (broker, req, ctx) => handle(broker, broker.quotas.active ? capFetchToQuota(broker.quotas, req, ctx.apiVersion, ctx.principal.name, ctx.clientId ?? '') : req, ctx);
}

export const servedApis: ReadonlyMap<number, ServedApi> = new Map(
  [
    serve(apiVersionsApi, 0, () => apiVersionsResponse(ErrorCode.NONE)),
    serve(metadataApi, 0, guarded(authorizedMetadata, handleMetadata)),
    // v12 is v11 on the wire (its codec reads both); the generated codec follows the October 2024
    // specification, which still has v0-2 (Kafka 4's drops them but still advertises 0).
    serve(produceApi, 0, guarded(authorizedProduce, handleProduce), 12),
    serve(fetchApi, 4, quotaCapped(guarded(authorizedFetch, (b, req, ctx) => handleFetch(b, req, ctx.apiVersion, ctx.listenerName)))),
    serve(listOffsetsApi, 1, guarded(authorizedListOffsets, (b, req) => handleListOffsets(b, req))),
    serve(offsetForLeaderEpochApi, 2, guarded(authorizedOffsetForLeaderEpoch, (b, req) => handleOffsetForLeaderEpoch(b, req))),
    serve(deleteRecordsApi, 0, guarded(authorizedDeleteRecords, (b, req) => handleDeleteRecords(b, req))),
    serve(createTopicsApi, 2, guarded(authorizedCreateTopics, (b, req) => handleCreateTopics(b, req))),
    serve(deleteTopicsApi, 1, guarded(authorizedDeleteTopics, (b, req, ctx) => handleDeleteTopics(b, req, ctx.apiVersion))),
    serve(createPartitionsApi, 0, guarded(authorizedCreatePartitions, (b, req) => handleCreatePartitions(b, req))),
    serve(electLeadersApi, 0, guarded(authorizedElectLeaders, (b, req, ctx) => handleElectLeaders(b, req, ctx.apiVersion))),
    serve(alterPartitionReassignmentsApi, 0, guarded(authorizedAlterPartitionReassignments, (b, req) => handleAlterPartitionReassignments(b, req))),
    serve(listPartitionReassignmentsApi, 0, guarded(authorizedListPartitionReassignments, (b, req) => handleListPartitionReassignments(b, req))),
    serve(describeLogDirsApi, 1, guarded(authorizedDescribeLogDirs, (b, req) => handleDescribeLogDirs(b, req))),
    serve(describeTopicPartitionsApi, 0, guarded(authorizedDescribeTopicPartitions, (b, req) => handleDescribeTopicPartitions(b, req))),
    serve(describeConfigsApi, 1, guarded(authorizedDescribeConfigs, (b, req) => handleDescribeConfigs(b, req))),
    serve(alterConfigsApi, 0, guarded(authorizedAlterConfigs, (b, req) => handleAlterConfigs(b, req))),
    serve(incrementalAlterConfigsApi, 0, guarded(authorizedIncrementalAlterConfigs, (b, req) => handleIncrementalAlterConfigs(b, req))),
    serve(describeClusterApi, 0, guarded(authorizedDescribeCluster, handleDescribeCluster)),
    serve(initProducerIdApi, 0, guarded(authorizedInitProducerId, handleInitProducerId)),
    serve(findCoordinatorApi, 0, guarded(authorizedFindCoordinator, handleFindCoordinator)),
    serve(joinGroupApi, 0, guarded(authorizedJoinGroup, handleJoinGroup)),
    serve(syncGroupApi, 0, guarded(authorizedSyncGroup, (b, req) => handleSyncGroup(b, req))),
    serve(heartbeatApi, 0, guarded(authorizedHeartbeat, (b, req) => handleHeartbeat(b, req))),
    serve(leaveGroupApi, 0, guarded(authorizedLeaveGroup, handleLeaveGroup)),
    serve(offsetCommitApi, 0, guarded(authorizedOffsetCommit, (b, req) => handleOffsetCommit(b, req))),
    serve(offsetFetchApi, 0, guarded(authorizedOffsetFetch, handleOffsetFetch)),
    // v5 is transactions v2's TxnOffsetCommit that also adds the group to the transaction (KIP-890 part 2).
    serve(txnOffsetCommitApi, 0, guarded(authorizedTxnOffsetCommit, (b, req) => handleTxnOffsetCommit(b, req)), 4),
    serve(describeGroupsApi, 0, guarded(authorizedDescribeGroups, (b, req, ctx) => handleDescribeGroups(b, req, ctx.apiVersion))),
    serve(listGroupsApi, 0, guarded(authorizedListGroups, (b, req) => handleListGroups(b, req))),
    serve(deleteGroupsApi, 0, guarded(authorizedDeleteGroups, (b, req) => handleDeleteGroups(b, req))),
    serve(describeAclsApi, 1, handleDescribeAcls),
    serve(createAclsApi, 1, handleCreateAcls),
    serve(deleteAclsApi, 1, handleDeleteAcls),
    serve(offsetDeleteApi, 0, guarded(authorizedOffsetDelete, (b, req) => handleOffsetDelete(b, req))),
    // v0 too, as Kafka 4 does: librdkafka requires it advertised before it uses SASL at all.
    serve(saslHandshakeApi, 0, handleSaslHandshakeWithoutSasl),
    serve(saslAuthenticateApi, 0, handleSaslAuthenticateWithoutSasl),
    serve(describeUserScramCredentialsApi, 0, guarded(authorizedDescribeUserScramCredentials, (b, req) => handleDescribeUserScramCredentials(b, req))),
    serve(alterUserScramCredentialsApi, 0, guarded(authorizedAlterUserScramCredentials, (b, req) => handleAlterUserScramCredentials(b, req))),
    serve(describeClientQuotasApi, 0, guarded(authorizedDescribeClientQuotas, (b, req) => handleDescribeClientQuotas(b, req))),
    serve(alterClientQuotasApi, 0, guarded(authorizedAlterClientQuotas, (b, req) => handleAlterClientQuotas(b, req))),
    // Transactions v1 only: AddPartitionsToTxn v4+ is KIP-890's broker-to-broker verification, EndTxn v5 its transactions v2.
    serve(addPartitionsToTxnApi, 0, guarded(authorizedAddPartitionsToTxn, handleAddPartitionsToTxn), 3),
    serve(addOffsetsToTxnApi, 0, guarded(authorizedAddOffsetsToTxn, handleAddOffsetsToTxn)),
    serve(endTxnApi, 0, guarded(authorizedEndTxn, handleEndTxn), 4),
    serve(writeTxnMarkersApi, 1, guarded(authorizedWriteTxnMarkers, (b, req) => handleWriteTxnMarkers(b, req))),
    serve(listTransactionsApi, 0, guarded(authorizedListTransactions, (b, req, ctx) => handleListTransactions(b, req, ctx))),
    serve(describeTransactionsApi, 0, guarded(authorizedDescribeTransactions, (b, req) => handleDescribeTransactions(b, req))),
    serve(describeProducersApi, 0, guarded(authorizedDescribeProducers, (b, req) => handleDescribeProducers(b, req))),
    serve(consumerGroupHeartbeatApi, 0, guarded(authorizedConsumerGroupHeartbeat, handleConsumerGroupHeartbeat)),
    serve(consumerGroupDescribeApi, 0, guarded(authorizedConsumerGroupDescribe, (b, req) => handleConsumerGroupDescribe(b, req))),
  ].map((api) => [api.spec.key, api]),
);

/** The ApiVersions body; also the UNSUPPORTED_VERSION answer to a too-new ApiVersions request. */
export function apiVersionsResponse(errorCode: number): ApiVersionsResponse {
  return {
    errorCode,
    apiKeys: [...servedApis.values()].sort((a, b) => a.spec.key - b.spec.key).map((a) => ({ apiKey: a.spec.key, minVersion: a.minVersion, maxVersion: a.maxVersion })),
    throttleTimeMs: 0,
    supportedFeatures: [],
    finalizedFeaturesEpoch: -1,
    finalizedFeatures: [],
    zkMigrationReady: false,
  };
}
