// The consumer's embedded protocol inside classic JoinGroup/SyncGroup (ConsumerProtocol): a
// member's subscription (its topics and the partitions it still owns) and the assignment it is
// handed. The coordinator reads and writes it only for classic members of consumer groups
// (KIP-848 online migration); otherwise it stays opaque bytes between clients.
import { consumerProtocolAssignmentVersions, readConsumerProtocolAssignment, writeConsumerProtocolAssignment } from '../protocol/messages/consumer-protocol-assignment.js';
import { consumerProtocolSubscriptionVersions, readConsumerProtocolSubscription } from '../protocol/messages/consumer-protocol-subscription.js';
import { Reader } from '../protocol/reader.js';
import { Writer } from '../protocol/writer.js';

export interface TopicPartitions {
  topic: string;
  partitions: number[];
}

export interface EmbeddedSubscription {
  topics: string[];
  ownedPartitions: TopicPartitions[];
  rackId: string | null;
}

/** Throws (a ProtocolError or a RangeError) when the bytes are no ConsumerProtocol subscription. */
export function decodeSubscription(metadata: Buffer): EmbeddedSubscription {
  const r = new Reader(metadata);
  // A newer version than we know starts with the fields we know (Kafka reads it the same way).
  const version = Math.min(r.int16(), consumerProtocolSubscriptionVersions.max);
  const s = readConsumerProtocolSubscription(r, version);
  return { topics: s.topics, ownedPartitions: s.ownedPartitions, rackId: s.rackId };
}

/** An empty buffer is no assignment (a member that has not synced yet). */
export function decodeAssignment(assignment: Buffer): TopicPartitions[] {
  if (assignment.length === 0) return [];
  const r = new Reader(assignment);
  const version = Math.min(r.int16(), consumerProtocolAssignmentVersions.max);
  return readConsumerProtocolAssignment(r, version).assignedPartitions;
}

export function encodeAssignment(partitions: TopicPartitions[]): Buffer {
  const w = new Writer(64);
  const version = consumerProtocolAssignmentVersions.max;
  w.int16(version);
  writeConsumerProtocolAssignment(w, { assignedPartitions: partitions, userData: null }, version);
  return w.toBuffer();
}
