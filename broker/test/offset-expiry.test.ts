// Committed offsets expire as in Kafka 4.0 (offsets.retention.ms), against a real broker process:
// a classic group's once it has been empty that long; a consumer-protocol group's one by one,
// once no member subscribes to the topic and the commit is that old, and the consumer-protocol
// group itself goes once it is empty and has no offsets left. Expiry writes tombstones, so a
// restarted broker does not bring the offsets back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../protocol/client.js';
import { ErrorCode } from '../protocol/errors.js';
import { consumerGroupDescribeApi, consumerGroupHeartbeatApi, createTopicsApi, listGroupsApi, offsetCommitApi, offsetFetchApi } from '../protocol/messages/index.js';
import { defaultConsumerGroupHeartbeatRequest } from '../protocol/messages/consumer-group-heartbeat-request.js';
import { BrokerProcess } from './broker-process.js';
import { eventuallyPasses } from './eventually.js';

let broker: BrokerProcess;
let c: KafkaConnection;

beforeAll(async () => {
  broker = await BrokerProcess.start({ 'group.initial.rebalance.delay.ms': '0', 'offsets.retention.ms': '3000', 'log.retention.check.interval.ms': '500' });
  c = await KafkaConnection.open('127.0.0.1', broker.port, 'offset-expiry');
  await c.send(createTopicsApi, 7, {
    topics: ['expiry-subscribed', 'expiry-other'].map((name) => ({ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] })),
    timeoutMs: 5000,
    validateOnly: false,
  });
});

afterAll(async () => {
  await c?.close();
  await broker?.destroy();
});

const commit = (groupId: string, memberId: string, epoch: number, topic: string, offset: number) =>
  c.send(offsetCommitApi, 9, { groupId, generationIdOrMemberEpoch: epoch, memberId, groupInstanceId: null, retentionTimeMs: -1, topics: [{ name: topic, partitions: [{ partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, commitTimestamp: -1, committedMetadata: null }] }] });

/** The committed offsets of partition 0 of each topic, as an admin asks them (-1: none). */
async function committed(groupId: string, topics: string[]): Promise<Record<string, number>> {
  const res = await c.send(offsetFetchApi, 9, { groupId: '', topics: null, requireStable: false, groups: [{ groupId, memberId: null, memberEpoch: -1, topics: topics.map((name) => ({ name, partitionIndexes: [0] })) }] });
  expect(res.groups[0]!.errorCode).toBe(0);
  return Object.fromEntries(res.groups[0]!.topics.map((t) => [t.name, Number(t.partitions[0]!.committedOffset)]));
}

describe('offset expiry (offsets.retention.ms)', () => {
  it("a consumer-protocol group's offsets expire topic by topic once unsubscribed, then the empty group goes", async () => {
    const group = 'expiry-consumer';
    const joined = await c.send(consumerGroupHeartbeatApi, 1, { ...defaultConsumerGroupHeartbeatRequest(), groupId: group, memberId: 'member', memberEpoch: 0, rebalanceTimeoutMs: 30_000, subscribedTopicNames: ['expiry-subscribed'], topicPartitions: [] });
    expect(joined.errorCode).toBe(0);
    for (const topic of ['expiry-subscribed', 'expiry-other']) expect((await commit(group, 'member', joined.memberEpoch, topic, 5)).topics[0]!.partitions[0]!.errorCode).toBe(0);

    // Both commits are equally old: only the topic no member subscribes to loses its offset.
    await eventuallyPasses('the unsubscribed topic expired', async () => expect(await committed(group, ['expiry-subscribed', 'expiry-other'])).toEqual({ 'expiry-subscribed': 5, 'expiry-other': -1 }), 20_000);
    expect((await c.send(consumerGroupDescribeApi, 0, { groupIds: [group], includeAuthorizedOperations: false })).groups[0]!.errorCode).toBe(0);

    // The member leaves: nothing is subscribed any more, so the last offset expires and the group is deleted.
    expect((await c.send(consumerGroupHeartbeatApi, 1, { ...defaultConsumerGroupHeartbeatRequest(), groupId: group, memberId: 'member', memberEpoch: -1 })).errorCode).toBe(0);
    await eventuallyPasses('the empty group is gone', async () => {
      expect((await c.send(consumerGroupDescribeApi, 0, { groupIds: [group], includeAuthorizedOperations: false })).groups[0]!.errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND);
      expect((await c.send(listGroupsApi, 5, { statesFilter: [], typesFilter: [] })).groups.map((g) => g.groupId)).not.toContain(group);
    }, 20_000);
    expect(await committed(group, ['expiry-subscribed'])).toEqual({ 'expiry-subscribed': -1 });
  }, 60_000);

  it("a classic group's offsets (here a standalone consumer's commit) expire once it has been empty long enough, and stay expired across a restart", async () => {
    const group = 'expiry-standalone';
    expect((await commit(group, '', -1, 'expiry-subscribed', 9)).topics[0]!.partitions[0]!.errorCode).toBe(0);
    expect(await committed(group, ['expiry-subscribed'])).toEqual({ 'expiry-subscribed': 9 });
    await eventuallyPasses('the offset expired', async () => expect(await committed(group, ['expiry-subscribed'])).toEqual({ 'expiry-subscribed': -1 }), 20_000);

    await c.close();
    await broker.kill();
    await broker.launch();
    c = await KafkaConnection.open('127.0.0.1', broker.port, 'offset-expiry');
    await eventuallyPasses('the coordinator is loaded', async () => expect(await committed(group, ['expiry-subscribed'])).toEqual({ 'expiry-subscribed': -1 }), 30_000);
    expect(await committed('expiry-consumer', ['expiry-subscribed', 'expiry-other'])).toEqual({ 'expiry-subscribed': -1, 'expiry-other': -1 });
  }, 90_000);
});
