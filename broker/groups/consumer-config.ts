// Settings of the consumer group protocol (KIP-848), with Kafka's names and defaults.
import type { ConfigDef } from '../config.js';

export const consumerGroupConfigDefs: readonly ConfigDef[] = [
  { name: 'group.consumer.session.timeout.ms', type: 'int', default: '45000', min: 1, doc: 'How long a consumer-protocol member may go without a heartbeat before it is removed from its group.' },
  { name: 'group.consumer.heartbeat.interval.ms', type: 'int', default: '5000', min: 1, doc: 'How often consumer-protocol members are told to heartbeat.' },
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
