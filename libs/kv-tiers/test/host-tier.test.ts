// HostTier: with the LRU policy and no watermark slack, against a plain reference LRU (an array,
// oldest first) under random operations; then watermarks, leases (pins), leaf-first eviction with
// the default policy, and its edge cases.
import { KvtierError } from "@kvtier/core";
import { describe, expect, it } from "vitest";
import { blockKey, type BlockKey } from "../src/block-key.js";
import { HostTier } from "../src/host-tier.js";
import { LruPolicy } from "../src/lru-policy.js";

const key = (n: number, codec = "fp32"): BlockKey =>
  blockKey(
    Uint8Array.from({ length: 16 }, (_v, i) => (i === 0 ? n : 0)),
    codec,
  );
const bytesOf = (n: number, len: number): Uint8Array => new Uint8Array(len).fill(n & 0xff);

/** The obvious LRU: an array of entries, least recently used first. */
class ReferenceLru {
  entries: { id: string; len: number }[] = [];
  evicted: string[] = [];
  constructor(readonly capacity: number) {}
  used(): number {
    return this.entries.reduce((n, e) => n + e.len, 0);
  }
  get(id: string): boolean {
    const i = this.entries.findIndex((e) => e.id === id);
    if (i < 0) return false;
    this.entries.push(...this.entries.splice(i, 1));
    return true;
  }
  put(id: string, len: number): "created" | "existing" | "too-big" {
    if (this.get(id)) return "existing";
    if (len > this.capacity) return "too-big";
    while (this.used() + len > this.capacity) this.evicted.push(this.entries.shift()!.id);
    this.entries.push({ id, len });
    return "created";
  }
  delete(id: string): boolean {
    const i = this.entries.findIndex((e) => e.id === id);
    if (i >= 0) this.entries.splice(i, 1);
    return i >= 0;
  }
}

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("HostTier", () => {
  it("matches the reference LRU under random puts, gets and deletes, never exceeding capacity", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rnd = prng(seed);
      const capacity = 1_000 + Math.floor(rnd() * 4_000);
      const tier = new HostTier({ capacityBytes: capacity, highWatermark: 1, lowWatermark: 1, policy: new LruPolicy() });
      const ref = new ReferenceLru(capacity);
      const evicted: string[] = [];
      tier.onEvicted((blocks) => evicted.push(...blocks.map((b) => b.key.id)));
      const lenOf = new Map<number, number>(); // a key always carries the same bytes
      for (let step = 0; step < 500; step++) {
        const n = Math.floor(rnd() * 40);
        const k = key(n);
        const op = rnd();
        if (op < 0.5) {
          const len = lenOf.get(n) ?? 1 + Math.floor(rnd() * (capacity / 3));
          lenOf.set(n, len);
          const want = ref.put(k.id, len);
          if (want === "too-big") expect(() => tier.putNow(k, bytesOf(n, len))).toThrow(KvtierError);
          else expect(tier.putNow(k, bytesOf(n, len))).toBe(want);
        } else if (op < 0.85) {
          expect(tier.getNow(k) !== undefined).toBe(ref.get(k.id));
        } else {
          expect(tier.delete(k)).toBe(ref.delete(k.id));
        }
        expect(tier.usedBytes).toBe(ref.used());
        expect(tier.usedBytes).toBeLessThanOrEqual(capacity);
        expect(tier.blockCount).toBe(ref.entries.length);
      }
      expect([...tier.keys()].map((k) => k.id).sort()).toEqual(ref.entries.map((e) => e.id).sort());
      expect(evicted).toEqual(ref.evicted);
    }
  });

  it("keeps (hash, codec) pairs apart, reports conflicts and refuses a block larger than the tier", () => {
    const tier = new HostTier({ capacityBytes: 100 });
    expect(tier.putNow(key(1, "fp32"), bytesOf(1, 10))).toBe("created");
    expect(tier.putNow(key(1, "fp16"), bytesOf(2, 10))).toBe("created");
    expect(tier.putNow(key(1, "fp32"), bytesOf(1, 10))).toBe("existing");
    expect(tier.putNow(key(1, "fp32"), bytesOf(9, 10))).toBe("conflict");
    expect(tier.conflicts(key(1, "fp32"), bytesOf(9, 10))).toBe(true);
    expect(Buffer.from(tier.getNow(key(1, "fp16"))!).equals(bytesOf(2, 10))).toBe(true);
    expect(tier.usedBytes).toBe(20);
    expect(() => tier.putNow(key(2), bytesOf(2, 101))).toThrow(expect.objectContaining({ code: "RESOURCE_EXHAUSTED" }));
    expect(tier.blockCount).toBe(2);
    expect(() => new HostTier({ capacityBytes: 0 })).toThrow(RangeError);
  });

  it("reports evictions once per put, oldest first, and not deletes", () => {
    const tier = new HostTier({ capacityBytes: 30, highWatermark: 1, policy: new LruPolicy() });
    const calls: string[][] = [];
    tier.onEvicted((blocks) => calls.push(blocks.map((b) => b.key.id)));
    for (const n of [1, 2, 3]) tier.putNow(key(n), bytesOf(n, 10));
    tier.delete(key(3));
    tier.putNow(key(4), bytesOf(4, 30));
    expect(calls).toEqual([[key(1).id, key(2).id]]);
  });

  it("evicts down to the low watermark once a put passes the high one, and hands the bytes and use counts to listeners", () => {
    const tier = new HostTier({ capacityBytes: 100, highWatermark: 0.8, lowWatermark: 0.5, policy: new LruPolicy() });
    const evicted: { id: string; bytes: number; accesses: number }[] = [];
    tier.onEvicted((blocks) => evicted.push(...blocks.map((b) => ({ id: b.key.id, bytes: b.bytes?.length ?? -1, accesses: b.accesses }))));
    for (const n of [1, 2, 3, 4]) tier.putNow(key(n), bytesOf(n, 20)); // 80 bytes: at the high watermark, no eviction
    expect(evicted).toEqual([]);
    tier.getNow(key(1));
    tier.putNow(key(5), bytesOf(5, 20)); // 100 > 80: down to 50 - 20 = 30 before it goes in
    expect(evicted).toEqual([
      { id: key(2).id, bytes: 20, accesses: 1 },
      { id: key(3).id, bytes: 20, accesses: 1 },
      { id: key(4).id, bytes: 20, accesses: 1 },
    ]);
    expect(tier.usedBytes).toBe(40);
    expect(() => new HostTier({ capacityBytes: 10, highWatermark: 0.5, lowWatermark: 0.6 })).toThrow(RangeError);
  });

  it("never evicts a pinned block, and refuses a put with a retry hint when only pinned blocks are left", () => {
    const tier = new HostTier({ capacityBytes: 30, highWatermark: 1, lowWatermark: 1 });
    for (const n of [1, 2, 3]) tier.putNow(key(n), bytesOf(n, 10));
    tier.pin(key(1));
    tier.pin(key(2));
    tier.putNow(key(4), bytesOf(4, 10));
    expect([1, 2, 3, 4].map((n) => tier.has(key(n)))).toEqual([true, true, false, true]);
    tier.pin(key(4));
    let err: unknown;
    try {
      tier.putNow(key(5), bytesOf(5, 10));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KvtierError);
    expect(err).toMatchObject({ code: "RESOURCE_EXHAUSTED", retryAfterMs: expect.any(Number) });
    expect(tier.usedBytes).toBe(30);
    tier.unpin(key(1));
    expect(tier.putNow(key(5), bytesOf(5, 10))).toBe("created");
    expect(tier.has(key(1))).toBe(false);
  });

  it("takes leaves first with the default policy when parents are given", () => {
    const tier = new HostTier({ capacityBytes: 30, highWatermark: 1, lowWatermark: 1 });
    tier.putNow(key(1), bytesOf(1, 10));
    tier.putNow(key(2), bytesOf(2, 10), key(1).hash);
    tier.putNow(key(3), bytesOf(3, 10), key(2).hash);
    for (let i = 0; i < 3; i++) tier.getNow(key(3)); // the leaf is the most used, still it goes first
    tier.putNow(key(9), bytesOf(9, 10));
    expect([1, 2, 3, 9].map((n) => tier.has(key(n)))).toEqual([true, true, false, true]);
  });
});
