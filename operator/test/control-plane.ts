// A real Kubernetes control plane for tests, started the way controller-runtime's envtest does:
// etcd, kube-apiserver (client-certificate authentication, service-account keys, RBAC on) and
// kube-controller-manager (StatefulSets, garbage collection), from the binaries that
// scripts/control-plane/build.sh builds from Go modules. Users are client certificates signed
// by the test CA: the certificate's CN is the user name, O the groups.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, terminate } from '../../broker/test/broker-process.js';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, '.cache/control-plane/bin');

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

export class ControlPlane {
  private readonly processes: ChildProcess[] = [];
  private readonly byBinary = new Map<string, ChildProcess>();
  readonly output: string[] = [];
  apiserverPort = 0;

  private constructor(readonly dir: string) {}

  /** Builds the binaries when missing, then starts etcd, kube-apiserver and kube-controller-manager. */
  static async start(): Promise<ControlPlane> {
    execFileSync('sh', [join(ROOT, 'scripts/control-plane/build.sh')], { stdio: 'inherit' });
    const cp = new ControlPlane(mkdtempSync(join(tmpdir(), 'samsa-k8s-')));
    try {
      await cp.boot();
    } catch (err) {
      await cp.stop();
      throw err;
    }
    return cp;
  }

  get server(): string {
    return `https://127.0.0.1:${this.apiserverPort}`;
  }

  private async boot(): Promise<void> {
    const d = this.dir;
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=samsa-test-ca'], d);
    openssl(['genrsa', '-out', 'sa.key', '2048'], d);
    openssl(['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], d);

    const etcdPort = await freePort();
    const etcdPeer = await freePort();
    this.run('etcd', [
      '--data-dir', join(d, 'etcd'), '--listen-client-urls', `http://127.0.0.1:${etcdPort}`, '--advertise-client-urls', `http://127.0.0.1:${etcdPort}`,
      '--listen-peer-urls', `http://127.0.0.1:${etcdPeer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${etcdPeer}`,
      '--initial-cluster', `default=http://127.0.0.1:${etcdPeer}`, '--unsafe-no-fsync=true', '--log-level', 'error',
    ]);

    this.apiserverPort = await freePort();
    mkdirSync(join(d, 'serving'));
    this.run('kube-apiserver', [
      `--etcd-servers=http://127.0.0.1:${etcdPort}`, `--cert-dir=${join(d, 'serving')}`, `--secure-port=${this.apiserverPort}`,
      '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1', '--service-cluster-ip-range=10.0.0.0/24', '--allow-privileged=true',
      '--authorization-mode=RBAC', '--disable-admission-plugins=ServiceAccount', `--service-account-issuer=https://127.0.0.1:${this.apiserverPort}/`,
      `--service-account-key-file=${join(d, 'sa.pub')}`, `--service-account-signing-key-file=${join(d, 'sa.key')}`, `--client-ca-file=${join(d, 'ca.crt')}`,
      '--v=0',
    ]);
    const admin = this.kubeconfigFor('samsa-test-admin', ['system:masters']);
    await this.waitReady(admin);
    const kcmPort = await freePort();
    this.run('kube-controller-manager', [
      `--kubeconfig=${admin}`, '--controllers=statefulset,garbagecollector,disruption,serviceaccount-token,pvc-protection,pv-protection', '--leader-elect=false',
      `--service-account-private-key-file=${join(d, 'sa.key')}`, `--root-ca-file=${join(d, 'ca.crt')}`, `--secure-port=${kcmPort}`, '--bind-address=127.0.0.1',
      `--authentication-kubeconfig=${admin}`, `--authorization-kubeconfig=${admin}`, '--v=0',
    ]);
  }

  private run(binary: string, args: string[]): void {
    const child = spawn(join(BIN, binary), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d: Buffer) => {
      this.output.push(`[${binary}] ${d.toString()}`);
      if (this.output.length > 2000) this.output.shift();
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.processes.push(child);
    this.byBinary.set(binary, child);
  }

  /** SIGSTOPs the kube-apiserver: its clients' calls and watches hang, as when it is unreachable. */
  pauseApiServer(): void {
    this.byBinary.get('kube-apiserver')?.kill('SIGSTOP');
  }

  resumeApiServer(): void {
    this.byBinary.get('kube-apiserver')?.kill('SIGCONT');
  }

  /** A kubeconfig file for a user authenticated by a client certificate (CN user, O groups). */
  kubeconfigFor(user: string, groups: string[] = []): string {
    const d = this.dir;
    const name = user.replace(/[^a-zA-Z0-9-]/g, '_');
    const subject = `/CN=${user}` + groups.map((g) => `/O=${g}`).join('');
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], d);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2'], d);
    const b64 = (f: string) => readFileSync(join(d, f)).toString('base64');
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'test', cluster: { server: this.server, 'insecure-skip-tls-verify': true } }],
      users: [{ name: user, user: { 'client-certificate-data': b64(`${name}.crt`), 'client-key-data': b64(`${name}.key`) } }],
      contexts: [{ name: 'test', context: { cluster: 'test', user, namespace: 'default' } }],
      'current-context': 'test',
    };
    const path = join(d, `${name}.kubeconfig`);
    writeFileSync(path, JSON.stringify(config, null, 2));
    return path;
  }

  private async waitReady(kubeconfig: string): Promise<void> {
    const config = JSON.parse(readFileSync(kubeconfig, 'utf8')) as { users: Array<{ user: Record<string, string> }> };
    const user = config.users[0]!.user;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const ok = await new Promise<boolean>((resolveOk) => {
        const req = request(
          {
            host: '127.0.0.1',
            port: this.apiserverPort,
            path: '/readyz',
            rejectUnauthorized: false,
            cert: Buffer.from(user['client-certificate-data']!, 'base64'),
            key: Buffer.from(user['client-key-data']!, 'base64'),
          },
          (res) => {
            res.resume();
            resolveOk(res.statusCode === 200);
          },
        );
        req.on('error', () => resolveOk(false));
        req.end();
      });
      if (ok) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`kube-apiserver not ready within 60s:\n${this.output.slice(-30).join('')}`);
  }

  async stop(): Promise<void> {
    this.resumeApiServer();
    for (const child of [...this.processes].reverse()) await terminate(child, 5000);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
