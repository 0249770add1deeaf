// Replication throttles (KIP-73), as kafka-reassign-partitions.sh --throttle sets them: a broker
// rate per side (`leader.replication.throttled.rate`, `follower.replication.throttled.rate`,
// bytes/s) that applies only to the replicas a topic lists (`leader.replication.throttled.replicas`,
// `follower.replication.throttled.replicas`: "partition:broker,..." or "*"), and only while such a
// replica is out of the ISR: a catching-up replica is slowed, in-sync replication never is.
import { parseThrottledReplicas } from '../config.js';

/** Whether `setting` of a topic (its overrides) lists the replica of `partition` on `broker`. */
export function listsReplica(configs: Readonly<Record<string, string>>, setting: string, partition: number, broker: number): boolean {
  const value = configs[setting];
  if (!value) return false;
  try {
    const replicas = parseThrottledReplicas(value);
    return replicas === '*' || replicas.has(`${partition}:${broker}`);
  } catch {
    return false;
  }
}

/**
 * A token bucket filled at the configured rate, holding at most one second's worth. Bytes are
 * recorded after they were sent, so the bucket may go below zero; while it is empty the quota is
 * used up and throttled partitions get no data.
 */
export class ReplicationQuota {
  private tokens: number;
  private last: number;

  constructor(
    /** The rate in force, bytes/s (read at each use: it is a dynamic setting). */
    private readonly rate: () => number,
    now = Date.now(),
  ) {
    this.tokens = rate();
    this.last = now;
  }

  private refill(now: number): void {
    const rate = this.rate();
    const elapsed = Math.max(0, now - this.last) / 1000;
    this.last = now;
    this.tokens = Math.min(rate, this.tokens + elapsed * rate);
  }

  /** True while the quota is used up. */
  exceeded(now = Date.now()): boolean {
    this.refill(now);
    return this.tokens <= 0;
  }

  record(bytes: number, now = Date.now()): void {
    this.refill(now);
    this.tokens -= bytes;
  }
}
