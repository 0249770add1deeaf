// Requests captured from kafkajs, @platformatic/kafka and kcat on their way to a real broker:
// a recording proxy sits in front of the broker (which advertises the proxy's port, so every
// connection of every client goes through it), and each captured request must decode with the
// generated codecs, consuming exactly its frame.
import { connect, createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import { Admin, Producer, stringSerializers } from '@platformatic/kafka';
import { isFlexible, readRequestHeaderRest, readRequestHeaderStart } from '../protocol/frame.js';
import { apis } from '../protocol/messages/index.js';
import { Reader } from '../protocol/reader.js';
import { BrokerProcess, freePort } from './broker-process.js';
import { kcatConsume, kcatProduce } from './kcat.js';

interface Captured {
  clientId: string | null;
  api: string;
  version: number;
  body: unknown;
}

class RecordingProxy {
  readonly captured: Captured[] = [];
  readonly failures: string[] = [];
  private server: Server | null = null;

  constructor(
    readonly port: number,
    private readonly target: number,
  ) {}

  start(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect({ host: '127.0.0.1', port: this.target });
      let pending = Buffer.alloc(0);
      client.on('data', (chunk: Buffer) => {
        upstream.write(chunk);
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
          const size = pending.readInt32BE(0);
          this.decode(pending.subarray(4, 4 + size));
          pending = pending.subarray(4 + size);
        }
      });
      upstream.on('data', (chunk) => client.write(chunk));
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    return new Promise((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
  }

  private decode(frame: Buffer): void {
    const r = new Reader(frame);
    const header = readRequestHeaderStart(r);
    const api = apis.get(header.apiKey);
    try {
      if (!api) throw new Error(`unknown api key ${header.apiKey}`);
      // Versions newer than the spec (ApiVersions probes) are only checked for their header.
      if (header.apiVersion > api.maxVersion) return;
      readRequestHeaderRest(r, header, isFlexible(api, header.apiVersion));
      const body = api.readRequest(r, header.apiVersion);
      if (r.remaining !== 0) throw new Error(`${r.remaining} bytes left over`);
      this.captured.push({ clientId: header.clientId, api: api.name, version: header.apiVersion, body });
    } catch (err) {
      this.failures.push(`${api?.name ?? header.apiKey} v${header.apiVersion}: ${(err as Error).message}`);
    }
  }

  versionsOf(clientId: string, api: string): number[] {
    return [...new Set(this.captured.filter((c) => c.clientId === clientId && c.api === api).map((c) => c.version))];
  }

  apisOf(clientId: string): string[] {
    return [...new Set(this.captured.filter((c) => c.clientId === clientId).map((c) => c.api))].sort();
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

let broker: BrokerProcess;
let proxy: RecordingProxy;
let bootstrap: string;

beforeAll(async () => {
  const proxyPort = await freePort();
  broker = await BrokerProcess.start({}, ['--advertised-port', String(proxyPort)]);
  proxy = new RecordingProxy(proxyPort, broker.port);
  await proxy.start();
  bootstrap = `127.0.0.1:${proxyPort}`;
});

afterAll(async () => {
  await proxy?.close();
  await broker?.destroy();
});

describe('requests captured from real clients decode completely', () => {
  it('kafkajs: non-flexible versions', async () => {
    const kafka = new kafkajs.Kafka({ clientId: 'capture-kafkajs', brokers: [bootstrap], logLevel: kafkajs.logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'cap-kafkajs', numPartitions: 2 }] });
    await admin.fetchTopicOffsets('cap-kafkajs');
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'cap-kafkajs', messages: [{ key: 'k', value: 'v', headers: { h: 'x' } }] });
    await producer.disconnect();

    expect(proxy.failures).toEqual([]);
    expect(proxy.apisOf('capture-kafkajs')).toEqual(expect.arrayContaining(['ApiVersions', 'CreateTopics', 'ListOffsets', 'Metadata', 'Produce']));
    expect(proxy.versionsOf('capture-kafkajs', 'Produce')).toEqual([7]);
    expect(proxy.versionsOf('capture-kafkajs', 'Metadata')).toEqual([6]);
    const produce = proxy.captured.find((c) => c.clientId === 'capture-kafkajs' && c.api === 'Produce')!.body as { acks: number; topicData: Array<{ name: string }> };
    expect(produce.acks).toBe(-1);
    expect(produce.topicData[0]!.name).toBe('cap-kafkajs');
  });

  it('@platformatic/kafka: flexible versions', async () => {
    const admin = new Admin({ clientId: 'capture-platformatic', bootstrapBrokers: [bootstrap] });
    await admin.createTopics({ topics: ['cap-platformatic'], partitions: 1, replicas: 1 });
    await admin.close();
    const producer = new Producer({ clientId: 'capture-platformatic', bootstrapBrokers: [bootstrap], serializers: stringSerializers });
    await producer.send({ messages: [{ topic: 'cap-platformatic', key: 'k', value: 'v' }], compression: 'zstd' });
    await producer.close();

    expect(proxy.failures).toEqual([]);
    for (const api of ['Metadata', 'Produce', 'CreateTopics']) {
      const versions = proxy.versionsOf('capture-platformatic', api);
      expect(versions.length, api).toBeGreaterThan(0);
      const flexibleMin = [...apis.values()].find((a) => a.name === api)!.flexibleMin;
      for (const v of versions) expect(v, `${api} v${v} is flexible`).toBeGreaterThanOrEqual(flexibleMin);
    }
  });

  it('kcat (librdkafka): ApiVersions v3 first, then produce and fetch', async () => {
    await kcatProduce(bootstrap, 'cap-kcat', ['a', 'b'], ['-X', 'client.id=capture-kcat']);
    expect((await kcatConsume(bootstrap, 'cap-kcat', 'beginning', ['-X', 'client.id=capture-kcat'])).map((r) => r.value)).toEqual(['a', 'b']);

    expect(proxy.failures).toEqual([]);
    const first = proxy.captured.find((c) => c.clientId === 'capture-kcat')!;
    expect(first).toMatchObject({ api: 'ApiVersions', version: 3, body: expect.objectContaining({ clientSoftwareName: 'librdkafka' }) });
    expect(proxy.apisOf('capture-kcat')).toEqual(expect.arrayContaining(['ApiVersions', 'Fetch', 'ListOffsets', 'Metadata', 'Produce']));
  });
});
