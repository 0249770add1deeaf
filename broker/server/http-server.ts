// The broker's HTTP endpoints: liveness, readiness, Prometheus metrics, who this broker is, and
// the questions an operator asks before and after restarting it (shutdown safety, caught up).
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { LaggingPartition, ShutdownBlocker } from '../replication/partition-health.js';

export interface HttpStatus {
  /** Null when ready; otherwise why not. */
  notReadyReason(): string | null;
  /** What /v1/broker reports: for the operator's status and for people. */
  identity(): BrokerIdentity;
  /** Null when the broker knows the cluster's partitions (it is running); otherwise why it cannot answer for them. */
  clusterUnknownReason(): string | null;
  /** Partitions that stopping this broker now would take below min.insync.replicas or offline. */
  shutdownBlockers(): ShutdownBlocker[];
  /** Partitions this broker holds a replica of that are not fully in sync. */
  laggingPartitions(): LaggingPartition[];
}

export interface BrokerIdentity {
  nodeId: number;
  /** Null until the metadata is loaded. */
  clusterId: string | null;
  version: string;
}

/** `logger` is the root logger: this server binds `component: http` on it. */
export function createHttpServer(status: HttpStatus, registry: Registry, logger: Logger): FastifyInstance {
  const app = Fastify({ loggerInstance: logger.child({ component: 'http' }) as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }) });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const reason = status.notReadyReason();
    if (reason !== null) return reply.code(503).send({ status: 'not ready', reason });
    return { status: 'ready' };
  });
  app.get('/v1/broker', async () => status.identity());
  // 200 safe, 409 unsafe (the blocking partitions listed), 503 cannot tell: poll until 200 before stopping the broker.
  app.get('/v1/shutdown-safety', async (_req, reply) => {
    const unknown = status.clusterUnknownReason();
    if (unknown !== null) return reply.code(503).send({ safe: false, reason: unknown, blocking: [] });
    const blocking = status.shutdownBlockers();
    return reply.code(blocking.length === 0 ? 200 : 409).send({ safe: blocking.length === 0, blocking });
  });
  // 200 caught up, 503 not (the lagging partitions listed) or cannot tell.
  app.get('/v1/caught-up', async (_req, reply) => {
    const unknown = status.clusterUnknownReason();
    if (unknown !== null) return reply.code(503).send({ caughtUp: false, reason: unknown, lagging: [] });
    const lagging = status.laggingPartitions();
    return reply.code(lagging.length === 0 ? 200 : 503).send({ caughtUp: lagging.length === 0, lagging });
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
  return app;
}
