// The broker's HTTP endpoints on a real process: liveness, readiness, the broker's identity and
// version, and metrics that follow real Kafka traffic.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../protocol/client.js';
import { metadataApi } from '../protocol/messages/index.js';
import { BrokerProcess } from './broker-process.js';
import { kcatConsume, kcatProduce } from './kcat.js';
import { jsonLines, repeatedKeys, topLevelKeys } from './log-lines.js';

let broker: BrokerProcess;

beforeAll(async () => {
  broker = await BrokerProcess.start({ 'node.id': '7' });
});

afterAll(async () => {
  await broker?.destroy();
});

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  if (!line) throw new Error(`metric ${name} not found`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('HTTP endpoints', () => {
  it('report health and readiness', async () => {
    const health = await fetch(`${broker.httpUrl}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${broker.httpUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
  });

  it('say which broker this is: node id, cluster id, version', async () => {
    const res = await fetch(`${broker.httpUrl}/v1/broker`);
    expect(res.status).toBe(200);
    const pkg = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string };
    const identity = (await res.json()) as { nodeId: number; clusterId: string; version: string };
    expect(identity).toEqual({ nodeId: 7, clusterId: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/), version: pkg.version });
    // The cluster id is the one Kafka clients are told, and stays across restarts.
    const c = await KafkaConnection.open('127.0.0.1', broker.port);
    const metadata = await c.send(metadataApi, 12, { topics: [], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
    await c.close();
    expect(metadata.clusterId).toBe(identity.clusterId);
    await broker.restart();
    expect(await (await fetch(`${broker.httpUrl}/v1/broker`)).json()).toEqual(identity);
  });

  it('export Prometheus metrics that follow traffic', async () => {
    await kcatProduce(broker.bootstrap, 'metered', ['one', 'two', 'three']);
    await kcatConsume(broker.bootstrap, 'metered');
    const res = await fetch(`${broker.httpUrl}/metrics`);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(metric(text, 'samsa_messages_in_total{topic="metered"}')).toBe(3);
    expect(metric(text, 'samsa_bytes_in_total{topic="metered"}')).toBeGreaterThan(0);
    expect(metric(text, 'samsa_bytes_out_total')).toBeGreaterThan(0);
    expect(metric(text, 'samsa_partitions')).toBe(1);
    expect(metric(text, 'samsa_log_size_bytes{topic="metered"}')).toBeGreaterThan(0);
    expect(metric(text, 'samsa_requests_total{api="Produce"}')).toBeGreaterThanOrEqual(1);
    expect(metric(text, 'samsa_requests_total{api="Fetch"}')).toBeGreaterThanOrEqual(1);
    expect(metric(text, 'samsa_request_duration_seconds_count{api="Metadata"}')).toBeGreaterThanOrEqual(1);
    expect(metric(text, 'samsa_connections_total')).toBeGreaterThanOrEqual(2);
    expect(text).toContain('samsa_process_resident_memory_bytes');
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(metric(text, `samsa_build_info{version="${version}"}`)).toBe(1);
  });

  it('answer for a one-broker cluster: its own controller, caught up, and never safe to stop while it holds a partition', async () => {
    const text = await (await fetch(`${broker.httpUrl}/metrics`)).text();
    expect(metric(text, 'samsa_active_controller')).toBe(1);
    expect(metric(text, 'samsa_leader_partitions')).toBe(1);
    expect(metric(text, 'samsa_under_replicated_partitions')).toBe(0);
    expect(metric(text, 'samsa_controller_offline_partitions')).toBe(0);
    const caughtUp = await fetch(`${broker.httpUrl}/v1/caught-up`);
    expect(caughtUp.status).toBe(200);
    expect(await caughtUp.json()).toEqual({ caughtUp: true, lagging: [] });
    // Its one replica of `metered` has nowhere else to be: stopping the broker takes it offline.
    const safety = await fetch(`${broker.httpUrl}/v1/shutdown-safety`);
    expect(safety.status).toBe(409);
    expect(await safety.json()).toEqual({ safe: false, blocking: [{ topic: 'metered', partition: 0, reason: 'would-go-offline', isr: [7], minInsyncReplicas: 1 }] });
  });

  it('logs structured JSON lines', () => {
    const lines = broker.output.split('\n').filter((l) => l.startsWith('{'));
    expect(lines.length).toBeGreaterThan(0);
    const ready = lines.map((l) => JSON.parse(l) as { msg: string; level: number }).find((l) => l.msg === 'broker ready');
    expect(ready).toMatchObject({ level: 30, nodeId: 7 });
  });

  it('write each key once per log line, whichever component logs it', () => {
    expect(topLevelKeys('{"a":1,"b":{"a":[{"a":2}],"c":"x\\",\\"a"},"a":3}')).toEqual(['a', 'b', 'a']);
    const lines = jsonLines(broker.output);
    const components = new Set(lines.map((l) => (JSON.parse(l) as { component?: string }).component));
    expect(components).toEqual(new Set(['broker', 'controller', 'http', 'replication']));
    for (const line of lines) expect(repeatedKeys(line), line).toEqual([]);
  });
});
