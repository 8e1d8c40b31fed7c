// The contract between a tier and its eviction policy. A policy only orders block ids: it knows
// nothing of bytes, files or capacity (the tier evicts until what it needs fits), which keeps it
// pure enough to replay a trace against it in process (`pnpm bench eviction`).

/** A block the policy gave up, with how often it had been used. */
export interface EvictedEntry {
  id: string;
  /** Uses counted while held plus any remembered from earlier stays (>= 1). */
  accesses: number;
}

/**
 * Decides which block a tier drops next. Ids are opaque strings (a BlockKey's `id` in the store,
 * a trace block id in the benchmark). Pins (leases, reads in progress) are counted per id and
 * outlive the id's residency, so pinning before a block arrives or after it left is harmless.
 */
export interface EvictionPolicy {
  /** Blocks held. */
  readonly size: number;
  has(id: string): boolean;
  /**
   * A block entered the tier (a put or a promotion). `parent` is the id of the block before it in
   * its hash chain, when known; a policy may keep parents longer than their children. Inserting a
   * held id counts as a use ({@link touch}).
   */
  insert(id: string, parent?: string): void;
  /** The block was used (read, or put again). No-op when not held. */
  touch(id: string): void;
  /** The block left the tier other than by eviction (a delete). No-op when not held. */
  remove(id: string): void;
  /** Choose and drop the next victim; undefined when nothing can go (empty, or all pinned). */
  evict(): EvictedEntry | undefined;
  /** Keep `id` from being evicted until a matching {@link unpin}. Counted. */
  pin(id: string): void;
  unpin(id: string): void;
  /** Uses of `id`, held or remembered; 0 when unknown. Not a use. */
  accesses(id: string): number;
  /** Held ids, in no promised order. */
  ids(): IterableIterator<string>;
}

/** Pin counts by id, shared by the policies. */
export class PinCounts {
  private readonly pins = new Map<string, number>();

  /** Ids pinned now. */
  get size(): number {
    return this.pins.size;
  }

  pin(id: string): void {
    this.pins.set(id, (this.pins.get(id) ?? 0) + 1);
  }

  /** True when this was the id's last pin. */
  unpin(id: string): boolean {
    const n = this.pins.get(id);
    if (n === undefined) return false;
    if (n > 1) {
      this.pins.set(id, n - 1);
      return false;
    }
    this.pins.delete(id);
    return true;
  }

  has(id: string): boolean {
    return this.pins.has(id);
  }
}
