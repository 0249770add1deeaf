// ElectLeaders (kafka-leader-election.sh, Admin.electLeaders): preferred-leader election, or an
// unclean election for partitions with no leader. Any broker runs it: each change is a
// compare-and-set on the partition's state, so it cannot undo a concurrent decision.
import type { BrokerContext } from '../context.js';
import { electUnclean } from '../controller/partition-state.js';
import { VersionConflictError } from '../metadata/metadata-store.js';
import { ErrorCode } from '../protocol/errors.js';
import type { ElectLeadersRequest, ElectLeadersResponse } from '../protocol/messages/index.js';
import type { PartitionResult } from '../protocol/messages/elect-leaders-response.js';

const PREFERRED = 0;
const UNCLEAN = 1;

export async function handleElectLeaders(broker: BrokerContext, req: ElectLeadersRequest, apiVersion: number): Promise<ElectLeadersResponse> {
  // v0 has no election type: it is always a preferred election.
  const type = apiVersion === 0 ? PREFERRED : req.electionType;
  if (type !== PREFERRED && type !== UNCLEAN) return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_REQUEST, replicaElectionResults: [] };
  const all = req.topicPartitions === null;
  const wanted = all
    ? broker.registry.all().flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partition })))
    : req.topicPartitions!.flatMap((t) => t.partitions.map((partition) => ({ topic: t.topic, partition })));
  const results = new Map<string, PartitionResult[]>();
  const add = (topic: string, result: PartitionResult) => results.set(topic, [...(results.get(topic) ?? []), result]);
  if (type === PREFERRED) {
    const outcome = await broker.controller.electPreferredLeaders(wanted);
    for (const { topic, partition } of wanted) {
      const o = outcome.get(`${topic}-${partition}`);
      // Asked for every partition, Kafka reports only those an election was tried for.
      if (all && o === 'already-preferred') continue;
      add(topic, preferredResult(partition, o));
    }
  } else {
    const live = broker.view.liveness();
    for (const { topic: name, partition } of wanted) {
      const topic = broker.registry.get(name);
      const current = topic && broker.view.partition(topic, partition);
      if (!topic || !current) {
        add(name, { partitionId: partition, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `unknown partition ${name}-${partition}` });
        continue;
      }
      const next = electUnclean(current.state, live, current.state.controllerEpoch);
      if (next === 'election-not-needed') {
        if (!all) add(name, { partitionId: partition, errorCode: ErrorCode.ELECTION_NOT_NEEDED, errorMessage: 'the partition has a live leader' });
        continue;
      }
      if (next === 'no-live-replica') {
        add(name, { partitionId: partition, errorCode: ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE, errorMessage: `no replica of ${name}-${partition} is live` });
        continue;
      }
      try {
        await broker.view.writePartition(topic, partition, next, current.version);
        broker.logger.warn({ topic: name, partition, leader: next.leader, isr: next.isr }, 'unclean leader election');
        add(name, { partitionId: partition, errorCode: ErrorCode.NONE, errorMessage: null });
      } catch (err) {
        if (!(err instanceof VersionConflictError)) throw err;
        add(name, { partitionId: partition, errorCode: ErrorCode.NOT_CONTROLLER, errorMessage: 'the partition changed concurrently; retry' });
      }
    }
  }
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, replicaElectionResults: [...results].map(([topic, partitionResult]) => ({ topic, partitionResult })) };
}

function preferredResult(partitionId: number, outcome: string | undefined): PartitionResult {
  switch (outcome) {
    case 'ok':
      return { partitionId, errorCode: ErrorCode.NONE, errorMessage: null };
    case 'already-preferred':
      return { partitionId, errorCode: ErrorCode.ELECTION_NOT_NEEDED, errorMessage: 'the preferred replica already leads' };
    case 'preferred-not-available':
      return { partitionId, errorCode: ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE, errorMessage: 'the preferred replica is not live or not in sync' };
    case 'conflict':
      return { partitionId, errorCode: ErrorCode.NOT_CONTROLLER, errorMessage: 'the partition changed concurrently; retry' };
    default:
      return { partitionId, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: 'unknown partition' };
  }
}
