// The transaction coordinator's settings, with Kafka's names and defaults.
import type { ConfigDef } from '../config.js';

export const transactionConfigDefs: readonly ConfigDef[] = [
  { name: 'transaction.state.log.num.partitions', type: 'int', default: '50', min: 1, doc: 'Partitions of __transaction_state, fixed when it is first created.' },
  { name: 'transaction.state.log.replication.factor', type: 'short', default: '3', min: 1, doc: 'Replication factor of __transaction_state (at most the live brokers when it is created).' },
  { name: 'transaction.state.log.min.isr', type: 'int', default: '2', min: 1, doc: 'min.insync.replicas of __transaction_state (at most its replication factor).' },
  { name: 'transaction.state.log.segment.bytes', type: 'int', default: '104857600', min: 100, doc: 'segment.bytes of __transaction_state.' },
  { name: 'transaction.max.timeout.ms', type: 'int', default: '900000', min: 1, doc: 'Largest transaction.timeout.ms a producer may ask for (InitProducerId answers INVALID_TRANSACTION_TIMEOUT above it).' },
  { name: 'transaction.abort.timed.out.transaction.cleanup.interval.ms', type: 'int', default: '10000', min: 1, doc: 'How often open transactions past their timeout are looked for and aborted.' },
  { name: 'transactional.id.expiration.ms', type: 'int', default: '604800000', min: 1, doc: 'A transactional id without a transaction for this long is removed.' },
  { name: 'transaction.remove.expired.transaction.cleanup.interval.ms', type: 'int', default: '3600000', min: 1, doc: 'How often expired transactional ids are looked for and removed.' },
  { name: 'request.timeout.ms', type: 'int', default: '30000', min: 0, doc: 'Longest wait of the transaction coordinator for the ISR of __transaction_state and of a transaction marker for its partition\'s ISR.' },
];
