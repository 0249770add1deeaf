// A broker loads the client of a cluster metadata store (etcd3, @kubernetes/client-node) only when
// --metadata names that store: on the embedded file store neither is on its heap, which every
// full garbage collection walks (under a produce load, one every few hundred milliseconds). A
// module hook (node:module registerHooks), preloaded into the broker process, prints each of those
// packages' modules as it is resolved.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Producer } from '@platformatic/kafka';
import { BrokerProcess } from './broker-process.js';

const MAIN = resolve(import.meta.dirname, '../../dist/broker/main.js');
const dir = mkdtempSync(join(tmpdir(), 'samsa-store-loading-'));
const hook = join(dir, 'hook.mjs');
writeFileSync(
  hook,
  `import { registerHooks } from 'node:module';
registerHooks({
  resolve(specifier, context, next) {
    const resolved = next(specifier, context);
    const store = /\\/node_modules\\/(etcd3|@kubernetes\\/client-node)\\//.exec(resolved.url);
    if (store) process.stderr.write('STORE CLIENT LOADED ' + store[1] + '\\n');
    return resolved;
  },
});
`,
);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('metadata store clients', () => {
  it('a broker on its embedded file store loads neither etcd3 nor @kubernetes/client-node', async () => {
    const broker = await BrokerProcess.start({}, [], ['--import', hook]);
    try {
      // It serves: a topic auto-created and a record written.
      const producer = new Producer({ clientId: 'store-loading', bootstrapBrokers: [broker.bootstrap], autocreateTopics: true });
      try {
        const sent = await producer.send({ messages: [{ topic: 'loading', value: Buffer.from('v') }], acks: 1 });
        expect(sent.offsets).toEqual([{ topic: 'loading', partition: 0, offset: 0n }]);
      } finally {
        await producer.close();
      }
      expect(broker.output).toContain('broker ready');
      expect(broker.output).not.toContain('STORE CLIENT LOADED');
    } finally {
      await broker.destroy();
    }
  });

  it.each([
    ['etcd://127.0.0.1:2379/', 'etcd3', 'no key prefix'],
    ['kubernetes://data', '@kubernetes/client-node', 'no store name'],
  ])('--metadata %s loads its store client (%s) to check the URL', (url, client, why) => {
    const run = spawnSync(process.execPath, ['--import', hook, MAIN, '--metadata', url], { encoding: 'utf8', timeout: 30_000 });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`STORE CLIENT LOADED ${client}`);
    expect(run.stderr).toContain(why);
  });
});
