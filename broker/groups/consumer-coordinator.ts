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
import {
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
import { ConsumerGroup, type ConsumerMember, LEAVE_EPOCH, type OwnedPartitions, reconcile, sameAssignment, STATIC_LEAVE_EPOCH } from './consumer-group.js';

export interface ConsumerHeartbeat {
  groupId: string;
  memberId: string;
  memberEpoch: number;
  instanceId: string | null;
  rackId: string | null;
  rebalanceTimeoutMs: number;
  subscribedTopicNames: string[] | null;
  subscribedTopicRegex: string | null;
  serverAssignor: string | null;
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
  /** Subscription patterns compiled, by their source. */
  private readonly regexes = new Map<string, RegExp>();

  constructor(
    config: BrokerConfig,
    private readonly topics: TopicService,
    private readonly logger: Logger,
    private readonly write: WriteRecords,
  ) {
    this.assignors = assignorNames(config.get('group.consumer.assignors')).map((n) => ASSIGNORS.get(n)!);
    this.sessionTimeoutMs = config.int('group.consumer.session.timeout.ms');
    this.heartbeatIntervalMs = config.int('group.consumer.heartbeat.interval.ms');
    this.maxSize = config.int('group.consumer.max.size');
  }

  private error(errorCode: number, errorMessage: string, memberId: string | null = null): ConsumerHeartbeatResult {
    return { errorCode, errorMessage, memberId, memberEpoch: -1, heartbeatIntervalMs: 0, assignment: null };
  }

  private validate(req: ConsumerHeartbeat): ConsumerHeartbeatResult | null {
    const invalid = (message: string) => this.error(ErrorCode.INVALID_REQUEST, message);
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
        return this.error(ErrorCode.INVALID_REGULAR_EXPRESSION, `SubscribedTopicRegex ${req.subscribedTopicRegex} is not a valid regular expression: ${(err as Error).message}.`);
      }
    }
    if (req.serverAssignor !== null && !this.assignors.some((a) => a.name === req.serverAssignor)) {
      return this.error(ErrorCode.UNSUPPORTED_ASSIGNOR, `ServerAssignor ${req.serverAssignor} is not supported. Supported assignors: ${this.assignors.map((a) => a.name).join(', ')}.`);
    }
    return null;
  }

  /**
   * ConsumerGroupHeartbeat. `classicInUse` says whether a classic group of that id has members
   * (the id is then taken); `dropClassic` is called when an empty classic group becomes a consumer group.
   */
  async heartbeat(req: ConsumerHeartbeat, classicInUse: boolean, dropClassic: () => RecordToWrite[]): Promise<ConsumerHeartbeatResult> {
    const invalid = this.validate(req);
    if (invalid) return invalid;
    if (classicInUse) return this.error(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${req.groupId} is not a consumer group.`);
    let group = this.groups.get(req.groupId);
    const records: RecordToWrite[] = [];
    if (!group) {
      if (req.memberEpoch !== 0) return this.error(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${req.groupId} not found.`);
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
      if (!existing) return this.error(ErrorCode.UNKNOWN_MEMBER_ID, `Member ${req.memberId} is not a member of group ${group.id}.`);
      if (req.instanceId !== null && group.staticMembers.get(req.instanceId) !== req.memberId) {
        return this.error(ErrorCode.FENCED_INSTANCE_ID, `Instance ${req.instanceId} is now member ${group.staticMembers.get(req.instanceId) ?? 'none'}.`);
      }
      if (!this.validEpoch(existing, req)) {
        return this.error(ErrorCode.FENCED_MEMBER_EPOCH, `The member epoch ${req.memberEpoch} of ${req.memberId} is fenced (the current one is ${existing.memberEpoch}).`);
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
      if (code !== ErrorCode.NONE) return this.error(code, 'the group state could not be written to the offsets topic', member.memberId);
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
      existing.state = 'STABLE';
      existing.pendingRevocation = new Map();
      return { member: existing, metadataChanged: this.updateMetadata(existing, req) };
    }
    const staticId = req.instanceId !== null ? group.staticMembers.get(req.instanceId) : undefined;
    const previous = staticId !== undefined ? group.members.get(staticId) : undefined;
    if (previous && previous.memberEpoch !== STATIC_LEAVE_EPOCH) {
      return this.error(ErrorCode.UNRELEASED_INSTANCE_ID, `Static member ${previous.memberId} with instance id ${req.instanceId} is still in group ${group.id}.`);
    }
    if (!previous && group.members.size >= this.maxSize) return this.error(ErrorCode.GROUP_MAX_SIZE_REACHED, `Group ${group.id} has reached its maximum size (${this.maxSize}).`);
    const member: ConsumerMember = {
      memberId,
      instanceId: req.instanceId,
      rackId: req.rackId,
      clientId: req.clientId,
      clientHost: req.clientHost,
      subscribedTopicNames: req.subscribedTopicNames ?? [],
      subscribedTopicRegex: req.subscribedTopicRegex,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs,
      serverAssignor: req.serverAssignor,
      memberEpoch: 0,
      previousMemberEpoch: 0,
      state: 'STABLE',
      assigned: new Map(),
      pendingRevocation: new Map(),
      sessionTimer: null,
      revocationTimer: null,
    };
    let metadataChanged = true;
    if (previous) {
      // A static member back under a new id takes its predecessor's place, epoch and partitions;
      // the group rebalances only if its subscription changed.
      member.memberEpoch = previous.previousMemberEpoch;
      member.previousMemberEpoch = previous.previousMemberEpoch;
      member.assigned = previous.assigned;
      const target = group.targetAssignment.get(previous.memberId);
      group.remove(previous.memberId);
      records.push(...memberTombstones(group.id, previous.memberId));
      if (target) {
        group.targetAssignment.set(memberId, target);
        records.push({ key: consumerGroupKey(TARGET_ASSIGNMENT_MEMBER, group.id, memberId), value: targetAssignmentMemberValue(target) });
      }
      records.push({ key: consumerGroupKey(CURRENT_MEMBER_ASSIGNMENT, group.id, memberId), value: currentAssignmentValue(member) });
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
    if (!member) return this.error(ErrorCode.UNKNOWN_MEMBER_ID, `Member ${req.memberId} is not a member of group ${group.id}.`);
    if (req.instanceId !== null && group.staticMembers.get(req.instanceId) !== req.memberId) {
      return this.error(ErrorCode.FENCED_INSTANCE_ID, `Instance ${req.instanceId} is now member ${group.staticMembers.get(req.instanceId) ?? 'none'}.`);
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
        : this.error(code, 'the group state could not be written to the offsets topic', req.memberId);
    return this.write(group.id, records).then(done);
  }

  /** Removes a member (left, expired or fenced): its records are tombstoned and the group gets a new target. */
  private removeMember(group: ConsumerGroup, member: ConsumerMember, reason: string): RecordToWrite[] {
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

  /** The subscribed topics as they are now: a topic created (or matching a pattern), deleted or given partitions changes it. */
  private topicsSignature(group: ConsumerGroup): string {
    return [...new Set([...group.members.values()].flatMap((m) => this.topicNamesOf(m)))]
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

  private scheduleSessionExpiry(group: ConsumerGroup, member: ConsumerMember): void {
    if (member.sessionTimer) clearTimeout(member.sessionTimer);
    member.sessionTimer = setTimeout(() => {
      member.sessionTimer = null;
      if (group.members.get(member.memberId) !== member) return;
      this.logger.info({ group: group.id, member: member.memberId }, 'member session expired');
      this.writeInBackground(group.id, this.removeMember(group, member, 'session timeout'));
    }, this.sessionTimeoutMs);
    member.sessionTimer.unref();
  }

  /** A member that does not revoke its partitions within its rebalance timeout is fenced, so that others can have them. */
  private scheduleRevocationTimeout(group: ConsumerGroup, member: ConsumerMember): void {
    if (member.revocationTimer) clearTimeout(member.revocationTimer);
    member.revocationTimer = setTimeout(() => {
      member.revocationTimer = null;
      if (group.members.get(member.memberId) !== member || member.state !== 'UNREVOKED_PARTITIONS') return;
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
    return memberEpoch === member.memberEpoch ? ErrorCode.NONE : ErrorCode.STALE_MEMBER_EPOCH;
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
        m = { memberId: id, ...emptyMetadata(), memberEpoch: 0, previousMemberEpoch: 0, state: 'STABLE', assigned: new Map(), pendingRevocation: new Map(), sessionTimer: null, revocationTimer: null };
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

  /** Deletes an empty group's records (DeleteGroups, or a classic group taking the id). */
  deleteRecords(group: ConsumerGroup): RecordToWrite[] {
    this.stopTimers(group);
    this.groups.delete(group.id);
    return [
      { key: consumerGroupKey(TARGET_ASSIGNMENT_METADATA, group.id), value: null },
      { key: consumerGroupKey(GROUP_METADATA, group.id), value: null },
    ];
  }

  private stopTimers(group: ConsumerGroup): void {
    for (const m of group.members.values()) {
      if (m.sessionTimer) clearTimeout(m.sessionTimer);
      if (m.revocationTimer) clearTimeout(m.revocationTimer);
    }
  }

  close(): void {
    for (const group of this.groups.values()) this.stopTimers(group);
  }
}

function emptyMetadata(): MemberMetadata {
  return { instanceId: null, rackId: null, clientId: '', clientHost: '', subscribedTopicNames: [], subscribedTopicRegex: null, rebalanceTimeoutMs: -1, serverAssignor: null };
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
