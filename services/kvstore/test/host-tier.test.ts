// HostTier against a plain reference LRU (an array, oldest first) under random operations, plus
// its edge cases.
import { KvtierError } from "@kvtier/platform";
import { describe, expect, it } from "vitest";
import { blockKey, type BlockKey } from "../src/block-key.js";
import { HostTier } from "../src/host-tier.js";

const key = (n: number, codec = "fp32"): BlockKey => blockKey(Uint8Array.from({ length: 16 }, (_v, i) => (i === 0 ? n : 0)), codec);
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
      const tier = new HostTier({ capacityBytes: capacity });
      const ref = new ReferenceLru(capacity);
      const evicted: string[] = [];
      tier.onEvicted((keys) => evicted.push(...keys.map((k) => k.id)));
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
      expect([...tier.keys()].map((k) => k.id)).toEqual(ref.entries.map((e) => e.id));
      expect(evicted).toEqual(ref.evicted);
    }
  });

  it("keeps (hash, codec) pairs apart, reports conflicts and refuses a block larger than the tier", async () => {
    const tier = new HostTier({ capacityBytes: 100 });
    expect(await tier.put(key(1, "fp32"), bytesOf(1, 10))).toBe("created");
    expect(await tier.put(key(1, "fp16"), bytesOf(2, 10))).toBe("created");
    expect(await tier.put(key(1, "fp32"), bytesOf(1, 10))).toBe("existing");
    expect(await tier.put(key(1, "fp32"), bytesOf(9, 10))).toBe("conflict");
    expect(Buffer.from((await tier.get(key(1, "fp16")))!).equals(bytesOf(2, 10))).toBe(true);
    expect(tier.usedBytes).toBe(20);
    await expect(tier.put(key(2), bytesOf(2, 101))).rejects.toMatchObject({ code: "RESOURCE_EXHAUSTED" });
    expect(tier.blockCount).toBe(2);
    expect(() => new HostTier({ capacityBytes: 0 })).toThrow(RangeError);
  });

  it("reports evictions once per put, oldest first, and not deletes", () => {
    const tier = new HostTier({ capacityBytes: 30 });
    const calls: string[][] = [];
    tier.onEvicted((keys) => calls.push(keys.map((k) => k.id)));
    for (const n of [1, 2, 3]) tier.putNow(key(n), bytesOf(n, 10));
    tier.delete(key(3));
    tier.putNow(key(4), bytesOf(4, 30));
    expect(calls).toEqual([[key(1).id, key(2).id]]);
  });
});
