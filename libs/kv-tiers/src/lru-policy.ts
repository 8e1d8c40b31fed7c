// Plain least-recently-used eviction: the baseline the benchmark compares against, and the
// policy the host tier can be switched to. A Map keeps insertion order, so moving an id to the
// end on use makes the first unpinned id the victim.
import { PinCounts, type EvictedEntry, type EvictionPolicy } from "./eviction-policy.js";

/** Least recently used first; ignores parents; counts uses only for SSD admission. */
export class LruPolicy implements EvictionPolicy {
  /** id -> uses while held, least recently used first. */
  private readonly order = new Map<string, number>();
  private readonly pins = new PinCounts();

  get size(): number {
    return this.order.size;
  }

  has(id: string): boolean {
    return this.order.has(id);
  }

  insert(id: string, _parent?: string): void {
    if (this.order.has(id)) return this.touch(id);
    this.order.set(id, 1);
  }

  touch(id: string): void {
    const n = this.order.get(id);
    if (n === undefined) return;
    this.order.delete(id);
    this.order.set(id, n + 1);
  }

  remove(id: string): void {
    this.order.delete(id);
  }

  evict(): EvictedEntry | undefined {
    for (const [id, accesses] of this.order) {
      if (this.pins.has(id)) continue;
      this.order.delete(id);
      return { id, accesses };
    }
    return undefined;
  }

  pin(id: string): void {
    this.pins.pin(id);
  }

  unpin(id: string): void {
    this.pins.unpin(id);
  }

  accesses(id: string): number {
    return this.order.get(id) ?? 0;
  }

  ids(): IterableIterator<string> {
    return this.order.keys();
  }
}
