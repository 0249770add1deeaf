// Prometheus metrics of the operator.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class OperatorMetrics {
  readonly registry = new Registry();
  private readonly reconciles: Counter<'controller' | 'result'>;
  private readonly duration: Histogram<'controller'>;
  private readonly depth: Gauge<'controller'>;
  readonly leader: Gauge;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'samsa_operator_' });
    this.reconciles = new Counter({ name: 'samsa_operator_reconciles_total', help: 'Reconciles, by controller and result (success, error).', labelNames: ['controller', 'result'], registers });
    this.duration = new Histogram({
      name: 'samsa_operator_reconcile_duration_seconds',
      help: 'Time of one reconcile, by controller.',
      labelNames: ['controller'],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10],
      registers,
    });
    this.depth = new Gauge({ name: 'samsa_operator_queue_depth', help: 'Keys waiting in the work queue, by controller.', labelNames: ['controller'], registers });
    this.leader = new Gauge({ name: 'samsa_operator_leader', help: '1 while this replica holds the leader Lease.', registers });
  }

  reconciled(controller: string, result: 'success' | 'error', started: bigint): void {
    this.reconciles.inc({ controller, result });
    this.duration.observe({ controller }, Number(process.hrtime.bigint() - started) / 1e9);
  }

  queueDepth(controller: string, depth: number): void {
    this.depth.set({ controller }, depth);
  }
}
