// The classic group protocol spoken directly to a real broker process: the MEMBER_ID_REQUIRED
// handshake, generations and fencing, static membership, batched coordinator lookup, and
// multi-group offset fetches.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../protocol/client.js';
import { ErrorCode } from '../protocol/errors.js';
import {
  findCoordinatorApi,
  heartbeatApi,
  joinGroupApi,
  leaveGroupApi,
  offsetCommitApi,
  offsetFetchApi,
  txnOffsetCommitApi,
  apiVersionsApi,
  syncGroupApi,
  createTopicsApi,
} from '../protocol/messages/index.js';
import { BrokerProcess } from './broker-process.js';

let broker: BrokerProcess;
let c: KafkaConnection;

beforeAll(async () => {
  broker = await BrokerProcess.start({ 'group.initial.rebalance.delay.ms': '0' });
  c = await KafkaConnection.open('127.0.0.1', broker.port, 'group-protocol');
  await c.send(createTopicsApi, 7, { topics: [{ name: 'gp', numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
});

afterAll(async () => {
  await c?.close();
  await broker?.destroy();
});

const protocols = [{ name: 'range', metadata: Buffer.from([0, 0, 0, 0, 0, 1, 0, 2, 103, 112, 0, 0, 0, 0]) }];

function join(groupId: string, memberId: string, groupInstanceId: string | null = null, version = 9) {
  return c.send(joinGroupApi, version, { groupId, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId, groupInstanceId, protocolType: 'consumer', protocols, reason: null });
}

function sync(groupId: string, generationId: number, memberId: string, assignments: Array<{ memberId: string; assignment: Buffer }> = [], groupInstanceId: string | null = null) {
  return c.send(syncGroupApi, 5, { groupId, generationId, memberId, groupInstanceId, protocolType: 'consumer', protocolName: 'range', assignments });
}

describe('group protocol', () => {
  it('hands a new member its id with MEMBER_ID_REQUIRED, then forms a generation', async () => {
    const first = await join('handshake', '');
    expect(first.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
    expect(first.memberId).toMatch(/^group-protocol-/);
    const joined = await join('handshake', first.memberId);
    expect(joined).toMatchObject({ errorCode: 0, generationId: 1, leader: first.memberId, protocolName: 'range', memberId: first.memberId });
    expect(joined.members.map((m) => m.memberId)).toEqual([first.memberId]);
    const assignment = Buffer.from('assignment-bytes');
    expect(await sync('handshake', 1, first.memberId, [{ memberId: first.memberId, assignment }])).toMatchObject({ errorCode: 0, assignment });
    expect((await c.send(heartbeatApi, 4, { groupId: 'handshake', generationId: 1, memberId: first.memberId, groupInstanceId: null })).errorCode).toBe(0);
    expect((await c.send(heartbeatApi, 4, { groupId: 'handshake', generationId: 0, memberId: first.memberId, groupInstanceId: null })).errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect((await c.send(heartbeatApi, 4, { groupId: 'handshake', generationId: 1, memberId: 'stranger', groupInstanceId: null })).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);

    // Commits check member and generation too.
    const commit = (generationIdOrMemberEpoch: number, memberId: string) =>
      c.send(offsetCommitApi, 8, {
        groupId: 'handshake',
        generationIdOrMemberEpoch,
        memberId,
        groupInstanceId: null,
        retentionTimeMs: -1,
        topics: [{ name: 'gp', partitions: [{ partitionIndex: 0, committedOffset: 42, committedLeaderEpoch: -1, commitTimestamp: -1, committedMetadata: 'meta' }] }],
      });
    expect((await commit(1, first.memberId)).topics[0]!.partitions[0]!.errorCode).toBe(0);
    expect((await commit(7, first.memberId)).topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);

    const left = await c.send(leaveGroupApi, 5, { groupId: 'handshake', memberId: '', members: [{ memberId: first.memberId, groupInstanceId: null, reason: 'test' }] });
    expect(left.members[0]!.errorCode).toBe(0);
  });

  it('lets a static member come back under a new id without a rebalance, fencing the old id', async () => {
    const a = await join('static', '', 'instance-a');
    expect(a.errorCode).toBe(0);
    expect(a.generationId).toBe(1);
    const assignment = Buffer.from('static-assignment');
    expect((await sync('static', 1, a.memberId, [{ memberId: a.memberId, assignment }], 'instance-a')).errorCode).toBe(0);

    // The same instance restarts and joins with no member id.
    const again = await join('static', '', 'instance-a');
    expect(again.errorCode).toBe(0);
    expect(again.generationId).toBe(1);
    expect(again.memberId).not.toBe(a.memberId);
    expect((await sync('static', 1, again.memberId, [], 'instance-a')).assignment).toEqual(assignment);
    const fenced = await c.send(heartbeatApi, 4, { groupId: 'static', generationId: 1, memberId: a.memberId, groupInstanceId: 'instance-a' });
    expect(fenced.errorCode).toBe(ErrorCode.FENCED_INSTANCE_ID);
  });

  it('finds coordinators for several groups in one request and fetches offsets of several groups', async () => {
    const found = await c.send(findCoordinatorApi, 5, { key: '', keyType: 0, coordinatorKeys: ['g1', 'g2'] });
    expect(found.coordinators.map((x) => [x.key, x.nodeId, x.port, x.errorCode])).toEqual([
      ['g1', 1, broker.port, 0],
      ['g2', 1, broker.port, 0],
    ]);
    const txn = await c.send(findCoordinatorApi, 5, { key: '', keyType: 1, coordinatorKeys: ['tx'] });
    // A transactional id's coordinator: the leader of its __transaction_state partition, here the only broker.
    expect(txn.coordinators.map((x) => [x.key, x.nodeId, x.port, x.errorCode])).toEqual([['tx', 1, broker.port, 0]]);

    // A standalone commit (no membership), then a v8 fetch of two groups at once.
    await c.send(offsetCommitApi, 8, {
      groupId: 'standalone',
      generationIdOrMemberEpoch: -1,
      memberId: '',
      groupInstanceId: null,
      retentionTimeMs: -1,
      topics: [{ name: 'gp', partitions: [{ partitionIndex: 1, committedOffset: 7, committedLeaderEpoch: 0, commitTimestamp: -1, committedMetadata: null }] }],
    });
    const fetched = await c.send(offsetFetchApi, 8, {
      groupId: '',
      topics: null,
      requireStable: false,
      groups: [
        { groupId: 'standalone', memberId: null, memberEpoch: -1, topics: null },
        { groupId: 'handshake', memberId: null, memberEpoch: -1, topics: [{ name: 'gp', partitionIndexes: [0, 1] }] },
      ],
    });
    expect(fetched.groups[0]!.topics).toEqual([{ name: 'gp', partitions: [{ partitionIndex: 1, committedOffset: 7, committedLeaderEpoch: 0, metadata: '', errorCode: 0 }] }]);
    expect(fetched.groups[1]!.topics[0]!.partitions.map((p) => [p.partitionIndex, p.committedOffset, p.metadata])).toEqual([
      [0, 42, 'meta'],
      [1, -1, ''],
    ]);
  });

  it('keeps offsets committed in an open transaction pending: invisible, and UNSTABLE_OFFSET_COMMIT with require_stable', async () => {
    const advertised = (await c.send(apiVersionsApi, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' })).apiKeys.find((k) => k.apiKey === txnOffsetCommitApi.key);
    expect(advertised).toMatchObject({ minVersion: 0, maxVersion: 4 });
    const txnCommit = (version: number, memberId: string, generationId: number) =>
      c.send(txnOffsetCommitApi, version, {
        transactionalId: 'gp-tx',
        groupId: 'txn-pending',
        producerId: 9100,
        producerEpoch: 0,
        generationId,
        memberId,
        groupInstanceId: null,
        topics: [{ name: 'gp', partitions: [{ partitionIndex: 0, committedOffset: 11, committedLeaderEpoch: -1, committedMetadata: 'txn' }] }],
      });
    // v3+ carries member and generation (KIP-447), checked as OffsetCommit checks them.
    expect((await txnCommit(3, 'stranger', 1)).topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect((await txnCommit(3, '', -1)).topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
    expect((await txnCommit(2, '', -1)).topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
    await expectPending();
  });

  it('keeps committed offsets across a restart', async () => {
    await c.close();
    await broker.restart(true);
    c = await KafkaConnection.open('127.0.0.1', broker.port, 'group-protocol');
    const fetched = await c.send(offsetFetchApi, 7, { groupId: 'handshake', topics: [{ name: 'gp', partitionIndexes: [0] }], groups: [], requireStable: false });
    expect(fetched.topics[0]!.partitions[0]).toMatchObject({ committedOffset: 42, metadata: 'meta' });
    // The open transaction's offsets are replayed as pending.
    await expectPending();
  });
});

/** Group txn-pending's offset of gp-0 is in an open transaction: not visible, unstable for require_stable. */
async function expectPending() {
  const fetch = (version: number, requireStable: boolean) => c.send(offsetFetchApi, version, { groupId: 'txn-pending', topics: [{ name: 'gp', partitionIndexes: [0] }], groups: [], requireStable });
  expect((await fetch(7, false)).topics[0]!.partitions[0]).toMatchObject({ committedOffset: -1, errorCode: ErrorCode.NONE });
  expect((await fetch(7, true)).topics[0]!.partitions[0]).toMatchObject({ committedOffset: -1, errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT });
  const v8 = await c.send(offsetFetchApi, 8, { groupId: '', topics: null, groups: [{ groupId: 'txn-pending', memberId: null, memberEpoch: -1, topics: [{ name: 'gp', partitionIndexes: [0, 1] }] }], requireStable: true });
  expect(v8.groups[0]!.topics[0]!.partitions.map((p) => [p.partitionIndex, p.errorCode])).toEqual([
    [0, ErrorCode.UNSTABLE_OFFSET_COMMIT],
    [1, ErrorCode.NONE],
  ]);
}
