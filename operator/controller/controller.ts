// Level-triggered control loops: informers turn every change of a watched object into the key
// of the resource that owns it; workers take keys from the queue and call reconcile(key), which
// reads the world afresh and makes it match the spec. Failures retry with backoff; a reconcile
// may ask to run again later; every key is re-enqueued at each resync.
import type { KubernetesObject } from '../kube.js';
import type { Logger } from 'pino';
import type { OperatorMetrics } from '../metrics.js';
import { WorkQueue } from './workqueue.js';

export interface ReconcileResult {
  /** Run again after this long even if nothing changes (waiting on something outside the watch). */
  requeueAfterMs?: number;
}

export interface Reconciler {
  readonly name: string;
  reconcile(key: string): Promise<ReconcileResult | void>;
}

interface WatchSource {
  on(verb: 'add' | 'update' | 'delete', cb: (obj: KubernetesObject) => void): void;
}

export const keyOf = (obj: KubernetesObject) => `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;

export class Controller {
  readonly queue = new WorkQueue();
  private running = false;
  private resyncTimer: NodeJS.Timeout | undefined;
  private workersDone: Promise<void[]> = Promise.resolve([]);

  constructor(
    private readonly reconciler: Reconciler,
    private readonly metrics: OperatorMetrics,
    private readonly logger: Logger,
    private readonly workers = 2,
  ) {}

  /** Enqueues the key `map` gives for every change of objects from `source`. */
  watch(source: WatchSource, map: (obj: KubernetesObject) => string | null = keyOf): void {
    const enqueue = (obj: KubernetesObject) => {
      const key = map(obj);
      if (key) this.queue.add(key);
    };
    source.on('add', enqueue);
    source.on('update', enqueue);
    source.on('delete', enqueue);
  }

  start(resyncMs: number, keys: () => string[]): void {
    this.running = true;
    this.workersDone = Promise.all(Array.from({ length: this.workers }, () => this.work()));
    this.resyncTimer = setInterval(() => keys().forEach((k) => this.queue.add(k)), resyncMs);
    this.resyncTimer.unref();
  }

  private async work(): Promise<void> {
    while (this.running) {
      const key = await this.queue.get();
      if (key === null) return;
      const started = process.hrtime.bigint();
      try {
        const result = await this.reconciler.reconcile(key);
        this.queue.forget(key);
        if (result?.requeueAfterMs) this.queue.addAfter(key, result.requeueAfterMs);
        this.metrics.reconciled(this.reconciler.name, 'success', started);
      } catch (err) {
        const delay = this.queue.addRateLimited(key);
        this.metrics.reconciled(this.reconciler.name, 'error', started);
        this.logger.warn({ err, controller: this.reconciler.name, key, retryInMs: delay }, 'reconcile failed');
      } finally {
        this.queue.done(key);
        this.metrics.queueDepth(this.reconciler.name, this.queue.depth);
      }
    }
  }

  /** Takes no more keys; resolves when the reconciles under way have finished. */
  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.resyncTimer);
    this.queue.shutDown();
    await this.workersDone;
  }
}
