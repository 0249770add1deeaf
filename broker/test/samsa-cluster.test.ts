// The SamsaCluster harness itself: brokers on an etcd it is given, node ids and racks as asked,
// SIGSTOP/SIGCONT/SIGKILL reaching the right process, a restart on the same ports and data, and a
// stop that leaves nothing running but the etcd it did not start.
import { existsSync, readFileSync } from 'node:fs';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdProcess } from './etcd-process.ts';
import { eventually } from './eventually.ts';
import { SamsaCluster } from './samsa-cluster.ts';

/** The state letter of /proc/<pid>/stat: R, S, T (stopped), ... */
function processState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]!;
}

let etcd: EtcdProcess;

beforeAll(async () => {
  etcd = await EtcdProcess.start();
});

afterAll(async () => {
  await etcd?.stop();
});

describe('SamsaCluster', () => {
  it('starts brokers 0..N-1 on a given etcd, signals and restarts them, and stops them without stopping that etcd', async () => {
    const cluster = await SamsaCluster.start({ brokers: 2, racks: ['rack-a', 'rack-b'], etcd });
    const kafka = new kafkajs.Kafka({ clientId: 'harness-test', brokers: cluster.bootstrap.split(','), logLevel: kafkajs.logLevel.NOTHING });
    const admin = kafka.admin();
    try {
      expect(cluster.metadataUrl).toMatch(new RegExp(`^etcd://${etcd.endpoint}/samsa/[0-9a-f]{12}$`));
      expect(cluster.bootstrap).toBe(cluster.brokers.map((b) => `127.0.0.1:${b.port}`).join(','));
      expect(cluster.brokers.map((b) => b.config['broker.rack'])).toEqual(['rack-a', 'rack-b']);
      await admin.connect();
      const listed = async () => (await admin.describeCluster()).brokers.map((b) => [b.nodeId, b.port]).sort();
      expect(await listed()).toEqual([[0, cluster.broker(0).port], [1, cluster.broker(1).port]]);
      expect(() => cluster.broker(2)).toThrow(/no broker with node id 2/);

      const paused = cluster.broker(1);
      await cluster.kill(1, 'SIGSTOP');
      await eventually('broker 1 stopped', () => (processState(paused.pid) === 'T' ? true : undefined));
      await cluster.kill(1, 'SIGCONT');
      await eventually('broker 1 running again', () => (processState(paused.pid) !== 'T' ? true : undefined));

      const pid = paused.pid;
      await cluster.kill(1, 'SIGKILL');
      expect(paused.running).toBe(false);
      expect(existsSync(`/proc/${pid}`)).toBe(false);
      await cluster.restart(1);
      expect(paused.pid).not.toBe(pid);
      expect((await fetch(`${paused.httpUrl}/readyz`)).status).toBe(200);
      await eventually('both brokers listed after the restart', async () => ((await listed()).length === 2 ? true : undefined));
    } finally {
      await admin.disconnect();
      await cluster.stop();
    }
    expect(cluster.brokers.every((b) => !b.running && !existsSync(b.dataDir))).toBe(true);
    expect(((await (await fetch(`http://${etcd.endpoint}/health`)).json()) as { health: string }).health).toBe('true');
  }, 180_000);
});
