// Leader election on a coordination.k8s.io Lease, with client-go's semantics: a candidate tries
// every retry period; it takes the lease when it is free (released: no holder) or when the
// holder's record has not changed for the lease duration, measured on the candidate's own clock
// (so clock skew between replicas does not matter). The leader renews every retry period and
// stops leading when another replica holds the lease or when no renewal has succeeded for the
// renew deadline. On shutdown the leader releases the lease, so a standby takes over at its next
// try. Updates carry the resourceVersion, so two replicas never both win.
import type { Logger } from 'pino';
import { type Kube, isConflict, isNotFound } from './kube.js';

interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: { holderIdentity?: string | null; leaseDurationSeconds?: number; acquireTime?: string | null; renewTime?: string | null; leaseTransitions?: number };
}

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  /** How long a standby waits on a record that does not change before taking the lease (client-go LeaseDuration). */
  leaseDurationMs?: number;
  /** How long the leader keeps retrying a failing renewal before it stops leading (client-go RenewDeadline). */
  renewDeadlineMs?: number;
  /** Time between tries, to acquire or to renew (client-go RetryPeriod). */
  retryPeriodMs?: number;
}

export const LEADER_ELECTION_DEFAULTS = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

/** Why the timings cannot work, as client-go checks them; null when they can. */
export function leaderElectionTimingError(t: { leaseDurationMs: number; renewDeadlineMs: number; retryPeriodMs: number }): string | null {
  if (!(t.retryPeriodMs > 0)) return 'the retry period must be positive';
  if (!(t.renewDeadlineMs > t.retryPeriodMs)) return 'the renew deadline must be longer than the retry period';
  if (!(t.leaseDurationMs > t.renewDeadlineMs)) return 'the lease duration must be longer than the renew deadline';
  return null;
}

const microTime = () => new Date().toISOString().replace('Z', '000Z');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Attempt = 'held' | 'held-by-other';

export class LeaderElector {
  private leading = false;
  private stopped = false;
  private wake: (() => void) | undefined;
  private inflight: Promise<unknown> | undefined;
  private observed: { record: string; at: number } | undefined;
  private readonly timing: Required<Pick<LeaderElectionOptions, 'leaseDurationMs' | 'renewDeadlineMs' | 'retryPeriodMs'>>;

  constructor(
    private readonly kube: Kube,
    private readonly options: LeaderElectionOptions,
    private readonly logger: Logger,
  ) {
    this.timing = {
      leaseDurationMs: options.leaseDurationMs ?? LEADER_ELECTION_DEFAULTS.leaseDurationMs,
      renewDeadlineMs: options.renewDeadlineMs ?? LEADER_ELECTION_DEFAULTS.renewDeadlineMs,
      retryPeriodMs: options.retryPeriodMs ?? LEADER_ELECTION_DEFAULTS.retryPeriodMs,
    };
  }

  /**
   * Resolves once this replica leads (false if release() came first), then keeps renewing; calls
   * onLost once if it stops leading for any reason other than release().
   */
  async run(onLost: (why: string) => void): Promise<boolean> {
    const lease = `${this.options.namespace}/${this.options.name}`;
    while (!this.stopped) {
      const attempt = await this.attempt().catch((err: unknown) => {
        this.logger.warn({ err, lease }, 'could not get the leader lease');
        return 'held-by-other' as const;
      });
      if (attempt === 'held') break;
      await this.pause(this.timing.retryPeriodMs);
    }
    if (this.stopped) return false;
    this.logger.info({ identity: this.options.identity, lease }, 'became leader');
    void this.renewLoop(onLost);
    return true;
  }

  private async renewLoop(onLost: (why: string) => void): Promise<void> {
    let lastRenewal = Date.now();
    while (this.leading) {
      await this.pause(this.timing.retryPeriodMs);
      if (!this.leading) return;
      const left = lastRenewal + this.timing.renewDeadlineMs - Date.now();
      let why: string | null = null;
      try {
        // A renewal that hangs counts as failed once the deadline passes.
        const attempt = await Promise.race([this.attempt(), sleep(Math.max(0, left)).then(() => 'timeout' as const)]);
        if (!this.leading) return;
        if (attempt === 'held') lastRenewal = Date.now();
        else if (attempt === 'held-by-other') why = 'another replica holds the leader lease';
      } catch (err) {
        this.logger.warn({ err, lease: `${this.options.namespace}/${this.options.name}` }, 'lease renewal failed');
      }
      if (!why && Date.now() - lastRenewal >= this.timing.renewDeadlineMs) why = `no renewal succeeded within the renew deadline (${this.timing.renewDeadlineMs}ms)`;
      if (why) {
        this.leading = false;
        this.logger.error({ lease: `${this.options.namespace}/${this.options.name}`, reason: why }, 'lost the leader lease');
        onLost(why);
        return;
      }
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async getLease(): Promise<Lease | null> {
    try {
      return await this.kube.get<Lease>('coordination.k8s.io/v1', 'Lease', this.options.namespace, this.options.name);
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  /** One try to acquire or renew; release() waits for it, so that it never lands after the release. */
  private attempt(): Promise<Attempt> {
    const attempt = this.tryAcquireOrRenew().then((result) => {
      if (result === 'held' && !this.stopped) this.leading = true;
      return result;
    });
    this.inflight = attempt.catch(() => undefined);
    return attempt;
  }

  private async tryAcquireOrRenew(): Promise<Attempt> {
    const { namespace, name, identity } = this.options;
    const durationSeconds = Math.ceil(this.timing.leaseDurationMs / 1000);
    const now = microTime();
    const lease = await this.getLease();
    try {
      if (!lease) {
        await this.kube.create<Lease>({
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name, namespace },
          spec: { holderIdentity: identity, leaseDurationSeconds: durationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 },
        });
        return 'held';
      }
      const spec = lease.spec;
      const record = JSON.stringify([spec.holderIdentity, spec.renewTime, spec.acquireTime]);
      if (this.observed?.record !== record) this.observed = { record, at: Date.now() };
      const holder = spec.holderIdentity ?? '';
      const expired = this.observed.at + (spec.leaseDurationSeconds ?? durationSeconds) * 1000 < Date.now();
      if (holder !== '' && holder !== identity && (this.leading || !expired)) return 'held-by-other';
      const takingOver = holder !== identity;
      const next: Lease = {
        ...lease,
        spec: {
          ...spec,
          holderIdentity: identity,
          leaseDurationSeconds: durationSeconds,
          renewTime: now,
          ...(takingOver ? { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 } : {}),
        },
      };
      const written = await this.kube.replace<Lease>(next);
      this.observed = { record: JSON.stringify([written.spec.holderIdentity, written.spec.renewTime, written.spec.acquireTime]), at: Date.now() };
      return 'held';
    } catch (err) {
      // Another replica wrote the lease between our read and write: it is not ours this time.
      if (isConflict(err)) return 'held-by-other';
      throw err;
    }
  }

  /**
   * Stops trying; a leader gives the lease up (no holder, as client-go's ReleaseOnCancel does) so
   * that a standby takes it at its next try instead of waiting for it to expire.
   */
  async release(): Promise<void> {
    this.stopped = true;
    this.leading = false;
    this.wake?.();
    // A try under way may yet acquire or renew the lease: release after it, whatever it did.
    await Promise.race([this.inflight, sleep(this.timing.retryPeriodMs)]);
    const { namespace, name, identity } = this.options;
    try {
      const lease = await this.getLease();
      if (!lease || lease.spec.holderIdentity !== identity) return;
      const now = microTime();
      await this.kube.replace<Lease>({
        ...lease,
        spec: { ...lease.spec, holderIdentity: null, leaseDurationSeconds: 1, acquireTime: now, renewTime: now },
      });
      this.logger.info({ lease: `${namespace}/${name}` }, 'released the leader lease');
    } catch (err) {
      this.logger.warn({ err, lease: `${namespace}/${name}` }, 'could not release the leader lease; it expires on its own');
    }
  }
}
