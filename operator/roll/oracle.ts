// What the roll planner needs to know, asked of the brokers: each broker's own verdict over HTTP
// (GET /v1/shutdown-safety of a broker on the old template, GET /v1/caught-up of one on the new)
// and, through the Kafka admin protocol, the active controller, the racks (DescribeCluster) and
// each partition's replica set (Metadata). A broker that does not answer in time "cannot tell".
import type { KafkaConnection } from '../../broker/protocol/client.js';
import { type BrokerAddress, openBrokerConnection } from '../broker-connection.js';
import { describeClusterApi, metadataApi } from '../../broker/protocol/messages/index.js';
import { withTimeout } from '../deadline.js';
import type { CaughtUp, RollBroker, RollFacts, RollingUpdate, Safety, SafetyBlocker } from './planner.js';

const TIMEOUT_MS = 3000;

/** Where to ask a broker: its Kafka endpoint (the operator's listener) and its HTTP address. */
export interface BrokerEndpoint {
  host: string;
  httpPort: number;
  kafka: BrokerAddress;
}

/** A broker and where to reach it: null while it is not ready. */
export interface RollTarget extends RollBroker {
  endpoint: BrokerEndpoint | null;
}

/** GET /v1/shutdown-safety: 200 safe, 409 unsafe (the blocking partitions), anything else cannot tell. */
export async function shutdownSafety(host: string, httpPort: number): Promise<Safety> {
  try {
    const res = await fetch(`http://${host}:${httpPort}/v1/shutdown-safety`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    const body = (await res.json().catch(() => ({}))) as { blocking?: SafetyBlocker[]; reason?: string };
    if (res.status === 200) return { state: 'safe' };
    if (res.status === 409) return { state: 'unsafe', blocking: body.blocking ?? [] };
    return { state: 'unknown', reason: body.reason ?? `it answered ${res.status}` };
  } catch (err) {
    return { state: 'unknown', reason: `it did not answer (${(err as Error).message})` };
  }
}

/** GET /v1/caught-up: null when 200, else what lags. */
export async function caughtUp(host: string, httpPort: number): Promise<CaughtUp> {
  try {
    const res = await fetch(`http://${host}:${httpPort}/v1/caught-up`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    const body = (await res.json().catch(() => ({}))) as { lagging?: Array<{ topic: string; partition: number; reason: string }>; reason?: string };
    if (res.status === 200) return null;
    if (body.lagging?.length) return body.lagging.map((l) => `${l.topic}-${l.partition} ${l.reason}`).join(', ');
    return body.reason ?? `it answered ${res.status}`;
  } catch (err) {
    return `it did not answer (${(err as Error).message})`;
  }
}

/** Sends one admin request, giving up after TIMEOUT_MS (a stopped broker accepts connections but never answers). */
async function ask<T>(address: BrokerAddress, what: (conn: KafkaConnection) => Promise<T>): Promise<T> {
  let conn: KafkaConnection | undefined;
  try {
    return await withTimeout(
      (async () => {
        conn = await openBrokerConnection(address, 'samsa-operator');
        return what(conn);
      })(),
      TIMEOUT_MS,
      `${address.host}:${address.port}`,
    );
  } finally {
    // Not awaited: a stopped broker never acknowledges the close.
    void conn?.close();
  }
}

export interface ClusterShape {
  controllerId: number | null;
  racks: Map<number, string | null>;
  replicas: Map<string, number[]>;
}

/** The controller and racks (DescribeCluster) and every partition's replicas (Metadata), asked of one broker. */
export async function clusterShape(address: BrokerAddress): Promise<ClusterShape> {
  return ask(address, async (conn) => {
    const described = await conn.send(describeClusterApi, 0, { includeClusterAuthorizedOperations: false, endpointType: 1, includeFencedBrokers: false });
    if (described.errorCode !== 0) throw new Error(described.errorMessage ?? `DescribeCluster error ${described.errorCode}`);
    const meta = await conn.send(metadataApi, 12, { topics: null, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
    const replicas = new Map<string, number[]>();
    for (const t of meta.topics) for (const p of t.partitions) replicas.set(`${t.name}-${p.partitionIndex}`, [...p.replicaNodes]);
    return {
      controllerId: described.controllerId >= 0 ? described.controllerId : null,
      racks: new Map(described.brokers.map((b) => [b.brokerId, b.rack])),
      replicas,
    };
  });
}

/**
 * Everything planRoll needs: the shape of the cluster from the first ready broker that answers
 * (unknown when none does: then the controller is not known and nobody restarts in parallel),
 * each ready outdated broker's shutdown safety and each ready updated broker's caught-up state.
 */
export async function readRollFacts(targets: RollTarget[], expected: number, rollingUpdate: RollingUpdate): Promise<RollFacts> {
  let shape: ClusterShape | null = null;
  for (const t of targets) {
    if (!t.endpoint || !t.ready || shape) continue;
    shape = await clusterShape(t.endpoint.kafka).catch(() => null);
  }
  const safety = new Map<number, Safety>();
  const lagging = new Map<number, CaughtUp>();
  await Promise.all(
    targets.map(async (t) => {
      if (!t.endpoint || !t.ready) return;
      if (t.outdated) safety.set(t.id, await shutdownSafety(t.endpoint.host, t.endpoint.httpPort));
      else lagging.set(t.id, await caughtUp(t.endpoint.host, t.endpoint.httpPort));
    }),
  );
  return {
    brokers: targets.map(({ id, outdated, ready, failing }) => ({ id, outdated, ready, failing })),
    expected,
    safety,
    caughtUp: lagging,
    controllerId: shape?.controllerId ?? null,
    racks: shape?.racks ?? new Map(),
    replicas: shape?.replicas ?? null,
    rollingUpdate,
  };
}
