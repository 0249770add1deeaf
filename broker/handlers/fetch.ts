// Fetch: reads whole batches from each partition's log within the per-partition and
// per-response byte limits, and long-polls (maxWaitMs) until minBytes are available.
// Fetch sessions are not kept: every response says session 0, so clients send full requests.
// Only a partition's leader serves it. Consumers read up to the high watermark (read_committed
// ones up to the last stable offset, with the aborted transactions in what they got); a follower
// (replica id >= 0) reads up to the log end, and its fetch offset tells the leader how far it
// has replicated (replication/replica-manager.ts). Throttled replicas that are out of sync get
// no data while the leader's replication quota is used up (replication/replication-quota.ts).
import type { BrokerContext } from '../context.js';
import { ErrorCode } from '../protocol/errors.js';
import type { FetchRequest, FetchResponse } from '../protocol/messages/index.js';
import type { PartitionData, FetchableTopicResponse } from '../protocol/messages/fetch-response.js';
import type { PartitionLog } from '../storage/partition-log.js';
import { leaderEndpoints } from './leader-endpoints.js';

const EMPTY = Buffer.alloc(0);
const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA';

const READ_COMMITTED = 1;

function partitionResult(partitionIndex: number, errorCode: number, log?: PartitionLog, records: Buffer = EMPTY): PartitionData {
  return {
    partitionIndex,
    errorCode,
    highWatermark: log ? log.highWatermark : -1,
    lastStableOffset: log ? log.lastStableOffset : -1,
    logStartOffset: log ? log.logStartOffset : -1,
    divergingEpoch: { epoch: -1, endOffset: -1 },
    currentLeader: { leaderId: -1, leaderEpoch: -1 },
    snapshotId: { endOffset: -1, epoch: -1 },
    abortedTransactions: [],
    preferredReadReplica: -1,
    records,
  };
}

interface Gathered {
  response: FetchResponse;
  bytes: number;
  errors: boolean;
  logs: PartitionLog[];
}

/** The replica id of a follower's fetch (v15+ carries it in replica_state, KIP-903); -1 for consumers. */
export function replicaIdOf(req: FetchRequest, apiVersion: number): number {
  return apiVersion >= 15 ? req.replicaState.replicaId : req.replicaId;
}

function gather(broker: BrokerContext, req: FetchRequest, byId: boolean, follower: number, first: boolean, listener: string): Gathered {
  let budget = req.maxBytes;
  let bytes = 0;
  let errors = false;
  const logs: PartitionLog[] = [];
  const leaders = new Set<number>();
  const responses: FetchableTopicResponse[] = [];
  for (const ft of req.topics) {
    const topic = byId ? broker.registry.getById(ft.topicId) : broker.registry.get(ft.topic);
    const partitions: PartitionData[] = [];
    for (const fp of ft.partitions) {
      const assignment = topic?.partitions[fp.partition];
      const replica = topic && assignment ? broker.replicas.replica(topic.name, fp.partition) : undefined;
      if (topic && assignment && replica?.role !== 'leader' && broker.logs.offlineReason(topic.name, fp.partition) === null) {
        errors = true;
        const state = broker.view.partition(topic, fp.partition)!.state;
        if (state.leader >= 0) leaders.add(state.leader);
        partitions.push({ ...partitionResult(fp.partition, ErrorCode.NOT_LEADER_OR_FOLLOWER), currentLeader: { leaderId: state.leader, leaderEpoch: state.leaderEpoch } });
        continue;
      }
      const log = replica ? broker.logs.get(topic!.name, fp.partition) : undefined;
      if (!topic || !assignment || !log || !replica) {
        errors = true;
        const offline = topic && assignment && broker.logs.offlineReason(topic.name, fp.partition) !== null;
        partitions.push(partitionResult(fp.partition, offline ? ErrorCode.KAFKA_STORAGE_ERROR : byId && !topic ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION));
        continue;
      }
      if (fp.currentLeaderEpoch >= 0 && fp.currentLeaderEpoch !== replica.leaderEpoch) {
        errors = true;
        const code = fp.currentLeaderEpoch > replica.leaderEpoch ? ErrorCode.UNKNOWN_LEADER_EPOCH : ErrorCode.FENCED_LEADER_EPOCH;
        partitions.push({ ...partitionResult(fp.partition, code, log), currentLeader: { leaderId: broker.nodeId, leaderEpoch: replica.leaderEpoch } });
        continue;
      }
      if (follower >= 0 && first) broker.replicas.onFollowerFetch(replica, follower, fp.fetchOffset, fp.logStartOffset);
      // An out-of-sync follower of a throttled replica gets no data while the leader quota is used up (the fetch waits as for no data).
      const throttled = follower >= 0 && broker.replicas.leaderThrottled(replica, follower);
      logs.push(log);
      if (throttled && broker.replicas.leaderQuota.exceeded()) {
        partitions.push(partitionResult(fp.partition, ErrorCode.NONE, log));
        continue;
      }
      // KIP-74: the first batch of the response is sent whole even past the limits.
      const limit = Math.min(fp.partitionMaxBytes, bytes === 0 ? Math.max(budget, 1) : budget);
      if (limit <= 0) {
        partitions.push(partitionResult(fp.partition, ErrorCode.NONE, log));
        continue;
      }
      const committedOnly = follower < 0 && req.isolationLevel === READ_COMMITTED;
      const read = log.read(fp.fetchOffset, limit, follower >= 0 ? log.logEndOffset : committedOnly ? log.lastStableOffset : log.highWatermark);
      if (read.outOfRange) {
        errors = true;
        if (follower >= 0) broker.logger.warn({ topic: topic.name, partition: fp.partition, follower, fetchOffset: fp.fetchOffset, logStartOffset: log.logStartOffset, logEndOffset: log.logEndOffset, leaderEpoch: replica.leaderEpoch }, 'follower fetch out of range');
        partitions.push(partitionResult(fp.partition, ErrorCode.OFFSET_OUT_OF_RANGE, log));
        continue;
      }
      const records = read.records ?? EMPTY;
      if (throttled) broker.replicas.leaderQuota.record(records.length);
      bytes += records.length;
      budget -= records.length;
      const result = partitionResult(fp.partition, ErrorCode.NONE, log, records);
      if (committedOnly && read.records) result.abortedTransactions = log.abortedTransactions(fp.fetchOffset, read.nextOffset);
      partitions.push(result);
    }
    responses.push({ topic: topic?.name ?? ft.topic, topicId: topic?.id ?? (byId ? ft.topicId : ZERO_UUID), partitions });
  }
  return { response: { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: 0, responses, nodeEndpoints: leaderEndpoints(broker, leaders, listener) }, bytes, errors, logs };
}

/**
 * Resolves when any of `logs` has more to read, or after `ms`: for consumers when the high
 * watermark moves (appendListeners; the last stable offset moves only with it), for followers
 * when the log grows (leoListeners).
 */
function waitForData(logs: PartitionLog[], ms: number, follower: boolean): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      for (const log of logs) (follower ? log.leoListeners : log.appendListeners).delete(done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    for (const log of logs) (follower ? log.leoListeners : log.appendListeners).add(done);
  });
}

/** `listener`: the one the request arrived on, whose endpoints redirected clients are given. */
export async function handleFetch(broker: BrokerContext, req: FetchRequest, apiVersion: number, listener: string): Promise<FetchResponse> {
  const byId = apiVersion >= 13;
  const follower = replicaIdOf(req, apiVersion);
  const deadline = Date.now() + Math.max(0, req.maxWaitMs);
  for (let first = true; ; first = false) {
    const result = gather(broker, req, byId, follower, first, listener);
    const remaining = deadline - Date.now();
    if (result.bytes >= req.minBytes || result.errors || remaining <= 0 || result.logs.length === 0) {
      if (follower < 0) broker.metrics.bytesOut(result.bytes);
      return result.response;
    }
    await waitForData(result.logs, remaining, follower >= 0);
  }
}
