// Settings of the consumer group protocol (KIP-848), with Kafka's names, defaults and bounds.
import type { BrokerConfig, ConfigDef } from '../config.js';
import { ConfigError } from '../config-error.js';

export const consumerGroupConfigDefs: readonly ConfigDef[] = [
  { name: 'group.consumer.session.timeout.ms', type: 'int', default: '45000', min: 1, doc: 'How long a consumer-protocol member may go without a heartbeat before it is removed from its group.' },
  { name: 'group.consumer.min.session.timeout.ms', type: 'int', default: '45000', min: 1, doc: 'Least group.consumer.session.timeout.ms may be.' },
  { name: 'group.consumer.max.session.timeout.ms', type: 'int', default: '60000', min: 1, doc: 'Most group.consumer.session.timeout.ms may be.' },
  { name: 'group.consumer.heartbeat.interval.ms', type: 'int', default: '5000', min: 1, doc: 'How often consumer-protocol members are told to heartbeat.' },
  { name: 'group.consumer.min.heartbeat.interval.ms', type: 'int', default: '5000', min: 1, doc: 'Least group.consumer.heartbeat.interval.ms may be.' },
  { name: 'group.consumer.max.heartbeat.interval.ms', type: 'int', default: '15000', min: 1, doc: 'Most group.consumer.heartbeat.interval.ms may be.' },
  {
    name: 'group.consumer.assignors',
    type: 'list',
    default: 'uniform,range',
    // The built-in assignors, by name or by Kafka's class name.
    values: ['uniform', 'range', 'org.apache.kafka.coordinator.group.assignor.UniformAssignor', 'org.apache.kafka.coordinator.group.assignor.RangeAssignor'],
    doc: 'The server-side assignors of consumer-protocol groups; the first is used when members ask for none.',
  },
  { name: 'group.consumer.max.size', type: 'int', default: '2147483647', min: 1, doc: 'Most members a consumer-protocol group may have.' },
  {
    name: 'group.consumer.migration.policy',
    type: 'string',
    default: 'bidirectional',
    values: ['bidirectional', 'upgrade', 'downgrade', 'disabled'],
    doc: 'Whether a classic group turns into a consumer group when a consumer-protocol member joins it (upgrade), and back when its last consumer-protocol member leaves (downgrade).',
  },
];

/**
 * The session timeout and heartbeat interval of consumer-protocol members, held to their bounds
 * as Kafka holds them at start-up: each within its min and max, the heartbeat below the session.
 */
export function consumerGroupTimeouts(config: BrokerConfig): { sessionTimeoutMs: number; heartbeatIntervalMs: number } {
  const value = (name: string) => ({ name, ms: config.int(name) });
  const session = value('group.consumer.session.timeout.ms');
  const minSession = value('group.consumer.min.session.timeout.ms');
  const maxSession = value('group.consumer.max.session.timeout.ms');
  const heartbeat = value('group.consumer.heartbeat.interval.ms');
  const minHeartbeat = value('group.consumer.min.heartbeat.interval.ms');
  const maxHeartbeat = value('group.consumer.max.heartbeat.interval.ms');
  const atLeast = (a: typeof session, b: typeof session) => {
    if (a.ms < b.ms) throw new ConfigError(`${a.name} must be greater than or equal to ${b.name} (${a.ms} < ${b.ms})`);
  };
  const atMost = (a: typeof session, b: typeof session) => {
    if (a.ms > b.ms) throw new ConfigError(`${a.name} must be less than or equal to ${b.name} (${a.ms} > ${b.ms})`);
  };
  atLeast(maxHeartbeat, minHeartbeat);
  atLeast(heartbeat, minHeartbeat);
  atMost(heartbeat, maxHeartbeat);
  atLeast(maxSession, minSession);
  atLeast(session, minSession);
  atMost(session, maxSession);
  if (heartbeat.ms >= session.ms) throw new ConfigError(`${heartbeat.name} must be less than ${session.name} (${heartbeat.ms} >= ${session.ms})`);
  return { sessionTimeoutMs: session.ms, heartbeatIntervalMs: heartbeat.ms };
}
