// Records of consumer-protocol groups (KIP-848) in __consumer_offsets, in Kafka's layouts (keys
// by record type, values at version 0, flexible): the group epoch (type 3), a member's
// subscription (5), the target assignment's epoch (6) and each member's target (7), and a
// member's current assignment with its epoch (8). A null value is a tombstone.
import { Reader } from '../protocol/reader.js';
import { Writer } from '../protocol/writer.js';
import type { Assignment } from './assignors.js';

export const GROUP_METADATA = 3;
export const MEMBER_METADATA = 5;
export const TARGET_ASSIGNMENT_METADATA = 6;
export const TARGET_ASSIGNMENT_MEMBER = 7;
export const CURRENT_MEMBER_ASSIGNMENT = 8;
const VALUE_VERSION = 0;

/** A member's state in Kafka's byte values (MemberState). */
export const MEMBER_STATE_VALUES = { STABLE: 0, UNREVOKED_PARTITIONS: 1, UNRELEASED_PARTITIONS: 2 } as const;
export type MemberState = keyof typeof MEMBER_STATE_VALUES;

export type ConsumerGroupKey = { type: number; group: string; member: string | null };

/** What a member of the classic protocol in a consumer group joined with (KIP-848 online migration). */
export interface ClassicMemberMetadata {
  sessionTimeoutMs: number;
  supportedProtocols: Array<{ name: string; metadata: Buffer }>;
}

export interface MemberMetadata {
  instanceId: string | null;
  rackId: string | null;
  clientId: string;
  clientHost: string;
  subscribedTopicNames: string[];
  subscribedTopicRegex: string | null;
  rebalanceTimeoutMs: number;
  serverAssignor: string | null;
  /** Null for a member of the consumer protocol. */
  classic: ClassicMemberMetadata | null;
}

export interface CurrentAssignment {
  memberEpoch: number;
  previousMemberEpoch: number;
  state: MemberState;
  assigned: Assignment;
  pendingRevocation: Assignment;
}

/** Whether a key's version (its record type) is one of a consumer-protocol group. */
export function isConsumerGroupKey(key: Buffer): boolean {
  if (key.length < 2) return false;
  const type = key.readInt16BE(0);
  return type >= GROUP_METADATA && type <= CURRENT_MEMBER_ASSIGNMENT;
}

const WITH_MEMBER = new Set([MEMBER_METADATA, TARGET_ASSIGNMENT_MEMBER, CURRENT_MEMBER_ASSIGNMENT]);

export function consumerGroupKey(type: number, group: string, member: string | null = null): Buffer {
  const w = new Writer(64);
  w.int16(type);
  w.nullableString(group);
  if (WITH_MEMBER.has(type)) w.nullableString(member ?? '');
  return w.toBuffer();
}

/** The key of a record type 3-8 (type 4, the topic metadata Kafka 4.0 also writes, carries only the group). */
export function readConsumerGroupKey(key: Buffer): ConsumerGroupKey {
  const r = new Reader(key);
  const type = r.int16();
  const group = r.nullableString() ?? '';
  return { type, group, member: WITH_MEMBER.has(type) ? (r.nullableString() ?? '') : null };
}

function epochValue(epoch: number): Buffer {
  const w = new Writer(8);
  w.int16(VALUE_VERSION);
  w.int32(epoch);
  w.unsignedVarint(0);
  return w.toBuffer();
}

export const groupMetadataValue = epochValue;
export const targetAssignmentMetadataValue = epochValue;

export function readEpochValue(value: Buffer): number {
  const r = new Reader(value);
  r.int16();
  return r.int32();
}

export function memberMetadataValue(m: MemberMetadata): Buffer {
  const w = new Writer(128);
  w.int16(VALUE_VERSION);
  w.compactNullableString(m.instanceId);
  w.compactNullableString(m.rackId);
  w.compactNullableString(m.clientId);
  w.compactNullableString(m.clientHost);
  w.arrayLength(m.subscribedTopicNames.length, true);
  for (const t of m.subscribedTopicNames) w.compactNullableString(t);
  w.compactNullableString(m.subscribedTopicRegex);
  w.int32(m.rebalanceTimeoutMs);
  w.compactNullableString(m.serverAssignor);
  // Tag 0, ClassicMemberMetadata, is always written, as Kafka 4.0 writes it: Kafka's default for
  // an absent tag is an empty (non-null) struct, which would make the member a classic one. A
  // nullable struct starts with a marker: 0 null, 1 present.
  const c = new Writer(64);
  if (m.classic === null) {
    c.unsignedVarint(0);
  } else {
    c.unsignedVarint(1);
    c.int32(m.classic.sessionTimeoutMs);
    c.arrayLength(m.classic.supportedProtocols.length, true);
    for (const p of m.classic.supportedProtocols) {
      c.compactNullableString(p.name);
      c.compactNullableBytes(p.metadata);
      c.unsignedVarint(0);
    }
    c.unsignedVarint(0);
  }
  const tagged = c.toBuffer();
  w.unsignedVarint(1);
  w.unsignedVarint(CLASSIC_MEMBER_METADATA_TAG);
  w.unsignedVarint(tagged.length);
  w.raw(tagged);
  return w.toBuffer();
}

const CLASSIC_MEMBER_METADATA_TAG = 0;

function readClassicMemberMetadata(r: Reader): ClassicMemberMetadata | null {
  if (r.unsignedVarint() === 0) return null;
  const sessionTimeoutMs = r.int32();
  const n = r.arrayLength(true);
  const supportedProtocols: ClassicMemberMetadata['supportedProtocols'] = [];
  for (let i = 0; i < n; i++) {
    const name = r.compactNullableString() ?? '';
    const metadata = r.compactNullableBytes() ?? Buffer.alloc(0);
    r.skipTaggedFields();
    supportedProtocols.push({ name, metadata: Buffer.from(metadata) });
  }
  r.skipTaggedFields();
  return { sessionTimeoutMs, supportedProtocols };
}

export function readMemberMetadataValue(value: Buffer): MemberMetadata {
  const r = new Reader(value);
  r.int16();
  const instanceId = r.compactNullableString();
  const rackId = r.compactNullableString();
  const clientId = r.compactNullableString() ?? '';
  const clientHost = r.compactNullableString() ?? '';
  const n = r.arrayLength(true);
  const subscribedTopicNames: string[] = [];
  for (let i = 0; i < n; i++) subscribedTopicNames.push(r.compactNullableString() ?? '');
  const subscribedTopicRegex = r.compactNullableString();
  const rebalanceTimeoutMs = r.int32();
  const serverAssignor = r.compactNullableString();
  // Absent (records of Samsa before it served classic members): a member of the consumer protocol.
  let classic: ClassicMemberMetadata | null = null;
  const tags = r.unsignedVarint();
  for (let i = 0; i < tags; i++) {
    const tag = r.unsignedVarint();
    const end = r.taggedFieldEnd(r.unsignedVarint());
    if (tag === CLASSIC_MEMBER_METADATA_TAG) classic = readClassicMemberMetadata(new Reader(r.buf, r.pos, end));
    r.pos = end;
  }
  return { instanceId, rackId, clientId, clientHost, subscribedTopicNames, subscribedTopicRegex, rebalanceTimeoutMs, serverAssignor, classic };
}

function writeTopicPartitions(w: Writer, a: Assignment): void {
  w.arrayLength(a.size, true);
  for (const [topicId, partitions] of a) {
    w.uuid(topicId);
    w.arrayLength(partitions.length, true);
    for (const p of partitions) w.int32(p);
    w.unsignedVarint(0);
  }
}

function readTopicPartitions(r: Reader): Assignment {
  const out: Assignment = new Map();
  const n = r.arrayLength(true);
  for (let i = 0; i < n; i++) {
    const topicId = r.uuid();
    const count = r.arrayLength(true);
    const partitions: number[] = [];
    for (let k = 0; k < count; k++) partitions.push(r.int32());
    r.skipTaggedFields();
    out.set(topicId, partitions);
  }
  return out;
}

export function targetAssignmentMemberValue(a: Assignment): Buffer {
  const w = new Writer(64);
  w.int16(VALUE_VERSION);
  writeTopicPartitions(w, a);
  w.unsignedVarint(0);
  return w.toBuffer();
}

export function readTargetAssignmentMemberValue(value: Buffer): Assignment {
  const r = new Reader(value);
  r.int16();
  return readTopicPartitions(r);
}

export function currentAssignmentValue(c: CurrentAssignment): Buffer {
  const w = new Writer(64);
  w.int16(VALUE_VERSION);
  w.int32(c.memberEpoch);
  w.int32(c.previousMemberEpoch);
  w.int8(MEMBER_STATE_VALUES[c.state]);
  writeTopicPartitions(w, c.assigned);
  writeTopicPartitions(w, c.pendingRevocation);
  w.unsignedVarint(0);
  return w.toBuffer();
}

export function readCurrentAssignmentValue(value: Buffer): CurrentAssignment {
  const r = new Reader(value);
  r.int16();
  const memberEpoch = r.int32();
  const previousMemberEpoch = r.int32();
  const stateValue = r.int8();
  const state = (Object.keys(MEMBER_STATE_VALUES) as MemberState[]).find((s) => MEMBER_STATE_VALUES[s] === stateValue) ?? 'STABLE';
  const assigned = readTopicPartitions(r);
  const pendingRevocation = readTopicPartitions(r);
  return { memberEpoch, previousMemberEpoch, state, assigned, pendingRevocation };
}
