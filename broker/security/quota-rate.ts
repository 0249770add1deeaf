// The rate a client quota is checked against, measured as Kafka's quota sensors measure it
// (KIP-13): a total kept in `samples` windows of `windowMs` each, divided by the time those
// windows span — never less than samples - 1 full windows, so a first burst is spread over the
// whole span instead of looking infinite. When a recorded value takes the rate over the quota
// bound, the throttle time is how long the client must stay silent for the rate to come back
// down to the bound: (rate - bound) / bound × the span measured.

interface Sample {
  value: number;
  /** When this window began. */
  startMs: number;
}

export class QuotaRate {
  private readonly samples: Sample[] = [];
  private current = 0;
  /** Last time a value was recorded: sensors idle for long are dropped. */
  lastRecordMs = 0;

  constructor(
    private readonly windows: number,
    private readonly windowMs: number,
  ) {}

  /** Adds `value` (negative to take back a value recorded before) in the window of `now`. */
  record(value: number, now: number): void {
    this.lastRecordMs = now;
    let sample = this.samples[this.current];
    if (!sample) {
      sample = { value: 0, startMs: now };
      this.samples.push(sample);
    } else if (now - sample.startMs >= this.windowMs) {
      // The current window is complete: the next one begins now (reusing the oldest slot).
      this.current = (this.current + 1) % this.windows;
      sample = this.samples[this.current];
      if (sample) {
        sample.value = 0;
        sample.startMs = now;
      } else {
        sample = { value: 0, startMs: now };
        this.samples.push(sample);
      }
    }
    sample.value += value;
  }

  /** Windows that ended more than `windows` window lengths ago count no more. */
  private purge(now: number): void {
    for (const sample of this.samples) {
      if (now - sample.startMs >= this.windows * this.windowMs) {
        sample.value = 0;
        sample.startMs = now;
      }
    }
  }

  /** The span the rate is taken over, in ms: since the oldest window began, at least windows - 1 full windows. */
  spanMs(now: number): number {
    this.purge(now);
    let oldest = now;
    for (const sample of this.samples) oldest = Math.min(oldest, sample.startMs);
    let elapsed = now - oldest;
    const fullWindows = Math.floor(elapsed / this.windowMs);
    if (fullWindows < this.windows - 1) elapsed += (this.windows - 1 - fullWindows) * this.windowMs;
    return Math.max(elapsed, 1);
  }

  /** Units (bytes, or percent of a thread's time) per second. */
  rate(now: number): number {
    const span = this.spanMs(now);
    let total = 0;
    for (const sample of this.samples) total += sample.value;
    return total / (span / 1000);
  }

  /** How long (ms) the client must be held back for the rate to fall to `bound`; 0 within it. */
  throttleMs(bound: number, now: number): number {
    const rate = this.rate(now);
    if (rate <= bound) return 0;
    return Math.round(((rate - bound) / bound) * this.spanMs(now));
  }
}
