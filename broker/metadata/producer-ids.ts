// Producer ids for idempotent producers, unique across restarts and brokers: each broker
// reserves blocks of ids in the MetadataStore with compare-and-set and hands them out locally.
import { type MetadataStore, VersionConflictError } from './metadata-store.js';

const KEY = 'producer-ids/next-block';
const BLOCK_SIZE = 1000;

export class ProducerIdAllocator {
  private next = 0;
  private end = 0;
  private reserving: Promise<void> | null = null;

  constructor(private readonly store: MetadataStore) {}

  async allocate(): Promise<number> {
    while (this.next >= this.end) {
      this.reserving ??= this.reserveBlock().finally(() => (this.reserving = null));
      await this.reserving;
    }
    return this.next++;
  }

  private async reserveBlock(): Promise<void> {
    for (;;) {
      const current = await this.store.get(KEY);
      const start = current ? Number(current.value) : 0;
      try {
        await this.store.put(KEY, String(start + BLOCK_SIZE), current?.version ?? 0);
        this.next = start;
        this.end = start + BLOCK_SIZE;
        return;
      } catch (err) {
        if (!(err instanceof VersionConflictError)) throw err;
      }
    }
  }
}
