// Connection timeouts and limits of a real broker process, over raw sockets: idle connections
// and requests that never finish arriving are closed, a long-poll Fetch is not idle, and
// connections over max.connections / max.connections.per.ip are refused at accept while the
// ones already open keep being served. Every close is counted in /metrics.
import { type Socket, connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../protocol/client.js';
import { encodeRequest } from '../protocol/frame.js';
import { fetchApi, produceApi } from '../protocol/messages/index.js';
import { buildRecordBatch } from '../records/batch-builder.js';
import { BrokerProcess } from './broker-process.js';
import { consumerFetch } from './fetch-request.js';
import { kcatConsume, kcatProduce } from './kcat.js';
import { mustCreateTopic } from './topics.js';

/** ApiVersions v0, correlation id 1, no client id. */
const API_VERSIONS = Buffer.from([0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0xff, 0xff]);

interface RawConnection {
  socket: Socket;
  closed: Promise<void>;
}

function rawConnect(port: number, localAddress = '127.0.0.1'): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('error', () => {});
    socket.once('connect', () => resolve({ socket, closed }));
    socket.once('error', reject);
  });
}

/** True if the connection answers an ApiVersions request; false if it is closed instead. */
function answers(c: RawConnection): Promise<boolean> {
  return new Promise((resolve) => {
    c.socket.once('data', () => resolve(true));
    void c.closed.then(() => resolve(false));
    c.socket.write(API_VERSIONS);
  });
}

async function metric(broker: BrokerProcess, name: string): Promise<number> {
  const text = await (await fetch(`${broker.httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  if (!line) throw new Error(`metric ${name} not found`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not within 10s: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits until the broker counts `n` open connections (it sees a client's close a moment later). */
const openConnections = (broker: BrokerProcess, n: number) => until(async () => (await metric(broker, 'samsa_connections')) === n, `${n} open connections`);

const closedTotal = (broker: BrokerProcess, reason: string) => metric(broker, `samsa_connections_closed_total{reason="${reason}"}`);

function fetchBody(topic: string, maxWaitMs: number) {
  return consumerFetch(topic, { maxWaitMs, minBytes: 1 });
}

function produceBody(topic: string, records: Buffer) {
  return { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] };
}

describe('connection timeouts', () => {
  let broker: BrokerProcess;

  beforeAll(async () => {
    broker = await BrokerProcess.start({ 'connections.max.idle.ms': '1000', 'socket.request.read.timeout.ms': '500' });
  });

  afterAll(async () => {
    await broker?.destroy();
  });

  it('closes a connection idle for connections.max.idle.ms, but not one holding a long-poll Fetch', async () => {
    const idle = await rawConnect(broker.port);
    expect(await answers(idle)).toBe(true);

    const polling = await KafkaConnection.open('127.0.0.1', broker.port, 'long-poll');
    await mustCreateTopic(polling, 'quiet');
    // Waits three idle periods at the end of an empty log: in progress, so not idle.
    const res = await polling.send(fetchApi, 12, fetchBody('quiet', 3000));
    expect(res.responses[0]!.partitions[0]).toMatchObject({ errorCode: 0, highWatermark: 0 });

    await idle.closed;
    await polling.closed;
    expect(await closedTotal(broker, 'idle')).toBe(2);
    await openConnections(broker, 0);
  });

  it('closes a connection whose client stops reading its responses', async () => {
    const producer = await KafkaConnection.open('127.0.0.1', broker.port, 'producer');
    await mustCreateTopic(producer, 'unread');
    const value = Buffer.alloc(100_000, 'x');
    for (let i = 0; i < 2; i++) {
      const res = await producer.send(produceApi, 9, produceBody('unread', buildRecordBatch(Array.from({ length: 10 }, () => ({ value })))));
      expect(res.responses[0]!.partitionResponses[0]!.errorCode).toBe(0);
    }
    await producer.close();
    await openConnections(broker, 0);
    const before = await closedTotal(broker, 'idle');

    // 64 fetches of about 1 MB each, pipelined, and never read: more than the socket buffers
    // hold, so the broker waits to write.
    const reader = await rawConnect(broker.port);
    reader.socket.pause();
    for (let i = 0; i < 64; i++) reader.socket.write(encodeRequest(fetchApi, 12, i, 'unread', fetchBody('unread', 0)));
    await until(async () => (await closedTotal(broker, 'idle')) === before + 1, 'the unread connection closed as idle');
    // The client sees the close once it reads what the broker did send.
    reader.socket.resume();
    await reader.closed;
  });

  it('closes a connection whose request frame stops short or trickles in', async () => {
    const before = await closedTotal(broker, 'idle');
    // Declares 100 bytes and sends 50.
    const half = await rawConnect(broker.port);
    half.socket.write(Buffer.concat([Buffer.from([0, 0, 0, 100]), Buffer.alloc(50)]));
    // Slowloris: 4 bytes every 200 ms, never idle, never done in time.
    const slow = await rawConnect(broker.port);
    slow.socket.write(Buffer.from([0, 0, 0, 100]));
    const trickle = setInterval(() => slow.socket.write(Buffer.alloc(4)), 200);
    try {
      await Promise.all([half.closed, slow.closed]);
    } finally {
      clearInterval(trickle);
    }
    expect(await closedTotal(broker, 'read_timeout')).toBe(2);
    expect(await closedTotal(broker, 'idle')).toBe(before);
    await until(async () => broker.output.includes('"closed":{"read_timeout":'), 'the read timeouts logged');

    // A request in several pieces that completes in time is served.
    const pieces = await rawConnect(broker.port);
    const response = new Promise<Buffer>((r) => pieces.socket.once('data', r));
    for (let i = 0; i < API_VERSIONS.length; i += 5) {
      pieces.socket.write(API_VERSIONS.subarray(i, i + 5));
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await response).readInt32BE(4)).toBe(1);
    pieces.socket.destroy();
  });
});

describe('a broker that was paused', () => {
  let broker: BrokerProcess;

  beforeAll(async () => {
    broker = await BrokerProcess.start({ 'connections.max.idle.ms': '1000', 'socket.request.read.timeout.ms': '500' });
  });

  afterAll(async () => {
    await broker?.destroy();
  });

  it('reads what arrived while it was stopped before judging timeouts', async () => {
    const idle = await rawConnect(broker.port);
    expect(await answers(idle)).toBe(true);
    const split = await rawConnect(broker.port);
    const response = new Promise<Buffer>((resolve, reject) => {
      split.socket.once('data', resolve);
      void split.closed.then(() => reject(new Error('closed instead of answered')));
    });
    split.socket.write(API_VERSIONS.subarray(0, 7));
    await new Promise((r) => setTimeout(r, 50));
    process.kill(broker.pid, 'SIGSTOP');
    try {
      split.socket.write(API_VERSIONS.subarray(7));
      idle.socket.write(API_VERSIONS);
      // Longer than both timeouts: on waking, the broker must read these bytes, not close.
      await new Promise((r) => setTimeout(r, 2500));
    } finally {
      process.kill(broker.pid, 'SIGCONT');
    }
    expect((await response).readInt32BE(4)).toBe(1);
    expect(await answers(idle)).toBe(true);
    expect(await closedTotal(broker, 'read_timeout')).toBe(0);
    split.socket.destroy();
    idle.socket.destroy();
  });
});

describe('max.connections.per.ip', () => {
  let broker: BrokerProcess;

  beforeAll(async () => {
    broker = await BrokerProcess.start({ 'max.connections.per.ip': '2', 'max.connections.per.ip.overrides': '127.0.0.1:100' });
  });

  afterAll(async () => {
    await broker?.destroy();
  });

  it('refuses connections over the limit of their address while the others keep being served', async () => {
    const held = [await rawConnect(broker.port, '127.0.0.2'), await rawConnect(broker.port, '127.0.0.2')];
    for (const c of held) expect(await answers(c)).toBe(true);

    // A flood of 20 more from the same address: each closed at accept, and logged as a count.
    const refused = await Promise.all(Array.from({ length: 20 }, () => rawConnect(broker.port, '127.0.0.2')));
    await Promise.all(refused.map((c) => c.closed));
    expect(await closedTotal(broker, 'max_connections_per_ip')).toBe(20);
    // Its output comes through a pipe, a moment later.
    await until(async () => broker.output.includes('refused new connections'), 'the refusals logged');
    const lines = broker.output.split('\n').filter((l) => l.includes('refused new connections'));
    expect(lines.length).toBeLessThanOrEqual(2);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 40, remotes: ['127.0.0.2'] });

    // Another address has its own count; 127.0.0.1 has its override: a real client works.
    const other = await rawConnect(broker.port, '127.0.0.3');
    expect(await answers(other)).toBe(true);
    await kcatProduce(broker.bootstrap, 'per-ip', ['one', 'two', 'three']);
    expect((await kcatConsume(broker.bootstrap, 'per-ip')).map((r) => r.value)).toEqual(['one', 'two', 'three']);
    for (const c of held) expect(await answers(c)).toBe(true);

    // A closed connection frees its place.
    held[0]!.socket.destroy();
    await openConnections(broker, 2);
    const again = await rawConnect(broker.port, '127.0.0.2');
    expect(await answers(again)).toBe(true);
    for (const c of [held[1]!, other, again]) c.socket.destroy();
  });
});

describe('max.connections', () => {
  let broker: BrokerProcess;

  beforeAll(async () => {
    broker = await BrokerProcess.start({ 'max.connections': '2' });
  });

  afterAll(async () => {
    await broker?.destroy();
  });

  it('refuses connections over the broker-wide limit while the open ones produce and fetch', async () => {
    const producer = await KafkaConnection.open('127.0.0.1', broker.port, 'producer');
    const consumer = await KafkaConnection.open('127.0.0.1', broker.port, 'consumer');
    const extra = await rawConnect(broker.port, '127.0.0.4');
    await extra.closed;
    expect(await closedTotal(broker, 'max_connections')).toBe(1);

    await mustCreateTopic(producer, 'capped');
    const produced = await producer.send(produceApi, 9, produceBody('capped', buildRecordBatch([{ value: Buffer.from('kept') }])));
    expect(produced.responses[0]!.partitionResponses[0]).toMatchObject({ errorCode: 0, baseOffset: 0 });
    const fetched = await consumer.send(fetchApi, 12, fetchBody('capped', 0));
    expect(fetched.responses[0]!.partitions[0]).toMatchObject({ errorCode: 0, highWatermark: 1 });

    await consumer.close();
    await openConnections(broker, 1);
    const next = await rawConnect(broker.port);
    expect(await answers(next)).toBe(true);
    next.socket.destroy();
    await producer.close();
    expect(await metric(broker, 'samsa_connections_total')).toBe(3);
  });
});
