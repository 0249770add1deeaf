// The operator as a user installs it, on a real control plane: the Helm chart is rendered with
// helm, its CRDs and RBAC are created, and the operator process is started from the rendered
// Deployment's command, args and env, authenticated as the chart's service account with only
// the chart's ClusterRole. A local kubelet runs the broker pods as processes.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { freePort, terminate } from '../../broker/test/broker-process.js';
import { API_VERSION } from '../crds/types.js';
import { Kube, type KubernetesObject } from '../kube.js';
import { ControlPlane } from './control-plane.js';
import { LocalKubelet } from './kubelet.js';

const ROOT = resolve(import.meta.dirname, '../..');
export const HELM = join(ROOT, '.cache/control-plane/bin/helm');
export const CHART = join(ROOT, 'charts/samsa-operator');
export const OPERATOR_NS = 'samsa-system';

export type Condition = { type: string; status: string; reason: string; message: string; observedGeneration?: number };
export type Obj = KubernetesObject & Record<string, any> & { status?: Record<string, any> & { conditions?: Condition[] } };

export function kubeFor(kubeconfigPath: string): Kube {
  const config = new KubeConfig();
  config.loadFromFile(kubeconfigPath);
  return new Kube(config);
}

/** `helm template` of the chart as the release `samsa` in samsa-system, with `--set` values. */
export function renderChart(set: string[] = [], extra: string[] = []): Obj[] {
  const args = ['template', 'samsa', CHART, '--namespace', OPERATOR_NS, ...extra, ...set.flatMap((s) => ['--set', s])];
  return parseAllDocuments(execFileSync(HELM, args).toString())
    .map((d) => d.toJS() as Obj)
    .filter(Boolean);
}

/** Polls until `probe` gives a truthy value; errors in the probe count as "not yet". */
export async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 60_000, context: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    const value = await probe().catch((err: unknown) => {
      lastError = err;
      return null;
    });
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs}ms${lastError ? ` (last error: ${String(lastError)})` : ''}\n${context()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** One operator process started as the rendered Deployment would start it. */
export class OperatorProcess {
  output = '';

  constructor(
    readonly process: ChildProcess,
    readonly httpPort: number,
  ) {
    process.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    process.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
  }

  get url(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  async status(path: string): Promise<number> {
    return (await fetch(`${this.url}${path}`)).status;
  }

  /** Reconciles of one controller that finished successfully, from the operator's /metrics. */
  async reconciles(controller: 'kafkacluster' | 'kafkatopic'): Promise<number> {
    const text = await (await fetch(`${this.url}/metrics`)).text();
    return Number(new RegExp(`^samsa_operator_reconciles_total\\{controller="${controller}",result="success"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  }

  get exited(): boolean {
    return this.process.exitCode !== null || this.process.signalCode !== null;
  }

  stop(graceMs = 10_000): Promise<void> {
    return terminate(this.process, graceMs);
  }
}

export class OperatorHarness {
  readonly operators: OperatorProcess[] = [];

  private constructor(
    readonly cp: ControlPlane,
    readonly admin: Kube,
    readonly kubelet: LocalKubelet,
    private readonly operatorKubeconfig: string,
  ) {}

  /** Control plane, the chart's CRDs and RBAC, the given namespaces, and a local kubelet. */
  static async start(namespaces: string[]): Promise<OperatorHarness> {
    const cp = await ControlPlane.start();
    try {
      const admin = kubeFor(cp.kubeconfigFor('samsa-test-admin', ['system:masters']));
      const docs = renderChart([], ['--include-crds']);
      for (const crd of docs.filter((d) => d.kind === 'CustomResourceDefinition')) await admin.create(crd);
      for (const crd of docs.filter((d) => d.kind === 'CustomResourceDefinition')) {
        await waitFor(`CRD ${crd.metadata!.name} established`, async () => {
          const got = await admin.get<Obj>('apiextensions.k8s.io/v1', 'CustomResourceDefinition', undefined, crd.metadata!.name!);
          return (got.status?.conditions ?? []).some((c) => c.type === 'Established' && c.status === 'True');
        });
      }
      for (const ns of [OPERATOR_NS, ...namespaces]) await admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
      for (const doc of docs.filter((d) => ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding'].includes(d.kind!))) await admin.create(doc);
      const sa = docs.find((d) => d.kind === 'ServiceAccount')!.metadata!.name!;
      const operatorKubeconfig = cp.kubeconfigFor(`system:serviceaccount:${OPERATOR_NS}:${sa}`, ['system:serviceaccounts', `system:serviceaccounts:${OPERATOR_NS}`]);
      const kubelet = new LocalKubelet(admin, mkdtempSync(join(tmpdir(), 'samsa-kubelet-')));
      await kubelet.start();
      return new OperatorHarness(cp, admin, kubelet, operatorKubeconfig);
    } catch (err) {
      await cp.stop();
      throw err;
    }
  }

  /**
   * Starts an operator replica from the chart's Deployment rendered with `set` (a free metrics
   * port is added): its command, args and env as the kubelet would run them, with the service
   * account's credentials in KUBECONFIG in place of the in-cluster token.
   */
  async startOperator(set: string[] = [], waitReady = true): Promise<OperatorProcess> {
    const port = await freePort();
    const deployment = renderChart([`metrics.port=${port}`, ...set]).find((d) => d.kind === 'Deployment')!;
    const container = deployment.spec.template.spec.containers[0] as { command: string[]; args: string[]; env?: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }> };
    const env: Record<string, string> = { ...process.env, KUBECONFIG: this.operatorKubeconfig } as Record<string, string>;
    for (const e of container.env ?? []) {
      if (e.value !== undefined) env[e.name] = e.value;
      else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') env[e.name] = OPERATOR_NS;
      else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[e.name] = `samsa-operator-${this.operators.length}`;
      else throw new Error(`the harness cannot provide env ${e.name} of the rendered Deployment`);
    }
    const [command, ...commandArgs] = container.command;
    const executable = command === 'node' ? process.execPath : command!;
    const child = spawn(executable, [...commandArgs, ...container.args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const operator = new OperatorProcess(child, port);
    this.operators.push(operator);
    if (waitReady) await waitFor('operator ready', async () => (await operator.status('/readyz')) === 200, 60_000, () => `operator output:\n${operator.output.slice(-3000)}`);
    return operator;
  }

  /** The newest output of every operator, for failure messages. */
  operatorOutput(): string {
    return this.operators.map((o, i) => `operator ${i}:\n${o.output.slice(-3000)}`).join('\n');
  }

  waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 60_000): Promise<T> {
    return waitFor(what, probe, timeoutMs, () => this.operatorOutput());
  }

  get(kind: 'KafkaCluster' | 'KafkaTopic', namespace: string, name: string): Promise<Obj> {
    return this.admin.get<Obj>(API_VERSION, kind, namespace, name);
  }

  async stop(): Promise<void> {
    await Promise.all(this.operators.map((o) => o.stop()));
    await this.kubelet.stop();
    await this.cp.stop();
  }
}
