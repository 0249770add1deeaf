// Plays the kubelet (and cluster DNS) for tests on a real control plane: binds pending pods to a
// local node, runs each broker pod as a local broker process on its own loopback address
// (127.0.0.N, so every broker may use the same ports) with a data folder per volume claim,
// reports the pod Running and Ready from the broker's /readyz, and stops the process when the
// pod is deleted (SIGTERM, SIGKILL once its terminationGracePeriodSeconds are over). Container
// paths in args are mapped to local folders (ConfigMap and Secret volumes, claims), and the pod's
// own DNS names and the wildcard address 0.0.0.0 to its loopback address.
//
// Failures look as a kubelet shows them in containerStatuses: an image that is not among
// `images` is not pulled (waiting ErrImagePull, then ImagePullBackOff, retried with back-off); a
// broker process that exits is restarted with back-off (waiting CrashLoopBackOff, restartCount,
// lastState.terminated with its exit code and, under FallbackToLogsOnError, the tail of its
// output).
//
// ConfigMap and Secret volumes are written as a kubelet's atomic writer does: the files in a
// timestamped folder, `..data` a symlink to it swapped by rename, each file a symlink through
// `..data`; and kept in sync while the container runs (every VOLUME_SYNC_MS, as a kubelet does
// within its sync period), so a renewed certificate reaches a running broker. As in Kubernetes,
// $(VAR) references in args are expanded from the container's environment (an unknown one stays
// as written); the command is always this checkout's broker.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join, resolve } from 'node:path';
import { terminate } from '../../broker/test/broker-process.js';
import type { Kube, KubernetesObject } from '../kube.js';

const ROOT = resolve(import.meta.dirname, '../..');
const NODE = 'samsa-test-node';
const ZONE_LABEL = 'topology.kubernetes.io/zone';
/** The zone of the one node: brokers that take their rack from it report this. */
export const NODE_ZONE = 'test-zone-a';
// What FallbackToLogsOnError keeps of a failed container's output: its last 80 lines or 2048 bytes.
const TERMINATION_LOG_LINES = 80;
const TERMINATION_LOG_BYTES = 2048;
/** How often the ConfigMap and Secret volumes of running pods are brought up to date. */
const VOLUME_SYNC_MS = 2000;

interface Container {
  image?: string;
  args: string[];
  terminationMessagePolicy?: string;
  env?: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>;
  ports?: Array<{ name: string; containerPort: number }>;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}

interface Pod extends KubernetesObject {
  metadata: { name: string; namespace: string; uid: string; labels?: Record<string, string>; deletionTimestamp?: string; resourceVersion?: string };
  spec: { nodeName?: string; serviceAccountName?: string; terminationGracePeriodSeconds?: number; containers: Container[]; volumes?: Array<{ name: string; configMap?: { name: string }; secret?: { secretName: string }; persistentVolumeClaim?: { claimName: string } }>; hostname?: string; subdomain?: string };
  status?: { podIP?: string; containerStatuses?: unknown[]; conditions?: Array<{ type: string; status: string }> };
}

interface Claim extends KubernetesObject {
  spec: { accessModes: string[]; storageClassName?: string; volumeName?: string; resources: { requests: { storage: string } } };
  status?: { phase?: string; capacity?: { storage?: string } };
}

interface Terminated {
  exitCode: number;
  reason: string;
  message?: string;
  startedAt: string;
  finishedAt: string;
}

/** The one container of a broker pod, across its restarts. */
interface ContainerState {
  ip: string;
  httpPort: number;
  process?: ChildProcess;
  startedAt?: string;
  /** Output of the current (or last) run. */
  output: string;
  restartCount: number;
  waiting?: { reason: string; message: string };
  lastTerminated?: Terminated;
  /** When the next start (or pull) may be tried, after a back-off. */
  retryAt: number;
  failures: number;
  /** The container status last written, to write only changes. */
  reported?: string;
  /** When its ConfigMap and Secret volumes were last brought up to date. */
  volumesSyncedAt: number;
}

export interface LocalKubeletOptions {
  /** Images this node can run (a pull of any other fails, as for an image that does not exist). */
  images?: string[];
  /** First back-off after a failed start or pull, doubled each time up to maxBackOffMs (a kubelet: 10 s and 5 min). */
  backOffMs?: number;
  maxBackOffMs?: number;
}

export class LocalKubelet {
  private readonly containers = new Map<string, ContainerState>();
  private readonly ips = new Map<string, string>();
  private nextIp = 2;
  // A loopback /24 of this test process's own, so kubelets of test runs side by side never share addresses.
  private readonly subnet = `127.${1 + (process.pid % 250)}.${(process.pid >> 8) & 0xff}`;
  private timer: NodeJS.Timeout | undefined;
  private syncing = false;
  readonly dataRoot: string;
  readonly images: Set<string>;
  private readonly backOffMs: number;
  private readonly maxBackOffMs: number;

  constructor(
    private readonly kube: Kube,
    dataRoot: string,
    options: LocalKubeletOptions = {},
  ) {
    this.dataRoot = dataRoot;
    this.images = new Set(options.images ?? ['samsa:0.1.0']);
    this.backOffMs = options.backOffMs ?? 1000;
    this.maxBackOffMs = options.maxBackOffMs ?? 8000;
  }

  async start(): Promise<void> {
    await this.kube.apply({ apiVersion: 'v1', kind: 'Node', metadata: { name: NODE, labels: { 'kubernetes.io/hostname': NODE, [ZONE_LABEL]: NODE_ZONE } } } as KubernetesObject);
    this.timer = setInterval(() => void this.sync(), 250);
  }

  /** One pass: bind, start, restart, report, stop — level-triggered, like a kubelet's sync loop. */
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
          const { name, namespace } = pod.metadata;
          await this.kube.core.createNamespacedPodBinding({ name, namespace, body: { metadata: { name, namespace }, target: { apiVersion: 'v1', kind: 'Node', name: NODE } } }).catch(() => {});
          continue;
        }
        if (pod.metadata.deletionTimestamp) {
          // SIGTERM, and SIGKILL only once the pod's grace period is over (Kubernetes' default: 30 s).
          await this.stopPod(key, (pod.spec.terminationGracePeriodSeconds ?? 30) * 1000);
          await this.kube.delete(pod, { gracePeriodSeconds: 0 });
          continue;
        }
        await this.runContainer(key, pod);
        await this.report(key, pod);
      }
      for (const key of [...this.containers.keys()]) if (!seen.has(key)) await this.stopPod(key);
      await this.provisionVolumes();
    } catch {
      // the next pass tries again
    } finally {
      this.syncing = false;
    }
  }

  /**
   * Plays the volume provisioner and resizer (a local-path provisioner's part): binds each pending
   * claim to a new PersistentVolume of its size, and grows a bound claim's volume when its request
   * grows (the API server admits that only where the StorageClass allows expansion). The data
   * itself stays in the claim's local folder.
   */
  private async provisionVolumes(): Promise<void> {
    const claims = await this.kube.list<Claim>('v1', 'PersistentVolumeClaim');
    for (const claim of claims) {
      const { name, namespace, uid } = claim.metadata as { name: string; namespace: string; uid: string };
      const requested = claim.spec.resources.requests.storage;
      if (claim.status?.phase !== 'Bound') {
        const pvName = `pv-${uid}`;
        const volume = {
          apiVersion: 'v1',
          kind: 'PersistentVolume',
          metadata: { name: pvName },
          spec: {
            capacity: { storage: requested },
            accessModes: claim.spec.accessModes,
            ...(claim.spec.storageClassName ? { storageClassName: claim.spec.storageClassName } : {}),
            persistentVolumeReclaimPolicy: 'Retain',
            hostPath: { path: join(this.dataRoot, 'volumes', namespace, name) },
            claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace, name, uid },
          },
        } as KubernetesObject;
        if (!(await this.kube.getOrNull('v1', 'PersistentVolume', undefined, pvName))) await this.kube.create(volume);
        await this.kube.mergePatch(volume, { status: { phase: 'Bound' } }, 'status');
        if (!claim.spec.volumeName) await this.kube.mergePatch(claim, { spec: { volumeName: pvName } });
        await this.kube.mergePatch(claim, { status: { phase: 'Bound', accessModes: claim.spec.accessModes, capacity: { storage: requested } } }, 'status');
      } else if (claim.status.capacity?.storage !== requested) {
        await this.kube.mergePatch({ apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: claim.spec.volumeName } }, { spec: { capacity: { storage: requested } } });
        await this.kube.mergePatch(claim, { status: { capacity: { storage: requested } } }, 'status');
      }
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

  /** The n-th back-off (from 1): backOffMs, doubled each time, at most maxBackOffMs. */
  private backOff(n: number): number {
    return Math.min(this.maxBackOffMs, this.backOffMs * 2 ** Math.max(0, n - 1));
  }

  /** Pulls, starts, notices an exit and restarts after a back-off, as the pod's restartPolicy Always asks. */
  private async runContainer(key: string, pod: Pod): Promise<void> {
    const spec = pod.spec.containers[0]!;
    let state = this.containers.get(key);
    if (!state) {
      state = { ip: this.ipFor(pod), httpPort: spec.ports?.find((p) => p.name === 'http')?.containerPort ?? 9644, output: '', restartCount: 0, retryAt: 0, failures: 0, volumesSyncedAt: 0 };
      this.containers.set(key, state);
    }
    const now = Date.now();
    if (state.process && now - state.volumesSyncedAt >= VOLUME_SYNC_MS) {
      await this.projectVolumes(pod);
      state.volumesSyncedAt = now;
    }
    const child = state.process;
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      // The broker exited on its own: remember how, and restart it after a back-off.
      const exitCode = child.exitCode ?? 128 + (constants.signals[child.signalCode as keyof typeof constants.signals] ?? 0);
      state.lastTerminated = {
        exitCode,
        reason: exitCode === 0 ? 'Completed' : 'Error',
        ...(exitCode !== 0 && spec.terminationMessagePolicy === 'FallbackToLogsOnError' ? { message: logTail(state.output) } : {}),
        startedAt: state.startedAt!,
        finishedAt: new Date().toISOString(),
      };
      state.process = undefined;
      state.restartCount++;
      state.failures++;
      // The first exit restarts at once; the next ones wait, longer each time, in CrashLoopBackOff.
      if (state.failures > 1) {
        const delay = this.backOff(state.failures - 1);
        state.retryAt = now + delay;
        state.waiting = { reason: 'CrashLoopBackOff', message: `back-off ${Math.round(delay / 1000)}s restarting failed container=broker pod=${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})` };
      }
    }
    if (state.process || now < state.retryAt) {
      // After a failed pull is reported, the pod waits in ImagePullBackOff until the next try.
      if (state.waiting?.reason === 'ErrImagePull') state.waiting = { reason: 'ImagePullBackOff', message: `Back-off pulling image "${spec.image}"` };
      return;
    }
    if (!this.images.has(spec.image ?? '')) {
      state.failures++;
      state.retryAt = now + this.backOff(state.failures);
      state.waiting = { reason: 'ErrImagePull', message: `rpc error: code = NotFound desc = failed to pull and unpack image "${spec.image}": not found` };
      return;
    }
    await this.startProcess(state, pod);
  }

  private async startProcess(state: ContainerState, pod: Pod): Promise<void> {
    const container = pod.spec.containers[0]!;
    const ip = state.ip;
    const env: Record<string, string> = {};
    for (const e of container.env ?? []) {
      const path = e.valueFrom?.fieldRef?.fieldPath;
      if (e.value !== undefined) env[e.name] = e.value;
      else if (path === 'metadata.name') env[e.name] = pod.metadata.name;
      else if (path === 'metadata.namespace') env[e.name] = pod.metadata.namespace;
      else if (path === 'status.podIP') env[e.name] = ip;
      else if (path === 'spec.nodeName') env[e.name] = pod.spec.nodeName ?? '';
      else if (path?.startsWith('metadata.labels[')) env[e.name] = pod.metadata.labels?.[path.slice(17, -2)] ?? '';
    }
    const mounts = new Map<string, string>();
    const projected = await this.projectVolumes(pod);
    for (const m of container.volumeMounts ?? []) {
      const volume = pod.spec.volumes?.find((v) => v.name === m.name);
      const dir = projected.get(m.name);
      if (dir) mounts.set(m.mountPath, dir);
      else {
        // A volume claim from the StatefulSet's template: "<template>-<pod>", one folder each, kept across restarts.
        const claim = volume?.persistentVolumeClaim?.claimName ?? `${m.name}-${pod.metadata.name}`;
        const dir = join(this.dataRoot, 'volumes', pod.metadata.namespace, claim);
        mkdirSync(dir, { recursive: true });
        mounts.set(m.mountPath, dir);
      }
    }
    state.volumesSyncedAt = Date.now();
    const expand = (arg: string) => arg.replace(/\$\((\w+)\)/g, (ref, v: string) => env[v] ?? ref);
    // Container paths under a mount point, at the start of an argument or of a NAME=VALUE's value, become the local folder's.
    const longestFirst = [...mounts].sort((a, b) => b[0].length - a[0].length);
    const mapPath = (arg: string) => {
      const eq = arg.indexOf('=');
      const [prefix, value] = eq > 0 && !arg.startsWith('/') ? [arg.slice(0, eq + 1), arg.slice(eq + 1)] : ['', arg];
      for (const [mountPath, local] of longestFirst) if (value === mountPath || value.startsWith(`${mountPath}/`)) return prefix + local + value.slice(mountPath.length);
      return arg;
    };
    // No cluster DNS and no network namespace here: the pod's own DNS names and the wildcard
    // address stand for its loopback address, so brokers bind, advertise and are reached there.
    const podNames = pod.spec.hostname && pod.spec.subdomain ? [`${pod.spec.hostname}.${pod.spec.subdomain}.${pod.metadata.namespace}.svc.cluster.local`, `${pod.spec.hostname}.${pod.spec.subdomain}.${pod.metadata.namespace}.svc`] : [];
    const toLoopback = (arg: string) => podNames.reduce((a, name) => a.split(name).join(ip), arg).replace(/(^|[/=,\s])0\.0\.0\.0(?=[:\s,]|$)/g, `$1${ip}`);
    const args = container.args.map(expand).map(mapPath).map(toLoopback);
    const kubeconfig = await this.serviceAccountKubeconfig(pod);
    const child = spawn(process.execPath, [join(ROOT, 'dist/broker/main.js'), ...args, '--http-host', ip], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // The container's environment, as a kubelet sets it.
      env: { ...process.env, ...env, ...(kubeconfig ? { KUBECONFIG: kubeconfig } : {}) },
    });
    state.output = '';
    const collect = (d: Buffer) => {
      // Keep a bounded tail: enough for a termination message and for diagnostics.
      state.output = (state.output + d.toString()).slice(-65536);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    state.process = child;
    state.startedAt = new Date().toISOString();
    state.waiting = undefined;
  }

  /**
   * Writes each ConfigMap and Secret volume of a pod as it is now (only when its contents
   * changed); returns their local folders by volume name. A missing object leaves the volume
   * as it was, as a kubelet does.
   */
  private async projectVolumes(pod: Pod): Promise<Map<string, string>> {
    const dirs = new Map<string, string>();
    for (const volume of pod.spec.volumes ?? []) {
      let files: Record<string, Buffer> | undefined;
      if (volume.configMap) {
        const cm = await this.kube.getOrNull<KubernetesObject & { data?: Record<string, string> }>('v1', 'ConfigMap', pod.metadata.namespace, volume.configMap.name);
        if (cm) files = Object.fromEntries(Object.entries(cm.data ?? {}).map(([k, v]) => [k, Buffer.from(v)]));
      } else if (volume.secret) {
        const secret = await this.kube.getOrNull<KubernetesObject & { data?: Record<string, string> }>('v1', 'Secret', pod.metadata.namespace, volume.secret.secretName);
        if (secret) files = Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
      } else continue;
      const dir = join(this.dataRoot, 'projected', pod.metadata.namespace, pod.metadata.name, volume.name);
      if (files) writeAtomically(dir, files);
      dirs.set(volume.name, dir);
    }
    return dirs;
  }

  /**
   * The credentials a kubelet mounts in a pod (a projected service-account token): a token of the
   * pod's ServiceAccount from the TokenRequest API, handed over as a kubeconfig file, which the
   * broker's client reads as it would read the in-cluster token.
   */
  private async serviceAccountKubeconfig(pod: Pod): Promise<string | undefined> {
    const account = pod.spec.serviceAccountName;
    if (!account) return undefined;
    const res = await this.kube.core.createNamespacedServiceAccountToken({ name: account, namespace: pod.metadata.namespace, body: { spec: { expirationSeconds: 3600 } } });
    const server = this.kube.config.getCurrentCluster()!.server;
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'cluster', cluster: { server, 'insecure-skip-tls-verify': true } }],
      users: [{ name: account, user: { token: res.status!.token } }],
      contexts: [{ name: 'pod', context: { cluster: 'cluster', user: account, namespace: pod.metadata.namespace } }],
      'current-context': 'pod',
    };
    const dir = join(this.dataRoot, 'serviceaccounts', pod.metadata.namespace, pod.metadata.name);
    mkdirSync(dir, { recursive: true });
    const path = join(dir, 'kubeconfig');
    writeFileSync(path, JSON.stringify(config));
    return path;
  }

  private async report(key: string, pod: Pod): Promise<void> {
    const state = this.containers.get(key)!;
    const running = state.process && state.process.exitCode === null && state.process.signalCode === null;
    let ready = false;
    if (running) {
      try {
        // A probe's timeoutSeconds (1 by default): a stopped broker is not ready, and does not hold this loop.
        ready = (await fetch(`http://${state.ip}:${state.httpPort}/readyz`, { signal: AbortSignal.timeout(1000) })).status === 200;
      } catch {
        ready = false;
      }
    }
    // A broker that stayed up and ready starts its back-off afresh after its next failure.
    if (ready) state.failures = 0;
    const now = new Date().toISOString();
    const containerStatus = {
      name: 'broker',
      ready,
      restartCount: state.restartCount,
      image: pod.spec.containers[0]!.image ?? '',
      imageID: running || state.lastTerminated ? `local://${pod.spec.containers[0]!.image}` : '',
      started: Boolean(running),
      state: running ? { running: { startedAt: state.startedAt } } : { waiting: state.waiting ?? { reason: 'ContainerCreating' } },
      ...(state.lastTerminated ? { lastState: { terminated: state.lastTerminated } } : {}),
    };
    const status = {
      phase: running || state.lastTerminated ? 'Running' : 'Pending',
      podIP: state.ip,
      podIPs: [{ ip: state.ip }],
      hostIP: '127.0.0.1',
      conditions: [
        { type: 'PodScheduled', status: 'True', lastTransitionTime: now },
        { type: 'Initialized', status: 'True', lastTransitionTime: now },
        { type: 'ContainersReady', status: ready ? 'True' : 'False', lastTransitionTime: now },
        { type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: now },
      ],
      containerStatuses: [containerStatus],
    };
    // Write only what changed (the timestamps of conditions aside), as a kubelet's status manager does.
    const reported = JSON.stringify(containerStatus);
    if (pod.status?.podIP === state.ip && state.reported === reported) return;
    await this.kube.mergePatch(pod, { status }, 'status');
    state.reported = reported;
  }

  private async stopPod(key: string, graceMs = 10_000): Promise<void> {
    const state = this.containers.get(key);
    if (!state) return;
    this.containers.delete(key);
    if (state.process) await terminate(state.process, graceMs);
  }

  private stateOf(podName: string, namespace?: string): ContainerState | undefined {
    for (const [key, state] of this.containers) {
      const [ns, name] = key.split('/');
      if (name === podName && (namespace === undefined || ns === namespace)) return state;
    }
    return undefined;
  }

  /** Output of the broker process of a pod, for diagnostics. */
  outputOf(podName: string): string {
    return this.stateOf(podName)?.output ?? '';
  }

  /** The process id of a pod's running broker, to tell a restart from a reload. */
  pidOf(podName: string, namespace?: string): number | undefined {
    return this.stateOf(podName, namespace)?.process?.pid;
  }

  /** Sends a signal to the broker process of a pod (a crash, for tests); false when none runs. */
  kill(podName: string, signal: NodeJS.Signals, namespace?: string): boolean {
    const child = this.stateOf(podName, namespace)?.process;
    return child ? child.kill(signal) : false;
  }

  /** The local folder of a pod's volume claim, e.g. `data-<pod>`. */
  volumeOf(namespace: string, claim: string): string {
    return join(this.dataRoot, 'volumes', namespace, claim);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    // A pass under way may still start a container: let it finish, then stop them all.
    while (this.syncing) await new Promise((r) => setTimeout(r, 20));
    await Promise.all([...this.containers.keys()].map((k) => this.stopPod(k)));
    rmSync(this.dataRoot, { recursive: true, force: true });
  }
}

/** The end of a failed container's output, as FallbackToLogsOnError keeps it. */
function logTail(output: string): string {
  const lines = output.split('\n');
  if (lines.at(-1) === '') lines.pop();
  let tail = lines.slice(-TERMINATION_LOG_LINES).join('\n');
  if (Buffer.byteLength(tail) > TERMINATION_LOG_BYTES) tail = Buffer.from(tail).subarray(-TERMINATION_LOG_BYTES).toString();
  return tail;
}

/**
 * The files of a volume, swapped in at once as Kubernetes' atomic writer does: a new timestamped
 * folder, a `..data` symlink to it replaced by rename (one atomic step), and a symlink per file
 * through `..data`. A reader sees the old files or the new ones, never a mix. Nothing is written
 * when the contents are the same.
 */
export function writeAtomically(dir: string, files: Record<string, Buffer>): void {
  mkdirSync(dir, { recursive: true });
  const data = join(dir, '..data');
  const current = existsSync(data) ? readlinkSync(data) : null;
  if (current) {
    const names = readdirSync(join(dir, current)).sort();
    const same = names.join('\0') === Object.keys(files).sort().join('\0') && names.every((n) => readFileSync(join(dir, current, n)).equals(files[n]!));
    if (same) return;
  }
  const version = `..${new Date().toISOString().replace(/[:.]/g, '_')}.${process.hrtime.bigint()}`;
  mkdirSync(join(dir, version));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, version, name), content);
  symlinkSync(version, join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), data);
  for (const name of Object.keys(files)) if (!existsSync(join(dir, name))) symlinkSync(join('..data', name), join(dir, name));
  // Files that are gone: their symlinks, and the old version.
  for (const entry of readdirSync(dir)) if (!entry.startsWith('..') && !(entry in files)) unlinkSync(join(dir, entry));
  if (current) rmSync(join(dir, current), { recursive: true, force: true });
}
