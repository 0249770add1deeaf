// Client quotas applied to one request, as Kafka's request handling applies them:
// - Produce: the request's size goes to the producer_byte_rate sensor, its handling time to
//   the request_percentage sensor (not for acks=0, which has no response); the records are
//   appended either way and the larger throttle time is answered.
// - Fetch from a consumer: the response's size goes to the consumer_byte_rate sensor. If either
//   quota is violated the client gets an empty response with the throttle time and the bytes
//   are taken back from the sensor (the records stay in the log for its next fetch).
// - A follower's Fetch, OffsetForLeaderEpoch and ListOffsets are exempt (replication has its own
//   quotas; Kafka exempts inter-broker requests).
// - Every other API with a throttle_time_ms: the request_percentage sensor.
// The connection then holds the client back for the throttle time (KIP-219: it stops reading
// the socket; a client too old to throttle itself gets its response only after that time).
import type { ClientQuotas } from './quota-manager.js';
import { encodeResponse } from '../protocol/frame.js';
import { ApiKey, type ApiSpec, type FetchRequest, type FetchResponse, type ProduceRequest } from '../protocol/messages/index.js';
import { replicaIdOf } from '../handlers/fetch.js';

/** Percent of one thread per nanosecond of handling, as Kafka converts request time. */
const NANOS_TO_PERCENT = 100 / 1e9;

/**
 * The first version of each served API whose clients throttle themselves on throttle_time_ms
 * (KIP-219); older versions get the response after the throttle time instead. APIs not listed
 * were added after KIP-219, so every version's clients throttle themselves.
 */
const CLIENT_THROTTLES_FROM = new Map<number, number>([
  [ApiKey.Produce, 6],
  [ApiKey.Fetch, 8],
  [ApiKey.ListOffsets, 3],
  [ApiKey.Metadata, 6],
  [ApiKey.OffsetCommit, 4],
  [ApiKey.OffsetFetch, 4],
  [ApiKey.FindCoordinator, 2],
  [ApiKey.JoinGroup, 3],
  [ApiKey.Heartbeat, 2],
  [ApiKey.LeaveGroup, 2],
  [ApiKey.SyncGroup, 2],
  [ApiKey.DescribeGroups, 2],
  [ApiKey.ListGroups, 2],
  [ApiKey.ApiVersions, 2],
  [ApiKey.CreateTopics, 3],
  [ApiKey.DeleteTopics, 2],
  [ApiKey.InitProducerId, 1],
  [ApiKey.OffsetForLeaderEpoch, 2],
  [ApiKey.DescribeConfigs, 2],
  [ApiKey.AlterConfigs, 1],
  [ApiKey.DescribeLogDirs, 1],
  [ApiKey.CreatePartitions, 1],
  [ApiKey.DeleteGroups, 1],
]);

export function clientThrottles(apiKey: number, apiVersion: number): boolean {
  return apiVersion >= (CLIENT_THROTTLES_FROM.get(apiKey) ?? 0);
}

/** A consumer's fetch asks for no more than its consumer_byte_rate allows within the quota's span (as Kafka caps fetch max bytes). */
export function capFetchToQuota(quotas: ClientQuotas, req: FetchRequest, apiVersion: number, user: string, clientId: string): FetchRequest {
  if (!quotas.fetch.enabled || replicaIdOf(req, apiVersion) >= 0) return req;
  const cap = quotas.fetch.maxInWindow(user, clientId);
  if (cap >= req.maxBytes) return req;
  const maxBytes = Math.max(0, Math.floor(cap));
  return { ...req, maxBytes, minBytes: Math.min(req.minBytes, maxBytes) };
}

/**
 * A follower's request (it names its replica id): exempt from client quotas, as Kafka exempts
 * inter-broker requests (with an authorizer, these need CLUSTER ClusterAction).
 */
function fromReplica(apiKey: number, body: unknown, apiVersion: number): boolean {
  if (apiKey === ApiKey.Fetch) return replicaIdOf(body as FetchRequest, apiVersion) >= 0;
  if (apiKey === ApiKey.OffsetForLeaderEpoch || apiKey === ApiKey.ListOffsets) return (body as { replicaId: number }).replicaId >= 0;
  return false;
}

export interface QuotaOutcome {
  /** The encoded response, or null when none is sent. */
  chunks: Buffer[] | null;
  throttleMs: number;
}

/**
 * Records a handled request against the client's quotas and encodes its response with the
 * throttle time. `handlerNanos` is the broker's time on the request until its handler returned.
 */
export function applyQuotas(
  quotas: ClientQuotas,
  spec: ApiSpec<unknown, unknown>,
  apiVersion: number,
  correlationId: number,
  body: unknown,
  response: unknown,
  requestBytes: number,
  handlerNanos: number,
  user: string,
  clientId: string,
): QuotaOutcome {
  const now = Date.now();
  const requestPercent = handlerNanos * NANOS_TO_PERCENT;
  const requestThrottle = (): number => (quotas.request.enabled ? Math.min(quotas.request.record(user, clientId, requestPercent, now), quotas.maxRequestThrottleMs) : 0);
  let bandwidth = 0;
  let bandwidthQuota = quotas.produce;
  let request = 0;
  let out = response;
  let chunks: Buffer[] | null = null;
  if (spec.key === ApiKey.Produce) {
    if (quotas.produce.enabled) bandwidth = quotas.produce.record(user, clientId, requestBytes, now);
    if ((body as ProduceRequest).acks !== 0) request = requestThrottle();
  } else if (response === null || fromReplica(spec.key, body, apiVersion)) {
    return { chunks: response === null ? null : encodeResponse(spec, apiVersion, correlationId, response), throttleMs: 0 };
  } else if (spec.key === ApiKey.Fetch) {
    bandwidthQuota = quotas.fetch;
    request = requestThrottle();
    if (quotas.fetch.enabled) {
      chunks = encodeResponse(spec, apiVersion, correlationId, response);
      const size = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
      bandwidth = quotas.fetch.record(user, clientId, size, now);
      if (bandwidth > 0 || request > 0) quotas.fetch.unrecord(user, clientId, size, now);
    }
    if (bandwidth > 0 || request > 0) out = { ...(response as FetchResponse), responses: [] };
  } else if (typeof (response as { throttleTimeMs?: unknown }).throttleTimeMs === 'number') {
    request = requestThrottle();
  }
  const throttleMs = Math.max(bandwidth, request);
  if (throttleMs === 0) return { chunks: response === null ? null : (chunks ?? encodeResponse(spec, apiVersion, correlationId, response)), throttleMs };
  if (bandwidth > request) bandwidthQuota.throttled(user, clientId, bandwidth);
  else quotas.request.throttled(user, clientId, request);
  if (out === null) return { chunks: null, throttleMs };
  (out as { throttleTimeMs: number }).throttleTimeMs = throttleMs;
  return { chunks: encodeResponse(spec, apiVersion, correlationId, out), throttleMs };
}
