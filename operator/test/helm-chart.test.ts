// The Helm chart lints, renders, refuses bad values, and its optional ServiceMonitor is optional.
import { execFileSync, spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

const ROOT = resolve(import.meta.dirname, '../..');
const HELM = join(ROOT, '.cache/control-plane/bin/helm');
const CHART = join(ROOT, 'charts/samsa-operator');

beforeAll(() => {
  execFileSync('sh', [join(ROOT, 'scripts/control-plane/build.sh')], { stdio: 'inherit' });
}, 1_800_000);

const render = (...args: string[]) =>
  parseAllDocuments(execFileSync(HELM, ['template', 'samsa', CHART, '--namespace', 'samsa-system', ...args]).toString())
    .map((d) => d.toJS() as { kind: string; metadata: { name: string }; spec?: any; rules?: any[] })
    .filter(Boolean);

describe('Helm chart', () => {
  it('passes helm lint', () => {
    expect(execFileSync(HELM, ['lint', '--strict', CHART]).toString()).toContain('1 chart(s) linted, 0 chart(s) failed');
  });

  it('renders the operator with least-privilege RBAC', () => {
    const docs = render();
    expect(docs.map((d) => d.kind).sort()).toEqual(['ClusterRole', 'ClusterRole', 'ClusterRoleBinding', 'Deployment', 'Service', 'ServiceAccount']);
    for (const role of docs.filter((d) => d.kind === 'ClusterRole')) for (const rule of role.rules!) expect(rule.verbs).not.toContain('*');
    // The brokers' ClusterRole (bound per cluster for spec.rack) reads nodes and nothing else.
    expect(docs.find((d) => d.kind === 'ClusterRole' && d.metadata!.name!.endsWith('-broker'))!.rules).toEqual([{ apiGroups: [''], resources: ['nodes'], verbs: ['get'] }]);
    const deployment = docs.find((d) => d.kind === 'Deployment')!;
    expect(deployment.spec.template.spec.containers[0].args).toContain(`--broker-cluster-role=${docs.find((d) => d.kind === 'ClusterRole' && d.metadata!.name!.endsWith('-broker'))!.metadata!.name}`);
    expect(deployment.spec.template.spec.containers[0].command).toEqual(['node', 'dist/operator/main.js']);
    expect(deployment.spec.template.spec.containers[0].image).toBe('samsa:0.1.0');
  });

  it('adds a ServiceMonitor only when asked', () => {
    expect(render('--set', 'metrics.serviceMonitor.enabled=true').map((d) => d.kind)).toContain('ServiceMonitor');
  });

  it('refuses values its schema does not allow', () => {
    const bad = spawnSync(HELM, ['template', 'samsa', CHART, '--set', 'replicas=0', '--set', 'logLevel=loud']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr.toString()).toMatch(/replicas.*minimum/s);
  });
});
