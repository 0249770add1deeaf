// The broker's HTTP endpoints: liveness, readiness, Prometheus metrics, and who this broker is.
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

export interface HttpStatus {
  /** Null when ready; otherwise why not. */
  notReadyReason(): string | null;
  /** What /v1/broker reports: for the operator's status and for people. */
  identity(): BrokerIdentity;
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
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
  return app;
}
