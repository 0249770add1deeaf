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
  describeGroupsApi,
  listGroupsApi,
  deleteGroupsApi,
  offsetDeleteApi,
  electLeadersApi,
  alterPartitionReassignmentsApi,
  listPartitionReassignmentsApi,
  describeLogDirsApi,
  describeTopicPartitionsApi,
  type ApiVersionsResponse,
} from '../protocol/messages/index.js';
import { handleMetadata, handleDescribeCluster, handleDescribeTopicPartitions } from './metadata.js';
import { handleProduce } from './produce.js';
import { handleFetch } from './fetch.js';
import { handleListOffsets, handleOffsetForLeaderEpoch } from './offsets.js';
import { handleCreateTopics, handleDeleteTopics, handleCreatePartitions } from './topics-admin.js';
import { handleDescribeConfigs, handleAlterConfigs, handleIncrementalAlterConfigs } from './configs.js';
import { handleInitProducerId } from './init-producer-id.js';
import { handleElectLeaders } from './elect-leaders.js';
import { handleAlterPartitionReassignments, handleListPartitionReassignments } from './reassignments.js';
import { handleDescribeLogDirs } from './describe-log-dirs.js';
import {
  handleFindCoordinator,
  handleJoinGroup,
  handleSyncGroup,
  handleHeartbeat,
  handleLeaveGroup,
  handleOffsetCommit,
  handleOffsetFetch,
  handleDescribeGroups,
  handleListGroups,
  handleDeleteGroups,
  handleOffsetDelete,
} from './groups.js';

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

export const servedApis: ReadonlyMap<number, ServedApi> = new Map(
  [
    serve(apiVersionsApi, 0, () => apiVersionsResponse(ErrorCode.NONE)),
    serve(metadataApi, 0, handleMetadata),
    serve(produceApi, 0, handleProduce),
    serve(fetchApi, 4, (b, req, ctx) => handleFetch(b, req, ctx.apiVersion, ctx.listenerName)),
    serve(listOffsetsApi, 1, (b, req) => handleListOffsets(b, req)),
    serve(offsetForLeaderEpochApi, 2, (b, req) => handleOffsetForLeaderEpoch(b, req)),
    serve(createTopicsApi, 2, (b, req) => handleCreateTopics(b, req)),
    serve(deleteTopicsApi, 1, (b, req, ctx) => handleDeleteTopics(b, req, ctx.apiVersion)),
    serve(createPartitionsApi, 0, (b, req) => handleCreatePartitions(b, req)),
    serve(electLeadersApi, 0, (b, req, ctx) => handleElectLeaders(b, req, ctx.apiVersion)),
    serve(alterPartitionReassignmentsApi, 0, (b, req) => handleAlterPartitionReassignments(b, req)),
    serve(listPartitionReassignmentsApi, 0, (b, req) => handleListPartitionReassignments(b, req)),
    serve(describeLogDirsApi, 1, (b, req) => handleDescribeLogDirs(b, req)),
    serve(describeTopicPartitionsApi, 0, (b, req) => handleDescribeTopicPartitions(b, req)),
    serve(describeConfigsApi, 1, (b, req) => handleDescribeConfigs(b, req)),
    serve(alterConfigsApi, 0, (b, req) => handleAlterConfigs(b, req)),
    serve(incrementalAlterConfigsApi, 0, (b, req) => handleIncrementalAlterConfigs(b, req)),
    serve(describeClusterApi, 0, handleDescribeCluster),
    serve(initProducerIdApi, 0, (b, req) => handleInitProducerId(b, req)),
    serve(findCoordinatorApi, 0, handleFindCoordinator),
    serve(joinGroupApi, 0, handleJoinGroup),
    serve(syncGroupApi, 0, (b, req) => handleSyncGroup(b, req)),
    serve(heartbeatApi, 0, (b, req) => handleHeartbeat(b, req)),
    serve(leaveGroupApi, 0, handleLeaveGroup),
    serve(offsetCommitApi, 0, (b, req) => handleOffsetCommit(b, req)),
    serve(offsetFetchApi, 0, handleOffsetFetch),
    serve(describeGroupsApi, 0, (b, req) => handleDescribeGroups(b, req)),
    serve(listGroupsApi, 0, (b, req) => handleListGroups(b, req)),
    serve(deleteGroupsApi, 0, (b, req) => handleDeleteGroups(b, req)),
    serve(offsetDeleteApi, 0, (b, req) => handleOffsetDelete(b, req)),
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
