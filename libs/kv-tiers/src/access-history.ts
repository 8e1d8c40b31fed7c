// What a policy remembers of blocks it evicted: their use counts, in a bounded FIFO (a ghost
// list). A block that comes back is credited with its earlier uses, which is what lets the
// eviction policy and the SSD admission gate tell reused blocks from one-off ones.

/** Fewest entries a history keeps, whatever the tier's size. */
const MIN_HISTORY_ENTRIES = 1024;

/** Bounded id -> use count memory; the oldest entry goes first. */
export class AccessHistory {
  private readonly counts = new Map<string, number>();

  get size(): number {
    return this.counts.size;
  }

  /** Remember `accesses` for `id`, keeping at most `limit` entries (at least MIN_HISTORY_ENTRIES). */
  record(id: string, accesses: number, limit: number): void {
    this.counts.delete(id);
    this.counts.set(id, accesses);
    const max = Math.max(MIN_HISTORY_ENTRIES, limit);
    while (this.counts.size > max) {
      const oldest = this.counts.keys().next();
      if (oldest.done) break;
      this.counts.delete(oldest.value);
    }
  }

  /** Uses remembered for `id` (0 when none). */
  peek(id: string): number {
    return this.counts.get(id) ?? 0;
  }

  /** Uses remembered for `id`, forgetting them (the block is back). */
  take(id: string): number {
    const n = this.counts.get(id) ?? 0;
    this.counts.delete(id);
    return n;
  }
}
