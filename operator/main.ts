#!/usr/bin/env node
// The Samsa operator: informer caches, then leader election, then the KafkaCluster, KafkaTopic and
// KafkaUser controllers; fastify serves /healthz, /readyz and /metrics all along. As in controller-runtime,
// a standby is Ready once its caches are synced (so it never blocks a rolling update of the
// Deployment); whether it leads shows in samsa_operator_leader.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import Fastify, { type FastifyBaseLogger, LogController } from 'fastify';
import pino from 'pino';
import { adminConnection } from './cluster/admin-connection.js';
import { ClusterReconciler } from './cluster/reconciler.js';
import { selectorLabels } from './cluster/resources.js';
import { Controller, keyOf } from './controller/controller.js';
import { API_VERSION, type KafkaTopic, type KafkaUser } from './crds/types.js';
import { Kube, type KubernetesObject } from './kube.js';
import { LEADER_ELECTION_DEFAULTS, LeaderElector, leaderElectionTimingError } from './leader-election.js';
import { OperatorMetrics } from './metrics.js';
import { TopicReconciler, kafkaTopicName } from './topic/reconciler.js';
import { UserReconciler } from './user/reconciler.js';

const { values } = parseArgs({
  options: {
    kubeconfig: { type: 'string' },
    'http-port': { type: 'string', default: '8080' },
    'http-host': { type: 'string', default: '0.0.0.0' },
    // A string, as the chart renders it (--leader-elect=true|false), the way Kubernetes components take it.
    'leader-elect': { type: 'string', default: 'true' },
    // Durations as Kubernetes components take them (15s, 500ms), with client-go's defaults.
    'leader-elect-lease-duration': { type: 'string', default: `${LEADER_ELECTION_DEFAULTS.leaseDurationMs / 1000}s` },
    'leader-elect-renew-deadline': { type: 'string', default: `${LEADER_ELECTION_DEFAULTS.renewDeadlineMs / 1000}s` },
    'leader-elect-retry-period': { type: 'string', default: `${LEADER_ELECTION_DEFAULTS.retryPeriodMs / 1000}s` },
    'lease-namespace': { type: 'string', default: process.env.POD_NAMESPACE ?? 'default' },
    'lease-name': { type: 'string', default: 'samsa-operator' },
    'resync-seconds': { type: 'string', default: '60' },
    'log-level': { type: 'string', default: process.env.LOG_LEVEL ?? 'info' },
    // The ClusterRole that lets brokers read their node's labels, for spec.rack (the chart ships it).
    'broker-cluster-role': { type: 'string' },
  },
});

function usageError(message: string): never {
  process.stderr.write(`samsa-operator: ${message}\n`);
  process.exit(2);
}
function booleanFlag(name: string, value: string): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  usageError(`--${name} must be true or false, got "${value}"`);
}
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
function durationFlag(name: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value);
  if (!m) usageError(`--${name} must be a duration such as 15s or 500ms, got "${value}"`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}
const leaderElect = booleanFlag('leader-elect', values['leader-elect']);
const timing = {
  leaseDurationMs: durationFlag('leader-elect-lease-duration', values['leader-elect-lease-duration']),
  renewDeadlineMs: durationFlag('leader-elect-renew-deadline', values['leader-elect-renew-deadline']),
  retryPeriodMs: durationFlag('leader-elect-retry-period', values['leader-elect-retry-period']),
};
const timingError = leaderElectionTimingError(timing);
if (timingError) usageError(`leader election: ${timingError} (--leader-elect-lease-duration > --leader-elect-renew-deadline > --leader-elect-retry-period)`);

// Each component binds its own `component` on a child of the root, so each line has it once.
const rootLogger = pino({ level: values['log-level'], base: { pid: process.pid } });
const logger = rootLogger.child({ component: 'operator' });
const config = new KubeConfig();
if (values.kubeconfig) config.loadFromFile(values.kubeconfig);
else config.loadFromDefault();
const kube = new Kube(config);
const metrics = new OperatorMetrics();
let ready = false;

const http = Fastify({ loggerInstance: rootLogger.child({ component: 'http' }) as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }) });
http.get('/healthz', async () => ({ status: 'ok' }));
http.get('/readyz', async (_req, reply) => (ready ? { status: 'ready' } : reply.code(503).send({ status: 'not ready', reason: 'caches are not synced yet' })));
http.get('/metrics', async (_req, reply) => {
  reply.header('content-type', metrics.registry.contentType);
  return metrics.registry.metrics();
});
await http.listen({ host: values['http-host'], port: Number(values['http-port']) });

const controllers: Controller[] = [];
const elector = leaderElect
  ? new LeaderElector(kube, { namespace: values['lease-namespace'], name: values['lease-name'], identity: `${hostname()}_${randomUUID()}`, ...timing }, logger)
  : null;

async function shutdown(signal: string): Promise<void> {
  logger.info({ signal }, 'operator stopping');
  // Finish the reconciles under way (for a while), then hand the lease over at once.
  const atMost = (ms: number, work: Promise<unknown>) => Promise.race([work, new Promise((r) => setTimeout(r, ms))]);
  await atMost(10_000, Promise.all(controllers.map((c) => c.stop())));
  // An API server that does not answer must not keep the process from exiting: the lease then expires.
  await atMost(5_000, elector?.release() ?? Promise.resolve());
  metrics.leader.set(0);
  await http.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

const resyncMs = Number(values['resync-seconds']) * 1000;
const clusters = await kube.informer<KubernetesObject>(API_VERSION, 'KafkaCluster');
const topics = await kube.informer<KubernetesObject & KafkaTopic>(API_VERSION, 'KafkaTopic');
const users = await kube.informer<KubernetesObject & KafkaUser>(API_VERSION, 'KafkaUser');
// The users' own Secrets (a deleted or edited one is written again); a Secret holding a
// user-given password is read at each reconcile, so a changed password is set at the next resync.
const userSecrets = await kube.informer<KubernetesObject>('v1', 'Secret', 'samsa.dev/kafka-user');
const managed = 'app.kubernetes.io/managed-by=samsa-operator';
const statefulSets = await kube.informer<KubernetesObject>('apps/v1', 'StatefulSet', managed);
const pods = await kube.informer<KubernetesObject>('v1', 'Pod', 'app.kubernetes.io/name=samsa,app.kubernetes.io/component=broker');

const clusterController = new Controller(new ClusterReconciler(kube, logger, { brokerClusterRole: values['broker-cluster-role'] }), metrics, logger);
clusterController.watch(clusters);
// Changes of what a cluster owns go to the cluster that owns it.
const ownerKey = (obj: KubernetesObject) => {
  const instance = obj.metadata?.labels?.[Object.keys(selectorLabels(''))[1]!];
  return instance ? `${obj.metadata?.namespace}/${instance}` : null;
};
clusterController.watch(statefulSets, ownerKey);
clusterController.watch(pods, ownerKey);

const topicController = new Controller(new TopicReconciler(kube, logger, adminConnection(kube, logger)), metrics, logger);
topicController.watch(topics);
// When brokers become ready, topics waiting on their cluster move on.
clusters.on('update', (kc) => {
  for (const t of topics.list()) if (t.metadata?.namespace === kc.metadata?.namespace && t.spec.clusterRef.name === kc.metadata?.name) topicController.queue.add(keyOf(t));
});

// When a KafkaTopic goes, another one naming the same topic may now manage it.
topics.on('delete', (gone) => {
  for (const t of topics.list()) {
    if (t.metadata?.namespace === gone.metadata?.namespace && t.spec.clusterRef.name === gone.spec.clusterRef.name && kafkaTopicName(t) === kafkaTopicName(gone)) topicController.queue.add(keyOf(t));
  }
});

const userController = new Controller(new UserReconciler(kube, logger, adminConnection(kube, logger)), metrics, logger);
userController.watch(users);
userController.watch(userSecrets, (secret) => {
  const user = secret.metadata?.labels?.['samsa.dev/kafka-user'];
  return user ? `${secret.metadata?.namespace}/${user}` : null;
});
// When brokers become ready (or the cluster's listeners change), users waiting on it move on.
clusters.on('update', (kc) => {
  for (const u of users.list()) if (u.metadata?.namespace === kc.metadata?.namespace && u.spec.clusterRef.name === kc.metadata?.name) userController.queue.add(keyOf(u));
});

for (const informer of [clusters, topics, users, statefulSets, pods, userSecrets]) {
  // A client-node informer stops on an error; it lists and watches again after a pause.
  informer.on('error', (err: unknown) => {
    logger.warn({ err }, 'watch failed; listing again in 1s');
    setTimeout(() => void informer.start().catch(() => {}), 1000).unref();
  });
  await informer.start();
}
// Caches are synced: this replica can serve, whether it leads or stands by.
ready = true;

/** Waits for the leader lease (when electing); false if shutdown came first. */
async function lead(): Promise<boolean> {
  if (!elector) return true;
  logger.info({ lease: `${values['lease-namespace']}/${values['lease-name']}` }, 'standing by for the leader lease');
  return elector.run((why) => {
    // Another replica may be acting already: stop at once; the Deployment restarts us as a standby.
    metrics.leader.set(0);
    logger.error({ reason: why }, 'stopping: no longer the leader');
    process.exit(1);
  });
}
if (await lead()) {
  metrics.leader.set(1);
  controllers.push(clusterController, topicController, userController);
  clusterController.start(resyncMs, () => clusters.list().map(keyOf));
  topicController.start(resyncMs, () => topics.list().map(keyOf));
  userController.start(resyncMs, () => users.list().map(keyOf));
  logger.info('operator running');
}
