// Replaces a small file (checkpoint, index, snapshot, metadata) atomically: written in full to
// "<path>.tmp", optionally synced, then renamed over the old one. A failed write (ENOSPC, EIO)
// removes the temporary file before rethrowing, so a full disk leaves no debris and the old
// file stays as it was.
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';

export function writeFileAtomic(path: string, data: string | Buffer, sync = false): void {
  const tmp = `${path}.tmp`;
  try {
    const fd = openSync(tmp, 'w');
    try {
      writeFileSync(fd, data);
      if (sync) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
