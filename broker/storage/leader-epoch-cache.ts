// The leader-epoch cache of one partition (Kafka's leader-epoch-checkpoint, KIP-101/279): for
// every leader epoch found in the log, the offset of its first batch. A follower asks the leader
// where its latest epoch ends (OffsetForLeaderEpoch) and truncates what diverged after that.
// Entries are persisted whenever they change; the partition log rebuilds them from the batch
// headers when the file is missing or unreadable.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { writeFileAtomic } from './atomic-file.js';

export interface EpochEntry {
  epoch: number;
  startOffset: number;
}

export interface EpochEndOffset {
  epoch: number;
  endOffset: number;
}

/** Kafka's checkpoint layout: a version line, a count line, then "epoch startOffset" lines. */
const FILE_VERSION = 0;
const UNDEFINED: EpochEndOffset = { epoch: -1, endOffset: -1 };

export class LeaderEpochCache {
  private entries: EpochEntry[];

  constructor(
    private readonly path: string,
    entries: EpochEntry[] = [],
  ) {
    this.entries = entries;
  }

  /** The entries saved at `path`; null when the file is missing or not a valid checkpoint. */
  static read(path: string): EpochEntry[] | null {
    if (!existsSync(path)) return null;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      return null;
    }
    const lines = text.split('\n').filter((l) => l.length > 0);
    if (lines.length < 2 || lines[0] !== String(FILE_VERSION)) return null;
    const count = Number(lines[1]);
    if (!Number.isSafeInteger(count) || count !== lines.length - 2) return null;
    const entries: EpochEntry[] = [];
    for (const line of lines.slice(2)) {
      const match = /^(\d+) (\d+)$/.exec(line);
      if (!match) return null;
      const entry = { epoch: Number(match[1]), startOffset: Number(match[2]) };
      const last = entries[entries.length - 1];
      // Epochs and start offsets both grow; anything else is not a file this cache wrote.
      if (last && (entry.epoch <= last.epoch || entry.startOffset < last.startOffset)) return null;
      entries.push(entry);
    }
    return entries;
  }

  /** The entries, oldest first. */
  get all(): readonly EpochEntry[] {
    return this.entries;
  }

  /** The latest epoch in the log, -1 when there is none. */
  get latestEpoch(): number {
    return this.entries.length === 0 ? -1 : this.entries[this.entries.length - 1]!.epoch;
  }

  /** Records that `epoch` starts at `startOffset` when it is later than the latest epoch. */
  assign(epoch: number, startOffset: number): void {
    if (epoch <= this.latestEpoch) return;
    this.entries.push({ epoch, startOffset });
    this.save();
  }

  /**
   * Where `epoch` ends (KIP-279): the largest epoch <= `epoch` and the start offset of the next
   * one, or `logEndOffset` when it is the latest. Below the first epoch (or with no batch at all)
   * it is `epoch` itself, ending where the first epoch starts (or at the log end), as Kafka
   * answers, whose cache also holds the leader's current epoch from where its leadership began:
   * a follower holding only older epochs shares nothing past there. Undefined (-1, -1) for -1.
   */
  endOffsetFor(epoch: number, logEndOffset: number): EpochEndOffset {
    if (epoch < 0) return UNDEFINED;
    if (this.entries.length === 0) return { epoch, endOffset: logEndOffset };
    let floor = -1;
    for (let i = this.entries.length - 1; i >= 0; i--) {
      if (this.entries[i]!.epoch <= epoch) {
        floor = i;
        break;
      }
    }
    if (floor < 0) return { epoch, endOffset: this.entries[0]!.startOffset };
    const next = this.entries[floor + 1];
    return { epoch: this.entries[floor]!.epoch, endOffset: next ? next.startOffset : logEndOffset };
  }

  /** Drops the epochs starting at or after `offset` (the log was truncated to end there). */
  truncateFromEnd(offset: number): void {
    let keep = this.entries.length;
    while (keep > 0 && this.entries[keep - 1]!.startOffset >= offset) keep--;
    if (keep === this.entries.length) return;
    this.entries = this.entries.slice(0, keep);
    this.save();
  }

  /**
   * Drops the epochs wholly below `logStartOffset` (retention deleted their batches); the last
   * one starting at or below it is kept, starting at the log start.
   */
  truncateFromStart(logStartOffset: number): void {
    let first = 0;
    while (first + 1 < this.entries.length && this.entries[first + 1]!.startOffset <= logStartOffset) first++;
    const head = this.entries[first];
    if (!head || (first === 0 && head.startOffset >= logStartOffset)) return;
    this.entries = [{ epoch: head.epoch, startOffset: Math.max(head.startOffset, logStartOffset) }, ...this.entries.slice(first + 1)];
    this.save();
  }

  /**
   * Forgets every epoch and removes the file, before the log is emptied: a crash in between
   * leaves no file, and the next open rebuilds the cache from whatever batches are left.
   */
  clear(): void {
    this.entries = [];
    rmSync(this.path, { force: true });
  }

  /** Writes the entries (a cache just rebuilt from the log). */

  save(): void {
    const lines = [String(FILE_VERSION), String(this.entries.length), ...this.entries.map((e) => `${e.epoch} ${e.startOffset}`)];
    writeFileAtomic(this.path, `${lines.join('\n')}\n`);
  }
}
