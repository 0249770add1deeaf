// A follower's fetcher for the partitions one leader leads: one connection, one Fetch request at
// a time carrying every such partition, as a replica (replica id = this broker). Before it first
// fetches a partition under a leader epoch, it asks the leader where its own latest epoch ends
// (OffsetForLeaderEpoch) and truncates whatever it has past that (KIP-101/279): a diverged tail
// left by an old leader is cut, and never by the high watermark alone. Records are appended
// verbatim, with the leader's offsets and epochs; the follower's high watermark and log start
// follow the leader's. A throttled partition (replication-quota.ts) is left out of the request while the
// follower quota is used up.
import type { ConnectionOptions } from 'node:tls';
import { type SaslCredentials, authenticateSasl } from '../protocol/sasl-client.js';
import type { Logger } from 'pino';
import { ErrorCode } from '../protocol/errors.js';
import { KafkaConnection } from '../protocol/client.js';
import { fetchApi, listOffsetsApi, offsetForLeaderEpochApi } from '../protocol/messages/index.js';
import type { EpochEndOffset } from '../storage/leader-epoch-cache.js';
import type { PartitionLog } from '../storage/partition-log.js';
import type { ReplicationQuota } from './replication-quota.js';

/** Fetch v12: topic names, replica id in the request, leader epochs per partition. */
const FETCH_VERSION = 12;
const OFFSET_FOR_LEADER_EPOCH_VERSION = 4;

export interface FollowedPartition {
  topic: string;
  partition: number;
  leaderEpoch: number;
  log: PartitionLog;
  /** Set until the log was truncated against this leader epoch. */
  needsTruncation: boolean;
  /** A partition the leader refused (stale epoch, not leader yet) waits until this time. */
  retryAt: number;
  /** Set when a fetch was out of range past the leader's log end: its end is asked for before fetching again. */
  leaderEndUnknown?: boolean;
}

/** What deciding where a follower's log diverged from its leader's needs of that log. */
export interface FollowerLog {
  readonly logStartOffset: number;
  readonly logEndOffset: number;
  readonly highWatermark: number;
  readonly latestEpoch: number;
  endOffsetForEpoch(epoch: number): EpochEndOffset;
}

/**
 * Where a follower cuts its log, given the leader's OffsetForLeaderEpoch answer (`leaderEpoch`,
 * `endOffset`) for the follower's latest epoch: at the end of the last epoch both logs share.
 * `done` is false when the follower must ask again, about the latest epoch it has left.
 */
export function truncationOffset(log: FollowerLog, leaderEpoch: number, endOffset: number): { offset: number; done: boolean } {
  const end = log.logEndOffset;
  if (log.latestEpoch < 0) return { offset: end, done: true };
  // The leader has no answer for our epoch: nothing we hold past our high watermark is known to be committed.
  if (leaderEpoch < 0 || endOffset < 0) return { offset: Math.min(end, log.highWatermark), done: true };
  if (leaderEpoch >= log.latestEpoch) return { offset: Math.min(end, endOffset), done: true };
  // The leader's epoch is older than ours: our records of later epochs were never its.
  const own = log.endOffsetForEpoch(leaderEpoch);
  // We never had the leader's epoch: what we hold of our last epoch before it may differ from the
  // leader's records at those offsets. Cut to where that epoch ends and ask about it (as Kafka does).
  if (own.epoch !== leaderEpoch) return { offset: Math.min(end, own.endOffset), done: false };
  return { offset: Math.min(end, endOffset, own.endOffset), done: true };
}

export interface FetcherSettings {
  nodeId: number;
  maxWaitMs: number;
  maxBytes: number;
  responseMaxBytes: number;
  backoffMs: number;
  /** The follower replication throttle: throttled partitions are not fetched while its quota is used up. */
  throttle: { quota: ReplicationQuota; throttled: (topic: string, partition: number) => boolean };
}

export class ReplicaFetcher {
  readonly partitions = new Map<string, FollowedPartition>();
  private connection: KafkaConnection | null = null;
  private running = false;
  private stopped = false;
  private wake: (() => void) | null = null;

  constructor(
    readonly leaderId: number,
    /** The leader's inter-broker listener; `tls` when that listener is SSL. */
    private readonly endpoint: () => { host: string; port: number; tls?: ConnectionOptions; sasl?: SaslCredentials } | undefined,
    private readonly settings: FetcherSettings,
    private readonly logger: Logger,
  ) {}

  add(p: FollowedPartition): void {
    this.partitions.set(`${p.topic}\0${p.partition}`, p);
    this.wake?.();
    if (!this.running) void this.run();
  }

  remove(topic: string, partition: number): void {
    this.partitions.delete(`${topic}\0${partition}`);
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
    void this.connection?.close();
    this.connection = null;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (!this.stopped && this.partitions.size > 0) {
        try {
          const connection = await this.connect();
          await this.truncate(connection);
          await this.truncateToLeaderEnd(connection);
          if (!(await this.fetchOnce(connection))) await this.sleep(this.settings.backoffMs);
        } catch (err) {
          if (this.stopped) break;
          this.logger.warn({ leader: this.leaderId, err: (err as Error).message }, 'replica fetch failed; retrying');
          void this.connection?.close();
          this.connection = null;
          await this.sleep(this.settings.backoffMs);
        }
      }
    } finally {
      this.running = false;
    }
  }

  private async connect(): Promise<KafkaConnection> {
    if (this.connection) return this.connection;
    const endpoint = this.endpoint();
    if (!endpoint) throw new Error(`leader ${this.leaderId} is not registered, or has no inter-broker listener`);
    const connection = await KafkaConnection.open(endpoint.host, endpoint.port, `samsa-replica-fetcher-${this.settings.nodeId}`, { tls: endpoint.tls });
    if (endpoint.sasl) {
      try {
        await authenticateSasl(connection, endpoint.sasl);
      } catch (err) {
        await connection.close();
        throw err;
      }
    }
    void connection.closed.then(() => {
      if (this.connection === connection) this.connection = null;
    });
    this.connection = connection;
    return connection;
  }

  /** OffsetForLeaderEpoch for every partition that has not been truncated against this leader epoch yet. */
  private async truncate(connection: KafkaConnection): Promise<void> {
    const pending = [...this.partitions.values()].filter((p) => p.needsTruncation && p.retryAt <= Date.now());
    if (pending.length === 0) return;
    const byTopic = groupByTopic(pending);
    const res = await connection.send(offsetForLeaderEpochApi, OFFSET_FOR_LEADER_EPOCH_VERSION, {
      replicaId: this.settings.nodeId,
      topics: [...byTopic].map(([topic, ps]) => ({
        topic,
        partitions: ps.map((p) => ({ partition: p.partition, currentLeaderEpoch: p.leaderEpoch, leaderEpoch: p.log.latestEpoch })),
      })),
    });
    for (const t of res.topics) {
      for (const r of t.partitions) {
        const p = this.partitions.get(`${t.topic}\0${r.partition}`);
        if (!p || !p.needsTruncation) continue;
        if (r.errorCode !== ErrorCode.NONE) {
          p.retryAt = Date.now() + this.settings.backoffMs;
          continue;
        }
        const log = p.log;
        const target = truncationOffset(log, r.leaderEpoch, r.endOffset);
        if (target.offset < log.logEndOffset) {
          this.logger.info({ topic: p.topic, partition: p.partition, from: log.logEndOffset, to: target.offset, leader: this.leaderId, leaderEpoch: p.leaderEpoch }, 'follower truncated its diverged tail');
          log.truncateTo(target.offset);
        }
        p.needsTruncation = !target.done;
      }
    }
  }

  /**
   * A follower whose fetch offset is past the leader's log end holds records the leader never had
   * (only possible after an unclean election, or a leader that lost its tail): it truncates to the
   * leader's log end (ListOffsets LATEST as a replica), never further, as Kafka's fetcher does.
   */
  private async truncateToLeaderEnd(connection: KafkaConnection): Promise<void> {
    const pending = [...this.partitions.values()].filter((p) => p.leaderEndUnknown && !p.needsTruncation);
    if (pending.length === 0) return;
    const byTopic = groupByTopic(pending);
    const res = await connection.send(listOffsetsApi, 4, {
      replicaId: this.settings.nodeId,
      isolationLevel: 0,
      timeoutMs: 5000,
      topics: [...byTopic].map(([name, ps]) => ({ name, partitions: ps.map((p) => ({ partitionIndex: p.partition, currentLeaderEpoch: p.leaderEpoch, timestamp: -1, maxNumOffsets: 1 })) })),
    });
    for (const t of res.topics) {
      for (const r of t.partitions) {
        const p = this.partitions.get(`${t.name}\0${r.partitionIndex}`);
        if (!p || !p.leaderEndUnknown) continue;
        if (r.errorCode !== ErrorCode.NONE) {
          p.retryAt = Date.now() + this.settings.backoffMs;
          continue;
        }
        p.leaderEndUnknown = false;
        if (r.offset < p.log.logEndOffset) {
          this.logger.warn({ topic: p.topic, partition: p.partition, from: p.log.logEndOffset, to: r.offset, highWatermark: p.log.highWatermark, leader: this.leaderId, leaderEpoch: p.leaderEpoch }, "follower is past the leader's log end: truncating to it");
          p.log.truncateTo(r.offset);
        }
      }
    }
  }

  /** One Fetch round; false when nothing could be fetched (all partitions waiting). */
  private async fetchOnce(connection: KafkaConnection): Promise<boolean> {
    const now = Date.now();
    const { quota, throttled: isThrottled } = this.settings.throttle;
    const throttled = new Set<FollowedPartition>();
    let quotaUsedUp: boolean | undefined;
    const ready = [...this.partitions.values()].filter((p) => {
      if (p.needsTruncation || p.leaderEndUnknown || p.retryAt > now) return false;
      if (!isThrottled(p.topic, p.partition)) return true;
      quotaUsedUp ??= quota.exceeded(now);
      if (quotaUsedUp) return false;
      throttled.add(p);
      return true;
    });
    if (ready.length === 0) return false;
    const byTopic = groupByTopic(ready);
    const res = await connection.send(fetchApi, FETCH_VERSION, {
      clusterId: null,
      replicaId: this.settings.nodeId,
      replicaState: { replicaId: -1, replicaEpoch: -1 },
      maxWaitMs: this.settings.maxWaitMs,
      minBytes: 1,
      maxBytes: this.settings.responseMaxBytes,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [...byTopic].map(([topic, ps]) => ({
        topic,
        topicId: 'AAAAAAAAAAAAAAAAAAAAAA',
        partitions: ps.map((p) => ({
          partition: p.partition,
          currentLeaderEpoch: p.leaderEpoch,
          fetchOffset: p.log.logEndOffset,
          lastFetchedEpoch: -1,
          logStartOffset: p.log.logStartOffset,
          partitionMaxBytes: this.settings.maxBytes,
          replicaDirectoryId: 'AAAAAAAAAAAAAAAAAAAAAA',
        })),
      })),
      forgottenTopicsData: [],
      rackId: '',
    });
    if (res.errorCode !== ErrorCode.NONE) throw new Error(`fetch from leader ${this.leaderId} failed with error ${res.errorCode}`);
    for (const t of res.responses) {
      for (const r of t.partitions) {
        const key = `${t.topic}\0${r.partitionIndex}`;
        const p = this.partitions.get(key);
        // Removed or moved to another epoch while the request was out: its answer is stale.
        if (!p || !ready.includes(p)) continue;
        if (throttled.has(p) && r.records) quota.record(r.records.length);
        this.apply(p, r.errorCode, r.records, r.highWatermark, r.logStartOffset);
      }
    }
    return true;
  }

  private apply(p: FollowedPartition, errorCode: number, records: Buffer | null, highWatermark: number, leaderLogStart: number): void {
    const log = p.log;
    switch (errorCode) {
      case ErrorCode.NONE:
        if (records && records.length > 0) log.appendAsFollower(records);
        log.setHighWatermark(Math.min(highWatermark, log.logEndOffset));
        // Records the leader deleted (DeleteRecords, retention) go here too, as far as this log is committed.
        if (leaderLogStart > log.logStartOffset) log.advanceLogStart(Math.min(leaderLogStart, log.highWatermark));
        return;
      case ErrorCode.OFFSET_OUT_OF_RANGE:
        if (leaderLogStart > log.logEndOffset) {
          this.logger.warn({ topic: p.topic, partition: p.partition, from: log.logEndOffset, to: leaderLogStart }, "follower is behind the leader's log start: starting over there");
          log.truncateFullyAndStartAt(leaderLogStart);
        } else {
          // Past the leader's log end, which epoch truncation should have prevented: ask where it ends.
          p.leaderEndUnknown = true;
        }
        return;
      default:
        // Not (yet) the leader for this epoch, or a fenced epoch: wait for the new partition state.
        p.retryAt = Date.now() + this.settings.backoffMs;
    }
  }
}

/** Partitions by topic, as requests list them. */
function groupByTopic(partitions: FollowedPartition[]): Map<string, FollowedPartition[]> {
  const byTopic = new Map<string, FollowedPartition[]>();
  for (const p of partitions) {
    const list = byTopic.get(p.topic);
    if (list) list.push(p);
    else byTopic.set(p.topic, [p]);
  }
  return byTopic;
}
