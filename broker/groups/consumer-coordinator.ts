// The coordinator of consumer-protocol groups (KIP-848): ConsumerGroupHeartbeat joins, heartbeats
// and leaves members; a change of membership, subscription or subscribed topics bumps the group
// epoch and computes a new target assignment on the server (group.consumer.assignors); each
// member then moves to its target one heartbeat at a time, revoking before it is given
// partitions another member still has. Every change is written to __consumer_offsets as Kafka's
// records, from which a restarted broker resumes the group.
import type { Logger } from 'pino';
import type { BrokerConfig } from '../config.js';
import { newUuid } from '../metadata/topic-registry.js';
import { ErrorCode } from '../protocol/errors.js';
import type { RecordToWrite } from '../records/batch-builder.js';
import type { TopicService } from '../topics.js';
import { ASSIGNORS, type Assignment, type Assignor } from './assignors.js';
import type { JoinRequest } from './coordinator.js';
import { decodeAssignment, decodeSubscription, encodeAssignment, type TopicPartitions } from './embedded-consumer-protocol.js';
import { type Group, joinError, type JoinResult, protocolsInCommon, syncError, type SyncResult } from './group.js';
import {
  type ClassicMemberMetadata,
  consumerGroupKey,
  currentAssignmentValue,
  CURRENT_MEMBER_ASSIGNMENT,
  GROUP_METADATA,
  groupMetadataValue,
  type MemberMetadata,
  MEMBER_METADATA,
  memberMetadataValue,
  readConsumerGroupKey,
  readCurrentAssignmentValue,
  readEpochValue,
  readMemberMetadataValue,
  readTargetAssignmentMemberValue,
  TARGET_ASSIGNMENT_MEMBER,
  TARGET_ASSIGNMENT_METADATA,
  targetAssignmentMemberValue,
  targetAssignmentMetadataValue,
} from './consumer-group-records.js';
import { compileTopicRegex, matchingTopics } from './topic-regex.js';
import { consumerGroupTimeouts } from './consumer-config.js';
import type { ConsumerGroupHeartbeatRequest } from '../protocol/messages/consumer-group-heartbeat-request.js';
import { ConsumerGroup, type ConsumerMember, emptyMetadata, LEAVE_EPOCH, newMember, type OwnedPartitions, reconcile, sameAssignment, STATIC_LEAVE_EPOCH } from './consumer-group.js';

/** A heartbeat as the coordinator takes it: the request's fields, its partitions by topic id, and who sent it. */
export interface ConsumerHeartbeat extends Omit<ConsumerGroupHeartbeatRequest, 'topicPartitions'> {
  ownedPartitions: OwnedPartitions;
  clientId: string;
  clientHost: string;
}

export interface ConsumerHeartbeatResult {
  errorCode: number;
  errorMessage: string | null;
  memberId: string | null;
  memberEpoch: number;
  heartbeatIntervalMs: number;
  /** Sent when it changed, or when the member (re)joins or reports what it owns. */
  assignment: Assignment | null;
}

/** Writes records to the group's offsets partition; resolves with an error code once they are replicated (or not). */
export type WriteRecords = (groupId: string, records: RecordToWrite[]) => Promise<number>;

/** group.consumer.migration.policy: which way a group may change protocol while it has members. */
type MigrationPolicy = 'bidirectional' | 'upgrade' | 'downgrade' | 'disabled';

/** Turns a consumer group whose last consumer-protocol member leaves into a classic group; returns the records of the change. */
export type Downgrade = (group: ConsumerGroup, leaving: ConsumerMember) => RecordToWrite[];

export function heartbeatError(errorCode: number, errorMessage: string, memberId: string | null = null): ConsumerHeartbeatResult {
  return { errorCode, errorMessage, memberId, memberEpoch: -1, heartbeatIntervalMs: 0, assignment: null };
}

/** The built-in assignors by the names group.consumer.assignors accepts: short, or Kafka's class names. */
const ASSIGNOR_CLASSES: Record<string, string> = {
  'org.apache.kafka.coordinator.group.assignor.UniformAssignor': 'uniform',
  'org.apache.kafka.coordinator.group.assignor.RangeAssignor': 'range',
};

export function assignorNames(setting: string): string[] {
  return setting
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => ASSIGNOR_CLASSES[s] ?? s);
}

export class ConsumerGroupCoordinator {
  readonly groups = new Map<string, ConsumerGroup>();
  private readonly assignors: Assignor[];
  private readonly sessionTimeoutMs: number;
  private readonly heartbeatIntervalMs: number;
  private readonly maxSize: number;
  private readonly classicMaxSize: number;
  private readonly migration: MigrationPolicy;
  /** Subscription patterns compiled, by their source. */
  private readonly regexes = new Map<string, RegExp>();

  constructor(
    config: BrokerConfig,
    private readonly topics: TopicService,
    private readonly logger: Logger,
    private readonly write: WriteRecords,
    private readonly downgrade: Downgrade,
  ) {
    this.assignors = assignorNames(config.get('group.consumer.assignors')).map((n) => ASSIGNORS.get(n)!);
    ({ sessionTimeoutMs: this.sessionTimeoutMs, heartbeatIntervalMs: this.heartbeatIntervalMs } = consumerGroupTimeouts(config));
    this.maxSize = config.int('group.consumer.max.size');
    this.classicMaxSize = config.int('group.max.size');
    this.migration = config.get('group.consumer.migration.policy').toLowerCase() as MigrationPolicy;
  }

  validate(req: ConsumerHeartbeat): ConsumerHeartbeatResult | null {
    const invalid = (message: string) => heartbeatError(ErrorCode.INVALID_REQUEST, message);
    if (req.groupId === '') return invalid('GroupId can not be empty.');
    if (req.rackId === '') return invalid('RackId can not be empty.');
    if (req.instanceId === '') return invalid('InstanceId can not be empty.');
    if (req.memberEpoch === 0) {
      if (req.rebalanceTimeoutMs === -1) return invalid('RebalanceTimeoutMs must be provided in first request.');
      if (req.ownedPartitions === null || req.ownedPartitions.length > 0) return invalid('TopicPartitions must be empty when (re-)joining.');
      if (req.subscribedTopicNames === null && req.subscribedTopicRegex === null) return invalid('SubscribedTopicNames or SubscribedTopicRegex must be set in first request.');
    } else if (req.memberId === '') {
      return invalid('MemberId can not be empty.');
    } else if (req.memberEpoch === STATIC_LEAVE_EPOCH && req.instanceId === null) {
      return invalid('InstanceId can not be null for a static member leaving the group.');
    } else if (req.memberEpoch < STATIC_LEAVE_EPOCH) {
      return invalid(`MemberEpoch ${req.memberEpoch} is not valid.`);
    }
    // A leaving member's pattern is not looked at (the Java client sends an empty one): Kafka handles the leave first.
    if (req.subscribedTopicRegex !== null && req.memberEpoch >= 0) {
      try {
        this.regex(req.subscribedTopicRegex);
      } catch (err) {
        return heartbeatError(ErrorCode.INVALID_REGULAR_EXPRESSION, `SubscribedTopicRegex ${req.subscribedTopicRegex} is not a valid regular expression: ${(err as Error).message}.`);
      }
    }
    if (req.serverAssignor !== null && !this.assignors.some((a) => a.name === req.serverAssignor)) {
      return heartbeatError(ErrorCode.UNSUPPORTED_ASSIGNOR, `ServerAssignor ${req.serverAssignor} is not supported. Supported assignors: ${this.assignors.map((a) => a.name).join(', ')}.`);
    }
    return null;
  }

  /** ConsumerGroupHeartbeat; `dropClassic` is called when an empty classic group becomes a consumer group. */
  async heartbeat(req: ConsumerHeartbeat, dropClassic: () => RecordToWrite[]): Promise<ConsumerHeartbeatResult> {
    const invalid = this.validate(req);
    if (invalid) return invalid;
    let group = this.groups.get(req.groupId);
    const records: RecordToWrite[] = [];
    if (!group) {
      if (req.memberEpoch !== 0) return heartbeatError(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${req.groupId} not found.`);
      records.push(...dropClassic());
      group = new ConsumerGroup(req.groupId);
      this.groups.set(req.groupId, group);
    }
    if (req.memberEpoch === LEAVE_EPOCH || req.memberEpoch === STATIC_LEAVE_EPOCH) return this.leave(group, req);

    let member: ConsumerMember;
    let joined = false;
    let metadataChanged = false;
    if (req.memberEpoch === 0) {
      const found = this.join(group, req, records);
      if ('errorCode' in found) return found;
      member = found.member;
      joined = true;
      metadataChanged = found.metadataChanged;
    } else {
      const existing = group.members.get(req.memberId);
      if (!existing) return heartbeatError(ErrorCode.UNKNOWN_MEMBER_ID, `Member ${req.memberId} is not a member of group ${group.id}.`);
      if (existing.classic !== null) return heartbeatError(ErrorCode.UNKNOWN_MEMBER_ID, `Member ${req.memberId} does not use the consumer protocol.`);
      if (req.instanceId !== null && group.staticMembers.get(req.instanceId) !== req.memberId) {
        return heartbeatError(ErrorCode.FENCED_INSTANCE_ID, `Instance ${req.instanceId} is now member ${group.staticMembers.get(req.instanceId) ?? 'none'}.`);
      }
      if (!this.validEpoch(existing, req)) {
        return heartbeatError(ErrorCode.FENCED_MEMBER_EPOCH, `The member epoch ${req.memberEpoch} of ${req.memberId} is fenced (the current one is ${existing.memberEpoch}).`);
      }
      member = existing;
      metadataChanged = this.updateMetadata(member, req);
    }
    if (metadataChanged) records.push({ key: consumerGroupKey(MEMBER_METADATA, group.id, member.memberId), value: memberMetadataValue(member) });
    const signature = this.topicsSignature(group);
    if (metadataChanged || signature !== group.topicsSignature) records.push(...this.newTargetAssignment(group, signature));

    const before = { epoch: member.memberEpoch, assigned: member.assigned };
    records.push(...this.advance(group, member, req.ownedPartitions));
    this.scheduleSessionExpiry(group, member);
    if (records.length > 0) {
      const code = await this.write(group.id, records);
      if (code !== ErrorCode.NONE) return heartbeatError(code, 'the group state could not be written to the offsets topic', member.memberId);
    }
    const changed = before.epoch !== member.memberEpoch || !sameAssignment(before.assigned, member.assigned);
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      memberId: member.memberId,
      memberEpoch: member.memberEpoch,
      heartbeatIntervalMs: this.heartbeatIntervalMs,
      assignment: joined || changed || req.ownedPartitions !== null ? member.assigned : null,
    };
  }

  /** A heartbeat may carry the member's epoch, or its previous one when the response moving it on was lost (and it owns nothing it should not). */
  private validEpoch(member: ConsumerMember, req: ConsumerHeartbeat): boolean {
    if (req.memberEpoch === member.memberEpoch) return true;
    if (req.memberEpoch > member.memberEpoch || req.memberEpoch !== member.previousMemberEpoch || req.ownedPartitions === null) return false;
    return req.ownedPartitions.every((o) => o.partitions.every((p) => member.assigned.get(o.topicId)?.includes(p)));
  }

  private join(group: ConsumerGroup, req: ConsumerHeartbeat, records: RecordToWrite[]): { member: ConsumerMember; metadataChanged: boolean } | ConsumerHeartbeatResult {
    const memberId = req.memberId !== '' ? req.memberId : newUuid();
    const existing = group.members.get(memberId);
    if (existing) {
      // A member rejoining after it was told its epoch was fenced: it owns nothing now and starts over from its assignment.
      existing.memberEpoch = 0;
      existing.classic = null;
      existing.state = 'STABLE';
      existing.pendingRevocation = new Map();
      return { member: existing, metadataChanged: this.updateMetadata(existing, req) };
    }
    const staticId = req.instanceId !== null ? group.staticMembers.get(req.instanceId) : undefined;
    const previous = staticId !== undefined ? group.members.get(staticId) : undefined;
    if (previous && previous.memberEpoch !== STATIC_LEAVE_EPOCH) {
      return heartbeatError(ErrorCode.UNRELEASED_INSTANCE_ID, `Static member ${previous.memberId} with instance id ${req.instanceId} is still in group ${group.id}.`);
    }
    if (!previous && group.members.size >= this.maxSize) return heartbeatError(ErrorCode.GROUP_MAX_SIZE_REACHED, `Group ${group.id} has reached its maximum size (${this.maxSize}).`);
    const member = newMember(memberId, {
      instanceId: req.instanceId,
      rackId: req.rackId,
      clientId: req.clientId,
      clientHost: req.clientHost,
      subscribedTopicNames: req.subscribedTopicNames ?? [],
      subscribedTopicRegex: req.subscribedTopicRegex,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs,
      serverAssignor: req.serverAssignor,
      classic: null,
    });
    let metadataChanged = true;
    if (previous) {
      // A static member back under a new id takes its predecessor's place, epoch and partitions;
      // the group rebalances only if its subscription changed.
      member.memberEpoch = previous.previousMemberEpoch;
      member.previousMemberEpoch = previous.previousMemberEpoch;
      member.assigned = previous.assigned;
      records.push(...this.takeStaticPlace(group, previous, member));
      metadataChanged = !sameSubscription(previous, member);
      if (!metadataChanged) records.push({ key: consumerGroupKey(MEMBER_METADATA, group.id, memberId), value: memberMetadataValue(member) });
      this.logger.info({ group: group.id, member: memberId, instance: req.instanceId, replaced: previous.memberId }, 'static member rejoined');
    } else {
      this.logger.info({ group: group.id, member: memberId, instance: req.instanceId }, 'member joined');
    }
    group.add(member);
    return { member, metadataChanged };
  }

  /** Takes the heartbeat's subscription into the member; whether the group must compute a new target. */
  /**
   * A static member back under a new id (`member`, not yet added) takes its predecessor's place:
   * the predecessor goes, its target assignment passes on; the records of the change.
   */
  private takeStaticPlace(group: ConsumerGroup, previous: ConsumerMember, member: ConsumerMember): RecordToWrite[] {
    const target = group.targetAssignment.get(previous.memberId);
    group.remove(previous.memberId);
    const records = memberTombstones(group.id, previous.memberId);
    if (target) {
      group.targetAssignment.set(member.memberId, target);
      records.push({ key: consumerGroupKey(TARGET_ASSIGNMENT_MEMBER, group.id, member.memberId), value: targetAssignmentMemberValue(target) });
    }
    records.push({ key: consumerGroupKey(CURRENT_MEMBER_ASSIGNMENT, group.id, member.memberId), value: currentAssignmentValue(member) });
    return records;
  }

  private updateMetadata(member: ConsumerMember, req: ConsumerHeartbeat): boolean {
    const before = { ...member, subscribedTopicNames: [...member.subscribedTopicNames] };
    if (req.subscribedTopicNames !== null) member.subscribedTopicNames = req.subscribedTopicNames;
    // A new pattern replaces the old one; the empty one (the Java client's when it drops its pattern) matches nothing.
    if (req.subscribedTopicRegex !== null) member.subscribedTopicRegex = req.subscribedTopicRegex;
    if (req.serverAssignor !== null || req.memberEpoch === 0) member.serverAssignor = req.serverAssignor;
    if (req.rebalanceTimeoutMs !== -1) member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    if (req.rackId !== null) member.rackId = req.rackId;
    member.clientId = req.clientId;
    member.clientHost = req.clientHost;
    return !sameSubscription(before, member) || before.rebalanceTimeoutMs !== member.rebalanceTimeoutMs || before.rackId !== member.rackId;
  }

  private leave(group: ConsumerGroup, req: ConsumerHeartbeat): Promise<ConsumerHeartbeatResult> | ConsumerHeartbeatResult {
    const member = group.members.get(req.memberId);
    if (!member) return heartbeatError(ErrorCode.UNKNOWN_MEMBER_ID, `Member ${req.memberId} is not a member of group ${group.id}.`);
    if (req.instanceId !== null && group.staticMembers.get(req.instanceId) !== req.memberId) {
      return heartbeatError(ErrorCode.FENCED_INSTANCE_ID, `Instance ${req.instanceId} is now member ${group.staticMembers.get(req.instanceId) ?? 'none'}.`);
    }
    let records: RecordToWrite[];
    if (req.memberEpoch === STATIC_LEAVE_EPOCH) {
      // A static member leaving for now keeps its partitions until its session ends or it comes back.
      if (member.memberEpoch !== STATIC_LEAVE_EPOCH) member.previousMemberEpoch = member.memberEpoch;
      member.memberEpoch = STATIC_LEAVE_EPOCH;
      records = [{ key: consumerGroupKey(CURRENT_MEMBER_ASSIGNMENT, group.id, member.memberId), value: currentAssignmentValue(member) }];
      this.logger.info({ group: group.id, member: member.memberId, instance: member.instanceId }, 'static member left for now');
    } else {
      records = this.removeMember(group, member, 'member left');
    }
    const done = (code: number): ConsumerHeartbeatResult =>
      code === ErrorCode.NONE
        ? { errorCode: ErrorCode.NONE, errorMessage: null, memberId: req.memberId, memberEpoch: req.memberEpoch, heartbeatIntervalMs: 0, assignment: null }
        : heartbeatError(code, 'the group state could not be written to the offsets topic', req.memberId);
    return this.write(group.id, records).then(done);
  }

  /**
   * Removes a member (left, expired or fenced): its records are tombstoned and the group gets a
   * new target; when the last consumer-protocol member goes and classic members remain, the
   * group becomes a classic group instead (online downgrade).
   */
  private removeMember(group: ConsumerGroup, member: ConsumerMember, reason: string): RecordToWrite[] {
    if (member.classic === null && this.mayDowngrade(group, member)) {
      this.logger.info({ group: group.id, member: member.memberId, reason }, 'last consumer-protocol member removed; the group goes back to the classic protocol');
      return this.downgrade(group, member);
    }
    group.remove(member.memberId);
    this.logger.info({ group: group.id, member: member.memberId, reason }, 'member removed');
    return [...memberTombstones(group.id, member.memberId), ...this.newTargetAssignment(group, this.topicsSignature(group))];
  }

  private regex(source: string): RegExp {
    let compiled = this.regexes.get(source);
    if (!compiled) {
      compiled = compileTopicRegex(source);
      this.regexes.set(source, compiled);
    }
    return compiled;
  }

  /** The topics a member subscribes to: those it names and those its pattern matches now. */
  private topicNamesOf(member: ConsumerMember): string[] {
    if (member.subscribedTopicRegex === null) return member.subscribedTopicNames;
    const matched = matchingTopics(this.regex(member.subscribedTopicRegex), this.topics.registry.all().map((t) => t.name));
    return [...new Set([...member.subscribedTopicNames, ...matched])];
  }

  /** Every topic some member of the group subscribes to now, by name or by its pattern. */
  subscribedTopics(group: ConsumerGroup): Set<string> {
    return new Set([...group.members.values()].flatMap((m) => this.topicNamesOf(m)));
  }

  /** The subscribed topics as they are now: a topic created (or matching a pattern), deleted or given partitions changes it. */
  private topicsSignature(group: ConsumerGroup): string {
    return [...this.subscribedTopics(group)]
      .sort()
      .map((name) => {
        const t = this.topics.registry.get(name);
        return t ? `${name}:${t.id}:${t.partitions.length}` : '';
      })
      .filter((s) => s !== '')
      .join(',');
  }

  /** Bumps the group epoch and computes the target assignment of that epoch; returns the records of what changed. */
  private newTargetAssignment(group: ConsumerGroup, signature: string): RecordToWrite[] {
    group.groupEpoch++;
    group.topicsSignature = signature;
    const records: RecordToWrite[] = [{ key: consumerGroupKey(GROUP_METADATA, group.id), value: groupMetadataValue(group.groupEpoch) }];
    const partitions = new Map<string, number>();
    const members = [...group.members.values()].map((m) => {
      const topicIds = new Set<string>();
      for (const name of this.topicNamesOf(m)) {
        const t = this.topics.registry.get(name);
        if (!t) continue;
        topicIds.add(t.id);
        partitions.set(t.id, t.partitions.length);
      }
      return { memberId: m.memberId, topicIds, previous: group.targetAssignment.get(m.memberId) ?? new Map<string, number[]>() };
    });
    const assignor = this.assignorFor(group);
    const target = assignor.assign(members, partitions);
    for (const [memberId, assignment] of target) {
      if (sameAssignment(group.targetAssignment.get(memberId) ?? new Map(), assignment) && group.targetAssignment.has(memberId)) continue;
      group.targetAssignment.set(memberId, assignment);
      records.push({ key: consumerGroupKey(TARGET_ASSIGNMENT_MEMBER, group.id, memberId), value: targetAssignmentMemberValue(assignment) });
    }
    group.assignmentEpoch = group.groupEpoch;
    records.push({ key: consumerGroupKey(TARGET_ASSIGNMENT_METADATA, group.id), value: targetAssignmentMetadataValue(group.assignmentEpoch) });
    this.logger.info({ group: group.id, epoch: group.groupEpoch, members: group.members.size, assignor: assignor.name }, 'new target assignment');
    return records;
  }

  /** The assignor most members ask for; if none asks, the first of group.consumer.assignors. */
  assignorFor(group: ConsumerGroup): Assignor {
    const votes = new Map<string, number>();
    for (const m of group.members.values()) if (m.serverAssignor !== null) votes.set(m.serverAssignor, (votes.get(m.serverAssignor) ?? 0) + 1);
    let best: string | null = null;
    for (const [name, n] of votes) if (best === null || n > votes.get(best)!) best = name;
    return this.assignors.find((a) => a.name === best) ?? this.assignors[0]!;
  }

  /** Moves the member towards its target; returns its record if it changed. */
  private advance(group: ConsumerGroup, member: ConsumerMember, owned: OwnedPartitions): RecordToWrite[] {
    const next = reconcile(group, member, owned);
    if (
      next.memberEpoch === member.memberEpoch &&
      next.previousMemberEpoch === member.previousMemberEpoch &&
      next.state === member.state &&
      sameAssignment(next.assigned, member.assigned) &&
      sameAssignment(next.pendingRevocation, member.pendingRevocation)
    ) {
      return [];
    }
    const wasRevoking = member.state === 'UNREVOKED_PARTITIONS';
    Object.assign(member, next);
    if (member.state === 'UNREVOKED_PARTITIONS' && !wasRevoking) this.scheduleRevocationTimeout(group, member);
    if (member.state !== 'UNREVOKED_PARTITIONS' && member.revocationTimer) {
      clearTimeout(member.revocationTimer);
      member.revocationTimer = null;
    }
    return [{ key: consumerGroupKey(CURRENT_MEMBER_ASSIGNMENT, group.id, member.memberId), value: currentAssignmentValue(member) }];
  }

  /** Whether a timer's member is still in its group and the group still this coordinator's (a timer may outlive either). */
  private isCurrent(group: ConsumerGroup, member: ConsumerMember): boolean {
    return group.members.get(member.memberId) === member && this.groups.get(group.id) === group;
  }

  private scheduleSessionExpiry(group: ConsumerGroup, member: ConsumerMember): void {
    if (member.sessionTimer) clearTimeout(member.sessionTimer);
    member.sessionTimer = setTimeout(() => {
      member.sessionTimer = null;
      if (!this.isCurrent(group, member)) return;
      this.logger.info({ group: group.id, member: member.memberId }, 'member session expired');
      this.writeInBackground(group.id, this.removeMember(group, member, 'session timeout'));
    }, member.classic?.sessionTimeoutMs ?? this.sessionTimeoutMs);
    member.sessionTimer.unref();
  }

  /** A member that does not revoke its partitions within its rebalance timeout is fenced, so that others can have them. */
  private scheduleRevocationTimeout(group: ConsumerGroup, member: ConsumerMember): void {
    if (member.revocationTimer) clearTimeout(member.revocationTimer);
    member.revocationTimer = setTimeout(() => {
      member.revocationTimer = null;
      if (!this.isCurrent(group, member) || member.state !== 'UNREVOKED_PARTITIONS') return;
      this.logger.info({ group: group.id, member: member.memberId, rebalanceTimeoutMs: member.rebalanceTimeoutMs }, 'member did not revoke its partitions in time; fenced');
      this.writeInBackground(group.id, this.removeMember(group, member, 'rebalance timeout'));
    }, Math.max(0, member.rebalanceTimeoutMs));
    member.revocationTimer.unref();
  }

  private writeInBackground(groupId: string, records: RecordToWrite[]): void {
    void this.write(groupId, records).then((code) => {
      // The group goes on in memory and is written again at its next change.
      if (code !== ErrorCode.NONE) this.logger.error({ group: groupId, errorCode: code }, 'cannot write consumer group state to the offsets topic');
    });
  }

  /** OffsetCommit by a member (v9+ carries its epoch); a commit with no member is allowed only while the group is empty. */
  validateCommit(group: ConsumerGroup, memberId: string, memberEpoch: number): number {
    if (memberEpoch < 0 && memberId === '') return group.members.size === 0 ? ErrorCode.NONE : ErrorCode.UNKNOWN_MEMBER_ID;
    const member = group.members.get(memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (memberEpoch === member.memberEpoch) return ErrorCode.NONE;
    // A classic member commits with its generation, and knows ILLEGAL_GENERATION, not STALE_MEMBER_EPOCH.
    return member.classic !== null ? ErrorCode.ILLEGAL_GENERATION : ErrorCode.STALE_MEMBER_EPOCH;
  }

  /**
   * TxnOffsetCommit v3+ with the consumer's group metadata (KIP-447): a member at its epoch (else
   * ILLEGAL_GENERATION, which transactional producers understand); without member and generation
   * (older clients) it is not checked.
   */
  validateTransactionalCommit(group: ConsumerGroup, memberId: string, instanceId: string | null, memberEpoch: number): number {
    if (memberId === '' && memberEpoch < 0) return ErrorCode.NONE;
    if (instanceId !== null && group.staticMembers.has(instanceId) && group.staticMembers.get(instanceId) !== memberId) return ErrorCode.FENCED_INSTANCE_ID;
    const member = group.members.get(memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    return memberEpoch === member.memberEpoch ? ErrorCode.NONE : ErrorCode.ILLEGAL_GENERATION;
  }

  /** OffsetFetch v9+ by a member: it must be one, at its current epoch; without a member (admin tools) it is allowed. */
  validateFetch(group: ConsumerGroup, memberId: string | null, memberEpoch: number): number {
    if (memberId === null || memberEpoch < 0) return ErrorCode.NONE;
    const member = group.members.get(memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    return memberEpoch === member.memberEpoch ? ErrorCode.NONE : ErrorCode.STALE_MEMBER_EPOCH;
  }

  /** Replays one record of types 3-8 from the offsets topic. */
  replay(key: Buffer, value: Buffer | null): void {
    const k = readConsumerGroupKey(key);
    let group = this.groups.get(k.group);
    if (k.type === GROUP_METADATA && value === null) {
      if (group) this.stopTimers(group);
      this.groups.delete(k.group);
      return;
    }
    if (!group) {
      if (value === null) return;
      group = new ConsumerGroup(k.group);
      this.groups.set(k.group, group);
    }
    const memberOf = (id: string): ConsumerMember => {
      let m = group.members.get(id);
      if (!m) {
        m = newMember(id, emptyMetadata());
        group.members.set(id, m);
      }
      return m;
    };
    switch (k.type) {
      case GROUP_METADATA:
        group.groupEpoch = readEpochValue(value!);
        return;
      case TARGET_ASSIGNMENT_METADATA:
        if (value) group.assignmentEpoch = readEpochValue(value);
        return;
      case MEMBER_METADATA:
        if (value === null) {
          group.remove(k.member!);
        } else {
          const m = memberOf(k.member!);
          Object.assign(m, readMemberMetadataValue(value));
          if (m.instanceId !== null) group.staticMembers.set(m.instanceId, m.memberId);
        }
        return;
      case TARGET_ASSIGNMENT_MEMBER:
        if (value === null) group.targetAssignment.delete(k.member!);
        else group.targetAssignment.set(k.member!, readTargetAssignmentMemberValue(value));
        return;
      case CURRENT_MEMBER_ASSIGNMENT:
        if (value !== null) Object.assign(memberOf(k.member!), readCurrentAssignmentValue(value));
        return;
      default:
      // Type 4 (the subscribed topics' metadata): recomputed from the topics at the next heartbeat.
    }
  }

  /** After replay: the groups resume, each member with a fresh session (and its revocation deadline). */
  resume(groupIds: string[]): void {
    for (const id of groupIds) {
      const group = this.groups.get(id);
      if (!group) continue;
      group.topicsSignature = this.topicsSignature(group);
      for (const m of group.members.values()) {
        this.scheduleSessionExpiry(group, m);
        if (m.state === 'UNREVOKED_PARTITIONS') this.scheduleRevocationTimeout(group, m);
      }
    }
  }

  /** Drops groups whose offsets partition is now led elsewhere. */
  unload(inPartition: (groupId: string) => boolean): void {
    for (const group of [...this.groups.values()]) {
      if (!inPartition(group.id)) continue;
      this.stopTimers(group);
      this.groups.delete(group.id);
    }
  }

  /** Deletes a group's records, its members' too (DeleteGroups, a classic group taking the id, or a downgrade). */
  deleteRecords(group: ConsumerGroup): RecordToWrite[] {
    this.stopTimers(group);
    this.groups.delete(group.id);
    return [
      ...[...group.members.keys()].flatMap((memberId) => memberTombstones(group.id, memberId)),
      { key: consumerGroupKey(TARGET_ASSIGNMENT_METADATA, group.id), value: null },
      { key: consumerGroupKey(GROUP_METADATA, group.id), value: null },
    ];
  }

  // ---- online migration between the classic and the consumer protocol (KIP-848) ---------------

  /** Why a classic group with members cannot become a consumer group (Kafka's messages), or null. */
  upgradeRefusal(classic: Group): string | null {
    const cannot = `Cannot upgrade classic group ${classic.id} to consumer group because`;
    if (this.migration !== 'bidirectional' && this.migration !== 'upgrade') return `${cannot} online upgrade is disabled.`;
    if (classic.protocolType !== 'consumer') return `${cannot} the group does not use the consumer embedded protocol.`;
    if (classic.members.size > this.maxSize) return `${cannot} the group size exceeds the consumer group maximum size.`;
    return null;
  }

  /**
   * Takes a classic group's members into a new consumer group at the classic generation: each
   * keeps the partitions it was assigned (its target too) and its classic metadata; returns the
   * group's records, or why the embedded protocol could not be read.
   */
  adoptClassicGroup(classic: Group): RecordToWrite[] | string {
    const group = new ConsumerGroup(classic.id);
    group.groupEpoch = classic.generationId;
    group.assignmentEpoch = classic.generationId;
    const members: ConsumerMember[] = [];
    try {
      for (const m of classic.members.values()) {
        const metadata = classic.protocolName !== null ? classic.metadataOf(m) : (m.protocols[0]?.metadata ?? Buffer.alloc(0));
        const subscription = decodeSubscription(metadata);
        const assigned = this.byTopicId(decodeAssignment(m.assignment));
        members.push(
          newMember(
            m.memberId,
            {
              instanceId: m.groupInstanceId,
              rackId: subscription.rackId,
              clientId: m.clientId,
              clientHost: m.clientHost,
              subscribedTopicNames: subscription.topics,
              subscribedTopicRegex: null,
              rebalanceTimeoutMs: m.rebalanceTimeoutMs,
              serverAssignor: null,
              classic: { sessionTimeoutMs: m.sessionTimeoutMs, supportedProtocols: m.protocols.map((p) => ({ name: p.name, metadata: p.metadata })) },
            },
            { memberEpoch: classic.generationId, previousMemberEpoch: classic.generationId, assigned },
          ),
        );
      }
    } catch {
      return `Cannot upgrade classic group ${classic.id} to consumer group because the embedded consumer protocol is malformed.`;
    }
    const records: RecordToWrite[] = [];
    for (const m of members) {
      group.add(m);
      group.targetAssignment.set(m.memberId, m.assigned);
      records.push({ key: consumerGroupKey(MEMBER_METADATA, group.id, m.memberId), value: memberMetadataValue(m) });
    }
    records.push({ key: consumerGroupKey(GROUP_METADATA, group.id), value: groupMetadataValue(group.groupEpoch) });
    for (const m of members) records.push({ key: consumerGroupKey(TARGET_ASSIGNMENT_MEMBER, group.id, m.memberId), value: targetAssignmentMemberValue(m.assigned) });
    records.push({ key: consumerGroupKey(TARGET_ASSIGNMENT_METADATA, group.id), value: targetAssignmentMetadataValue(group.assignmentEpoch) });
    for (const m of members) records.push({ key: consumerGroupKey(CURRENT_MEMBER_ASSIGNMENT, group.id, m.memberId), value: currentAssignmentValue(m) });
    group.topicsSignature = this.topicsSignature(group);
    this.groups.set(group.id, group);
    for (const m of members) this.scheduleSessionExpiry(group, m);
    this.logger.info({ group: group.id, epoch: group.groupEpoch, members: members.length }, 'converted the classic group to a consumer group');
    return records;
  }

  /** Whether the group goes back to the classic protocol when `leaving` (of the consumer protocol) goes. */
  private mayDowngrade(group: ConsumerGroup, leaving: ConsumerMember): boolean {
    const rest = [...group.members.values()].filter((m) => m !== leaving);
    if (rest.length === 0 || rest.some((m) => m.classic === null)) return false;
    if (this.migration !== 'bidirectional' && this.migration !== 'downgrade') {
      this.logger.info({ group: group.id }, 'Cannot downgrade consumer group to classic group because the online downgrade is disabled.');
      return false;
    }
    if (rest.length > this.classicMaxSize) {
      this.logger.info({ group: group.id }, 'Cannot downgrade consumer group to classic group because its group size is greater than classic group max size.');
      return false;
    }
    return commonProtocols(rest).length > 0;
  }

  /** A member's partitions by topic name, as the embedded protocol carries them. */
  byTopicName(a: Assignment): TopicPartitions[] {
    const out: TopicPartitions[] = [];
    for (const [topicId, partitions] of a) {
      const topic = this.topics.registry.getById(topicId);
      if (topic) out.push({ topic: topic.name, partitions });
    }
    return out;
  }

  /** Partitions named by topic as an assignment by topic id; topics that no longer exist are left out. */
  private byTopicId(list: TopicPartitions[]): Assignment {
    const out: Assignment = new Map();
    for (const { topic, partitions } of list) {
      const t = this.topics.registry.get(topic);
      if (t && partitions.length > 0) out.set(t.id, [...(out.get(t.id) ?? []), ...partitions].sort((a, b) => a - b));
    }
    return out;
  }

  /**
   * JoinGroup of a classic member into a consumer group: it joins (or rejoins) as a member whose
   * subscription is its embedded protocol's; the server-side assignor decides its partitions,
   * which it moves towards one join at a time (revoking first), and gets in SyncGroup. The
   * generation it is told is its member epoch.
   */
  async classicJoin(group: ConsumerGroup, req: JoinRequest): Promise<JoinResult> {
    if (req.protocolType !== 'consumer' || req.protocols.length === 0 || !supportsProtocols(group, req.protocols)) return joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, req.memberId);
    let subscription;
    try {
      // Kafka reads the first (preferred) protocol's subscription.
      subscription = decodeSubscription(req.protocols[0]!.metadata);
    } catch {
      return joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, req.memberId);
    }
    const records: RecordToWrite[] = [];
    const full = () => group.members.size >= this.maxSize;
    let member: ConsumerMember | undefined;
    let isNew = false;
    const staticId = req.groupInstanceId !== null ? group.staticMembers.get(req.groupInstanceId) : undefined;
    if (staticId !== undefined && req.memberId !== staticId) {
      if (req.memberId !== '') return joinError(ErrorCode.FENCED_INSTANCE_ID, req.memberId);
      // A static member restarting takes its predecessor's place, epoch and partitions under a new id.
      const previous = group.members.get(staticId)!;
      member = { ...previous, memberId: newUuid(), sessionTimer: null, revocationTimer: null, joinTimer: null };
      records.push(...this.takeStaticPlace(group, previous, member));
      group.add(member);
      this.logger.info({ group: group.id, member: member.memberId, instance: req.groupInstanceId, replaced: staticId }, 'static classic member rejoined');
    } else if (req.memberId !== '' && group.members.has(req.memberId)) {
      member = group.members.get(req.memberId)!;
      if (member.classic === null) return joinError(ErrorCode.UNKNOWN_MEMBER_ID, req.memberId);
    } else {
      if (full()) return joinError(ErrorCode.GROUP_MAX_SIZE_REACHED, req.memberId);
      const memberId = req.memberId !== '' ? req.memberId : newUuid();
      // KIP-394: a new dynamic member gets its id first; the id is not kept (its join with it creates the member).
      if (req.memberId === '' && req.requireKnownMemberId && req.groupInstanceId === null) return joinError(ErrorCode.MEMBER_ID_REQUIRED, memberId);
      member = newMember(memberId, { ...emptyMetadata(), instanceId: req.groupInstanceId });
      group.add(member);
      isNew = true;
      this.logger.info({ group: group.id, member: memberId, instance: req.groupInstanceId }, 'classic member joined the consumer group');
    }
    if (member.joinTimer) {
      clearTimeout(member.joinTimer);
      member.joinTimer = null;
    }
    const before = { ...member, subscribedTopicNames: [...member.subscribedTopicNames] };
    member.subscribedTopicNames = subscription.topics;
    member.subscribedTopicRegex = null;
    member.serverAssignor = null;
    member.rackId = subscription.rackId;
    member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    member.clientId = req.clientId;
    member.clientHost = req.clientHost;
    member.classic = { sessionTimeoutMs: req.sessionTimeoutMs, supportedProtocols: req.protocols.map((p) => ({ name: p.name, metadata: Buffer.from(p.metadata) })) };
    const subscriptionChanged = isNew || !sameSubscription(before, member) || before.rackId !== member.rackId || before.rebalanceTimeoutMs !== member.rebalanceTimeoutMs;
    records.push({ key: consumerGroupKey(MEMBER_METADATA, group.id, member.memberId), value: memberMetadataValue(member) });
    const signature = this.topicsSignature(group);
    if (subscriptionChanged || signature !== group.topicsSignature) records.push(...this.newTargetAssignment(group, signature));
    // The partitions it still owns are in its subscription; those it gave up before joining are revoked already.
    const owned = [...this.byTopicId(subscription.ownedPartitions)].map(([topicId, partitions]) => ({ topicId, partitions }));
    records.push(...this.advance(group, member, owned));
    if (member.state === 'UNREVOKED_PARTITIONS') records.push(...this.advance(group, member, owned));
    this.scheduleSessionExpiry(group, member);
    const code = await this.write(group.id, records);
    if (code !== ErrorCode.NONE) return joinError(code, member.memberId);
    return {
      errorCode: ErrorCode.NONE,
      generationId: member.memberEpoch,
      protocolType: 'consumer',
      protocolName: member.classic.supportedProtocols[0]!.name,
      // No member leads: the coordinator assigns.
      leader: '',
      memberId: member.memberId,
      members: [],
    };
  }

  /** A classic member of the consumer group, as SyncGroup, Heartbeat and LeaveGroup identify it; else the error code. */
  private classicMember(group: ConsumerGroup, memberId: string, instanceId: string | null): ConsumerMember | number {
    if (instanceId !== null) {
      const current = group.staticMembers.get(instanceId);
      if (current === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
      if (memberId !== current) return ErrorCode.FENCED_INSTANCE_ID;
    }
    const member = group.members.get(memberId);
    return member && member.classic !== null ? member : ErrorCode.UNKNOWN_MEMBER_ID;
  }

  /** SyncGroup of a classic member: its current partitions, as the embedded protocol's assignment (what the leader would send). */
  classicSync(group: ConsumerGroup, generationId: number, memberId: string, instanceId: string | null, protocolType: string | null, protocolName: string | null): SyncResult {
    const member = this.classicMember(group, memberId, instanceId);
    if (typeof member === 'number') return syncError(member);
    if (generationId !== member.memberEpoch) return syncError(ErrorCode.ILLEGAL_GENERATION);
    const name = member.classic!.supportedProtocols[0]!.name;
    if ((protocolType !== null && protocolType !== 'consumer') || (protocolName !== null && protocolName !== name)) return syncError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    this.scheduleSessionExpiry(group, member);
    return { errorCode: ErrorCode.NONE, protocolType: 'consumer', protocolName: name, assignment: encodeAssignment(this.byTopicName(member.assigned)) };
  }

  /**
   * Heartbeat of a classic member: REBALANCE_IN_PROGRESS when it must rejoin, that is when the
   * group has a newer epoch, it has partitions to revoke, or partitions it waited for are free.
   */
  classicHeartbeat(group: ConsumerGroup, generationId: number, memberId: string, instanceId: string | null): number {
    const member = this.classicMember(group, memberId, instanceId);
    if (typeof member === 'number') return member;
    if (generationId !== member.memberEpoch) return ErrorCode.ILLEGAL_GENERATION;
    this.scheduleSessionExpiry(group, member);
    const rejoin =
      member.memberEpoch < group.groupEpoch ||
      member.state === 'UNREVOKED_PARTITIONS' ||
      (member.state === 'UNRELEASED_PARTITIONS' && !group.waitingOnUnreleased(member));
    if (!rejoin) return ErrorCode.NONE;
    this.scheduleJoinTimeout(group, member);
    return ErrorCode.REBALANCE_IN_PROGRESS;
  }

  /** A classic member told to rejoin must do so within its rebalance timeout, else it is removed (it may hold partitions others wait for). */
  private scheduleJoinTimeout(group: ConsumerGroup, member: ConsumerMember): void {
    if (member.joinTimer) return;
    member.joinTimer = setTimeout(() => {
      member.joinTimer = null;
      if (!this.isCurrent(group, member)) return;
      this.logger.info({ group: group.id, member: member.memberId, rebalanceTimeoutMs: member.rebalanceTimeoutMs }, 'the classic member did not rejoin within its rebalance timeout; removed');
      this.writeInBackground(group.id, this.removeMember(group, member, 'join timeout'));
    }, Math.max(0, member.rebalanceTimeoutMs));
    member.joinTimer.unref();
  }

  /** LeaveGroup of classic members of the consumer group; an error code for each. */
  classicLeave(group: ConsumerGroup, leaving: Array<{ memberId: string; groupInstanceId: string | null }>): number[] {
    const records: RecordToWrite[] = [];
    const codes = leaving.map((l) => {
      const memberId = l.groupInstanceId !== null && l.memberId === '' ? (group.staticMembers.get(l.groupInstanceId) ?? '') : l.memberId;
      const member = this.classicMember(group, memberId, l.groupInstanceId);
      if (typeof member === 'number') return member;
      records.push(...this.removeMember(group, member, 'classic member left'));
      return ErrorCode.NONE;
    });
    if (records.length > 0) this.writeInBackground(group.id, records);
    return codes;
  }

  private stopTimers(group: ConsumerGroup): void {
    for (const m of group.members.values()) {
      if (m.sessionTimer) clearTimeout(m.sessionTimer);
      if (m.revocationTimer) clearTimeout(m.revocationTimer);
      if (m.joinTimer) clearTimeout(m.joinTimer);
    }
  }

  close(): void {
    for (const group of this.groups.values()) this.stopTimers(group);
  }
}

/** The protocols every classic member supports (a downgraded group chooses among them). */
function commonProtocols(members: Array<{ classic: ClassicMemberMetadata | null }>): string[] {
  return protocolsInCommon(members.flatMap((m) => (m.classic ? [m.classic.supportedProtocols] : [])));
}

/** A classic member may join when it shares a protocol with every classic member already in (Kafka's supportsClassicProtocols). */
function supportsProtocols(group: ConsumerGroup, protocols: Array<{ name: string }>): boolean {
  const classicMembers = [...group.members.values()].filter((m) => m.classic !== null);
  if (classicMembers.length === 0) return true;
  const names = new Set(protocols.map((p) => p.name));
  return commonProtocols(classicMembers).some((p) => names.has(p));
}

function memberTombstones(groupId: string, memberId: string): RecordToWrite[] {
  return [CURRENT_MEMBER_ASSIGNMENT, TARGET_ASSIGNMENT_MEMBER, MEMBER_METADATA].map((type) => ({ key: consumerGroupKey(type, groupId, memberId), value: null }));
}

function sameSubscription(a: MemberMetadata, b: MemberMetadata): boolean {
  return (
    a.subscribedTopicNames.length === b.subscribedTopicNames.length &&
    a.subscribedTopicNames.every((t) => b.subscribedTopicNames.includes(t)) &&
    a.subscribedTopicRegex === b.subscribedTopicRegex &&
    a.serverAssignor === b.serverAssignor
  );
}
