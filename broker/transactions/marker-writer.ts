// Writes one transaction marker at a partition this broker leads (for its own coordinator, or
// for another broker's through WriteTxnMarkers) and waits until the partition's ISR has it, as
// Kafka appends markers with acks=all. A marker in an offsets partition also ends the
// transaction's pending consumer offsets there (the group coordinator's completeTransaction).
import { type GroupCoordinator, OFFSETS_TOPIC } from '../groups/coordinator.js';
import type { TopicRegistry } from '../metadata/topic-registry.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import type { ReplicaManager } from '../replication/replica-manager.js';
import type { TxnMarker } from '../storage/partition-log.js';

export class TxnMarkerWriter {
  constructor(
    private readonly replicas: ReplicaManager,
    private readonly registry: TopicRegistry,
    private readonly groups: GroupCoordinator,
    private readonly timeoutMs: () => number,
  ) {}

  /** An error code: NONE once committed; NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION, or the log's refusal otherwise. */
  async write(marker: TxnMarker, topic: string, partition: number): Promise<number> {
    if (!this.registry.get(topic)?.partitions[partition]) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    const replica = this.replicas.replica(topic, partition);
    if (replica?.role !== 'leader') return ErrorCode.NOT_LEADER_OR_FOLLOWER;
    let next: number;
    try {
      next = replica.log.appendTxnMarker(marker, replica.leaderEpoch).lastOffset + 1;
    } catch (err) {
      if (!(err instanceof KafkaError)) throw err;
      return err.code;
    }
    const code = await this.replicas.waitForCommit(replica, next, this.timeoutMs());
    if (code === ErrorCode.NONE && topic === OFFSETS_TOPIC) this.groups.completeTransaction(marker.producerId, partition, marker.commit);
    return code;
  }
}
