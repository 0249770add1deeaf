// The quota sensors of one broker (Kafka's ClientQuotaManager, KIP-13/KIP-124): for each quota
// type a sensor per (user, client id) that a quota applies to, measuring produce request bytes,
// fetch response bytes, or the time the broker spends on requests (percent of one thread), over
// quota.window.num windows of quota.window.size.seconds. Recording a value answers how long
// (ms) the client is to be throttled. Metrics exist only for sensors, i.e. for clients that
// have a quota, and sensors idle for an hour are dropped, so label sets stay bounded.
import type { Logger } from 'pino';
import { Counter, Gauge } from 'prom-client';
import type { BrokerConfig } from '../config.js';
import type { BrokerMetrics } from '../metrics.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import { ClientQuotaStore, type QuotaKey, resolveQuota } from './client-quotas.js';
import { QuotaRate } from './quota-rate.js';

export type QuotaType = 'produce' | 'fetch' | 'request';
const QUOTA_KEY: Record<QuotaType, QuotaKey> = { produce: 'producer_byte_rate', fetch: 'consumer_byte_rate', request: 'request_percentage' };
/** Kafka's sensors expire after an hour without a record. */
const SENSOR_EXPIRY_MS = 3_600_000;
/** Resolutions cached per (user, client id) before the cache starts over. */
const MAX_RESOLVED = 10_000;

interface Sensor {
  readonly rate: QuotaRate;
  bound: number;
  readonly user: string;
  readonly clientId: string;
}

/** The sensors of one quota type. */
export class QuotaSensors {
  /** A quota of this type exists somewhere; when false, record() is not to be called. */
  enabled = false;
  private readonly sensors = new Map<string, Sensor>();
  /** (user, client id) → its sensor, or null when no quota of this type applies to it. */
  private readonly resolved = new Map<string, Sensor | null>();

  constructor(
    readonly type: QuotaType,
    private readonly store: ClientQuotaStore,
    private readonly windows: number,
    /** Length of one window, ms. */
    readonly windowMs: number,
    private readonly metrics: QuotaMetrics,
  ) {}

  /** Re-reads which quota applies to whom, after the stored quotas changed. */
  refresh(): void {
    this.resolved.clear();
    const key = QUOTA_KEY[this.type];
    this.enabled = [...this.store.quotas.values()].some((q) => q[key] !== undefined);
    for (const sensor of this.sensors.values()) {
      // A sensor keeps its measurements across quota changes; one left without a quota idles out.
      const quota = resolveQuota(this.store.quotas, key, sensor.user, sensor.clientId);
      if (quota && quota.user === sensor.user && quota.clientId === sensor.clientId) sensor.bound = quota.bound;
    }
  }

  private sensor(user: string, clientId: string): Sensor | null {
    const id = `${user}\0${clientId}`;
    let sensor = this.resolved.get(id);
    if (sensor !== undefined) return sensor;
    const quota = resolveQuota(this.store.quotas, QUOTA_KEY[this.type], user, clientId);
    sensor = null;
    if (quota) {
      const tags = `${quota.user}\0${quota.clientId}`;
      sensor = this.sensors.get(tags) ?? null;
      if (!sensor) {
        sensor = { rate: new QuotaRate(this.windows, this.windowMs), bound: quota.bound, user: quota.user, clientId: quota.clientId };
        this.sensors.set(tags, sensor);
      }
      sensor.bound = quota.bound;
    }
    if (this.resolved.size >= MAX_RESOLVED) this.resolved.clear();
    this.resolved.set(id, sensor);
    return sensor;
  }

  /** Records `value` for a client; the throttle time (ms) it earns, 0 within its quota or without one. */
  record(user: string, clientId: string, value: number, now: number): number {
    const sensor = this.sensor(user, clientId);
    if (!sensor) return 0;
    sensor.rate.record(value, now);
    return sensor.rate.throttleMs(sensor.bound, now);
  }

  /** Takes back a value recorded for a request that was answered without its data (a throttled fetch). */
  unrecord(user: string, clientId: string, value: number, now: number): void {
    this.sensor(user, clientId)?.rate.record(-value, now);
  }

  /** Counts a throttle this quota caused. */
  throttled(user: string, clientId: string, ms: number): void {
    const sensor = this.sensor(user, clientId);
    if (sensor) this.metrics.throttled(this.type, sensor, ms);
  }

  /** The most this client may take within the quota's span: bound × (windows - 1) × window; Infinity without a quota. */
  maxInWindow(user: string, clientId: string): number {
    const sensor = this.sensor(user, clientId);
    return sensor ? (sensor.bound * (this.windows - 1) * this.windowMs) / 1000 : Infinity;
  }

  /** Drops sensors without a record for an hour, and their metrics. */
  expire(now: number): void {
    for (const [tags, sensor] of this.sensors) {
      if (now - sensor.rate.lastRecordMs < SENSOR_EXPIRY_MS) continue;
      this.sensors.delete(tags);
      this.metrics.forget(this.type, sensor);
    }
    this.resolved.clear();
  }

  /** Each sensor's current rate, for the metrics. */
  *rates(now: number): Iterable<[Sensor, number]> {
    for (const sensor of this.sensors.values()) yield [sensor, sensor.rate.rate(now)];
  }
}

/** Kafka's per-client quota metrics (throttle-time, byte-rate, request-time), samsa_ named. */
class QuotaMetrics {
  private readonly throttleMs: Counter<'quota_type' | 'user' | 'client_id'>;
  private readonly throttles: Counter<'quota_type' | 'user' | 'client_id'>;

  constructor(metrics: BrokerMetrics, rates: (type: QuotaType) => Iterable<[Sensor, number]>) {
    const registers = [metrics.registry];
    const labelNames = ['quota_type', 'user', 'client_id'] as const;
    this.throttleMs = new Counter({ name: 'samsa_client_quota_throttle_time_ms_total', help: 'Time clients were throttled for (throttle_time_ms answered and the connection muted), by the quota that caused it.', labelNames, registers });
    this.throttles = new Counter({ name: 'samsa_client_quota_throttled_requests_total', help: 'Requests answered with a throttle time, by the quota that caused it.', labelNames, registers });
    new Gauge({
      name: 'samsa_client_quota_byte_rate',
      help: 'Bytes per second a client with a byte-rate quota produces (quota_type=produce: request bytes) or fetches (fetch: response bytes), as its quota sensor measures them.',
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const type of ['produce', 'fetch'] as const) for (const [s, rate] of rates(type)) this.set({ quota_type: type, user: s.user, client_id: s.clientId }, rate);
      },
    });
    new Gauge({
      name: 'samsa_client_quota_request_time_percent',
      help: 'Broker time a client with a request_percentage quota takes, in percent of one thread, as its quota sensor measures it.',
      labelNames: ['user', 'client_id'],
      registers,
      collect() {
        this.reset();
        for (const [s, rate] of rates('request')) this.set({ user: s.user, client_id: s.clientId }, rate);
      },
    });
  }

  throttled(type: QuotaType, sensor: Sensor, ms: number): void {
    const labels = { quota_type: type, user: sensor.user, client_id: sensor.clientId };
    this.throttleMs.inc(labels, ms);
    this.throttles.inc(labels);
  }

  forget(type: QuotaType, sensor: Sensor): void {
    const labels = { quota_type: type, user: sensor.user, client_id: sensor.clientId };
    this.throttleMs.remove(labels);
    this.throttles.remove(labels);
  }
}

/** The broker's client quotas: what is stored, and the sensors that enforce it. */
export class ClientQuotas {
  readonly store: ClientQuotaStore;
  readonly produce: QuotaSensors;
  readonly fetch: QuotaSensors;
  readonly request: QuotaSensors;
  /** Some quota exists: when false, requests pay nothing beyond reading this flag. */
  active = false;
  private expiryTimer: NodeJS.Timeout | undefined;

  constructor(metadata: MetadataStore, config: BrokerConfig, metrics: BrokerMetrics, logger: Logger) {
    this.store = new ClientQuotaStore(metadata, logger);
    const windows = config.int('quota.window.num');
    const windowMs = config.int('quota.window.size.seconds') * 1000;
    const quotaMetrics = new QuotaMetrics(metrics, (type) => this[type].rates(Date.now()));
    this.produce = new QuotaSensors('produce', this.store, windows, windowMs, quotaMetrics);
    this.fetch = new QuotaSensors('fetch', this.store, windows, windowMs, quotaMetrics);
    this.request = new QuotaSensors('request', this.store, windows, windowMs, quotaMetrics);
    this.store.onChange(() => {
      for (const sensors of [this.produce, this.fetch, this.request]) sensors.refresh();
      this.active = this.produce.enabled || this.fetch.enabled || this.request.enabled;
    });
  }

  /** The longest a request-quota throttle lasts: one window (Kafka bounds it so). */
  get maxRequestThrottleMs(): number {
    return this.request.windowMs;
  }

  async load(): Promise<void> {
    await this.store.load();
    this.expiryTimer = setInterval(() => {
      const now = Date.now();
      for (const sensors of [this.produce, this.fetch, this.request]) sensors.expire(now);
    }, 60_000);
    this.expiryTimer.unref();
  }

  stop(): void {
    clearInterval(this.expiryTimer);
    this.store.stop();
  }
}
