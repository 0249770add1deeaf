// The aborted-transaction index of one segment (Kafka's .txnindex): one entry per ABORT marker
// in the segment, saying which producer's records from firstOffset up to the marker belong to
// the aborted transaction. read_committed consumers get the entries that overlap what they
// fetch and drop those records. Entries are appended to the file as markers are written and
// synced when the segment is sealed; the log rebuilds the entries past its producer-state
// snapshot from the markers themselves, so a torn or missing tail is never trusted.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, rmSync, appendFileSync } from 'node:fs';
import { readInt64, writeInt64 } from '../records/record-batch.js';
import { writeFileAtomic } from './atomic-file.js';

/** version int16, producerId int64, firstOffset int64, lastOffset int64, lastStableOffset int64. */
const ENTRY_SIZE = 34;
const ENTRY_VERSION = 0;

export interface AbortedTxn {
  producerId: number;
  /** The transaction's first offset in this partition. */
  firstOffset: number;
  /** The offset of its ABORT marker. */
  lastOffset: number;
  /**
   * The partition's first unstable offset once this transaction ended: every transaction aborted
   * later started at or past it, so a search for transactions starting below it can stop here.
   */
  lastStableOffset: number;
}

function encode(txn: AbortedTxn): Buffer {
  const buf = Buffer.allocUnsafe(ENTRY_SIZE);
  buf.writeInt16BE(ENTRY_VERSION, 0);
  writeInt64(buf, 2, txn.producerId);
  writeInt64(buf, 10, txn.firstOffset);
  writeInt64(buf, 18, txn.lastOffset);
  writeInt64(buf, 26, txn.lastStableOffset);
  return buf;
}

export class TxnIndex {
  readonly path: string;
  private list: AbortedTxn[] = [];
  private unsynced = false;

  constructor(path: string) {
    this.path = path;
    if (!existsSync(path)) return;
    const data = readFileSync(path);
    // A torn last entry (a crash mid-append) is left out; the log's replay writes it again.
    for (let p = 0; p + ENTRY_SIZE <= data.length; p += ENTRY_SIZE) {
      if (data.readInt16BE(p) !== ENTRY_VERSION) break;
      this.list.push({ producerId: readInt64(data, p + 2), firstOffset: readInt64(data, p + 10), lastOffset: readInt64(data, p + 18), lastStableOffset: readInt64(data, p + 26) });
    }
    if (this.list.length * ENTRY_SIZE !== data.length) this.rewrite();
  }

  /** The entries in marker order. */
  get entries(): readonly AbortedTxn[] {
    return this.list;
  }

  append(txn: AbortedTxn): void {
    appendFileSync(this.path, encode(txn));
    this.list.push(txn);
    this.unsynced = true;
  }

  /** Drops the entries whose marker is at or past `offset` (the log was cut there, or is replayed from there). */
  truncateFrom(offset: number): void {
    const kept = this.list.filter((t) => t.lastOffset < offset);
    if (kept.length === this.list.length) return;
    this.list = kept;
    this.rewrite();
  }

  private rewrite(): void {
    if (this.list.length === 0) rmSync(this.path, { force: true });
    else writeFileAtomic(this.path, Buffer.concat(this.list.map(encode)));
    this.unsynced = false;
  }

  /** fsyncs appended entries (when the segment is sealed). */
  flush(): void {
    if (!this.unsynced) return;
    const fd = openSync(this.path, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.unsynced = false;
  }

  delete(): void {
    rmSync(this.path, { force: true });
    this.list = [];
    this.unsynced = false;
  }
}
