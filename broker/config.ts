// Broker and topic settings, by Kafka's names. A broker setting such as log.retention.ms gives
// the default for a topic setting (retention.ms) that a topic may override at creation or later
// through AlterConfigs / IncrementalAlterConfigs. Settings marked dynamic can also be changed on
// a running broker (IncrementalAlterConfigs on the BROKER resource), for this broker or as the
// cluster-wide default; the rest are read-only and need a restart.
import { isIP } from 'node:net';
import { ConfigError } from './config-error.js';
import { listenerConfigDefs } from './security/listeners.js';
import { tlsConfigDefs } from './security/tls-config.js';
import { authorizerConfigDefs } from './security/authorizer-config.js';
import { saslConfigDefs } from './security/sasl/sasl-config.js';
import { quotaConfigDefs } from './security/quota-config.js';
import { transactionConfigDefs } from './transactions/config.js';
import { consumerGroupConfigDefs } from './groups/consumer-config.js';

export type ConfigType = 'short' | 'int' | 'long' | 'double' | 'boolean' | 'string' | 'list';

export interface ConfigDef {
  name: string;
  type: ConfigType;
  default: string;
  doc: string;
  /** Accepted values (for a list, of each item); for a number, in its plain decimal form. */
  values?: readonly string[];
  min?: number;
  max?: number;
  /** The topic setting whose default this broker setting provides. */
  topic?: string;
  /** Further checks of a string or list setting's form; throws ConfigError. */
  check?: (value: string) => void;
  /**
   * Changeable at runtime, per broker or as the cluster-wide default (Kafka's "cluster-wide"
   * update mode). Absent: read-only, set at start.
   */
  dynamic?: 'cluster-wide';
  /** A secret (Kafka's PASSWORD type): DescribeConfigs gives no value, only isSensitive. */
  sensitive?: true;
  /**
   * Kafka gives this broker setting no default of its own (a coarser synonym or another setting
   * stands in, e.g. log.retention.hours for log.retention.ms): DescribeConfigs shows no value and
   * no default synonym until it is set, as Kafka does; `default` is the value in force meanwhile.
   */
  unsetByDefault?: true;
  /**
   * For a topic setting whose broker-wide default Samsa does not offer as a setting: Kafka's name
   * for it (e.g. log.preallocate), shown as the default's synonym in DescribeConfigs.
   */
  brokerName?: string;
}

const HOUR = 3_600_000;
/** Kafka's Long.MAX_VALUE: the flush settings' "never". */
const NEVER = '9223372036854775807';

export const topicConfigDefs: readonly ConfigDef[] = [
  { name: 'cleanup.policy', type: 'list', default: 'delete', values: ['delete', 'compact'], doc: 'delete: old segments go by retention; compact: only the latest record per key is kept; both may be given.' },
  { name: 'delete.retention.ms', type: 'long', default: '86400000', min: 0, doc: 'How long tombstones stay readable on a compacted topic.' },
  { name: 'min.cleanable.dirty.ratio', type: 'double', default: '0.5', min: 0, max: 1, doc: 'Share of uncompacted bytes in sealed segments that starts a compaction.' },
  { name: 'compression.type', type: 'string', default: 'producer', values: ['producer'], doc: 'Batches are stored compressed as the producer sent them.' },
  { name: 'max.message.bytes', type: 'int', default: '1048588', min: 0, doc: 'Largest record batch the topic accepts.' },
  { name: 'unclean.leader.election.enable', type: 'boolean', default: 'false', doc: 'Elect a replica outside the ISR when no ISR member is alive (may lose acknowledged records).' },
  { name: 'message.timestamp.type', type: 'string', default: 'CreateTime', values: ['CreateTime', 'LogAppendTime'], doc: 'Keep the producer timestamp, or stamp the broker time on append.' },
  { name: 'min.insync.replicas', type: 'int', default: '1', min: 1, doc: 'Replicas that must hold a write before acks=all succeeds.' },
  { name: 'retention.bytes', type: 'long', default: '-1', min: -1, doc: 'Largest size of a partition before old segments are deleted; -1 for no limit.' },
  { name: 'retention.ms', type: 'long', default: String(168 * HOUR), min: -1, doc: 'Age after which segments are deleted; -1 for no limit.' },
  { name: 'segment.bytes', type: 'int', default: '1073741824', min: 100, doc: 'Size at which the active segment is rolled.' },
  { name: 'segment.ms', type: 'long', default: String(168 * HOUR), min: 1, doc: 'Age at which the active segment is rolled even if not full.' },
  { name: 'index.interval.bytes', type: 'int', default: '4096', min: 0, doc: 'Bytes between entries of the sparse offset index.' },
  // Storage: explicit fsync policy.
  { name: 'flush.messages', type: 'long', default: NEVER, min: 1, doc: 'fsync the log after this many records; 1 syncs every write before it is acknowledged. Default: never (the OS writes back).' },
  { name: 'flush.ms', type: 'long', default: NEVER, min: 0, doc: 'fsync the log when records have waited this long (checked every log.flush.scheduler.interval.ms). Default: never.' },
  // Replication throttles (KIP-73): which replicas the brokers' throttled rates apply to.
  { name: 'leader.replication.throttled.replicas', type: 'list', default: '', check: (v) => void parseThrottledReplicas(v), doc: 'Replicas ("partition:broker,..." or "*") whose leader-side replication to out-of-sync followers is held to the leader broker\'s leader.replication.throttled.rate.' },
  { name: 'follower.replication.throttled.replicas', type: 'list', default: '', check: (v) => void parseThrottledReplicas(v), doc: 'Replicas ("partition:broker,..." or "*") whose fetching while out of sync is held to the follower broker\'s follower.replication.throttled.rate.' },
  // The rest of Kafka 4.0's topic settings. Where Samsa behaves one way only, that value is the
  // one accepted (as compression.type accepts only producer), so DescribeConfigs tells the truth.
  { name: 'compression.gzip.level', type: 'int', default: '-1', min: -1, max: 9, brokerName: 'compression.gzip.level', doc: 'gzip level for batches the broker compresses; Samsa stores batches as the producer compressed them, so it is never used.' },
  { name: 'compression.lz4.level', type: 'int', default: '9', min: 1, max: 17, brokerName: 'compression.lz4.level', doc: 'lz4 level for batches the broker compresses; Samsa stores batches as the producer compressed them, so it is never used.' },
  { name: 'compression.zstd.level', type: 'int', default: '3', min: -131072, max: 22, brokerName: 'compression.zstd.level', doc: 'zstd level for batches the broker compresses; Samsa stores batches as the producer compressed them, so it is never used.' },
  { name: 'file.delete.delay.ms', type: 'long', default: '0', values: ['0'], brokerName: 'log.segment.delete.delay.ms', doc: 'Wait before a deleted segment\'s files are removed; Samsa removes them at once (0).' },
  { name: 'max.compaction.lag.ms', type: 'long', default: NEVER, values: [NEVER], brokerName: 'log.cleaner.max.compaction.lag.ms', doc: 'Longest a record may stay uncompacted; Samsa compacts by min.cleanable.dirty.ratio alone (no limit).' },
  { name: 'min.compaction.lag.ms', type: 'long', default: '0', values: ['0'], brokerName: 'log.cleaner.min.compaction.lag.ms', doc: 'Shortest time a record stays uncompacted; Samsa may compact any sealed segment (0).' },
  { name: 'message.timestamp.after.max.ms', type: 'long', default: NEVER, values: [NEVER], brokerName: 'log.message.timestamp.after.max.ms', doc: 'How far a record\'s CreateTime may be ahead of the broker\'s clock; Samsa accepts any (no limit).' },
  { name: 'message.timestamp.before.max.ms', type: 'long', default: NEVER, values: [NEVER], brokerName: 'log.message.timestamp.before.max.ms', doc: 'How far a record\'s CreateTime may be behind the broker\'s clock; Samsa accepts any (no limit).' },
  { name: 'preallocate', type: 'boolean', default: 'false', values: ['false'], brokerName: 'log.preallocate', doc: 'Preallocate a new segment\'s file; Samsa grows files as it writes (false).' },
  { name: 'segment.index.bytes', type: 'int', default: '10485760', values: ['10485760'], brokerName: 'log.index.size.max.bytes', doc: 'Largest offset or time index of a segment; Samsa\'s sparse indexes stay far below it at any segment.bytes.' },
  { name: 'segment.jitter.ms', type: 'long', default: '0', values: ['0'], doc: 'Random time taken off segment.ms per segment; Samsa rolls at segment.ms exactly (0).' },
  // Tiered storage (KIP-405): Samsa keeps every segment on local disk.
  { name: 'remote.storage.enable', type: 'boolean', default: 'false', values: ['false'], doc: 'Copy segments to remote storage; Samsa has none (false).' },
  { name: 'local.retention.ms', type: 'long', default: '-2', values: ['-2'], brokerName: 'log.local.retention.ms', doc: 'Local retention of a topic in remote storage; -2 is retention.ms, the only one without remote storage.' },
  { name: 'local.retention.bytes', type: 'long', default: '-2', values: ['-2'], brokerName: 'log.local.retention.bytes', doc: 'Local size limit of a topic in remote storage; -2 is retention.bytes, the only one without remote storage.' },
  { name: 'remote.log.copy.disable', type: 'boolean', default: 'false', values: ['false'], doc: 'Stop copying segments to remote storage; moot without remote storage (false).' },
  { name: 'remote.log.delete.on.disable', type: 'boolean', default: 'false', values: ['false'], doc: 'Delete remote segments when remote storage is turned off; moot without remote storage (false).' },
];

/** The replicas a throttled-replicas setting lists: every one ("*"), or "partition:broker" pairs. */
export type ThrottledReplicas = '*' | ReadonlySet<string>;

const parsedThrottles = new Map<string, ThrottledReplicas>();

/** Parses (and checks) a throttled-replicas value, as Kafka accepts it; "" lists none. */
export function parseThrottledReplicas(value: string): ThrottledReplicas {
  const known = parsedThrottles.get(value);
  if (known) return known;
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  let out: ThrottledReplicas;
  if (items.length === 1 && items[0] === '*') out = '*';
  else {
    for (const item of items) {
      if (!/^\d+:\d+$/.test(item)) throw new ConfigError(`throttled replicas must be "*" or a list of partition:broker pairs (e.g. 0:101,0:102,1:101), got "${item}"`);
    }
    out = new Set(items);
  }
  if (parsedThrottles.size > 1000) parsedThrottles.clear();
  parsedThrottles.set(value, out);
  return out;
}

// Client connections: limits checked at accept (KIP-402 names) and timeouts of the listener.
const connectionConfigDefs: readonly ConfigDef[] = [
  { name: 'connections.max.idle.ms', type: 'long', default: '600000', min: -1, doc: 'Close a connection with no request in progress and no bytes read or written for this long; -1 never.' },
  { name: 'socket.request.read.timeout.ms', type: 'long', default: '30000', min: -1, doc: 'Close a connection whose request has begun to arrive but is not complete after this long (a Samsa setting); -1 never.' },
  { name: 'max.connections', type: 'int', default: '2147483647', min: 0, doc: 'Most client connections the broker holds; a new one over it is closed at accept.' },
  { name: 'max.connections.per.ip', type: 'int', default: '2147483647', min: 0, doc: 'Most client connections from one IP address; a new one over it is closed at accept.' },
  { name: 'max.connections.per.ip.overrides', type: 'string', default: '', check: parseConnectionsPerIpOverrides, doc: 'Limits for given IP addresses in place of max.connections.per.ip, as ip:limit,ip:limit.' },
];

/** `max.connections.per.ip.overrides`: "ip:limit,ip:limit" (IPv6 too: the limit follows the last colon). */
export function parseConnectionsPerIpOverrides(value: string): Map<string, number> {
  const limits = new Map<string, number>();
  for (const item of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const at = item.lastIndexOf(':');
    const address = item.slice(0, at).trim();
    const limit = item.slice(at + 1).trim();
    if (at <= 0 || isIP(address) === 0 || !/^\d+$/.test(limit) || Number(limit) > 2147483647) {
      throw new ConfigError(`max.connections.per.ip.overrides takes ip:limit pairs separated by commas (IP addresses, not host names), got "${item}"`);
    }
    limits.set(address, Number(limit));
  }
  return limits;
}

export const brokerConfigDefs: readonly ConfigDef[] = [
  { name: 'node.id', type: 'int', default: '1', unsetByDefault: true, min: 0, doc: 'Id of this broker in the cluster.' },
  { name: 'num.partitions', type: 'int', default: '1', min: 1, doc: 'Partitions of an auto-created topic, or of one created without a count.' },
  { name: 'default.replication.factor', type: 'int', default: '1', min: 1, doc: 'Replication factor of topics created without one.' },
  { name: 'auto.create.topics.enable', type: 'boolean', default: 'true', doc: 'Create a topic when a client asks for metadata of or produces to an unknown one.' },
  { name: 'delete.topic.enable', type: 'boolean', default: 'true', doc: 'Allow DeleteTopics.' },
  { name: 'socket.request.max.bytes', type: 'int', default: '104857600', min: 1024, doc: 'Largest request frame; a larger one closes the connection.' },
  { name: 'log.retention.check.interval.ms', type: 'long', default: '300000', min: 1, doc: 'How often retention runs.' },
  { name: 'message.max.bytes', type: 'int', default: '1048588', min: 0, topic: 'max.message.bytes', dynamic: 'cluster-wide', doc: 'Default for max.message.bytes.' },
  { name: 'log.segment.bytes', type: 'int', default: '1073741824', min: 100, topic: 'segment.bytes', dynamic: 'cluster-wide', doc: 'Default for segment.bytes.' },
  { name: 'log.roll.ms', type: 'long', unsetByDefault: true, default: String(168 * HOUR), min: 1, topic: 'segment.ms', dynamic: 'cluster-wide', doc: 'Default for segment.ms.' },
  { name: 'log.roll.hours', type: 'int', default: '168', min: 1, doc: 'log.roll.ms in hours, used when log.roll.ms is not set.' },
  { name: 'log.retention.ms', type: 'long', unsetByDefault: true, default: String(168 * HOUR), min: -1, topic: 'retention.ms', dynamic: 'cluster-wide', doc: 'Default for retention.ms.' },
  { name: 'log.retention.minutes', type: 'int', unsetByDefault: true, default: String(168 * 60), min: -1, doc: 'log.retention.ms in minutes, used when log.retention.ms is not set.' },
  { name: 'log.retention.hours', type: 'int', default: '168', min: -1, doc: 'log.retention.ms in hours, used when neither of the finer ones is set.' },
  { name: 'log.retention.bytes', type: 'long', default: '-1', min: -1, topic: 'retention.bytes', dynamic: 'cluster-wide', doc: 'Default for retention.bytes.' },
  { name: 'log.index.interval.bytes', type: 'int', default: '4096', min: 0, topic: 'index.interval.bytes', dynamic: 'cluster-wide', doc: 'Default for index.interval.bytes.' },
  { name: 'log.message.timestamp.type', type: 'string', default: 'CreateTime', values: ['CreateTime', 'LogAppendTime'], topic: 'message.timestamp.type', dynamic: 'cluster-wide', doc: 'Default for message.timestamp.type.' },
  { name: 'log.cleanup.policy', type: 'list', default: 'delete', values: ['delete', 'compact'], topic: 'cleanup.policy', dynamic: 'cluster-wide', doc: 'Default for cleanup.policy.' },
  { name: 'log.cleaner.delete.retention.ms', type: 'long', default: '86400000', min: 0, topic: 'delete.retention.ms', dynamic: 'cluster-wide', doc: 'Default for delete.retention.ms.' },
  { name: 'log.cleaner.min.cleanable.ratio', type: 'double', default: '0.5', min: 0, max: 1, topic: 'min.cleanable.dirty.ratio', dynamic: 'cluster-wide', doc: 'Default for min.cleanable.dirty.ratio.' },
  { name: 'log.cleaner.backoff.ms', type: 'long', default: '15000', min: 1, doc: 'How often the cleaner looks for compacted partitions to clean.' },
  { name: 'producer.id.expiration.ms', type: 'int', default: '86400000', min: 1, doc: 'How long a silent idempotent producer keeps its sequence state.' },
  { name: 'group.initial.rebalance.delay.ms', type: 'int', default: '3000', min: 0, doc: 'How long the first rebalance of an empty group waits for more members.' },
  { name: 'group.min.session.timeout.ms', type: 'int', default: '6000', min: 0, doc: 'Smallest session timeout a group member may ask for.' },
  { name: 'group.max.session.timeout.ms', type: 'int', default: '1800000', min: 0, doc: 'Largest session timeout a group member may ask for.' },
  { name: 'group.max.size', type: 'int', default: '2147483647', min: 1, doc: 'Most members a consumer group may have.' },
  { name: 'offsets.topic.num.partitions', type: 'int', default: '50', min: 1, doc: 'Partitions of __consumer_offsets, fixed when it is first created.' },
  { name: 'offsets.topic.segment.bytes', type: 'int', default: '104857600', min: 100, doc: 'segment.bytes of __consumer_offsets.' },
  { name: 'offsets.retention.ms', type: 'long', default: '604800000', min: 1, doc: 'How long committed offsets of an empty group are kept.' },
  { name: 'offset.metadata.max.bytes', type: 'int', default: '4096', min: 0, doc: 'Largest metadata string of a committed offset.' },
  { name: 'min.insync.replicas', type: 'int', default: '1', min: 1, topic: 'min.insync.replicas', dynamic: 'cluster-wide', doc: 'Default for the topic setting of the same name.' },
  { name: 'compression.type', type: 'string', default: 'producer', values: ['producer'], topic: 'compression.type', dynamic: 'cluster-wide', doc: 'Default for the topic setting of the same name.' },
  // Storage: fsync policy and partition limits.
  { name: 'log.flush.interval.messages', type: 'long', default: NEVER, min: 1, topic: 'flush.messages', doc: 'Default for flush.messages.' },
  { name: 'log.flush.interval.ms', type: 'long', unsetByDefault: true, default: NEVER, min: 0, topic: 'flush.ms', doc: 'Default for flush.ms; when not set, log.flush.scheduler.interval.ms.' },
  { name: 'log.flush.scheduler.interval.ms', type: 'long', default: NEVER, min: 1, doc: 'How often logs are checked for a flush.ms flush.' },
  { name: 'max.partitions', type: 'int', default: '2147483647', min: 1, doc: 'Most partitions the cluster may hold (KIP-578); CreateTopics and CreatePartitions past it are refused.' },
  { name: 'max.broker.partitions', type: 'int', default: '2147483647', min: 1, doc: 'Most partition replicas one broker may hold (KIP-578); also bounded by the open-file limit.' },
  // Cluster: membership, replication, leadership.
  { name: 'broker.rack', type: 'string', default: '', unsetByDefault: true, doc: 'Rack (or zone) of this broker: replicas of a partition are spread across racks.' },
  { name: 'broker.session.timeout.ms', type: 'int', default: '9000', min: 1000, doc: 'A broker whose registration is not renewed for this long is fenced: it leaves every ISR and leads nothing.' },
  { name: 'offsets.commit.timeout.ms', type: 'int', default: '5000', min: 1, doc: 'Longest wait of an offset commit for the offsets partition\'s ISR to have it.' },
  { name: 'offsets.topic.replication.factor', type: 'short', default: '3', min: 1, doc: 'Replication factor of __consumer_offsets (at most the live brokers when it is created).' },
  { name: 'replica.lag.time.max.ms', type: 'long', default: '30000', min: 1, doc: 'A follower that has not caught up to the leader for this long leaves the ISR.' },
  { name: 'replica.fetch.wait.max.ms', type: 'int', default: '500', min: 0, doc: 'Longest wait of a follower fetch for new records.' },
  { name: 'replica.fetch.max.bytes', type: 'int', default: '1048576', min: 0, doc: 'Bytes per partition a follower fetch asks for.' },
  { name: 'replica.fetch.response.max.bytes', type: 'int', default: '10485760', min: 0, doc: 'Bytes a follower fetch response may carry in all.' },
  { name: 'replica.fetch.backoff.ms', type: 'int', default: '1000', min: 0, doc: 'Wait before a follower fetches again after an error.' },
  { name: 'unclean.leader.election.enable', type: 'boolean', default: 'false', topic: 'unclean.leader.election.enable', dynamic: 'cluster-wide', doc: 'Default for the topic setting of the same name.' },
  { name: 'auto.leader.rebalance.enable', type: 'boolean', default: 'true', doc: 'The controller moves leadership back to preferred replicas when leadership is imbalanced.' },
  { name: 'leader.imbalance.check.interval.seconds', type: 'long', default: '300', min: 1, doc: 'How often the controller checks leadership balance.' },
  { name: 'leader.imbalance.per.broker.percentage', type: 'int', default: '10', min: 0, max: 100, doc: 'Share of a broker\'s preferred partitions led elsewhere that triggers preferred-leader elections.' },
  { name: 'leader.replication.throttled.rate', type: 'long', default: NEVER, min: 0, dynamic: 'cluster-wide', doc: 'Bytes/s this broker sends as leader to out-of-sync followers of the replicas a topic lists in leader.replication.throttled.replicas.' },
  { name: 'follower.replication.throttled.rate', type: 'long', default: NEVER, min: 0, dynamic: 'cluster-wide', doc: 'Bytes/s this broker fetches as an out-of-sync follower of the replicas a topic lists in follower.replication.throttled.replicas.' },
  { name: 'controlled.shutdown.enable', type: 'boolean', default: 'true', doc: 'On SIGTERM, move leaderships to other replicas before stopping.' },
  { name: 'controlled.shutdown.timeout.ms', type: 'long', default: '30000', min: 0, doc: 'Longest wait for leaderships to move away at shutdown.' },
  ...connectionConfigDefs,
  ...listenerConfigDefs,
  ...tlsConfigDefs,
  ...authorizerConfigDefs,
  ...saslConfigDefs,
  ...quotaConfigDefs,
  ...transactionConfigDefs,
  ...consumerGroupConfigDefs,
];

const topicDefs = new Map(topicConfigDefs.map((d) => [d.name, d]));
const brokerDefs = new Map(brokerConfigDefs.map((d) => [d.name, d]));

export { ConfigError };

/** Checks one value against its definition; returns it normalised or throws ConfigError. */
export function validateValue(def: ConfigDef, raw: string): string {
  const value = raw.trim();
  switch (def.type) {
    case 'short':
    case 'int':
    case 'long': {
      if (!/^-?\d+$/.test(value)) throw new ConfigError(`${def.name} must be a whole number, got "${raw}"`);
      const n = Number(value);
      if (def.type === 'int' && (n > 2147483647 || n < -2147483648)) throw new ConfigError(`${def.name} must fit in 32 bits, got ${value}`);
      if (def.type === 'short' && (n > 32767 || n < -32768)) throw new ConfigError(`${def.name} must fit in 16 bits, got ${value}`);
      if (def.min !== undefined && n < def.min) throw new ConfigError(`${def.name} must be at least ${def.min}, got ${value}`);
      if (def.max !== undefined && n > def.max) throw new ConfigError(`${def.name} must be at most ${def.max}, got ${value}`);
      // BigInt keeps a long such as Long.MAX exact.
      const whole = String(BigInt(value));
      if (def.values && !def.values.includes(whole)) throw new ConfigError(`${def.name} does not support ${whole} (supported: ${def.values.join(', ')})`);
      return whole;
    }
    case 'double': {
      const n = Number(value);
      if (value === '' || !Number.isFinite(n)) throw new ConfigError(`${def.name} must be a number, got "${raw}"`);
      if (def.min !== undefined && n < def.min) throw new ConfigError(`${def.name} must be at least ${def.min}, got ${value}`);
      if (def.max !== undefined && n > def.max) throw new ConfigError(`${def.name} must be at most ${def.max}, got ${value}`);
      return String(n);
    }
    case 'boolean':
      if (value !== 'true' && value !== 'false') throw new ConfigError(`${def.name} must be true or false, got "${raw}"`);
      if (def.values && !def.values.includes(value)) throw new ConfigError(`${def.name} does not support ${value} (supported: ${def.values.join(', ')})`);
      return value;
    case 'list': {
      const items = value.split(',').map((s) => s.trim()).filter(Boolean);
      // A list whose default is empty (the throttled replicas) may be empty again.
      if (items.length === 0 && def.default !== '') throw new ConfigError(`${def.name} needs at least one value`);
      for (const item of items) {
        if (def.values && !def.values.includes(item)) throw new ConfigError(`${def.name} does not support "${item}" (supported: ${def.values.join(', ')})`);
      }
      def.check?.(items.join(','));
      return items.join(',');
    }
    case 'string':
      if (def.values && !def.values.includes(value)) throw new ConfigError(`${def.name} does not support "${value}" (supported: ${def.values.join(', ')})`);
      def.check?.(value);
      return value;
  }
}

export function topicConfigDef(name: string): ConfigDef | undefined {
  return topicDefs.get(name);
}

/** Validates a topic's overrides; unknown names and bad values throw ConfigError. */
export function validateTopicConfigs(configs: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(configs)) {
    const def = topicDefs.get(name);
    if (!def) throw new ConfigError(`unknown topic config "${name}"`);
    out[name] = validateValue(def, value);
  }
  return out;
}

/** Where a broker setting's value comes from, highest precedence first. */
export type BrokerConfigSource = 'dynamic-broker' | 'dynamic-default' | 'static' | 'default';
/** A dynamic layer: this broker's own settings, or the cluster-wide default. */
export type DynamicLayer = 'broker' | 'default';

/**
 * Settings that say the same thing at different precision; the finest one set wins. Only the
 * millisecond ones are dynamic (as in Kafka), so a dynamic value always beats a static coarser one.
 */
const SYNONYMS: readonly (readonly string[])[] = [
  ['log.retention.ms', 'log.retention.minutes', 'log.retention.hours'],
  ['log.roll.ms', 'log.roll.hours'],
  // As in Kafka, flushes by time follow the scheduler interval when log.flush.interval.ms is not set.
  ['log.flush.interval.ms', 'log.flush.scheduler.interval.ms'],
];
/** The settings that say the same thing as `name` at other precisions, finest first (just `name` for most). */
export const synonymsOf = (name: string): readonly string[] => SYNONYMS.find((group) => group.includes(name)) ?? [name];
const SCALE: Record<string, number> = { 'log.retention.minutes': 60_000, 'log.retention.hours': HOUR, 'log.roll.hours': HOUR, 'log.flush.scheduler.interval.ms': 1 };

const LISTENER_PREFIX = 'listener.name.';
// Kafka's per-listener JAAS form also names the mechanism: listener.name.<l>.<mechanism>.sasl.jaas.config.
const LISTENER_SCOPED = /^listener\.name\.([^.]+)\.((?:(?:plain|scram-sha-256|scram-sha-512)\.(?=sasl\.jaas\.config$))?(?:ssl|sasl)\..+)$/;

/** The definition behind a per-listener setting (listener.name.<listener>.<ssl.* or sasl.* setting>), named as given. */
function listenerScopedDef(name: string): ConfigDef | undefined {
  const m = LISTENER_SCOPED.exec(name);
  const def = m && brokerDefs.get(m[2]!.replace(/^[a-z0-9-]+\.(?=sasl\.jaas\.config$)/, ''));
  if (!m || !def) return undefined;
  if (m[1] !== m[1]!.toLowerCase()) throw new ConfigError(`${name}: the listener name in listener.name.<listener>.${m[2]} is written in lower case (listener.name.${m[1]!.toLowerCase()}.${m[2]})`);
  return { ...def, name };
}

export function brokerConfigDef(name: string): ConfigDef | undefined {
  return brokerDefs.get(name);
}

/**
 * The broker's settings: the defaults, under what --config gave (static), under the dynamic
 * cluster-wide default, under this broker's dynamic settings.
 */
export class BrokerConfig {
  /** The static settings. */
  readonly explicit: ReadonlyMap<string, string>;
  private readonly layers: Record<DynamicLayer, ReadonlyMap<string, string>> = { broker: new Map(), default: new Map() };
  private effective = new Map<string, { value: string; source: BrokerConfigSource }>();

  constructor(settings: Record<string, string> = {}) {
    const explicit = new Map<string, string>();
    for (const [name, value] of Object.entries(settings)) {
      const def = brokerDefs.get(name) ?? listenerScopedDef(name);
      if (!def) throw new ConfigError(`unknown broker config "${name}" (see --help for the list)`);
      explicit.set(name, validateValue(def, value));
    }
    this.explicit = explicit;
    this.merge();
  }

  /** The settings of one dynamic layer. */
  dynamic(layer: DynamicLayer): ReadonlyMap<string, string> {
    return this.layers[layer];
  }

  /** Replaces one dynamic layer (values already validated and dynamic). */
  setDynamic(layer: DynamicLayer, settings: ReadonlyMap<string, string>): void {
    this.layers[layer] = new Map(settings);
    this.merge();
  }

  private merge(): void {
    const out = new Map<string, { value: string; source: BrokerConfigSource }>();
    const overlay = (layer: ReadonlyMap<string, string>, source: BrokerConfigSource) => {
      for (const [name, value] of layer) out.set(name, { value, source });
    };
    overlay(this.explicit, 'static');
    overlay(this.layers.default, 'dynamic-default');
    overlay(this.layers.broker, 'dynamic-broker');
    this.effective = out;
  }

  /** The value in force and the layer it comes from. */
  resolve(name: string): { value: string; source: BrokerConfigSource } {
    const def = brokerDefs.get(name);
    if (!def) throw new ConfigError(`unknown broker config "${name}"`);
    // The finest synonym that is set gives the millisecond value: log.retention.ms, then minutes, then hours.
    const group = synonymsOf(name);
    for (const synonym of group[0] === name ? group : [name]) {
      const set = this.effective.get(synonym);
      if (set) return synonym === name ? set : { value: String(Number(set.value) * SCALE[synonym]!), source: set.source };
    }
    return { value: def.default, source: 'default' };
  }

  get(name: string): string {
    return this.resolve(name).value;
  }

  /**
   * A setting as one listener sees it: Kafka's per-listener form
   * `listener.name.<listener in lower case>.<name>` when set, else `<name>` itself. Any ssl.* or
   * sasl.* setting may be given per listener (e.g. listener.name.internal.ssl.client.auth).
   */
  listenerValue(listener: string, name: string): string {
    return this.effective.get(`${LISTENER_PREFIX}${listener.toLowerCase()}.${name}`)?.value ?? this.get(name);
  }

  int(name: string): number {
    return Number(this.get(name));
  }

  bool(name: string): boolean {
    return this.get(name) === 'true';
  }

  /** The broker setting that provides a topic setting's default. */
  brokerSourceOf(topicConfig: string): ConfigDef | undefined {
    return brokerConfigDefs.find((d) => d.topic === topicConfig);
  }

  /** Value and origin of a topic setting, given the topic's overrides. */
  topicValue(name: string, overrides: Readonly<Record<string, string>>): { value: string; source: 'topic' | BrokerConfigSource } {
    const override = overrides[name];
    if (override !== undefined) return { value: override, source: 'topic' };
    const broker = this.brokerSourceOf(name);
    if (broker) {
      const resolved = this.resolve(broker.name);
      if (resolved.source !== 'default') return resolved;
    }
    return { value: topicDefs.get(name)!.default, source: 'default' };
  }
}

/** The settings a partition log runs with, resolved from topic overrides and broker defaults. */
export interface LogConfig {
  segmentBytes: number;
  segmentMs: number;
  retentionMs: number;
  retentionBytes: number;
  indexIntervalBytes: number;
  maxMessageBytes: number;
  logAppendTime: boolean;
  minInsyncReplicas: number;
  /** With no live ISR member, elect a replica outside it (unclean.leader.election.enable). */
  uncleanLeaderElection: boolean;
  /** cleanup.policy includes delete: retention applies. */
  delete: boolean;
  /** cleanup.policy includes compact: the cleaner keeps the latest record per key. */
  compact: boolean;
  deleteRetentionMs: number;
  minCleanableDirtyRatio: number;
  /** fsync after this many records (flush.messages). */
  flushMessages: number;
  /** fsync when records have waited this long (flush.ms). */
  flushMs: number;
}

export function resolveLogConfig(broker: BrokerConfig, overrides: Readonly<Record<string, string>>): LogConfig {
  const v = (name: string) => broker.topicValue(name, overrides).value;
  return {
    segmentBytes: Number(v('segment.bytes')),
    segmentMs: Number(v('segment.ms')),
    retentionMs: Number(v('retention.ms')),
    retentionBytes: Number(v('retention.bytes')),
    indexIntervalBytes: Number(v('index.interval.bytes')),
    maxMessageBytes: Number(v('max.message.bytes')),
    logAppendTime: v('message.timestamp.type') === 'LogAppendTime',
    minInsyncReplicas: Number(v('min.insync.replicas')),
    uncleanLeaderElection: v('unclean.leader.election.enable') === 'true',
    delete: v('cleanup.policy').split(',').includes('delete'),
    compact: v('cleanup.policy').split(',').includes('compact'),
    deleteRetentionMs: Number(v('delete.retention.ms')),
    minCleanableDirtyRatio: Number(v('min.cleanable.dirty.ratio')),
    flushMessages: Number(v('flush.messages')),
    flushMs: Number(v('flush.ms')),
  };
}
