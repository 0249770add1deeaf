import kafkajs from 'kafkajs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { KafkaConnection } from '../../broker/protocol/client.js';
import { metadataApi } from '../../broker/protocol/messages/index.js';
import { EtcdProcess } from '../../broker/test/etcd-process.js';
import { API_VERSION } from '../crds/types.js';
import type { KubernetesObject } from '../kube.js';
import { type Obj, OperatorHarness } from './operator-harness.js';

let harness: OperatorHarness;
let etcd: EtcdProcess;
beforeAll(async () => {
  etcd = await EtcdProcess.start();
  harness = await OperatorHarness.start(['s']);
  await harness.startOperator(['resyncSeconds=5']);
}, 600_000);
afterAll(async () => {
  await harness?.stop();
  await etcd?.stop();
});

it('wires', async () => {
  const endpoint = new URL(etcd.url('x').replace('etcd://', 'http://')).host;
  await harness.admin.create({ apiVersion: API_VERSION, kind: 'KafkaCluster', metadata: { name: 'c', namespace: 's' }, spec: { replicas: 3, rack: { topologyKey: 'topology.kubernetes.io/zone' }, metadata: { etcd: { endpoints: [endpoint] } } } } as KubernetesObject);
  await harness.waitFor('ready', async () => (await harness.get('KafkaCluster', 's', 'c')).status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True', 60_000).catch(async (e) => {
    console.log(JSON.stringify((await harness.get('KafkaCluster', 's', 'c')).status, null, 1));
    for (const p of await harness.admin.list<Obj>('v1', 'Pod', 's')) console.log(p.metadata!.name, JSON.stringify(p.status?.containerStatuses));
    throw e;
  });
  const ip = (await harness.admin.get<Obj & { status: { podIP: string } }>('v1', 'Pod', 's', 'c-0')).status.podIP;
  const conn = await KafkaConnection.open(ip, 9092, 'x');
  const meta = await conn.send(metadataApi, 12, { topics: [], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
  console.log(meta.brokers);
  expect(meta.brokers).toHaveLength(3);
  await conn.close();
}, 400_000);
