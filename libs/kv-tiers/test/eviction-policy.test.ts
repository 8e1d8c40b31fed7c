// The eviction policies: PrefixAwarePolicy against a straightforward reference (a scan over
// every held block) under random operations, and the properties the README states: leaves first,
// probation, remembered uses, pins. LruPolicy's order is checked through HostTier's tests.
import { describe, expect, it } from "vitest";
import { AccessHistory } from "../src/access-history.js";
import { LruPolicy } from "../src/lru-policy.js";
import { HISTORY_PER_HELD_BLOCK, PrefixAwarePolicy, valueOf } from "../src/prefix-aware-policy.js";

/** The policy as its header states it, with O(n) scans instead of a heap. */
class ReferencePolicy {
  nodes = new Map<string, { parent: string | undefined; accesses: number; priority: number; tick: number }>();
  history = new AccessHistory();
  pins = new Map<string, number>();
  inflation = 0;
  clock = 0;
  insert(id: string, parent?: string): void {
    const n = this.nodes.get(id);
    if (n) return this.touch(id);
    const accesses = 1 + this.history.take(id);
    this.nodes.set(id, { parent, accesses, priority: this.inflation + valueOf(accesses), tick: ++this.clock });
  }
  touch(id: string): void {
    const n = this.nodes.get(id);
    if (!n) return;
    n.accesses += 1;
    n.priority = this.inflation + valueOf(n.accesses);
    n.tick = ++this.clock;
  }
  evict(): string | undefined {
    let best: string | undefined;
    for (const [id, n] of this.nodes) {
      if ((this.pins.get(id) ?? 0) > 0) continue;
      if ([...this.nodes.values()].some((c) => c.parent === id)) continue;
      const b = best === undefined ? undefined : this.nodes.get(best)!;
      if (!b || n.priority < b.priority || (n.priority === b.priority && n.tick < b.tick)) best = id;
    }
    if (best === undefined) return undefined;
    const n = this.nodes.get(best)!;
    this.inflation = Math.max(this.inflation, n.priority);
    this.nodes.delete(best);
    this.history.record(best, n.accesses, HISTORY_PER_HELD_BLOCK * this.nodes.size);
    return best;
  }
}

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("PrefixAwarePolicy", () => {
  it("chooses the same victims as the reference under random chains, uses, deletes and pins", () => {
    for (let seed = 1; seed <= 30; seed++) {
      const rnd = prng(seed);
      const fast = new PrefixAwarePolicy();
      const ref = new ReferencePolicy();
      // blocks 0..59 in chains of 6: the parent of n is n-1 unless n starts a chain
      const parentOf = (n: number): string | undefined => (n % 6 === 0 ? undefined : String(n - 1));
      for (let step = 0; step < 600; step++) {
        const n = Math.floor(rnd() * 60);
        const id = String(n);
        const op = rnd();
        if (op < 0.4) {
          fast.insert(id, parentOf(n));
          ref.insert(id, parentOf(n));
        } else if (op < 0.6) {
          fast.touch(id);
          ref.touch(id);
        } else if (op < 0.67) {
          fast.remove(id);
          ref.nodes.delete(id);
        } else if (op < 0.72) {
          fast.pin(id);
          ref.pins.set(id, (ref.pins.get(id) ?? 0) + 1);
        } else if (op < 0.77) {
          fast.unpin(id);
          if ((ref.pins.get(id) ?? 0) > 0) ref.pins.set(id, ref.pins.get(id)! - 1);
        } else {
          expect(fast.evict()?.id).toBe(ref.evict());
        }
        expect(fast.size).toBe(ref.nodes.size);
        expect(fast.accesses(id)).toBe(ref.nodes.get(id)?.accesses ?? ref.history.peek(id));
      }
      expect([...fast.ids()].sort()).toEqual([...ref.nodes.keys()].sort());
    }
  });

  it("takes leaves first: a chain goes from its end, whatever the recency", () => {
    const p = new PrefixAwarePolicy();
    p.insert("a");
    p.insert("b", "a");
    p.insert("c", "b");
    p.touch("c"); // the leaf is the most recent and most used, still it goes first
    p.touch("c");
    p.insert("x");
    p.touch("x");
    p.touch("x");
    p.touch("x");
    expect([p.evict()?.id, p.evict()?.id, p.evict()?.id]).toEqual(["c", "b", "a"]);
  });

  it("keeps a block used twice over newer blocks used once (probation), and remembers uses after eviction", () => {
    const p = new PrefixAwarePolicy();
    p.insert("hot");
    p.touch("hot");
    for (const id of ["n1", "n2", "n3"]) p.insert(id);
    expect([p.evict()?.id, p.evict()?.id, p.evict()?.id]).toEqual(["n1", "n2", "n3"]);
    expect(p.evict()).toEqual({ id: "hot", accesses: 2 });
    expect(p.accesses("hot")).toBe(2);
    p.insert("hot");
    expect(p.accesses("hot")).toBe(3);
    p.insert("new");
    expect(p.evict()?.id).toBe("new");
  });

  it("never evicts a pinned block or the parents it needs, and gives up when everything is pinned", () => {
    const p = new PrefixAwarePolicy();
    p.insert("a");
    p.insert("b", "a");
    p.pin("b");
    p.insert("z");
    expect(p.evict()?.id).toBe("z");
    expect(p.evict()).toBeUndefined();
    p.unpin("b");
    expect(p.evict()?.id).toBe("b");
    expect(p.evict()?.id).toBe("a");
    // pins outlive residency
    p.pin("q");
    p.insert("q");
    expect(p.evict()).toBeUndefined();
  });

  it("counts a child put before its parent, so the parent still waits for it", () => {
    const p = new PrefixAwarePolicy();
    p.insert("child", "parent");
    p.insert("parent");
    p.touch("child");
    p.touch("child");
    expect(p.evict()?.id).toBe("child");
  });
});

describe("LruPolicy", () => {
  it("evicts the least recently used unpinned block", () => {
    const p = new LruPolicy();
    for (const id of ["a", "b", "c"]) p.insert(id);
    p.touch("a");
    p.pin("b");
    expect(p.evict()).toEqual({ id: "c", accesses: 1 });
    expect(p.evict()).toEqual({ id: "a", accesses: 2 });
    expect(p.evict()).toBeUndefined();
  });
});
