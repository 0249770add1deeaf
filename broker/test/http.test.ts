// The broker's HTTP endpoints on a real process: liveness, readiness, and metrics that follow
// real Kafka traffic.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrokerProcess } from './broker-process.js';
import { kcatConsume, kcatProduce } from './kcat.js';

let broker: BrokerProcess;

beforeAll(async () => {
  broker = await BrokerProcess.start();
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

  it('logs structured JSON lines', () => {
    const lines = broker.output.split('\n').filter((l) => l.startsWith('{'));
    expect(lines.length).toBeGreaterThan(0);
    const ready = lines.map((l) => JSON.parse(l) as { msg: string; level: number }).find((l) => l.msg === 'broker ready');
    expect(ready).toMatchObject({ level: 30, nodeId: 1 });
  });
});
