// The authorizer's check in each API, over the wire on a real broker process: with
// allow.everyone.if.no.acl.found, resources that an ACL names only for User:bob are refused to
// this test's connections (User:ANONYMOUS) with Kafka's per-item errors, while resources no ACL
// names are served; a DENY on the cluster then refuses the cluster operations (incl. SCRAM users
// and client quotas).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../protocol/client.js';
import { ErrorCode } from '../protocol/errors.js';
import * as M from '../protocol/messages/index.js';
import { defaultCreateTopicsRequest } from '../protocol/messages/create-topics-request.js';
import { defaultConsumerGroupHeartbeatRequest } from '../protocol/messages/consumer-group-heartbeat-request.js';
import { defaultJoinGroupRequest } from '../protocol/messages/join-group-request.js';
import { defaultOffsetCommitRequest } from '../protocol/messages/offset-commit-request.js';
import { defaultOffsetFetchRequest } from '../protocol/messages/offset-fetch-request.js';
import { defaultTxnOffsetCommitRequest } from '../protocol/messages/txn-offset-commit-request.js';
import { defaultProduceRequest } from '../protocol/messages/produce-request.js';
import { defaultInitProducerIdRequest } from '../protocol/messages/init-producer-id-request.js';
import { defaultDescribeClusterRequest } from '../protocol/messages/describe-cluster-request.js';
import { defaultMetadataRequest } from '../protocol/messages/metadata-request.js';
import { defaultFetchRequest } from '../protocol/messages/fetch-request.js';
import { AclOperation as Op, AclPermission, CLUSTER_NAME, PatternType, ResourceType } from '../security/acls.js';
import { BrokerProcess } from './broker-process.js';

let broker: BrokerProcess;
let c: KafkaConnection;

const creation = (resourceType: number, resourceName: string, resourcePatternType: number, principal: string, operation: number, permissionType: number = AclPermission.ALLOW) => ({
  resourceType,
  resourceName,
  resourcePatternType,
  principal,
  host: '*',
  operation,
  permissionType,
});

beforeAll(async () => {
  broker = await BrokerProcess.start({ 'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer', 'allow.everyone.if.no.acl.found': 'true' });
  c = await KafkaConnection.open('127.0.0.1', broker.port, 'acl-checks');
  // Before any ACL exists, everyone may do everything.
  const created = await c.send(M.createTopicsApi, 7, { ...defaultCreateTopicsRequest(), topics: ['bob-x', 'free-x'].map((name) => ({ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] })), timeoutMs: 10_000 });
  expect(created.topics.map((t) => t.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.NONE]);
  const acls = await c.send(M.createAclsApi, 3, {
    creations: [
      creation(ResourceType.CLUSTER, CLUSTER_NAME, PatternType.LITERAL, 'User:ANONYMOUS', Op.ALTER),
      creation(ResourceType.CLUSTER, CLUSTER_NAME, PatternType.LITERAL, 'User:ANONYMOUS', Op.DESCRIBE),
      creation(ResourceType.TOPIC, 'bob-', PatternType.PREFIXED, 'User:bob', Op.ALL),
      creation(ResourceType.GROUP, 'bob-', PatternType.PREFIXED, 'User:bob', Op.ALL),
      creation(ResourceType.TRANSACTIONAL_ID, 'bob-', PatternType.PREFIXED, 'User:bob', Op.ALL),
      // Refused one by one, the others are still created.
      creation(ResourceType.CLUSTER, 'not-the-cluster', PatternType.LITERAL, 'User:bob', Op.ALTER),
      creation(ResourceType.TOPIC, 't', PatternType.MATCH, 'User:bob', Op.READ),
      creation(ResourceType.TOPIC, 't', PatternType.LITERAL, 'bob', Op.READ),
    ],
  });
  expect(acls.results.map((r) => r.errorCode)).toEqual([0, 0, 0, 0, 0, ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST]);
  expect(acls.results[5]!.errorMessage).toContain('kafka-cluster');
}, 60_000);

afterAll(async () => {
  await c?.close();
  await broker?.destroy();
});

describe('authorization of each API', () => {
  it('topic administration and configs answer TOPIC_AUTHORIZATION_FAILED per topic, CLUSTER_AUTHORIZATION_FAILED for broker configs', async () => {
    const created = await c.send(M.createTopicsApi, 7, { ...defaultCreateTopicsRequest(), topics: ['bob-new', 'free-new'].map((name) => ({ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] })), timeoutMs: 10_000 });
    expect(Object.fromEntries(created.topics.map((t) => [t.name, t.errorCode]))).toEqual({ 'bob-new': ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'free-new': ErrorCode.NONE });
    const deleted = await c.send(M.deleteTopicsApi, 6, { topics: [{ name: 'bob-x', topicId: 'AAAAAAAAAAAAAAAAAAAAAA' }], topicNames: [], timeoutMs: 10_000 });
    expect(deleted.responses.map((r) => [r.name, r.errorCode])).toEqual([['bob-x', ErrorCode.TOPIC_AUTHORIZATION_FAILED]]);
    const grown = await c.send(M.createPartitionsApi, 3, { topics: [{ name: 'bob-x', count: 2, assignments: null }], timeoutMs: 10_000, validateOnly: false });
    expect(grown.results.map((r) => r.errorCode)).toEqual([ErrorCode.TOPIC_AUTHORIZATION_FAILED]);
    const described = await c.send(M.describeConfigsApi, 4, {
      resources: [
        { resourceType: 2, resourceName: 'bob-x', configurationKeys: null },
        { resourceType: 2, resourceName: 'free-x', configurationKeys: ['retention.ms'] },
        { resourceType: 4, resourceName: '1', configurationKeys: null },
      ],
      includeSynonyms: false,
      includeDocumentation: false,
    });
    expect(Object.fromEntries(described.results.map((r) => [r.resourceName, r.errorCode]))).toEqual({ 'bob-x': ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'free-x': ErrorCode.NONE, '1': ErrorCode.CLUSTER_AUTHORIZATION_FAILED });
    const altered = await c.send(M.incrementalAlterConfigsApi, 1, { resources: [{ resourceType: 2, resourceName: 'bob-x', configs: [{ name: 'retention.ms', configOperation: 0, value: '1000' }] }], validateOnly: false });
    expect(altered.responses.map((r) => r.errorCode)).toEqual([ErrorCode.TOPIC_AUTHORIZATION_FAILED]);
  });

  it('transactional ids answer TRANSACTIONAL_ID_AUTHORIZATION_FAILED in InitProducerId and Produce', async () => {
    const init = await c.send(M.initProducerIdApi, 4, { ...defaultInitProducerIdRequest(), transactionalId: 'bob-tx', transactionTimeoutMs: 60_000 });
    expect(init.errorCode).toBe(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    const produced = await c.send(M.produceApi, 9, { ...defaultProduceRequest(), transactionalId: 'bob-tx', acks: 1, timeoutMs: 5000, topicData: [{ name: 'free-x', partitionData: [{ index: 0, records: Buffer.alloc(0) }] }] });
    expect(produced!.responses[0]!.partitionResponses[0]!.errorCode).toBe(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    // An idempotent producer may write to some topic (every topic no ACL names).
    const idempotent = await c.send(M.initProducerIdApi, 4, { ...defaultInitProducerIdRequest(), transactionalId: null, transactionTimeoutMs: -1 });
    expect(idempotent.errorCode).toBe(ErrorCode.NONE);
  });

  it('TxnOffsetCommit checks the transactional id, then the group, then each topic', async () => {
    const partitions = [{ partitionIndex: 0, committedOffset: 3, committedLeaderEpoch: -1, committedMetadata: null }];
    const commit = (transactionalId: string, groupId: string, topics: string[]) =>
      c.send(M.txnOffsetCommitApi, 3, { ...defaultTxnOffsetCommitRequest(), transactionalId, groupId, producerId: 4242, producerEpoch: 0, topics: topics.map((name) => ({ name, partitions })) });
    const codes = (r: M.TxnOffsetCommitResponse) => Object.fromEntries(r.topics.map((t) => [t.name, t.partitions[0]!.errorCode]));
    expect(codes(await commit('bob-tx', 'free-txn-group', ['free-x']))).toEqual({ 'free-x': ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED });
    expect(codes(await commit('free-tx', 'bob-group', ['free-x']))).toEqual({ 'free-x': ErrorCode.GROUP_AUTHORIZATION_FAILED });
    expect(codes(await commit('free-tx', 'free-txn-group', ['bob-x', 'free-x']))).toEqual({ 'bob-x': ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'free-x': ErrorCode.NONE });
  });

  it('groups answer GROUP_AUTHORIZATION_FAILED, and their topics TOPIC_AUTHORIZATION_FAILED', async () => {
    const joined = await c.send(M.joinGroupApi, 5, { ...defaultJoinGroupRequest(), groupId: 'bob-group', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, protocolType: 'consumer' });
    expect(joined.errorCode).toBe(ErrorCode.GROUP_AUTHORIZATION_FAILED);
    const beat = await c.send(M.heartbeatApi, 4, { groupId: 'bob-group', generationId: 1, memberId: 'm', groupInstanceId: null });
    expect(beat.errorCode).toBe(ErrorCode.GROUP_AUTHORIZATION_FAILED);
    const partitions = [{ partitionIndex: 0, committedOffset: 0, committedLeaderEpoch: -1, commitTimestamp: -1, committedMetadata: null }];
    const bobCommit = await c.send(M.offsetCommitApi, 8, { ...defaultOffsetCommitRequest(), groupId: 'bob-group', generationIdOrMemberEpoch: -1, topics: [{ name: 'free-x', partitions }] });
    expect(bobCommit.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.GROUP_AUTHORIZATION_FAILED);
    const freeCommit = await c.send(M.offsetCommitApi, 8, { ...defaultOffsetCommitRequest(), groupId: 'free-group', generationIdOrMemberEpoch: -1, topics: [{ name: 'bob-x', partitions }, { name: 'free-x', partitions }] });
    expect(Object.fromEntries(freeCommit.topics.map((t) => [t.name, t.partitions[0]!.errorCode]))).toEqual({ 'bob-x': ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'free-x': ErrorCode.NONE });
    const fetched = await c.send(M.offsetFetchApi, 8, {
      ...defaultOffsetFetchRequest(),
      groups: [
        { groupId: 'bob-group', memberId: null, memberEpoch: -1, topics: null },
        { groupId: 'free-group', memberId: null, memberEpoch: -1, topics: [{ name: 'bob-x', partitionIndexes: [0] }, { name: 'free-x', partitionIndexes: [0] }] },
      ],
    });
    const byGroup = Object.fromEntries(fetched.groups.map((g) => [g.groupId, g]));
    expect(byGroup['bob-group']!.errorCode).toBe(ErrorCode.GROUP_AUTHORIZATION_FAILED);
    expect(Object.fromEntries(byGroup['free-group']!.topics.map((t) => [t.name, [t.partitions[0]!.errorCode, t.partitions[0]!.committedOffset]]))).toEqual({
      'bob-x': [ErrorCode.TOPIC_AUTHORIZATION_FAILED, -1],
      'free-x': [ErrorCode.NONE, 0],
    });
    const deleted = await c.send(M.deleteGroupsApi, 2, { groupsNames: ['bob-group'] });
    expect(deleted.results.map((r) => r.errorCode)).toEqual([ErrorCode.GROUP_AUTHORIZATION_FAILED]);
    const offsetDeleted = await c.send(M.offsetDeleteApi, 0, { groupId: 'bob-group', topics: [{ name: 'free-x', partitions: [{ partitionIndex: 0 }] }] });
    expect(offsetDeleted.errorCode).toBe(ErrorCode.GROUP_AUTHORIZATION_FAILED);
    const freeOffsetDeleted = await c.send(M.offsetDeleteApi, 0, { groupId: 'free-group', topics: [{ name: 'bob-x', partitions: [{ partitionIndex: 0 }] }] });
    expect(freeOffsetDeleted.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  });

  it('consumer-protocol groups: ConsumerGroupHeartbeat needs READ and ConsumerGroupDescribe DESCRIBE on the group', async () => {
    const heartbeat = (groupId: string) =>
      c.send(M.consumerGroupHeartbeatApi, 1, { ...defaultConsumerGroupHeartbeatRequest(), groupId, memberId: 'acl-member', memberEpoch: 0, rebalanceTimeoutMs: 30_000, subscribedTopicNames: ['free-x'], topicPartitions: [] });
    expect((await heartbeat('bob-cg')).errorCode).toBe(ErrorCode.GROUP_AUTHORIZATION_FAILED);
    expect(await heartbeat('free-cg')).toMatchObject({ errorCode: ErrorCode.NONE, memberEpoch: 1 });
    const described = await c.send(M.consumerGroupDescribeApi, 0, { groupIds: ['bob-cg', 'free-cg'], includeAuthorizedOperations: true });
    expect(described.groups.map((g) => [g.groupId, g.errorCode])).toEqual([['bob-cg', ErrorCode.GROUP_AUTHORIZATION_FAILED], ['free-cg', ErrorCode.NONE]]);
    // READ, DELETE and DESCRIBE (bits 3, 6, 8) on a group no ACL names.
    expect(described.groups[1]!.authorizedOperations).toBe((1 << 3) | (1 << 6) | (1 << 8));
  });

  it('Metadata auto-creates a topic only with CREATE, and a fetch as a follower needs CLUSTER_ACTION', async () => {
    const acl = await c.send(M.createAclsApi, 3, { creations: [creation(ResourceType.TOPIC, 'desc-only', PatternType.LITERAL, 'User:ANONYMOUS', Op.DESCRIBE)] });
    expect(acl.results[0]!.errorCode).toBe(ErrorCode.NONE);
    const ask = (name: string) => c.send(M.metadataApi, 9, { ...defaultMetadataRequest(), topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name }], allowAutoTopicCreation: true });
    expect((await ask('desc-only')).topics.map((t) => t.errorCode)).toEqual([ErrorCode.TOPIC_AUTHORIZATION_FAILED]);
    // No ACL names free-auto: allow.everyone.if.no.acl.found lets it be created.
    expect((await ask('free-auto')).topics.map((t) => t.partitions.length)).toEqual([1]);
    // bob-x (bob's) and desc-only (never created) are not listed.
    const all = await c.send(M.metadataApi, 9, { ...defaultMetadataRequest(), topics: null });
    expect(all.topics.map((t) => t.name).sort()).toEqual(['__consumer_offsets', 'free-auto', 'free-new', 'free-x']);
    const fetched = await c.send(M.fetchApi, 12, {
      ...defaultFetchRequest(),
      replicaId: 7,
      maxWaitMs: 0,
      topics: [{ topic: 'free-x', topicId: 'AAAAAAAAAAAAAAAAAAAAAA', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 1 << 20, replicaDirectoryId: 'AAAAAAAAAAAAAAAAAAAAAA' }] }],
    });
    expect(fetched.responses[0]!.partitions[0]!.errorCode).toBe(ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  });

  it('DescribeProducers needs READ on each topic', async () => {
    const described = await c.send(M.describeProducersApi, 0, { topics: ['bob-x', 'free-x'].map((name) => ({ name, partitionIndexes: [0] })) });
    expect(Object.fromEntries(described.topics.map((t) => [t.name, t.partitions[0]!.errorCode]))).toEqual({ 'bob-x': ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'free-x': ErrorCode.NONE });
  });

  it('a DENY of ALTER and DESCRIBE on the cluster refuses the cluster operations and the ACL APIs', async () => {
    const denied = await c.send(M.createAclsApi, 3, {
      creations: [Op.ALTER, Op.DESCRIBE].map((op) => creation(ResourceType.CLUSTER, CLUSTER_NAME, PatternType.LITERAL, 'User:*', op, AclPermission.DENY)),
    });
    expect(denied.results.map((r) => r.errorCode)).toEqual([0, 0]);
    const elected = await c.send(M.electLeadersApi, 2, { electionType: 0, topicPartitions: [{ topic: 'free-x', partitions: [0] }], timeoutMs: 5000 });
    expect([elected.errorCode, elected.replicaElectionResults[0]!.partitionResult[0]!.errorCode]).toEqual([ErrorCode.CLUSTER_AUTHORIZATION_FAILED, ErrorCode.CLUSTER_AUTHORIZATION_FAILED]);
    const reassigned = await c.send(M.alterPartitionReassignmentsApi, 0, { timeoutMs: 5000, topics: [{ name: 'free-x', partitions: [{ partitionIndex: 0, replicas: [1] }] }] });
    expect(reassigned.errorCode).toBe(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    const listed = await c.send(M.listPartitionReassignmentsApi, 0, { timeoutMs: 5000, topics: null });
    expect(listed.errorCode).toBe(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    const dirs = await c.send(M.describeLogDirsApi, 4, { topics: null });
    expect(dirs.errorCode).toBe(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    const acls = await c.send(M.describeAclsApi, 3, { resourceTypeFilter: ResourceType.ANY, resourceNameFilter: null, patternTypeFilter: PatternType.ANY, principalFilter: null, hostFilter: null, operation: Op.ANY, permissionType: AclPermission.ANY });
    expect(acls.errorCode).toBe(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    const removed = await c.send(M.deleteAclsApi, 3, { filters: [{ resourceTypeFilter: ResourceType.ANY, resourceNameFilter: null, patternTypeFilter: PatternType.ANY, principalFilter: null, hostFilter: null, operation: Op.ANY, permissionType: AclPermission.ANY }] });
    expect(removed.filterResults[0]!.errorCode).toBe(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    // Users' SCRAM credentials: DESCRIBE / ALTER on the cluster; client quotas: DESCRIBE_CONFIGS /
    // ALTER_CONFIGS on it, which no ACL allows here (the cluster has ACLs, so allow.everyone does not apply).
    const scram = await c.send(M.describeUserScramCredentialsApi, 0, { users: null });
    expect([scram.errorCode, scram.errorMessage, scram.results]).toEqual([ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'Cluster authorization failed.', []]);
    const changed = await c.send(M.alterUserScramCredentialsApi, 0, {
      deletions: [{ name: 'bob', mechanism: 2 }],
      upsertions: ['carol', 'bob'].map((name) => ({ name, mechanism: 2, iterations: 4096, salt: Buffer.from('salt'), saltedPassword: Buffer.alloc(64) })),
    });
    expect(changed.results).toEqual(['bob', 'carol'].map((user) => ({ user, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: 'Cluster authorization failed.' })));
    const quotas = await c.send(M.describeClientQuotasApi, 1, { components: [], strict: false });
    expect([quotas.errorCode, quotas.entries]).toEqual([ErrorCode.CLUSTER_AUTHORIZATION_FAILED, null]);
    const entity = [{ entityType: 'user', entityName: 'bob' }];
    const quotaChanged = await c.send(M.alterClientQuotasApi, 1, { entries: [{ entity, ops: [{ key: 'producer_byte_rate', value: 1024, remove: false }] }], validateOnly: false });
    expect(quotaChanged.entries).toEqual([{ errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: 'Cluster authorization failed.', entity }]);
    const cluster = await c.send(M.describeClusterApi, 1, { ...defaultDescribeClusterRequest(), includeClusterAuthorizedOperations: true });
    expect([cluster.errorCode, cluster.clusterAuthorizedOperations]).toEqual([ErrorCode.NONE, 0]);
  });
});
