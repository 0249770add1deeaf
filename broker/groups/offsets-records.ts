// Records of the internal topic __consumer_offsets, in Kafka's own layouts, so that tools that
// read that topic understand them: offset commits (key v1, value v3) and group metadata
// (key v2, value v3). A null value is a tombstone: the offset or group was deleted.
import { Reader } from '../protocol/reader.js';
import { Writer } from '../protocol/writer.js';

const OFFSET_KEY_VERSION = 1;
const GROUP_KEY_VERSION = 2;
const OFFSET_VALUE_VERSION = 3;
const GROUP_VALUE_VERSION = 3;

export interface CommittedOffset {
  offset: number;
  leaderEpoch: number;
  metadata: string;
  commitTimestamp: number;
}

export interface StoredMember {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  subscription: Buffer;
  assignment: Buffer;
}

export interface StoredGroup {
  protocolType: string;
  generationId: number;
  protocolName: string | null;
  leaderId: string | null;
  stateTimestamp: number;
  members: StoredMember[];
}

export type OffsetsKey = { kind: 'offset'; group: string; topic: string; partition: number } | { kind: 'group'; group: string };

function str(w: Writer, s: string): void {
  w.nullableString(s);
}

function readStr(r: Reader): string {
  return r.nullableString() ?? '';
}

export function offsetKey(group: string, topic: string, partition: number): Buffer {
  const w = new Writer(64);
  w.int16(OFFSET_KEY_VERSION);
  str(w, group);
  str(w, topic);
  w.int32(partition);
  return w.toBuffer();
}

export function groupKey(group: string): Buffer {
  const w = new Writer(32);
  w.int16(GROUP_KEY_VERSION);
  str(w, group);
  return w.toBuffer();
}

export function readKey(key: Buffer): OffsetsKey | null {
  const r = new Reader(key);
  const version = r.int16();
  if (version === 0 || version === OFFSET_KEY_VERSION) return { kind: 'offset', group: readStr(r), topic: readStr(r), partition: r.int32() };
  if (version === GROUP_KEY_VERSION) return { kind: 'group', group: readStr(r) };
  return null;
}

export function offsetValue(v: CommittedOffset): Buffer {
  const w = new Writer(64);
  w.int16(OFFSET_VALUE_VERSION);
  w.int64(v.offset);
  w.int32(v.leaderEpoch);
  str(w, v.metadata);
  w.int64(v.commitTimestamp);
  return w.toBuffer();
}

export function readOffsetValue(value: Buffer): CommittedOffset {
  const r = new Reader(value);
  const version = r.int16();
  const offset = r.int64();
  const leaderEpoch = version >= 3 ? r.int32() : -1;
  const metadata = readStr(r);
  const commitTimestamp = r.int64();
  return { offset, leaderEpoch, metadata, commitTimestamp };
}

export function groupValue(g: StoredGroup): Buffer {
  const w = new Writer(256);
  w.int16(GROUP_VALUE_VERSION);
  str(w, g.protocolType);
  w.int32(g.generationId);
  w.nullableString(g.protocolName);
  w.nullableString(g.leaderId);
  w.int64(g.stateTimestamp);
  w.int32(g.members.length);
  for (const m of g.members) {
    str(w, m.memberId);
    w.nullableString(m.groupInstanceId);
    str(w, m.clientId);
    str(w, m.clientHost);
    w.int32(m.rebalanceTimeoutMs);
    w.int32(m.sessionTimeoutMs);
    w.nullableBytes(m.subscription);
    w.nullableBytes(m.assignment);
  }
  return w.toBuffer();
}

export function readGroupValue(value: Buffer): StoredGroup {
  const r = new Reader(value);
  r.int16();
  const protocolType = readStr(r);
  const generationId = r.int32();
  const protocolName = r.nullableString();
  const leaderId = r.nullableString();
  const stateTimestamp = r.int64();
  const count = r.arrayLength(false);
  const members: StoredMember[] = [];
  for (let i = 0; i < count; i++) {
    members.push({
      memberId: readStr(r),
      groupInstanceId: r.nullableString(),
      clientId: readStr(r),
      clientHost: readStr(r),
      rebalanceTimeoutMs: r.int32(),
      sessionTimeoutMs: r.int32(),
      subscription: Buffer.from(r.nullableBytes() ?? Buffer.alloc(0)),
      assignment: Buffer.from(r.nullableBytes() ?? Buffer.alloc(0)),
    });
  }
  return { protocolType, generationId, protocolName, leaderId, stateTimestamp, members };
}

/** Java's String.hashCode, so a group lands on the partition Kafka would choose. */
export function partitionForGroup(group: string, partitions: number): number {
  let h = 0;
  for (let i = 0; i < group.length; i++) h = (Math.imul(31, h) + group.charCodeAt(i)) | 0;
  // Kafka's Utils.abs: Integer.MIN_VALUE maps to 0 rather than staying negative.
  return (h === -2147483648 ? 0 : Math.abs(h)) % partitions;
}
