// Plays the kubelet (and cluster DNS) for tests on a real control plane: binds pending pods to a
// local node, runs each broker pod as a local broker process on its own loopback address
// (127.0.0.N, so every broker may use the same ports) with a data folder per volume claim,
// reports the pod Running and Ready from the broker's /readyz, and stops the process when the
// pod is deleted. Container paths are mapped: the ConfigMap volume to a local file, the claim
// to a local folder, the advertised pod DNS name to the pod's loopback address.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { terminate } from '../../broker/test/broker-process.js';
import type { Kube, KubernetesObject } from '../kube.js';

const ROOT = resolve(import.meta.dirname, '../..');
const NODE = 'samsa-test-node';

interface Container {
  args: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>;
  ports?: Array<{ name: string; containerPort: number }>;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}

interface Pod extends KubernetesObject {
  metadata: { name: string; namespace: string; uid: string; labels?: Record<string, string>; deletionTimestamp?: string; resourceVersion?: string };
  spec: { nodeName?: string; containers: Container[]; volumes?: Array<{ name: string; configMap?: { name: string }; persistentVolumeClaim?: { claimName: string } }>; hostname?: string; subdomain?: string };
}

interface Running {
  process: ChildProcess;
  ip: string;
  httpPort: number;
  output: string;
}

export class LocalKubelet {
  private readonly running = new Map<string, Running>();
  private readonly ips = new Map<string, string>();
  private nextIp = 2;
  // A loopback /24 of this test process's own, so kubelets of test runs side by side never share addresses.
  private readonly subnet = `127.${1 + (process.pid % 250)}.${(process.pid >> 8) & 0xff}`;
  private timer: NodeJS.Timeout | undefined;
  private syncing = false;
  readonly dataRoot: string;

  constructor(private readonly kube: Kube, dataRoot: string) {
    this.dataRoot = dataRoot;
  }

  async start(): Promise<void> {
    await this.kube.apply({ apiVersion: 'v1', kind: 'Node', metadata: { name: NODE, labels: { 'kubernetes.io/hostname': NODE } } } as KubernetesObject);
    this.timer = setInterval(() => void this.sync(), 250);
  }

  /** One pass: bind, start, report, stop — level-triggered, like a kubelet's sync loop. */
  private async sync(): Promise<void> {
    if (this.syncing) return;
    this.syncing = true;
    try {
      const pods = await this.kube.list<Pod>('v1', 'Pod');
      const seen = new Set<string>();
      for (const pod of pods) {
        const key = `${pod.metadata.namespace}/${pod.metadata.name}/${pod.metadata.uid}`;
        seen.add(key);
        if (!pod.spec.nodeName) {
          const binding = { apiVersion: 'v1', kind: 'Binding', metadata: { name: pod.metadata.name, namespace: pod.metadata.namespace }, target: { apiVersion: 'v1', kind: 'Node', name: NODE } };
          await this.kube.request('POST', `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}/binding`, binding).catch(() => {});
          continue;
        }
        if (pod.metadata.deletionTimestamp) {
          await this.stopPod(key);
          await this.kube.delete(pod, { gracePeriodSeconds: 0 });
          continue;
        }
        if (!this.running.has(key)) await this.startPod(key, pod);
        await this.report(key, pod);
      }
      for (const key of [...this.running.keys()]) if (!seen.has(key)) await this.stopPod(key);
    } catch {
      // the next pass tries again
    } finally {
      this.syncing = false;
    }
  }

  private ipFor(pod: Pod): string {
    const name = `${pod.metadata.namespace}/${pod.metadata.name}`;
    let ip = this.ips.get(name);
    if (!ip) {
      ip = `${this.subnet}.${this.nextIp++}`;
      this.ips.set(name, ip);
    }
    return ip;
  }

  private async startPod(key: string, pod: Pod): Promise<void> {
    const container = pod.spec.containers[0]!;
    const ip = this.ipFor(pod);
    const env: Record<string, string> = {};
    for (const e of container.env ?? []) {
      const path = e.valueFrom?.fieldRef?.fieldPath;
      if (e.value !== undefined) env[e.name] = e.value;
      else if (path === 'metadata.name') env[e.name] = pod.metadata.name;
      else if (path === 'metadata.namespace') env[e.name] = pod.metadata.namespace;
      else if (path === 'status.podIP') env[e.name] = ip;
      else if (path?.startsWith('metadata.labels[')) env[e.name] = pod.metadata.labels?.[path.slice(17, -2)] ?? '';
    }
    const mounts = new Map<string, string>();
    for (const m of container.volumeMounts ?? []) {
      const volume = pod.spec.volumes?.find((v) => v.name === m.name);
      if (volume?.configMap) {
        const cm = await this.kube.get<KubernetesObject & { data?: Record<string, string> }>('v1', 'ConfigMap', pod.metadata.namespace, volume.configMap.name);
        const dir = join(this.dataRoot, 'configmaps', pod.metadata.namespace, pod.metadata.name, m.name);
        mkdirSync(dir, { recursive: true });
        for (const [file, text] of Object.entries(cm.data ?? {})) writeFileSync(join(dir, file), text);
        mounts.set(m.mountPath, dir);
      } else {
        // A volume claim from the StatefulSet's template: "<template>-<pod>", one folder each, kept across restarts.
        const claim = volume?.persistentVolumeClaim?.claimName ?? `${m.name}-${pod.metadata.name}`;
        const dir = join(this.dataRoot, 'volumes', pod.metadata.namespace, claim);
        mkdirSync(dir, { recursive: true });
        mounts.set(m.mountPath, dir);
      }
    }
    const expand = (arg: string) => arg.replace(/\$\((\w+)\)/g, (_, v: string) => env[v] ?? '');
    const mapPath = (arg: string) => {
      for (const [mountPath, local] of mounts) if (arg === mountPath || arg.startsWith(`${mountPath}/`)) return local + arg.slice(mountPath.length);
      return arg;
    };
    const args = container.args.map(expand).map(mapPath);
    // No cluster DNS here: brokers advertise their loopback address and listen only on it.
    for (let i = 0; i < args.length - 1; i++) if (args[i] === '--host' || args[i] === '--advertised-host') args[i + 1] = ip;
    const httpPort = container.ports?.find((p) => p.name === 'http')?.containerPort ?? 9644;
    const child = spawn(process.execPath, [join(ROOT, 'dist/broker/main.js'), ...args, '--http-host', ip], { stdio: ['ignore', 'pipe', 'pipe'] });
    const running: Running = { process: child, ip, httpPort, output: '' };
    child.stdout!.on('data', (d: Buffer) => (running.output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (running.output += d.toString()));
    this.running.set(key, running);
  }

  private async report(key: string, pod: Pod): Promise<void> {
    const running = this.running.get(key)!;
    let ready = false;
    try {
      ready = (await fetch(`http://${running.ip}:${running.httpPort}/readyz`)).status === 200;
    } catch {
      ready = false;
    }
    const exited = running.process.exitCode !== null;
    const now = new Date().toISOString();
    const status = {
      phase: exited ? 'Failed' : 'Running',
      podIP: running.ip,
      podIPs: [{ ip: running.ip }],
      hostIP: '127.0.0.1',
      conditions: [
        { type: 'PodScheduled', status: 'True', lastTransitionTime: now },
        { type: 'Initialized', status: 'True', lastTransitionTime: now },
        { type: 'ContainersReady', status: ready ? 'True' : 'False', lastTransitionTime: now },
        { type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: now },
      ],
      containerStatuses: [{ name: 'broker', ready, restartCount: 0, image: 'samsa', imageID: '', started: !exited, state: exited ? { terminated: { exitCode: running.process.exitCode ?? 1 } } : { running: { startedAt: now } } }],
    };
    const current = (pod as unknown as { status?: { conditions?: Array<{ type: string; status: string }>; podIP?: string } }).status;
    const wasReady = current?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
    if (current?.podIP === running.ip && wasReady === ready) return;
    await this.kube.mergePatch(pod, { status }, 'status');
  }

  private async stopPod(key: string): Promise<void> {
    const running = this.running.get(key);
    if (!running) return;
    this.running.delete(key);
    await terminate(running.process, 10_000);
  }

  /** Output of the broker process of a pod, for diagnostics. */
  outputOf(podName: string): string {
    for (const [key, r] of this.running) if (key.split('/')[1] === podName) return r.output;
    return '';
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.running.keys()].map((k) => this.stopPod(k)));
    rmSync(this.dataRoot, { recursive: true, force: true });
  }
}
