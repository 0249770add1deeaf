// MetadataStore in one JSON file, replaced atomically (write, fsync, rename) on every change:
// the embedded default store of a single-node broker.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { MemoryMetadataStore } from './memory-store.js';
import type { StoredValue } from './metadata-store.js';

interface FileContents {
  entries: Record<string, StoredValue>;
}

export class FileMetadataStore extends MemoryMetadataStore {
  private readonly path: string;

  constructor(path: string) {
    super();
    this.path = path;
    if (existsSync(path)) {
      let contents: FileContents;
      try {
        contents = JSON.parse(readFileSync(path, 'utf8')) as FileContents;
      } catch (err) {
        throw new Error(`metadata file ${path} is not valid JSON: ${(err as Error).message}`);
      }
      this.restore(Object.entries(contents.entries ?? {}));
    }
  }

  protected override async persist(): Promise<void> {
    const contents: FileContents = { entries: Object.fromEntries(this.entries) };
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, JSON.stringify(contents, null, 2));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
  }
}
