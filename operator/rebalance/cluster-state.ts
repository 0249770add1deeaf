// What the planner and the executor need to know about a live cluster, read through the Kafka
// admin protocol: the brokers and their racks and every partition's replicas, leader and ISR
// (Metadata), the reassignments in flight (ListPartitionReassignments), and the size of every
// replica on every broker (DescribeLogDirs, asked of each broker, since each knows only its own).
import type { KafkaConnection } from '../../broker/protocol/client.js';
import { ErrorCode } from '../../broker/protocol/errors.js';
import { describeLogDirsApi, listPartitionReassignmentsApi, metadataApi } from '../../broker/protocol/messages/index.js';
import { type BrokerAddress, openBrokerConnection } from '../broker-connection.js';
import type { PlannerInput, PlannerPartition } from './planner.js';

/** A broker's endpoint (with the TLS the operator uses), and its id when known. */
export interface Address extends BrokerAddress {
  id?: number;
}

export interface ObservedBroker {
  id: number;
  rack: string | null;
  host: string;
  port: number;
}

export interface ObservedPartition {
  topic: string;
  partition: number;
  /** As Metadata lists them: during a reassignment, the target followed by the replicas being removed. */
  replicas: number[];
  leader: number;
  isr: number[];
  adding: number[];
  removing: number[];
  /** Broker id → bytes of its replica (brokers that did not answer DescribeLogDirs are missing). */
  sizes: Map<number, number>;
}

export interface ClusterState {
  /** When it was read (ms since the epoch). */
  at: number;
  /** The registered brokers. */
  brokers: ObservedBroker[];
  partitions: ObservedPartition[];
  /** Brokers whose log sizes could not be read, and why. */
  unreadable: Map<number, string>;
}

export const partitionKey = (topic: string, partition: number) => `${topic}-${partition}`;

/** The replicas a partition has once its reassignment (if any) completes. */
export const targetReplicas = (p: ObservedPartition): number[] => p.replicas.filter((id) => !p.removing.includes(id));

/** One replica's size: the largest any broker reports (the leader's log is the most complete). */
export const replicaBytes = (p: ObservedPartition): number => Math.max(0, ...p.sizes.values());

export async function withConnection<T>(address: Address, use: (c: KafkaConnection) => Promise<T>): Promise<T> {
  const c = await openBrokerConnection(address, 'samsa-rebalance');
  try {
    return await use(c);
  } finally {
    await c.close();
  }
}

/** Opens a connection to the first of `bootstrap` that answers. */
export async function connectAny(bootstrap: readonly Address[]): Promise<KafkaConnection> {
  const errors: string[] = [];
  for (const a of bootstrap) {
    try {
      return await openBrokerConnection(a, 'samsa-rebalance');
    } catch (err) {
      errors.push(`${a.host}:${a.port}: ${(err as Error).message}`);
    }
  }
  throw new Error(`no broker reachable (${errors.join('; ')})`);
}

/** Reads the cluster through any broker of `bootstrap`, then each broker's log sizes. */
export async function readClusterState(bootstrap: readonly Address[]): Promise<ClusterState> {
  const conn = await connectAny(bootstrap);
  let metadata;
  let ongoing;
  try {
    metadata = await conn.send(metadataApi, 12, { topics: null, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
    ongoing = await conn.send(listPartitionReassignmentsApi, 0, { timeoutMs: 10_000, topics: null });
  } finally {
    await conn.close();
  }
  if (ongoing.errorCode !== ErrorCode.NONE) throw new Error(`ListPartitionReassignments failed: ${ongoing.errorMessage ?? `error ${ongoing.errorCode}`}`);
  const reassigning = new Map<string, { adding: number[]; removing: number[] }>();
  for (const t of ongoing.topics) for (const p of t.partitions) reassigning.set(partitionKey(t.name, p.partitionIndex), { adding: p.addingReplicas, removing: p.removingReplicas });

  const brokers = metadata.brokers.map((b) => ({ id: b.nodeId, rack: b.rack, host: b.host, port: b.port })).sort((a, b) => a.id - b.id);
  const partitions: ObservedPartition[] = [];
  const byKey = new Map<string, ObservedPartition>();
  for (const t of metadata.topics) {
    if (t.errorCode !== ErrorCode.NONE || t.name === null) continue;
    for (const p of t.partitions) {
      const moving = reassigning.get(partitionKey(t.name, p.partitionIndex));
      const observed: ObservedPartition = {
        topic: t.name,
        partition: p.partitionIndex,
        replicas: p.replicaNodes,
        leader: p.leaderId,
        isr: p.isrNodes,
        adding: moving?.adding ?? [],
        removing: moving?.removing ?? [],
        sizes: new Map(),
      };
      partitions.push(observed);
      byKey.set(partitionKey(observed.topic, observed.partition), observed);
    }
  }
  partitions.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));

  // Each broker is asked at the address given for its id, else as Metadata advertises it, with the same TLS identity.
  const given = new Map(bootstrap.flatMap((a) => (a.id !== undefined ? [[a.id, a] as const] : [])));
  const tls = bootstrap[0]?.tls;
  const addressOf = (b: ObservedBroker): Address => given.get(b.id) ?? { host: b.host, port: b.port, ...(tls ? { tls: { ...tls, servername: undefined } } : {}) };
  const unreadable = new Map<number, string>();
  await Promise.all(
    brokers.map(async (b) => {
      try {
        const res = await withConnection(addressOf(b), (c) => c.send(describeLogDirsApi, 4, { topics: null }));
        if (res.errorCode !== ErrorCode.NONE) throw new Error(`DescribeLogDirs error ${res.errorCode}`);
        for (const dir of res.results) {
          if (dir.errorCode !== ErrorCode.NONE) throw new Error(`log directory ${dir.logDir} error ${dir.errorCode}`);
          for (const t of dir.topics) for (const p of t.partitions) if (!p.isFutureKey) byKey.get(partitionKey(t.name, p.partitionIndex))?.sizes.set(b.id, p.partitionSize);
        }
      } catch (err) {
        unreadable.set(b.id, (err as Error).message);
      }
    }),
  );
  return { at: Date.now(), brokers, partitions, unreadable };
}

/**
 * The planner's view of the cluster: a partition being reassigned counts as already at its
 * target, so that a plan made mid-way continues the moves in flight rather than undoing them.
 * `brokers` are the brokers of the cluster (by default the registered ones).
 */
export function plannerInput(state: ClusterState, wanted: Omit<PlannerInput, 'brokers' | 'partitions'> & { brokers?: PlannerInput['brokers'] } = {}): PlannerInput {
  const partitions: PlannerPartition[] = state.partitions.map((p) => ({
    topic: p.topic,
    partition: p.partition,
    replicas: targetReplicas(p),
    leader: p.leader,
    isr: p.isr,
    bytes: replicaBytes(p),
  }));
  return { ...wanted, brokers: wanted.brokers ?? state.brokers.map(({ id, rack }) => ({ id, rack })), partitions };
}
