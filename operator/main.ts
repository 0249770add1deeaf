#!/usr/bin/env node
// The Samsa operator: leader election, then the KafkaCluster and KafkaTopic controllers; fastify
// serves /healthz, /readyz and /metrics all along.
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import Fastify, { type FastifyBaseLogger, LogController } from 'fastify';
import pino from 'pino';
import { ClusterReconciler } from './cluster/reconciler.js';
import { selectorLabels } from './cluster/resources.js';
import { Controller, keyOf } from './controller/controller.js';
import { API_VERSION, type KafkaTopic } from './crds/types.js';
import { Kube, type KubernetesObject } from './kube.js';
import { LeaderElector } from './leader-election.js';
import { OperatorMetrics } from './metrics.js';
import { TopicReconciler } from './topic/reconciler.js';

const { values } = parseArgs({
  options: {
    kubeconfig: { type: 'string' },
    'http-port': { type: 'string', default: '8080' },
    'http-host': { type: 'string', default: '0.0.0.0' },
    // A string, as the chart renders it (--leader-elect=true|false), the way Kubernetes components take it.
    'leader-elect': { type: 'string', default: 'true' },
    'lease-namespace': { type: 'string', default: process.env.POD_NAMESPACE ?? 'default' },
    'lease-name': { type: 'string', default: 'samsa-operator' },
    'resync-seconds': { type: 'string', default: '60' },
    'log-level': { type: 'string', default: process.env.LOG_LEVEL ?? 'info' },
  },
});

function booleanFlag(name: string, value: string): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  process.stderr.write(`samsa-operator: --${name} must be true or false, got "${value}"\n`);
  process.exit(2);
}
const leaderElect = booleanFlag('leader-elect', values['leader-elect']);

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
http.get('/readyz', async (_req, reply) => (ready ? { status: 'ready' } : reply.code(503).send({ status: 'not ready', reason: 'waiting for leadership or caches' })));
http.get('/metrics', async (_req, reply) => {
  reply.header('content-type', metrics.registry.contentType);
  return metrics.registry.metrics();
});
await http.listen({ host: values['http-host'], port: Number(values['http-port']) });

const controllers: Controller[] = [];
const elector = new LeaderElector(kube, { namespace: values['lease-namespace'], name: values['lease-name'], identity: `${hostname()}-${process.pid}` }, logger);

async function shutdown(signal: string): Promise<void> {
  logger.info({ signal }, 'operator stopping');
  for (const c of controllers) c.stop();
  elector.stop();
  await http.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

if (leaderElect) {
  await elector.run(() => {
    // Another replica may be acting already: stop at once, the Deployment restarts us as a standby.
    process.exit(1);
  });
}
metrics.leader.set(1);

const resyncMs = Number(values['resync-seconds']) * 1000;
const clusters = kube.informer<KubernetesObject>(API_VERSION, 'KafkaCluster');
const topics = kube.informer<KubernetesObject & KafkaTopic>(API_VERSION, 'KafkaTopic');
const managed = 'app.kubernetes.io/managed-by=samsa-operator';
const statefulSets = kube.informer<KubernetesObject>('apps/v1', 'StatefulSet', managed);
const pods = kube.informer<KubernetesObject>('v1', 'Pod', 'app.kubernetes.io/name=samsa,app.kubernetes.io/component=broker');

const clusterController = new Controller(new ClusterReconciler(kube, logger), metrics, logger);
clusterController.watch(clusters);
// Changes of what a cluster owns go to the cluster that owns it.
const ownerKey = (obj: KubernetesObject) => {
  const instance = obj.metadata?.labels?.[Object.keys(selectorLabels(''))[1]!];
  return instance ? `${obj.metadata?.namespace}/${instance}` : null;
};
clusterController.watch(statefulSets, ownerKey);
clusterController.watch(pods, ownerKey);

const topicController = new Controller(new TopicReconciler(kube, logger), metrics, logger);
topicController.watch(topics);
// When brokers become ready, topics waiting on their cluster move on.
clusters.on('update', (kc) => {
  for (const t of topics.list()) if (t.metadata?.namespace === kc.metadata?.namespace && t.spec.clusterRef.name === kc.metadata?.name) topicController.queue.add(keyOf(t));
});

for (const informer of [clusters, topics, statefulSets, pods]) {
  // A client-node informer stops on an error; it lists and watches again after a pause.
  informer.on('error', (err: unknown) => {
    logger.warn({ err }, 'watch failed; listing again in 1s');
    setTimeout(() => void informer.start().catch(() => {}), 1000).unref();
  });
  await informer.start();
}
controllers.push(clusterController, topicController);
clusterController.start(resyncMs, () => clusters.list().map(keyOf));
topicController.start(resyncMs, () => topics.list().map(keyOf));
ready = true;
logger.info('operator running');
