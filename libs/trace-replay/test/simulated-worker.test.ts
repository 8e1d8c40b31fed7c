// The simulated workers' LRU caches and their KV events: the index fed through IndexFeed holds
// exactly what the caches hold, and every event tells the truth.
import { IndexFeed, hashHex } from "@kvtier/kv-router";
import { describe, expect, it } from "vitest";
import { LoadImbalanceMeter } from "../src/load-imbalance.js";
import { LruBlockCache } from "../src/lru-block-cache.js";
import { PrefillQueueModel } from "../src/prefill-queue-model.js";
import { seededUniform as seededRandom } from "@kvtier/kv-router";
import { SimulatedWorker } from "../src/simulated-worker.js";
import { TraceBlockHashes } from "../src/trace-block-hash.js";

describe("LruBlockCache", () => {
  it("counts leading hits, evicts the least recent, and never reports a block both inserted and evicted", () => {
    const c = new LruBlockCache(3);
    expect(c.touch([1, 2, 3])).toEqual({ leadingHits: 0, inserted: [1, 2, 3], evicted: [] });
    expect(c.touch([1, 4])).toEqual({ leadingHits: 1, inserted: [4], evicted: [2] });
    expect(c.ids()).toEqual([3, 1, 4]);
    expect(c.leadingHits([3, 9, 1])).toBe(1);
    // a request longer than the cache: its own early blocks are evicted, and were never announced
    expect(c.touch([5, 6, 7, 8])).toEqual({ leadingHits: 0, inserted: [6, 7, 8], evicted: [3, 1, 4] });
    expect(c.ids()).toEqual([6, 7, 8]);
  });
});

describe("SimulatedWorker events through IndexFeed", () => {
  it("keep the index equal to every worker's cache over random requests", () => {
    const rng = seededRandom(3);
    const hashes = new TraceBlockHashes();
    const feed = new IndexFeed();
    const workers = Array.from({ length: 4 }, (_, i) => new SimulatedWorker(`w${i}`, 20 + 10 * i, hashes));
    const prefixes = Array.from({ length: 30 }, (_, p) => Array.from({ length: 1 + Math.floor(rng() * 15) }, (_, k) => 1000 * p + k));
    for (let step = 0; step < 3000; step++) {
      const base = prefixes[Math.floor(rng() * prefixes.length)];
      const ids = [
        ...base.slice(0, 1 + Math.floor(rng() * base.length)),
        ...Array.from({ length: Math.floor(rng() * 3) }, () => 10_000_000 + step * 10 + Math.floor(rng() * 10)),
      ];
      const w = workers[Math.floor(rng() * workers.length)];
      const before = feed.index.match(hashes.chain(ids), "raw").get(w.id)?.device ?? 0;
      const served = w.serve(ids);
      expect(served.hitBlocks).toBe(before);
      if (served.batch) expect(feed.accept(served.batch).snapshotNeeded).toBe(false);
    }
    for (const w of workers) {
      const held = feed.index.snapshot(w.id).map((b) => b.hashHex);
      expect(held).toEqual(
        w.cache
          .ids()
          .map((id) => hashHex(hashes.of(id)))
          .sort(),
      );
    }
  });
});

describe("SimulatedWorker stored events", () => {
  it("announce each run of newly cached blocks as a chain with the block before it as parent", () => {
    const hashes = new TraceBlockHashes();
    const w = new SimulatedWorker("w", 5, hashes);
    w.serve([1, 2, 3]);
    w.serve([7, 8, 9]); // evicts 1
    w.serve([3]); // 3 becomes the most recent: 2 is evicted next, 3 stays
    // 1 is cached again (2 is evicted and cached again within the request, so the index's entry
    // stands), 3 hits, 4 is new: two runs
    const served = w.serve([1, 2, 3, 4]);
    const stored = served.batch!.events.filter((e) => e.kind === "stored");
    expect(stored.map((e) => (e.kind === "stored" ? { ids: e.hashes.map(hashHex), parent: e.parent && hashHex(e.parent) } : null))).toEqual(
      [
        { ids: [hashHex(hashes.of(1))], parent: undefined },
        { ids: [hashHex(hashes.of(4))], parent: hashHex(hashes.of(3)) },
      ],
    );
  });
});

describe("PrefillQueueModel and LoadImbalanceMeter", () => {
  it("drains queues at the throughput and decays recent work", () => {
    const q = new PrefillQueueModel(2, 100);
    q.enqueue(0, 250);
    q.advance(1);
    expect(q.queuedTokens(0)).toBe(150);
    q.advance(3);
    expect(q.queuedTokens(0)).toBe(0);
    expect(q.recentTokens(0)).toBeCloseTo(250 * Math.exp(-3 / 60), 9);
    q.advance(2); // the clock never goes back
    expect(q.recentTokens(0)).toBeCloseTo(250 * Math.exp(-3 / 60), 9);
    const fast = new PrefillQueueModel(1, 100, 10); // recent work decays with its own time constant
    fast.enqueue(0, 250);
    fast.advance(3);
    expect(fast.recentTokens(0)).toBeCloseTo(250 * Math.exp(-3 / 10), 9);
  });

  it("averages max over mean per 60-second window, skipping empty windows", () => {
    const m = new LoadImbalanceMeter(2);
    m.add(10, 0, 300);
    m.add(50, 1, 100); // window 0: max 300, mean 200 -> 1.5
    m.add(130, 0, 50);
    m.add(170, 1, 50); // window 2: 1.0; window 1 is empty
    expect(m.imbalance()).toBeCloseTo((1.5 + 1.0) / 2, 12);
    // the busiest worker's tokens per window, averaged: (300 + 50) / 2
    expect(m.meanPeakTokens()).toBeCloseTo(175, 12);
    // each worker's tokens in the window holding a time
    expect([m.windowTokens(0, 0), m.windowTokens(59.9, 1), m.windowTokens(150, 0), m.windowTokens(90, 0)]).toEqual([300, 100, 50, 0]);
    expect(new LoadImbalanceMeter(4).imbalance()).toBe(1);
  });

  it("judges the same placements with windows starting a quarter, a half and three quarters of a window later", () => {
    const m = new LoadImbalanceMeter(2);
    m.add(10, 0, 100);
    m.add(20, 1, 100);
    m.add(50, 0, 100);
    // phase 0: [0, 60) holds 200 / 100 -> 4/3. Phase 1: [-45, 15) 100 / 0 -> 2, [15, 75) 100 / 100 -> 1.
    // Phase 2: [-30, 30) 1, [30, 90) 2. Phase 3: [-15, 45) 1, [45, 105) 2.
    expect([0, 1, 2, 3].map((k) => m.imbalanceAtPhase(k))).toEqual([4 / 3, 1.5, 1.5, 1.5]);
    expect(m.imbalanceAtPhase(0)).toBe(m.imbalance());
    for (const bad of [-1, 4, 0.5]) expect(() => m.imbalanceAtPhase(bad)).toThrow(RangeError);
    expect(new LoadImbalanceMeter(3).imbalanceAtPhase(2)).toBe(1);
  });
});
