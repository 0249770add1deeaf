// The process's file-descriptor budget. Every segment of a partition keeps its log file open,
// so a new partition costs one descriptor and each roll one more; connections, the metadata
// file and index writes need theirs too. Partitions may use the open-file limit (RLIMIT_NOFILE)
// minus a reserve, so that a broker full of partitions still accepts connections.
import { readFileSync, readdirSync } from 'node:fs';

/** Descriptors one new partition opens (its first segment's log file). */
export const FDS_PER_NEW_PARTITION = 1;

/** The soft open-file limit; Infinity where /proc does not say (not Linux) or it is unlimited. */
export function openFileLimit(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    const n = Number(soft);
    return soft === undefined || soft === 'unlimited' || !Number.isFinite(n) ? Infinity : n;
  } catch {
    return Infinity;
  }
}

/** Descriptors open now (0 where /proc is missing). */
export function openFileCount(): number {
  try {
    // The listing's own descriptor is in it.
    return readdirSync('/proc/self/fd').length - 1;
  } catch {
    return 0;
  }
}

/** Descriptors kept back from partitions for connections and short-lived files: a quarter of the limit, at least 64. */
export function reservedFds(limit: number): number {
  return Number.isFinite(limit) ? Math.max(64, Math.floor(limit / 4)) : 0;
}
