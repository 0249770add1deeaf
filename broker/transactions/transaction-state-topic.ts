// The internal topic __transaction_state: created on first use (compacted, a fixed partition
// count), written by the leader of each partition (the coordinator of its transactional ids),
// each write answered only once the partition's ISR has it, and replayed by a new leader.
import type { Logger } from 'pino';
import type { BrokerConfig } from '../config.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { buildRecordBatch } from '../records/batch-builder.js';
import { validateClientBatches } from '../records/record-batch.js';
import type { LogManager } from '../storage/log-manager.js';
import type { PartitionLog } from '../storage/partition-log.js';
import type { TopicService } from '../topics.js';
import { createOnFirstUse, replayPartition } from '../internal-topics.js';
import {
  type StoredTransaction,
  TRANSACTION_STATE_TOPIC,
  partitionForTransactionalId,
  readTransactionKey,
  readTransactionValue,
  transactionKey,
  transactionValue,
} from './transaction-log-records.js';

export interface TxnLogLeader {
  log: PartitionLog;
  leaderEpoch: number;
  /** Resolves with NONE once `offset` is committed, else the error (replicas.waitForCommit). */
  committed: (offset: number) => Promise<number>;
}

/** What the coordinator needs of its log (a fake in unit tests). */
export interface TransactionLog {
  /** Creates the topic on first use. */
  ensure(): Promise<void>;
  /** The partition holding an id; undefined before the topic exists. */
  partitionFor(transactionalId: string): number | undefined;
  /** This broker's leader epoch of a partition, undefined when it does not lead it. */
  leaderEpoch(partition: number): number | undefined;
  /** Writes an id's state (null: a tombstone) and waits for the ISR; the coordinator's error code. */
  write(partition: number, transactionalId: string, value: StoredTransaction | null): Promise<number>;
  /** Each id's last state in the partition (tombstoned ids left out). */
  replay(partition: number): Map<string, StoredTransaction>;
}

/** How a failed write of the transaction log is answered (as Kafka's coordinator maps them). */
function coordinatorError(code: number): number {
  switch (code) {
    case ErrorCode.NONE:
      return ErrorCode.NONE;
    case ErrorCode.NOT_LEADER_OR_FOLLOWER:
    case ErrorCode.KAFKA_STORAGE_ERROR:
      return ErrorCode.NOT_COORDINATOR;
    case ErrorCode.MESSAGE_TOO_LARGE:
    case ErrorCode.RECORD_LIST_TOO_LARGE:
      return ErrorCode.UNKNOWN_SERVER_ERROR;
    default:
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
  }
}

export class TransactionStateTopic implements TransactionLog {
  /** Creates __transaction_state on first use. */
  readonly ensure: () => Promise<void>;

  constructor(
    private readonly config: BrokerConfig,
    private readonly topics: TopicService,
    private readonly logs: LogManager,
    private readonly logger: Logger,
    /** How many brokers are live now: replicas and min ISR are capped by it. */
    private readonly liveBrokers: () => number,
    private readonly leaderOf: (partition: number) => TxnLogLeader | undefined,
    /** Called for each record that replay cannot read and skips. */
    private readonly onSkippedRecord: () => void = () => {},
  ) {
    this.ensure = createOnFirstUse(
      topics,
      TRANSACTION_STATE_TOPIC,
      () => {
        const replicas = Math.min(this.config.int('transaction.state.log.replication.factor'), Math.max(1, this.liveBrokers()));
        return {
          numPartitions: this.config.int('transaction.state.log.num.partitions'),
          replicationFactor: replicas,
          configs: {
            'cleanup.policy': 'compact',
            'segment.bytes': this.config.get('transaction.state.log.segment.bytes'),
            // Never above the replicas there are: a single broker keeps working.
            'min.insync.replicas': String(Math.min(this.config.int('transaction.state.log.min.isr'), replicas)),
          },
        };
      },
      ({ replicationFactor }) => this.logger.info({ topic: TRANSACTION_STATE_TOPIC, replicas: replicationFactor }, 'created the transaction state topic'),
    );
  }

  partitionCount(): number | undefined {
    return this.topics.registry.get(TRANSACTION_STATE_TOPIC)?.partitions.length;
  }

  partitionFor(transactionalId: string): number | undefined {
    const n = this.partitionCount();
    return n === undefined ? undefined : partitionForTransactionalId(transactionalId, n);
  }

  private leader(partition: number): TxnLogLeader | undefined {
    const leader = this.leaderOf(partition);
    // The replica's log is the one open here (not one being replaced or deleted).
    return leader && this.logs.get(TRANSACTION_STATE_TOPIC, partition) === leader.log ? leader : undefined;
  }

  leaderEpoch(partition: number): number | undefined {
    return this.leader(partition)?.leaderEpoch;
  }

  async write(partition: number, transactionalId: string, value: StoredTransaction | null): Promise<number> {
    const leader = this.leader(partition);
    if (!leader) return ErrorCode.NOT_COORDINATOR;
    try {
      const batch = buildRecordBatch([{ key: transactionKey(transactionalId), value: value && transactionValue(value) }]);
      const result = leader.log.append(batch, validateClientBatches(batch, { maxMessageBytes: Math.max(leader.log.config.maxMessageBytes, batch.length) }), leader.leaderEpoch);
      return coordinatorError(await leader.committed(result.lastOffset + 1));
    } catch (err) {
      if (!(err instanceof KafkaError)) throw err;
      this.logger.error({ err, partition, transactionalId }, 'cannot write the transaction state log');
      return coordinatorError(err.code);
    }
  }

  /**
   * The leader's whole log (records past the high watermark are this leader's and become committed
   * under it). A record that cannot be read is logged, counted and skipped, as Kafka's loader does.
   */
  replay(partition: number): Map<string, StoredTransaction> {
    const out = new Map<string, StoredTransaction>();
    const log = this.leader(partition)?.log;
    if (!log) return out;
    const skip = (details: Record<string, unknown>, reason: string) => {
      this.onSkippedRecord();
      this.logger.warn({ topic: TRANSACTION_STATE_TOPIC, partition, ...details }, `skipped an unreadable transaction state record: ${reason}`);
    };
    replayPartition(log, {
      record: (r) => {
        const id = r.key && readTransactionKey(r.key);
        if (id === null || id === undefined) skip({ offset: r.offset }, 'no key, or an unknown key version');
        else if (r.value === null) out.delete(id);
        else out.set(id, readTransactionValue(r.value));
      },
      unreadable: skip,
    });
    return out;
  }
}
