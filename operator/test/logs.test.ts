// The operator process's log lines carry each key once. Its API server is a listener that never
// answers, so the operator stays in leader election; SIGTERM makes it log as itself.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, type Socket, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../broker/test/broker-process.js';
import { jsonLines, repeatedKeys } from '../../broker/test/log-lines.js';

const MAIN = resolve(import.meta.dirname, '../../dist/operator/main.js');

describe('operator logs', () => {
  it('write each key once per line, whichever component logs it', async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((s) => sockets.add(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const apiPort = (silent.address() as { port: number }).port;
    const dir = mkdtempSync(join(tmpdir(), 'samsa-operator-logs-'));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: `https://127.0.0.1:${apiPort}`, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'u', user: { token: 'none' } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
    const httpPort = await freePort();
    const child = spawn(process.execPath, [MAIN, '--kubeconfig', kubeconfig, '--http-host', '127.0.0.1', '--http-port', String(httpPort)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise((r) => child.once('exit', r));
    try {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const status = await fetch(`http://127.0.0.1:${httpPort}/readyz`).then((res) => res.status, () => 0);
        if (status === 503) break;
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`operator did not serve /readyz:\n${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      child.kill('SIGTERM');
      await exited;
    } finally {
      child.kill('SIGKILL');
      for (const s of sockets) s.destroy();
      silent.close();
      rmSync(dir, { recursive: true, force: true });
    }
    const lines = jsonLines(output);
    const components = new Set(lines.map((l) => (JSON.parse(l) as { component?: string }).component));
    expect(components, output).toEqual(new Set(['operator', 'http']));
    for (const line of lines) expect(repeatedKeys(line), line).toEqual([]);
  });
});
