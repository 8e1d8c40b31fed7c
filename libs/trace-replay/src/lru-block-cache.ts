// An LRU cache of trace block ids with a capacity in blocks: the device cache of one simulated
// worker, or the pooled baseline. Plain LRU (a Map in recency order), as the published pooled
// figures use; it does not evict leaves first.

/** What touching a request's blocks changed. */
export interface CacheTouch {
  /** Leading blocks of the request that were cached before the touch (prefix hits). */
  leadingHits: number;
  /** Blocks newly inserted, in request order. */
  inserted: number[];
  /** Blocks evicted to make room, oldest first. */
  evicted: number[];
}

/** LRU over block ids; `capacityBlocks` may be 0 (caches nothing). */
export class LruBlockCache {
  private readonly order = new Map<number, true>();

  constructor(readonly capacityBlocks: number) {}

  get size(): number {
    return this.order.size;
  }

  has(id: number): boolean {
    return this.order.has(id);
  }

  /** Leading blocks of `ids` held now. */
  leadingHits(ids: readonly number[]): number {
    let n = 0;
    while (n < ids.length && this.order.has(ids[n])) n++;
    return n;
  }

  /** Uses every block of a request in order (each becomes most recent), evicting the least recent past capacity. */
  touch(ids: readonly number[]): CacheTouch {
    const leadingHits = this.leadingHits(ids);
    const inserted: number[] = [];
    const evicted: number[] = [];
    for (const id of ids) {
      if (this.order.delete(id)) this.order.set(id, true);
      else {
        this.order.set(id, true);
        inserted.push(id);
      }
      while (this.order.size > this.capacityBlocks) {
        const oldest = this.order.keys().next().value as number;
        this.order.delete(oldest);
        evicted.push(oldest);
      }
    }
    // a block inserted and evicted within the same request was never announced as held
    if (evicted.length > 0 && inserted.length > 0) {
      const gone = new Set(evicted);
      const kept = inserted.filter((id) => !gone.has(id));
      const insertedSet = new Set(inserted);
      return { leadingHits, inserted: kept, evicted: evicted.filter((id) => !insertedSet.has(id)) };
    }
    return { leadingHits, inserted, evicted };
  }

  /** Ids held, least recent first. */
  ids(): number[] {
    return [...this.order.keys()];
  }
}
