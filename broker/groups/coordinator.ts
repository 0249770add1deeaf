// The group coordinator (classic protocol): JoinGroup/SyncGroup/Heartbeat/LeaveGroup drive each
// group through Empty -> PreparingRebalance -> CompletingRebalance -> Stable; committed offsets
// and group metadata are records in the compacted topic __consumer_offsets, from which the
// coordinator rebuilds its state when the broker starts. Offsets committed in a transaction
// (TxnOffsetCommit) are written as the producer's transactional batch and stay pending until the
// transaction's marker lands in the offsets partition (KIP-98).
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { BrokerConfig } from '../config.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { buildRecordBatch, type RecordToWrite } from '../records/batch-builder.js';
import { readControlMarker, validateClientBatches } from '../records/record-batch.js';
import type { PartitionLog } from '../storage/partition-log.js';
import type { LogManager } from '../storage/log-manager.js';
import type { TopicService } from '../topics.js';
import { createOnFirstUse, replayPartition } from '../internal-topics.js';
import { Group, joinError, type JoinResult, type Member, syncError, type SyncResult } from './group.js';
import { ConsumerGroupCoordinator, type ConsumerHeartbeat, type ConsumerHeartbeatResult, heartbeatError } from './consumer-coordinator.js';
import { isConsumerGroupKey, readConsumerGroupKey } from './consumer-group-records.js';
import type { ConsumerGroup, ConsumerMember } from './consumer-group.js';
import { encodeAssignment } from './embedded-consumer-protocol.js';
import {
  type CommittedOffset,
  groupKey,
  groupValue,
  offsetKey,
  offsetValue,
  partitionForGroup,
  readGroupValue,
  readKey,
  readOffsetValue,
} from './offsets-records.js';

export const OFFSETS_TOPIC = '__consumer_offsets';

export interface JoinRequest {
  groupId: string;
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: Array<{ name: string; metadata: Buffer }>;
  /** JoinGroup v4+: a new member first gets its id back with MEMBER_ID_REQUIRED (KIP-394). */
  requireKnownMemberId: boolean;
}

export interface OffsetToCommit {
  topic: string;
  partition: number;
  offset: number;
  leaderEpoch: number;
  metadata: string | null;
}

/** TxnOffsetCommit: offsets committed in the producer's transaction. */
export interface TxnOffsetCommit {
  groupId: string;
  producerId: number;
  producerEpoch: number;
  /** -1 and '' (and null) when the client does not send them (before v3): not checked then. */
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  offsets: OffsetToCommit[];
}

/** A committed (or pending) offset of one partition, and where its record is in the offsets log. */
interface StoredOffset extends CommittedOffset {
  topic: string;
  partition: number;
  /** Of two commits of a partition, the one with the later record wins (a transaction's commit marker may come after a newer plain commit). */
  recordOffset: number;
}

export class GroupCoordinator {
  private readonly groups = new Map<string, Group>();
  /** group -> "topic\0partition" -> committed offset */
  private readonly offsets = new Map<string, Map<string, StoredOffset>>();
  /** producer id -> group -> "topic\0partition" -> offset committed in the producer's open transaction */
  private readonly pendingTxnOffsets = new Map<number, Map<string, Map<string, StoredOffset>>>();
  private readonly initialDelayMs: number;
  /** Creates __consumer_offsets on first use, compacted, with a partition count fixed from then on. */
  readonly ensureOffsetsTopic: () => Promise<void>;
  /** The groups of the consumer protocol (KIP-848); a group id is one kind or the other. */
  readonly consumer: ConsumerGroupCoordinator;

  constructor(
    private readonly config: BrokerConfig,
    private readonly topics: TopicService,
    private readonly logs: LogManager,
    private readonly logger: Logger,
    /** This broker's replica of an offsets-topic partition while it leads it (it is then the coordinator of its groups). */
    /** How many brokers are live now: the offsets topic gets at most that many replicas. */
    private readonly liveBrokers: () => number,
    private readonly offsetsLeader: (partition: number) => { log: PartitionLog; leaderEpoch: number; committed: (offset: number) => Promise<number> } | undefined,
    /** Called for each record of the offsets topic that start-up replay cannot read and skips. */
    private readonly onSkippedRecord: () => void = () => {},
  ) {
    this.initialDelayMs = config.int('group.initial.rebalance.delay.ms');
    this.consumer = new ConsumerGroupCoordinator(
      config,
      topics,
      logger,
      (groupId, records) => this.writeRecords(groupId, records),
      (group, leaving) => this.downgrade(group, leaving),
    );
    this.ensureOffsetsTopic = createOnFirstUse(
      topics,
      OFFSETS_TOPIC,
      () => ({
        numPartitions: this.config.int('offsets.topic.num.partitions'),
        // As many replicas as asked for, or as there are live brokers if fewer (a single node keeps working).
        replicationFactor: Math.max(1, Math.min(this.config.int('offsets.topic.replication.factor'), this.liveBrokers())),
        configs: { 'cleanup.policy': 'compact', 'segment.bytes': this.config.get('offsets.topic.segment.bytes') },
      }),
      () => this.logger.info({ topic: OFFSETS_TOPIC }, 'created the offsets topic'),
    );
  }

  // ---- persistence --------------------------------------------------------------------------

  /**
   * Appends to the group's offsets partition, as one batch of the producer's transaction when
   * `txn` is given; returns the offset of the first record and the offset after the records,
   * to wait for their replication.
   */
  private append(groupId: string, records: RecordToWrite[], txn?: { producerId: number; producerEpoch: number }): { committed: (offset: number) => Promise<number>; first: number; next: number } {
    const topic = this.topics.registry.get(OFFSETS_TOPIC);
    if (!topic) throw new KafkaError(ErrorCode.COORDINATOR_NOT_AVAILABLE, 'the offsets topic does not exist yet');
    const partition = partitionForGroup(groupId, topic.partitions.length);
    const leader = this.offsetsLeader(partition);
    if (!leader) throw new KafkaError(ErrorCode.NOT_COORDINATOR, `this broker does not lead offsets partition ${partition}`);
    if (this.logs.get(OFFSETS_TOPIC, partition) !== leader.log) throw new KafkaError(ErrorCode.COORDINATOR_NOT_AVAILABLE, `offsets partition ${partition} is not open`);
    const { log } = leader;
    // A transactional batch starts at sequence 0, as Kafka's coordinator writes it: the log checks only its epoch.
    const batch = txn ? buildRecordBatch(records, { ...txn, baseSequence: 0, transactional: true }) : buildRecordBatch(records);
    const batches = validateClientBatches(batch, { maxMessageBytes: Math.max(log.config.maxMessageBytes, batch.length) });
    const result = log.append(batch, batches, leader.leaderEpoch, Date.now(), txn ? 'coordinator' : 'client');
    return { committed: leader.committed, first: result.baseOffset, next: result.lastOffset + 1 };
  }

  /** Appends and waits for the offsets partition's ISR; resolves with the error code a group request answers. */
  private async writeRecords(groupId: string, records: RecordToWrite[]): Promise<number> {
    try {
      const { committed, next } = this.append(groupId, records);
      const replicated = await committed(next);
      if (replicated === ErrorCode.NONE) return ErrorCode.NONE;
      return replicated === ErrorCode.NOT_LEADER_OR_FOLLOWER ? ErrorCode.NOT_COORDINATOR : ErrorCode.COORDINATOR_NOT_AVAILABLE;
    } catch (err) {
      if (err instanceof KafkaError) return err.code;
      throw err;
    }
  }

  private persistGroup(group: Group): void {
    try {
      this.append(group.id, [{ key: groupKey(group.id), value: groupValue(group.toStored()) }]);
    } catch (err) {
      // Called from timers too: an offline offsets log (a failed disk) must not end the process.
      // The group goes on in memory and is written again at its next change.
      if (!(err instanceof KafkaError)) throw err;
      this.logger.error({ group: group.id, err }, 'cannot write group metadata to the offsets topic');
    }
  }

  /**
   * Whether this broker coordinates the group: it leads the group's offsets-topic partition.
   * Before the offsets topic exists no group has state anywhere, and any broker answers for it.
   */
  owns(groupId: string): boolean {
    const topic = this.topics.registry.get(OFFSETS_TOPIC);
    return topic === undefined || this.offsetsLeader(partitionForGroup(groupId, topic.partitions.length)) !== undefined;
  }

  /**
   * Takes up the groups of an offsets-topic partition this broker now leads, replaying the
   * partition's log (at start, and when leadership moves here). A record that cannot be read (an
   * unknown key version, a malformed key or value, a batch that does not decode) is logged,
   * counted and skipped, as Kafka's loader skips unknown records.
   */
  loadPartition(partition: number): void {
    const log = this.offsetsLeader(partition)?.log;
    if (!log) return;
    this.unloadPartition(partition);
    let records = 0;
    let skipped = 0;
    const skip = (details: Record<string, unknown>, reason: string) => {
      skipped++;
      this.onSkippedRecord();
      this.logger.warn({ topic: OFFSETS_TOPIC, partition, ...details }, `skipped an unreadable offsets-topic record: ${reason}`);
    };
    replayPartition(log, {
      // A transaction marker: the producer's pending offsets in this partition become committed or are dropped.
      controlBatch: (info, batch) => {
        const marker = readControlMarker(batch);
        if (marker) this.completeTransaction(info.producerId, partition, marker.commit);
        else skip({ offset: info.baseOffset }, 'the control batch is no transaction marker');
      },
      record: (r, info) => {
        records++;
        // Offsets of a transaction wait for its marker; those of a still open one stay pending (its coordinator sends the marker).
        if (r.key) this.applyRecord(r.key, r.value, r.offset, info.transactional ? info.producerId : null);
        else skip({ offset: r.offset }, 'it has no key');
      },
      unreadable: skip,
    });
    let groups = 0;
    for (const group of this.groupsOf(partition)) {
      groups++;
      for (const m of group.members.values()) this.scheduleSessionExpiry(group, m);
    }
    const consumerGroups = this.consumerGroupsOf(partition);
    this.consumer.resume(consumerGroups);
    groups += consumerGroups.length;
    if (records > 0 || skipped > 0) this.logger.info({ partition, groups, records, skipped }, 'loaded consumer groups and offsets');
  }

  /** Drops the groups of an offsets-topic partition now led elsewhere: their new coordinator has them. */
  unloadPartition(partition: number): void {
    for (const group of this.groupsOf(partition)) {
      this.stopTimers(group);
      this.groups.delete(group.id);
    }
    const topic = this.topics.registry.get(OFFSETS_TOPIC);
    if (!topic) return;
    const inPartition = (groupId: string) => partitionForGroup(groupId, topic.partitions.length) === partition;
    this.consumer.unload(inPartition);
    for (const groupId of [...this.offsets.keys()]) if (inPartition(groupId)) this.offsets.delete(groupId);
    for (const [producerId, byGroup] of this.pendingTxnOffsets) {
      for (const groupId of [...byGroup.keys()]) if (inPartition(groupId)) byGroup.delete(groupId);
      if (byGroup.size === 0) this.pendingTxnOffsets.delete(producerId);
    }
  }

  private groupsOf(partition: number): Group[] {
    const topic = this.topics.registry.get(OFFSETS_TOPIC);
    if (!topic) return [];
    return [...this.groups.values()].filter((g) => partitionForGroup(g.id, topic.partitions.length) === partition);
  }

  private consumerGroupsOf(partition: number): string[] {
    const topic = this.topics.registry.get(OFFSETS_TOPIC);
    if (!topic) return [];
    return [...this.consumer.groups.keys()].filter((id) => partitionForGroup(id, topic.partitions.length) === partition);
  }

  private stopTimers(group: Group): void {
    if (group.rebalanceTimer) clearTimeout(group.rebalanceTimer);
    for (const t of group.pendingMembers.values()) clearTimeout(t);
    for (const m of group.members.values()) if (m.sessionTimer) clearTimeout(m.sessionTimer);
  }

  /** Replays one record at `recordOffset`; `producerId` is set when it is part of that producer's transaction. */
  private applyRecord(key: Buffer, value: Buffer | null, recordOffset: number, producerId: number | null): void {
    if (isConsumerGroupKey(key)) {
      if (producerId !== null) throw new Error('consumer group records inside a transaction');
      // The group id is a consumer group from here on (Kafka writes a classic group's tombstone when it converts).
      this.groups.delete(readConsumerGroupKey(key).group);
      this.consumer.replay(key, value);
      return;
    }
    const k = readKey(key);
    if (!k) throw new Error(`unknown key version ${key.length >= 2 ? key.readInt16BE(0) : 'none'}`);
    if (k.kind === 'offset') {
      const id = `${k.topic}\0${k.partition}`;
      if (producerId !== null) {
        if (value === null) this.pendingTxnOffsets.get(producerId)?.get(k.group)?.delete(id);
        else this.pendingOf(producerId, k.group).set(id, { ...readOffsetValue(value), topic: k.topic, partition: k.partition, recordOffset });
      } else if (value === null) this.forgetOffset(k.group, id);
      else this.offsetsOf(k.group).set(id, { ...readOffsetValue(value), topic: k.topic, partition: k.partition, recordOffset });
      return;
    }
    if (producerId !== null) throw new Error('group metadata inside a transaction');
    if (value === null) {
      this.groups.delete(k.group);
      return;
    }
    const stored = readGroupValue(value);
    this.consumer.groups.delete(k.group);
    const group = new Group(k.group);
    group.generationId = stored.generationId;
    group.protocolType = stored.protocolType || null;
    group.protocolName = stored.protocolName;
    group.leaderId = stored.leaderId;
    for (const { subscription, ...member } of stored.members) {
      group.add({
        ...member,
        protocols: stored.protocolName ? [{ name: stored.protocolName, metadata: subscription }] : [],
        awaitingJoin: null,
        awaitingSync: null,
        sessionTimer: null,
      });
    }
    group.transition(group.members.size > 0 ? 'Stable' : 'Empty');
    this.groups.set(k.group, group);
  }

  private offsetsOf(groupId: string): Map<string, StoredOffset> {
    let map = this.offsets.get(groupId);
    if (!map) {
      map = new Map();
      this.offsets.set(groupId, map);
    }
    return map;
  }

  private pendingOf(producerId: number, groupId: string): Map<string, StoredOffset> {
    let byGroup = this.pendingTxnOffsets.get(producerId);
    if (!byGroup) {
      byGroup = new Map();
      this.pendingTxnOffsets.set(producerId, byGroup);
    }
    let map = byGroup.get(groupId);
    if (!map) {
      map = new Map();
      byGroup.set(groupId, map);
    }
    return map;
  }

  /** A tombstone of a partition's offset: the committed offset goes, and so do the pending ones of open transactions (as Kafka replays it). */
  private forgetOffset(groupId: string, id: string): void {
    this.offsets.get(groupId)?.delete(id);
    for (const byGroup of this.pendingTxnOffsets.values()) byGroup.get(groupId)?.delete(id);
  }

  // ---- membership ----------------------------------------------------------------------------

  private scheduleSessionExpiry(group: Group, member: Member): void {
    if (member.sessionTimer) clearTimeout(member.sessionTimer);
    member.sessionTimer = setTimeout(() => {
      member.sessionTimer = null;
      if (group.members.get(member.memberId) !== member) return;
      // A member parked in JoinGroup or SyncGroup cannot heartbeat: it is alive while it waits.
      if (member.awaitingJoin || member.awaitingSync) return this.scheduleSessionExpiry(group, member);
      this.logger.info({ group: group.id, member: member.memberId }, 'member session expired');
      this.removeMembers(group, [member.memberId], 'session timeout');
    }, member.sessionTimeoutMs);
    member.sessionTimer.unref();
  }

  async join(req: JoinRequest): Promise<JoinResult> {
    if (req.groupId === '') return joinError(ErrorCode.INVALID_GROUP_ID, req.memberId);
    const minSession = this.config.int('group.min.session.timeout.ms');
    const maxSession = this.config.int('group.max.session.timeout.ms');
    if (req.sessionTimeoutMs < minSession || req.sessionTimeoutMs > maxSession) return joinError(ErrorCode.INVALID_SESSION_TIMEOUT, req.memberId);
    await this.ensureOffsetsTopic();
    const consumerGroup = this.consumer.groups.get(req.groupId);
    if (consumerGroup) {
      // A classic member of a consumer group with members is served from the consumer group (KIP-848 online migration).
      if (consumerGroup.members.size > 0) return this.consumer.classicJoin(consumerGroup, req);
      this.append(req.groupId, this.consumer.deleteRecords(consumerGroup));
    }
    let group = this.groups.get(req.groupId);
    if (!group) {
      group = new Group(req.groupId);
      this.groups.set(req.groupId, group);
    }
    if (!group.supportsProtocols(req.protocolType, req.protocols)) return joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, req.memberId);

    if (req.memberId === '' || group.pendingMembers.has(req.memberId)) return this.joinNewMember(group, req);

    const member = group.members.get(req.memberId);
    if (req.groupInstanceId !== null && group.staticMembers.get(req.groupInstanceId) !== req.memberId) {
      return joinError(member ? ErrorCode.FENCED_INSTANCE_ID : ErrorCode.UNKNOWN_MEMBER_ID, req.memberId);
    }
    if (!member) return joinError(ErrorCode.UNKNOWN_MEMBER_ID, req.memberId);
    const changed = !sameProtocols(member.protocols, req.protocols);
    member.protocols = req.protocols;
    member.sessionTimeoutMs = req.sessionTimeoutMs;
    member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    this.scheduleSessionExpiry(group, member);
    if ((group.state === 'Stable' || group.state === 'CompletingRebalance') && !changed && (group.state === 'CompletingRebalance' || member.memberId !== group.leaderId)) {
      // Nothing changed: the member gets the current generation again (its response was lost).
      return this.joinResultFor(group, member);
    }
    return this.awaitRebalance(group, member, changed ? 'member changed its protocols' : 'leader rejoined');
  }

  private joinNewMember(group: Group, req: JoinRequest): Promise<JoinResult> | JoinResult {
    if (group.members.size >= this.config.int('group.max.size')) return joinError(ErrorCode.GROUP_MAX_SIZE_REACHED, req.memberId);
    const staticId = req.groupInstanceId !== null ? group.staticMembers.get(req.groupInstanceId) : undefined;
    if (req.memberId === '' && req.requireKnownMemberId && req.groupInstanceId === null) {
      // KIP-394: hand out an id first, so a client that retries a lost response cannot leave ghosts behind.
      const memberId = `${req.clientId}-${randomUUID()}`;
      const timer = setTimeout(() => {
        group.pendingMembers.delete(memberId);
        this.maybeCompleteJoin(group);
      }, req.sessionTimeoutMs);
      timer.unref();
      group.pendingMembers.set(memberId, timer);
      return joinError(ErrorCode.MEMBER_ID_REQUIRED, memberId);
    }
    const memberId = req.memberId !== '' ? req.memberId : `${req.groupInstanceId ?? req.clientId}-${randomUUID()}`;
    const pending = group.pendingMembers.get(memberId);
    if (pending) {
      clearTimeout(pending);
      group.pendingMembers.delete(memberId);
    }
    const member: Member = {
      memberId,
      groupInstanceId: req.groupInstanceId,
      clientId: req.clientId,
      clientHost: req.clientHost,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs,
      sessionTimeoutMs: req.sessionTimeoutMs,
      protocols: req.protocols,
      assignment: Buffer.alloc(0),
      awaitingJoin: null,
      awaitingSync: null,
      sessionTimer: null,
    };
    if (staticId !== undefined) {
      // A static member restarting: it takes its old place (and assignment) under a new id,
      // fencing the old one; a stable group with unchanged protocols does not rebalance.
      const old = group.members.get(staticId)!;
      const wasLeader = group.leaderId === staticId;
      const changed = !sameProtocols(old.protocols, req.protocols);
      member.assignment = old.assignment;
      old.awaitingJoin?.(joinError(ErrorCode.FENCED_INSTANCE_ID, staticId));
      old.awaitingSync?.(syncError(ErrorCode.FENCED_INSTANCE_ID));
      group.remove(staticId);
      group.add(member);
      if (wasLeader) group.leaderId = memberId;
      this.scheduleSessionExpiry(group, member);
      if (group.state === 'Stable' && !changed) {
        this.persistGroup(group);
        return this.joinResultFor(group, member);
      }
      return this.awaitRebalance(group, member, 'static member rejoined with new protocols');
    }
    if (group.members.size === 0) group.protocolType = req.protocolType;
    group.add(member);
    this.scheduleSessionExpiry(group, member);
    return this.awaitRebalance(group, member, `member ${memberId} joined`);
  }

  private joinResultFor(group: Group, member: Member): JoinResult {
    const leader = group.leaderId ?? '';
    return {
      errorCode: ErrorCode.NONE,
      generationId: group.generationId,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      leader,
      memberId: member.memberId,
      members: member.memberId === leader ? [...group.members.values()].map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: group.metadataOf(m) })) : [],
    };
  }

  private awaitRebalance(group: Group, member: Member, reason: string): Promise<JoinResult> {
    const result = new Promise<JoinResult>((resolve) => {
      member.awaitingJoin?.(joinError(ErrorCode.UNKNOWN_MEMBER_ID, member.memberId));
      member.awaitingJoin = resolve;
    });
    if (group.state !== 'PreparingRebalance') this.prepareRebalance(group, reason);
    else this.maybeCompleteJoin(group);
    return result;
  }

  private prepareRebalance(group: Group, reason: string): void {
    if (group.state === 'CompletingRebalance') {
      for (const m of group.members.values()) {
        m.awaitingSync?.(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
        m.awaitingSync = null;
      }
    }
    const wasEmpty = group.state === 'Empty';
    group.transition('PreparingRebalance');
    this.logger.info({ group: group.id, reason, generation: group.generationId }, 'preparing rebalance');
    if (group.rebalanceTimer) clearTimeout(group.rebalanceTimer);
    // An empty group waits group.initial.rebalance.delay.ms for more members before the first
    // generation; any other rebalance waits for every member to rejoin, up to the rebalance timeout.
    const delay = wasEmpty ? Math.min(this.initialDelayMs, group.maxRebalanceTimeoutMs()) : group.maxRebalanceTimeoutMs();
    group.initialDelayPending = wasEmpty && this.initialDelayMs > 0;
    group.rebalanceTimer = setTimeout(() => {
      group.rebalanceTimer = null;
      group.initialDelayPending = false;
      this.completeJoin(group);
    }, delay);
    group.rebalanceTimer.unref();
    if (!wasEmpty) this.maybeCompleteJoin(group);
  }

  private maybeCompleteJoin(group: Group): void {
    if (group.state !== 'PreparingRebalance' || !group.allJoined()) return;
    // The initial delay of a group leaving Empty runs its course so that more members can arrive.
    if (group.initialDelayPending && group.members.size > 0) return;
    if (group.rebalanceTimer) clearTimeout(group.rebalanceTimer);
    group.rebalanceTimer = null;
    this.completeJoin(group);
  }

  private completeJoin(group: Group): void {
    if (group.state !== 'PreparingRebalance') return;
    for (const m of [...group.members.values()]) {
      if (!m.awaitingJoin) {
        this.logger.info({ group: group.id, member: m.memberId }, 'member did not rejoin in time; removed');
        group.remove(m.memberId);
      }
    }
    group.generationId++;
    if (group.members.size === 0) {
      group.protocolName = null;
      group.transition('Empty');
      this.persistGroup(group);
      return;
    }
    group.protocolName = group.selectProtocol();
    if (group.leaderId === null || !group.members.has(group.leaderId)) group.leaderId = group.members.keys().next().value!;
    group.transition('CompletingRebalance');
    this.logger.info({ group: group.id, generation: group.generationId, members: group.members.size, protocol: group.protocolName }, 'rebalance: generation formed');
    for (const m of group.members.values()) {
      const resolve = m.awaitingJoin!;
      m.awaitingJoin = null;
      this.scheduleSessionExpiry(group, m);
      resolve(this.joinResultFor(group, m));
    }
  }

  private checkMember(group: Group | undefined, memberId: string, groupInstanceId: string | null): { group: Group; member: Member } | number {
    if (!group || group.state === 'Dead') return ErrorCode.UNKNOWN_MEMBER_ID;
    const member = group.members.get(memberId);
    if (groupInstanceId !== null) {
      const current = group.staticMembers.get(groupInstanceId);
      if (current !== undefined && current !== memberId) return ErrorCode.FENCED_INSTANCE_ID;
    }
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    return { group, member };
  }

  async sync(groupId: string, generationId: number, memberId: string, groupInstanceId: string | null, protocolType: string | null, protocolName: string | null, assignments: Array<{ memberId: string; assignment: Buffer }>): Promise<SyncResult> {
    const consumerGroup = this.consumer.groups.get(groupId);
    if (consumerGroup) return this.consumer.classicSync(consumerGroup, generationId, memberId, groupInstanceId, protocolType, protocolName);
    const found = this.checkMember(this.groups.get(groupId), memberId, groupInstanceId);
    if (typeof found === 'number') return syncError(found);
    const { group, member } = found;
    if (generationId !== group.generationId) return syncError(ErrorCode.ILLEGAL_GENERATION);
    if ((protocolType !== null && protocolType !== group.protocolType) || (protocolName !== null && protocolName !== group.protocolName)) {
      return syncError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    }
    this.scheduleSessionExpiry(group, member);
    switch (group.state) {
      case 'PreparingRebalance':
        return syncError(ErrorCode.REBALANCE_IN_PROGRESS);
      case 'Stable':
        return { errorCode: ErrorCode.NONE, protocolType: group.protocolType, protocolName: group.protocolName, assignment: member.assignment };
      case 'CompletingRebalance': {
        const result = new Promise<SyncResult>((resolve) => (member.awaitingSync = resolve));
        if (memberId === group.leaderId) {
          const byMember = new Map(assignments.map((a) => [a.memberId, a.assignment]));
          for (const m of group.members.values()) m.assignment = byMember.get(m.memberId) ?? Buffer.alloc(0);
          this.persistGroup(group);
          group.transition('Stable');
          this.logger.info({ group: group.id, generation: group.generationId }, 'group stable');
          for (const m of group.members.values()) {
            m.awaitingSync?.({ errorCode: ErrorCode.NONE, protocolType: group.protocolType, protocolName: group.protocolName, assignment: m.assignment });
            m.awaitingSync = null;
          }
        }
        return result;
      }
      default:
        return syncError(ErrorCode.UNKNOWN_MEMBER_ID);
    }
  }

  heartbeat(groupId: string, generationId: number, memberId: string, groupInstanceId: string | null): number {
    const consumerGroup = this.consumer.groups.get(groupId);
    if (consumerGroup) return this.consumer.classicHeartbeat(consumerGroup, generationId, memberId, groupInstanceId);
    const found = this.checkMember(this.groups.get(groupId), memberId, groupInstanceId);
    if (typeof found === 'number') return found;
    const { group, member } = found;
    if (generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    this.scheduleSessionExpiry(group, member);
    return group.state === 'PreparingRebalance' ? ErrorCode.REBALANCE_IN_PROGRESS : ErrorCode.NONE;
  }

  /** LeaveGroup; returns an error code per leaving member. */
  leave(groupId: string, leaving: Array<{ memberId: string; groupInstanceId: string | null }>): number[] {
    const consumerGroup = this.consumer.groups.get(groupId);
    if (consumerGroup) return this.consumer.classicLeave(consumerGroup, leaving);
    const group = this.groups.get(groupId);
    const codes: number[] = [];
    const removed: string[] = [];
    for (const l of leaving) {
      if (!group) {
        codes.push(ErrorCode.UNKNOWN_MEMBER_ID);
        continue;
      }
      const pending = group.pendingMembers.get(l.memberId);
      if (pending) {
        clearTimeout(pending);
        group.pendingMembers.delete(l.memberId);
        codes.push(ErrorCode.NONE);
        continue;
      }
      let memberId = l.memberId;
      if (l.groupInstanceId !== null) {
        const current = group.staticMembers.get(l.groupInstanceId);
        if (current === undefined) {
          codes.push(ErrorCode.UNKNOWN_MEMBER_ID);
          continue;
        }
        if (memberId !== '' && memberId !== current) {
          codes.push(ErrorCode.FENCED_INSTANCE_ID);
          continue;
        }
        memberId = current;
      }
      if (!group.members.has(memberId)) {
        codes.push(ErrorCode.UNKNOWN_MEMBER_ID);
        continue;
      }
      removed.push(memberId);
      codes.push(ErrorCode.NONE);
    }
    if (group && removed.length > 0) this.removeMembers(group, removed, 'members left');
    return codes;
  }

  private removeMembers(group: Group, memberIds: string[], reason: string): void {
    for (const id of memberIds) {
      const m = group.remove(id);
      m?.awaitingJoin?.(joinError(ErrorCode.UNKNOWN_MEMBER_ID, id));
      m?.awaitingSync?.(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    }
    if (group.state === 'PreparingRebalance') {
      if (group.members.size === 0 && group.pendingMembers.size === 0) this.completeJoin(group);
      else this.maybeCompleteJoin(group);
      return;
    }
    if (group.members.size === 0) {
      group.generationId++;
      group.protocolName = null;
      group.transition('Empty');
      this.persistGroup(group);
      return;
    }
    this.prepareRebalance(group, reason);
  }

  // ---- offsets -------------------------------------------------------------------------------

  /** OffsetCommit; returns an error code per offset, in order. */
  async commit(groupId: string, generationId: number, memberId: string, groupInstanceId: string | null, offsets: OffsetToCommit[]): Promise<number[] | number> {
    if (groupId === '') return ErrorCode.INVALID_GROUP_ID;
    await this.ensureOffsetsTopic();
    const consumerGroup = this.consumer.groups.get(groupId);
    const group = this.groups.get(groupId);
    const standalone = generationId < 0 && memberId === '';
    if (consumerGroup) {
      // The consumer protocol: generationId is the member's epoch (OffsetCommit v9+).
      const code = this.consumer.validateCommit(consumerGroup, memberId, generationId);
      if (code !== ErrorCode.NONE) return code;
    } else if (standalone) {
      // Offsets stored for a group that does not use the coordinator for membership.
      if (group && group.members.size > 0) return ErrorCode.UNKNOWN_MEMBER_ID;
    } else {
      const found = this.checkMember(group, memberId, groupInstanceId);
      if (typeof found === 'number') return found;
      if (generationId !== found.group.generationId) return ErrorCode.ILLEGAL_GENERATION;
      if (found.group.state === 'CompletingRebalance') return ErrorCode.REBALANCE_IN_PROGRESS;
      this.scheduleSessionExpiry(found.group, found.member);
    }
    const { codes, records, accepted } = this.offsetRecords(groupId, offsets);
    if (records.length > 0) {
      // As Kafka (offsets.commit.required.acks=-1): answered once the offsets partition's ISR has the records.
      const { committed, first, next } = this.append(groupId, records);
      const replicated = await committed(next);
      if (replicated !== ErrorCode.NONE) return failedCodes(codes, replicated);
      const map = this.offsetsOf(groupId);
      accepted.forEach((a, i) => map.set(`${a.topic}\0${a.partition}`, { ...a, recordOffset: first + i }));
      if (!group && !consumerGroup) {
        const created = new Group(groupId);
        this.groups.set(groupId, created);
      }
    }
    return codes;
  }

  /**
   * ConsumerGroupHeartbeat (KIP-848). A member joining a classic group with members converts it
   * to a consumer group when group.consumer.migration.policy allows (online upgrade); an empty
   * classic group (offsets only) simply becomes a consumer group, its metadata tombstoned.
   */
  async consumerHeartbeat(req: ConsumerHeartbeat): Promise<ConsumerHeartbeatResult> {
    await this.ensureOffsetsTopic();
    const classic = this.groups.get(req.groupId);
    if (classic && classic.members.size > 0 && !this.consumer.groups.has(req.groupId)) {
      const invalid = this.consumer.validate(req);
      if (invalid) return invalid;
      if (req.memberEpoch !== 0) return heartbeatError(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${req.groupId} is not a consumer group.`);
      const code = await this.upgrade(classic);
      if (typeof code === 'string') return heartbeatError(ErrorCode.GROUP_ID_NOT_FOUND, code);
      if (code !== ErrorCode.NONE) return heartbeatError(code, 'the group state could not be written to the offsets topic');
    }
    return this.consumer.heartbeat(req, () => {
      const empty = this.groups.get(req.groupId);
      if (!empty) return [];
      this.stopTimers(empty);
      this.groups.delete(req.groupId);
      return [{ key: groupKey(req.groupId), value: null }];
    });
  }

  /**
   * Online upgrade: the classic group becomes a consumer group whose members keep their
   * partitions (a classic group tombstone, then the consumer group's records, as Kafka writes
   * them). Members waiting in JoinGroup or SyncGroup are told to rejoin. Returns Kafka's reason
   * when the group cannot be converted.
   */
  private async upgrade(classic: Group): Promise<number | string> {
    const refusal = this.consumer.upgradeRefusal(classic);
    if (refusal !== null) {
      this.logger.info({ group: classic.id }, refusal);
      return refusal;
    }
    const records = this.consumer.adoptClassicGroup(classic);
    if (typeof records === 'string') return records;
    this.stopTimers(classic);
    this.groups.delete(classic.id);
    for (const m of classic.members.values()) {
      m.awaitingJoin?.(joinError(ErrorCode.REBALANCE_IN_PROGRESS, m.memberId));
      m.awaitingSync?.(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
    }
    return this.writeRecords(classic.id, [{ key: groupKey(classic.id), value: null }, ...records]);
  }

  /**
   * Online downgrade: the consumer group's classic members (all but the leaving one) form a
   * classic group at the group epoch, each with its current partitions, which then rebalances.
   */
  private downgrade(consumerGroup: ConsumerGroup, leaving: ConsumerMember): RecordToWrite[] {
    const records = this.consumer.deleteRecords(consumerGroup);
    const group = new Group(consumerGroup.id);
    group.generationId = consumerGroup.groupEpoch;
    group.protocolType = 'consumer';
    for (const m of consumerGroup.members.values()) {
      if (m === leaving || m.classic === null) continue;
      group.add({
        memberId: m.memberId,
        groupInstanceId: m.instanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        sessionTimeoutMs: m.classic.sessionTimeoutMs,
        protocols: m.classic.supportedProtocols,
        assignment: encodeAssignment(this.consumer.byTopicName(m.assigned)),
        awaitingJoin: null,
        awaitingSync: null,
        sessionTimer: null,
      });
    }
    group.protocolName = group.selectProtocol();
    group.transition('Stable');
    this.groups.set(group.id, group);
    records.push({ key: groupKey(group.id), value: groupValue(group.toStored()) });
    for (const m of group.members.values()) this.scheduleSessionExpiry(group, m);
    this.logger.info({ group: group.id, generation: group.generationId, members: group.members.size }, 'converted the consumer group to a classic group');
    this.prepareRebalance(group, `Downgrade group ${group.id} from consumer to classic.`);
    return records;
  }

  getConsumerGroup(groupId: string): ConsumerGroup | undefined {
    return this.consumer.groups.get(groupId);
  }

  /**
   * TxnOffsetCommit: the offsets are written as one batch of the producer's transaction and kept
   * pending under its producer id; OffsetFetch sees them once completeTransaction commits them.
   * Member and generation are checked only when the client sent them (v3+, KIP-447).
   */
  async commitTransactional(req: TxnOffsetCommit): Promise<number[] | number> {
    if (req.groupId === '') return ErrorCode.INVALID_GROUP_ID;
    if (req.producerId < 0) return ErrorCode.INVALID_REQUEST;
    await this.ensureOffsetsTopic();
    let group = this.groups.get(req.groupId);
    const consumerGroup = this.consumer.groups.get(req.groupId);
    if (consumerGroup) {
      // The consumer protocol: the generation the producer sends is the member's epoch.
      const code = this.consumer.validateTransactionalCommit(consumerGroup, req.memberId, req.groupInstanceId, req.generationId);
      if (code !== ErrorCode.NONE) return code;
    } else {
      if (req.groupInstanceId !== null && group) {
        const current = group.staticMembers.get(req.groupInstanceId);
        if (current !== undefined && current !== req.memberId) return ErrorCode.FENCED_INSTANCE_ID;
      }
      if (req.memberId !== '' && !group?.members.has(req.memberId)) return ErrorCode.UNKNOWN_MEMBER_ID;
      if (req.generationId >= 0 && req.generationId !== (group?.generationId ?? 0)) return ErrorCode.ILLEGAL_GENERATION;
    }
    const { codes, records, accepted } = this.offsetRecords(req.groupId, req.offsets);
    if (records.length > 0) {
      const { committed, first, next } = this.append(req.groupId, records, { producerId: req.producerId, producerEpoch: req.producerEpoch });
      // Pending from the append on: a marker written after the batch (an abort on timeout while it
      // replicates) finds and completes them.
      const written = accepted.map((a, i): [string, StoredOffset] => [`${a.topic}\0${a.partition}`, { ...a, recordOffset: first + i }]);
      const pending = this.pendingOf(req.producerId, req.groupId);
      for (const [id, o] of written) pending.set(id, o);
      const replicated = await committed(next);
      if (replicated !== ErrorCode.NONE) {
        // The client learns its commit failed (and aborts); as Kafka, the offsets are no longer pending.
        for (const [id, o] of written) if (pending.get(id) === o) pending.delete(id);
        return failedCodes(codes, replicated);
      }
      if (!group && !consumerGroup) {
        group = new Group(req.groupId);
        this.groups.set(req.groupId, group);
      }
    }
    return codes;
  }

  /**
   * The marker of producerId's transaction is in offsets partition `partition`: its pending
   * offsets of the partition's groups become committed (commit) or are dropped. A committed
   * offset whose record is later in the log than the pending one stays.
   */
  completeTransaction(producerId: number, partition: number, commit: boolean): void {
    const byGroup = this.pendingTxnOffsets.get(producerId);
    const topic = this.topics.registry.get(OFFSETS_TOPIC);
    if (!byGroup || !topic) return;
    for (const [groupId, pending] of [...byGroup]) {
      if (partitionForGroup(groupId, topic.partitions.length) !== partition) continue;
      byGroup.delete(groupId);
      if (!commit) continue;
      const map = this.offsetsOf(groupId);
      for (const [id, o] of pending) {
        const current = map.get(id);
        if (!current || current.recordOffset < o.recordOffset) map.set(id, o);
      }
    }
    if (byGroup.size === 0) this.pendingTxnOffsets.delete(producerId);
  }

  /** Whether an open transaction has committed an offset of the partition for the group (OffsetFetch with require_stable waits for it). */
  hasPendingTxnOffset(groupId: string, topic: string, partition: number): boolean {
    const id = `${topic}\0${partition}`;
    for (const byGroup of this.pendingTxnOffsets.values()) if (byGroup.get(groupId)?.has(id)) return true;
    return false;
  }

  /** Checks each offset (topic exists, metadata size) and makes the records of those accepted. */
  private offsetRecords(groupId: string, offsets: OffsetToCommit[]): { codes: number[]; records: RecordToWrite[]; accepted: Array<Omit<StoredOffset, 'recordOffset'>> } {
    const maxMetadata = this.config.int('offset.metadata.max.bytes');
    const now = Date.now();
    const codes: number[] = [];
    const records: RecordToWrite[] = [];
    const accepted: Array<Omit<StoredOffset, 'recordOffset'>> = [];
    for (const o of offsets) {
      const topic = this.topics.registry.get(o.topic);
      if (!topic || !topic.partitions[o.partition]) {
        codes.push(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
        continue;
      }
      const metadata = o.metadata ?? '';
      if (Buffer.byteLength(metadata) > maxMetadata) {
        codes.push(ErrorCode.OFFSET_METADATA_TOO_LARGE);
        continue;
      }
      const value = { offset: o.offset, leaderEpoch: o.leaderEpoch, metadata, commitTimestamp: now };
      records.push({ key: offsetKey(groupId, o.topic, o.partition), value: offsetValue(value) });
      accepted.push({ ...value, topic: o.topic, partition: o.partition });
      codes.push(ErrorCode.NONE);
    }
    return { codes, records, accepted };
  }

  committed(groupId: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.offsets.get(groupId)?.get(`${topic}\0${partition}`);
  }

  /** Every committed partition of a group, by topic. */
  committedTopics(groupId: string): Map<string, number[]> {
    const out = new Map<string, number[]>();
    for (const o of this.offsets.get(groupId)?.values() ?? []) out.set(o.topic, [...(out.get(o.topic) ?? []), o.partition]);
    return out;
  }

  /** OffsetDelete: refused for topics an active member subscribes to. */
  deleteOffsets(groupId: string, partitions: Array<{ topic: string; partition: number }>, subscribed: (group: Group) => Set<string>): number[] | number {
    const group = this.groups.get(groupId);
    if (!group) return ErrorCode.GROUP_ID_NOT_FOUND;
    const active = group.members.size > 0 ? subscribed(group) : new Set<string>();
    const codes: number[] = [];
    const records: RecordToWrite[] = [];
    for (const p of partitions) {
      if (active.has(p.topic)) {
        codes.push(ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC);
        continue;
      }
      if (!this.topics.registry.get(p.topic)) {
        codes.push(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
        continue;
      }
      records.push({ key: offsetKey(groupId, p.topic, p.partition), value: null });
      this.forgetOffset(groupId, `${p.topic}\0${p.partition}`);
      codes.push(ErrorCode.NONE);
    }
    if (records.length > 0) this.append(groupId, records);
    return codes;
  }

  // ---- describing and deleting groups --------------------------------------------------------

  get(groupId: string): Group | undefined {
    return this.groups.get(groupId);
  }

  all(): Group[] {
    return [...this.groups.values()];
  }

  deleteGroup(groupId: string): number {
    const consumerGroup = this.consumer.groups.get(groupId);
    if (consumerGroup && consumerGroup.members.size > 0) return ErrorCode.NON_EMPTY_GROUP;
    const group = this.groups.get(groupId);
    if (consumerGroup) {
      // An empty consumer group: its records and offsets are tombstoned as a classic group's are.
      this.append(groupId, this.consumer.deleteRecords(consumerGroup));
      if (!group) this.groups.set(groupId, new Group(groupId));
      return this.deleteGroup(groupId);
    }
    if (!group || group.state === 'Dead') return ErrorCode.GROUP_ID_NOT_FOUND;
    if (group.members.size > 0 || group.state !== 'Empty') return ErrorCode.NON_EMPTY_GROUP;
    // Tombstones for the committed offsets and for those pending in open transactions (they would come back at a commit).
    const partitions = new Map<string, StoredOffset>(this.offsets.get(groupId));
    for (const byGroup of this.pendingTxnOffsets.values()) for (const [id, o] of byGroup.get(groupId) ?? []) partitions.set(id, o);
    const records: RecordToWrite[] = [...partitions.values()].map((o) => ({ key: offsetKey(groupId, o.topic, o.partition), value: null }));
    records.push({ key: groupKey(groupId), value: null });
    this.append(groupId, records);
    group.transition('Dead');
    this.groups.delete(groupId);
    for (const id of partitions.keys()) this.forgetOffset(groupId, id);
    this.offsets.delete(groupId);
    this.logger.info({ group: groupId }, 'group deleted');
    return ErrorCode.NONE;
  }

  /**
   * Expires offsets as Kafka 4.0 does: a classic group's all at once when it has been empty
   * longer than offsets.retention.ms; a consumer-protocol group's one by one, once no member
   * subscribes to the topic and the commit is older than that. A consumer-protocol group left
   * empty and without offsets is deleted.
   */
  expireOffsets(now = Date.now()): void {
    const retention = this.config.int('offsets.retention.ms');
    for (const group of this.groups.values()) {
      if (group.state !== 'Empty' || now - group.stateTimestamp < retention) continue;
      this.expire(group.id, () => true, 'expired the offsets of an empty group');
    }
    for (const group of [...this.consumer.groups.values()]) {
      const subscribed = this.consumer.subscribedTopics(group);
      this.expire(group.id, (o) => !subscribed.has(o.topic) && now - o.commitTimestamp >= retention, 'expired the offsets of topics the group no longer subscribes to');
      if (group.members.size === 0 && (this.offsets.get(group.id)?.size ?? 0) === 0) this.deleteGroup(group.id);
    }
  }

  /** Tombstones a group's offsets that `expired` picks; an offset an open transaction commits again is kept until that transaction ends, as Kafka does. */
  private expire(groupId: string, expired: (o: StoredOffset) => boolean, message: string): void {
    const offsets = [...(this.offsets.get(groupId)?.values() ?? [])].filter((o) => expired(o) && !this.hasPendingTxnOffset(groupId, o.topic, o.partition));
    if (offsets.length === 0) return;
    this.append(groupId, offsets.map((o) => ({ key: offsetKey(groupId, o.topic, o.partition), value: null })));
    for (const o of offsets) this.offsets.get(groupId)?.delete(`${o.topic}\0${o.partition}`);
    this.logger.info({ group: groupId, partitions: offsets.length }, message);
  }

  close(): void {
    for (const group of this.groups.values()) this.stopTimers(group);
    this.consumer.close();
  }
}

/** The codes of accepted offsets whose records did not replicate: the coordinator moved, or is not available now. */
function failedCodes(codes: number[], replicated: number): number[] {
  const code = replicated === ErrorCode.NOT_LEADER_OR_FOLLOWER ? ErrorCode.NOT_COORDINATOR : ErrorCode.COORDINATOR_NOT_AVAILABLE;
  return codes.map((c) => (c === ErrorCode.NONE ? code : c));
}

function sameProtocols(a: Array<{ name: string; metadata: Buffer }>, b: Array<{ name: string; metadata: Buffer }>): boolean {
  return a.length === b.length && a.every((p, i) => p.name === b[i]!.name && p.metadata.equals(b[i]!.metadata));
}
