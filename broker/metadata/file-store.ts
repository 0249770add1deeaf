// MetadataStore in one JSON file, replaced atomically (write, fsync, rename) on every change:
// the embedded default store of a single-node broker. A failed write (a full disk) leaves the
// old file and no temporary one, and is reported as KAFKA_STORAGE_ERROR.
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../storage/atomic-file.js';
import { KafkaStorageError, describeIoError } from '../storage/storage-error.js';
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
    try {
      writeFileAtomic(this.path, JSON.stringify(contents, null, 2), true);
    } catch (err) {
      throw new KafkaStorageError(`cannot write the metadata file ${this.path}: ${describeIoError(err)}`, err);
    }
  }
}
