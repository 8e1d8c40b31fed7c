// The kvstore's eviction policy: leaf-first GreedyDual-Frequency with probation.
//
// - Leaves first: only a block with no held child is a candidate, so a chain is cut from its end
//   and never loses a parent its cached children need (a child is worthless without them).
// - Priority = L + value(uses), where L is the priority of the last victim (GreedyDual
//   inflation: a block not used for a while sinks below newer ones, so recency counts) and
//   value(1) = 0, value(n) = n for n >= 2: a block used once is on probation and goes before
//   anything used twice; frequency keeps hot prefixes (system prompts) resident.
// - Uses survive eviction in an AccessHistory (4x the held count), so a block that comes back
//   is credited with its past uses instead of starting on probation again.
// - Ties go to the least recently used. Pinned blocks (leases) are never chosen.
// Measured against plain LRU on the Mooncake trace by `pnpm bench eviction` (README).
import { AccessHistory } from "./access-history.js";
import { PinCounts, type EvictedEntry, type EvictionPolicy } from "./eviction-policy.js";
import { MinHeap } from "./min-heap.js";

/** History entries kept per held block. */
export const HISTORY_PER_HELD_BLOCK = 4;
/** Stale heap entries tolerated per held block before the heap is compacted. */
const STALE_ENTRIES_PER_HELD_BLOCK = 2;

interface Node {
  parent: string | undefined;
  accesses: number;
  priority: number;
  /** Order of last use; breaks priority ties (least recent first). */
  tick: number;
  /** Stamp of this node's live heap entry (policy-wide, so a returning id never matches an old entry). */
  version: number;
}

interface Candidate {
  priority: number;
  tick: number;
  id: string;
  version: number;
}

/** The worth of a block used `accesses` times: 0 while on probation (one use). */
export function valueOf(accesses: number): number {
  return accesses <= 1 ? 0 : accesses;
}

/** Leaf-first GreedyDual-Frequency with probation and a ghost history; see the module header. */
export class PrefixAwarePolicy implements EvictionPolicy {
  private readonly nodes = new Map<string, Node>();
  /** Held children per parent id (whether or not the parent itself is held). */
  private readonly heldChildren = new Map<string, number>();
  private readonly heap = new MinHeap<Candidate>((a, b) => a.priority < b.priority || (a.priority === b.priority && a.tick < b.tick));
  private readonly history = new AccessHistory();
  private readonly pins = new PinCounts();
  /** GreedyDual inflation: the priority of the last victim. */
  private inflation = 0;
  private clock = 0;
  /** Source of heap-entry stamps. */
  private stamps = 0;

  get size(): number {
    return this.nodes.size;
  }

  has(id: string): boolean {
    return this.nodes.has(id);
  }

  insert(id: string, parent?: string): void {
    if (this.nodes.has(id)) return this.touch(id);
    const accesses = 1 + this.history.take(id);
    const node: Node = { parent, accesses, priority: this.inflation + valueOf(accesses), tick: ++this.clock, version: 0 };
    this.nodes.set(id, node);
    if (parent !== undefined) this.heldChildren.set(parent, (this.heldChildren.get(parent) ?? 0) + 1);
    this.offer(id, node);
  }

  touch(id: string): void {
    const node = this.nodes.get(id);
    if (!node) return;
    node.accesses += 1;
    node.priority = this.inflation + valueOf(node.accesses);
    node.tick = ++this.clock;
    this.offer(id, node);
  }

  remove(id: string): void {
    const node = this.nodes.get(id);
    if (!node) return;
    this.drop(id, node);
  }

  evict(): EvictedEntry | undefined {
    for (;;) {
      const c = this.heap.pop();
      if (!c) return undefined;
      const node = this.nodes.get(c.id);
      if (!node || node.version !== c.version || !this.isCandidate(c.id)) continue;
      this.inflation = Math.max(this.inflation, c.priority);
      this.drop(c.id, node);
      this.history.record(c.id, node.accesses, HISTORY_PER_HELD_BLOCK * this.nodes.size);
      return { id: c.id, accesses: node.accesses };
    }
  }

  pin(id: string): void {
    this.pins.pin(id);
  }

  unpin(id: string): void {
    if (!this.pins.unpin(id)) return;
    const node = this.nodes.get(id);
    if (node) this.offer(id, node);
  }

  accesses(id: string): number {
    return this.nodes.get(id)?.accesses ?? this.history.peek(id);
  }

  ids(): IterableIterator<string> {
    return this.nodes.keys();
  }

  /** Unpinned and without held children. */
  private isCandidate(id: string): boolean {
    return !this.pins.has(id) && !this.heldChildren.has(id);
  }

  /** Push a fresh heap entry for `node` when it can be chosen (older entries become stale). */
  private offer(id: string, node: Node): void {
    node.version = ++this.stamps;
    if (!this.isCandidate(id)) return;
    this.heap.push({ priority: node.priority, tick: node.tick, id, version: node.version });
    if (this.heap.size > STALE_ENTRIES_PER_HELD_BLOCK * this.nodes.size + 1024) {
      this.heap.retain((c) => this.nodes.get(c.id)?.version === c.version);
    }
  }

  /** Forget a held node; its parent may become a candidate. */
  private drop(id: string, node: Node): void {
    this.nodes.delete(id);
    const p = node.parent;
    if (p === undefined) return;
    const left = (this.heldChildren.get(p) ?? 1) - 1;
    if (left > 0) {
      this.heldChildren.set(p, left);
      return;
    }
    this.heldChildren.delete(p);
    const parent = this.nodes.get(p);
    if (parent) this.offer(p, parent);
  }
}
