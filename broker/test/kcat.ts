// kcat (librdkafka) driven from tests. Tests need kcat: it is an error, never a skip, when missing.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface KcatRecord {
  partition: number;
  offset: number;
  timestamp: number;
  key: string;
  value: string;
}

const FORMAT = '%p\t%o\t%T\t%k\t%s\n';

/** Consumes `topic` from `start` (beginning, end, an offset, or s@<timestamp>) until the end. */
export async function kcatConsume(bootstrap: string, topic: string, start = 'beginning', extra: string[] = []): Promise<KcatRecord[]> {
  const { stdout } = await run('kcat', ['-b', bootstrap, '-C', '-t', topic, '-o', start, '-e', '-q', '-f', FORMAT, ...extra], { timeout: 30_000 });
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [partition, offset, timestamp, key, value] = line.split('\t');
      return { partition: Number(partition), offset: Number(offset), timestamp: Number(timestamp), key: key!, value: value! };
    });
}

/** Produces lines ("key:value" when keyed) with kcat; resolves once all are delivered. */
export async function kcatProduce(bootstrap: string, topic: string, lines: string[], extra: string[] = []): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = execFile('kcat', ['-b', bootstrap, '-P', '-t', topic, ...extra], { timeout: 30_000 }, (err) => (err ? reject(err) : resolve()));
    child.stdin!.end(lines.join('\n') + '\n');
  });
}

export async function kcatMetadata(bootstrap: string, topic?: string, extra: string[] = []): Promise<string> {
  const { stdout } = await run('kcat', ['-b', bootstrap, '-L', ...(topic ? ['-t', topic] : []), ...extra], { timeout: 30_000 });
  return stdout;
}

/**
 * librdkafka options for SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) to pass as kcat's `extra`.
 * SASL_SSL takes the same plus its ssl.* options (e.g. ssl.ca.location) in `tls`.
 */
export function kcatSasl(mechanism: string, username: string, password: string, securityProtocol: 'SASL_PLAINTEXT' | 'SASL_SSL' = 'SASL_PLAINTEXT', tls: string[] = []): string[] {
  return ['-X', `security.protocol=${securityProtocol}`, '-X', `sasl.mechanisms=${mechanism}`, '-X', `sasl.username=${username}`, '-X', `sasl.password=${password}`, ...tls];
}
