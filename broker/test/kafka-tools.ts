// Helpers shared by the tests that drive Kafka's own tools and read a broker's metrics: Kafka's
// CLI main classes run on the Java client jars, the Kafka error type inside a kafkajs error, and
// one sample of a Prometheus metric.
import { execFile } from 'node:child_process';
import type { BrokerProcess } from './broker-process.js';
import { KAFKA_LIB } from './kafka-process.js';

/** Runs a Kafka CLI main class asynchronously (so the brokers' output keeps flowing). */
export function cli(mainClass: string, args: string[], stdin?: string, timeoutMs = 90_000): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      'java',
      ['-Dorg.slf4j.simpleLogger.defaultLogLevel=error', '-Xmx256M', '-cp', `${KAFKA_LIB}/*`, mainClass, ...args],
      { timeout: timeoutMs, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr }),
    );
    child.stdin!.end(stdin ?? '');
  });
}

/** The Kafka error type (e.g. TOPIC_AUTHORIZATION_FAILED) of a kafkajs error, looking through its wrappers. */
export function kafkajsErrorType(err: unknown): string {
  for (let e = err as { type?: string; originalError?: unknown; cause?: unknown } | undefined; e; e = (e.originalError ?? e.cause) as typeof e) {
    if (e.type && e.type !== 'UNKNOWN') return e.type;
  }
  return String(err);
}

/** One sample of a Prometheus metric with exactly these labels (undefined when absent). */
export async function metric(b: BrokerProcess, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const text = await (await fetch(`${b.httpUrl}/metrics`)).text();
  const want = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(',');
  for (const line of text.split('\n')) {
    const m = /^(\w+)\{([^}]*)\} (\S+)$/.exec(line);
    if (m?.[1] === name && m[2]!.split(',').sort().join(',') === want) return Number(m[3]);
  }
  return undefined;
}
