// Leader election on a coordination.k8s.io Lease, as client-go does it: the holder renews the
// lease every renewMs; another replica takes it over once it has not been renewed for
// leaseDurationSeconds. Updates carry the resourceVersion, so two replicas never both win.
import type { Logger } from 'pino';
import { type Kube, isConflict, isNotFound } from './kube.js';

interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string; leaseTransitions?: number };
}

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds?: number;
  renewMs?: number;
}

const microTime = () => new Date().toISOString().replace('Z', '000Z');

export class LeaderElector {
  private timer: NodeJS.Timeout | undefined;
  private leading = false;

  constructor(
    private readonly kube: Kube,
    private readonly options: LeaderElectionOptions,
    private readonly logger: Logger,
  ) {}

  /** Resolves once this replica leads; calls onLost if it ever stops leading. */
  async run(onLost: () => void): Promise<void> {
    const renewMs = this.options.renewMs ?? 2000;
    for (;;) {
      if (await this.tryAcquireOrRenew()) break;
      await new Promise((r) => setTimeout(r, renewMs));
    }
    this.leading = true;
    this.logger.info({ identity: this.options.identity, lease: `${this.options.namespace}/${this.options.name}` }, 'became leader');
    this.timer = setInterval(() => {
      this.tryAcquireOrRenew().then(
        (held) => {
          if (!held && this.leading) {
            this.leading = false;
            clearInterval(this.timer);
            this.logger.error('lost the leader lease');
            onLost();
          }
        },
        (err: unknown) => this.logger.warn({ err }, 'lease renewal failed'),
      );
    }, renewMs);
    this.timer.unref();
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity } = this.options;
    const duration = this.options.leaseDurationSeconds ?? 15;
    const now = microTime();
    let lease: Lease | null;
    try {
      lease = await this.kube.get<Lease>('coordination.k8s.io/v1', 'Lease', namespace, name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      lease = null;
    }
    try {
      if (!lease) {
        await this.kube.create<Lease>({
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name, namespace },
          spec: { holderIdentity: identity, leaseDurationSeconds: duration, acquireTime: now, renewTime: now, leaseTransitions: 0 },
        });
        return true;
      }
      const spec = lease.spec;
      const expired = !spec.renewTime || Date.parse(spec.renewTime) + (spec.leaseDurationSeconds ?? duration) * 1000 < Date.now();
      if (spec.holderIdentity !== identity && !expired) return false;
      const takingOver = spec.holderIdentity !== identity;
      const next: Lease = {
        ...lease,
        spec: {
          ...spec,
          holderIdentity: identity,
          leaseDurationSeconds: duration,
          renewTime: now,
          ...(takingOver ? { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 } : {}),
        },
      };
      await this.kube.request('PUT', `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${name}`, next);
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
