// BlockTable (open addressing, backward-shift deletion, growth and shrinking) against a Map of
// Sets, over random operations on many keys, and on keys built to share one probe run that wraps
// around the end of the table.
import { describe, expect, it } from "vitest";
import { BlockTable } from "../src/block-table.js";
import { mulberry32, randInt } from "./support/prng.js";

const hex = (h: Uint8Array): string => Buffer.from(h).toString("hex");

function randomHash(rng: () => number): Uint8Array {
  return Uint8Array.from({ length: 16 }, () => randInt(rng, 256));
}

/** Holders of slot `slot`, sorted. */
function holdersOf(t: BlockTable, slot: number): number[] {
  return Array.from({ length: t.holderCount(slot) }, (_, j) => t.holderAt(slot, j)).sort((a, b) => a - b);
}

/** Every key of `ref` is found with exactly its holders, and the table holds nothing else. */
function checkEqual(t: BlockTable, ref: Map<string, Set<number>>, keys: Map<string, Uint8Array>, where: string): void {
  const problems: string[] = [];
  if (t.size !== ref.size) problems.push(`size ${t.size} != ${ref.size}`);
  for (const [k, holders] of ref) {
    const slot = t.find(keys.get(k)!);
    // a guess of the previous record never changes the answer, right or wrong
    for (const guess of [-1, slot - 1, (slot * 7) % t.capacity]) expect(t.findAfter(keys.get(k)!, guess)).toBe(slot);
    const want = [...holders].sort((a, b) => a - b).join(",");
    if (slot < 0) problems.push(`${k} missing`);
    else if (holdersOf(t, slot).join(",") !== want) problems.push(`${k} holds ${holdersOf(t, slot).join(",")}, want ${want}`);
  }
  let occupied = 0;
  const key = new Uint8Array(16);
  for (let i = 0; i < t.capacity; i++) {
    if (!t.occupied(i)) continue;
    occupied++;
    t.keyInto(i, key);
    if (!ref.has(hex(key))) problems.push(`stray key ${hex(key)}`);
  }
  if (occupied !== ref.size) problems.push(`${occupied} occupied slots for ${ref.size} keys`);
  expect(problems.slice(0, 5), where).toEqual([]);
}

/** Runs random operations; returns the largest and the final table size (slots) seen. */
function runRandom(
  seed: number,
  makeHash: (rng: () => number) => Uint8Array,
  steps: number,
): { maxCapacity: number; finalCapacity: number } {
  let maxCapacity = 0;
  const rng = mulberry32(seed);
  const t = new BlockTable(seed);
  const ref = new Map<string, Set<number>>();
  const keys = new Map<string, Uint8Array>();
  const pool: Uint8Array[] = [];
  for (let step = 0; step < steps; step++) {
    const r = rng();
    // phases: grow to thousands of keys, then drain (forces shrinking), then grow again
    const phase = Math.floor((4 * step) / steps) % 2 === 0 ? 0.75 : 0.05;
    if (r < phase || pool.length === 0) {
      const h = pool.length > 0 && rng() < 0.3 ? pool[randInt(rng, pool.length)] : makeHash(rng);
      const holder = randInt(rng, 5);
      const k = hex(h);
      const before = ref.get(k)?.has(holder) ?? false;
      expect(t.addHolder(h, holder, randInt(rng, t.capacity + 1) - 1) >= 0).toBe(!before);
      if (!ref.has(k)) {
        ref.set(k, new Set());
        keys.set(k, h);
        pool.push(h);
      }
      ref.get(k)!.add(holder);
    } else {
      const idx = randInt(rng, pool.length);
      const h = pool[idx];
      const k = hex(h);
      const dropHolder = rng() < 0.6 ? 5 : randInt(rng, 5); // 5 = drop all
      const slot = t.find(h);
      const removed: number[] = [];
      const gone = t.removeHolders(
        slot,
        (x) => dropHolder === 5 || x === dropHolder,
        (x) => removed.push(x),
      );
      const set = ref.get(k)!;
      const expected = [...set].filter((x) => dropHolder === 5 || x === dropHolder);
      expect(removed.sort()).toEqual(expected.sort());
      for (const x of expected) set.delete(x);
      expect(gone).toBe(set.size === 0);
      if (set.size === 0) {
        ref.delete(k);
        keys.delete(k);
        pool[idx] = pool[pool.length - 1];
        pool.pop();
        if (rng() < 0.05) t.compact();
      }
    }
    maxCapacity = Math.max(maxCapacity, t.slotCount);
    if (step % 2999 === 0 || step === steps - 1) checkEqual(t, ref, keys, `seed ${seed} step ${step}`);
  }
  return { maxCapacity, finalCapacity: t.slotCount };
}

describe("BlockTable matches a Map of Sets", () => {
  it("gives a chain stored in order consecutive records, found from each other, and reuses a chain freed from its tail in order", () => {
    const rng = mulberry32(5);
    const t = new BlockTable(3);
    const chain = Array.from({ length: 40 }, () => randomHash(rng));
    let prev = -1;
    const ids = chain.map((h) => (prev = t.addHolder(h, 1, prev)));
    expect(ids).toEqual(ids.map((_, i) => ids[0] + i));
    // evicted tail first, then a new chain stored in order takes the same ids, in order
    for (let i = chain.length - 1; i >= 0; i--) expect(t.removeHolder(t.find(chain[i]), 1)).toBe(2);
    const next = Array.from({ length: 40 }, () => randomHash(rng));
    prev = -1;
    expect(next.map((h) => (prev = t.addHolder(h, 2, prev)))).toEqual(ids);
    for (let i = 1; i < next.length; i++) expect(t.findAfter(next[i], ids[i - 1])).toBe(ids[i]);
  });

  it("over random adds and removals of uniformly random hashes (grows and shrinks)", () => {
    for (const seed of [1, 2, 3]) {
      const { maxCapacity, finalCapacity } = runRandom(seed, randomHash, 30_000);
      expect(maxCapacity).toBeGreaterThanOrEqual(4096); // it grew (from 1024 slots)
      expect(finalCapacity).toBeLessThan(maxCapacity); // and shrank while draining
    }
  });

  it("when every key shares the first 8 bytes (one probe run for all)", () => {
    runRandom(
      7,
      (rng) => {
        const h = randomHash(rng);
        h.fill(0xab, 0, 8);
        return h;
      },
      6_000,
    );
  });

  it("when a probe run wraps around the end of the table (keys homed on both sides of the end)", () => {
    const probe = new BlockTable(11);
    const cap = probe.slotCount;
    // a 8-byte prefix for each home slot near the end and the start of the table
    const homes = [cap - 3, cap - 2, cap - 1, 0, 1, 2];
    const prefixOf = new Map<number, Uint8Array>();
    const h = new Uint8Array(16);
    for (let p = 0; prefixOf.size < homes.length; p++) {
      new DataView(h.buffer).setUint32(0, p, true);
      const home = probe.homeSlot(h);
      if (homes.includes(home) && !prefixOf.has(home)) prefixOf.set(home, Uint8Array.from(h));
    }
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const rng = mulberry32(seed);
      const t = new BlockTable(11);
      const ref = new Map<string, Set<number>>();
      const keys = new Map<string, Uint8Array>();
      const hashes: Uint8Array[] = [];
      for (let i = 0; i < 30; i++) {
        const k = Uint8Array.from(prefixOf.get(homes[randInt(rng, homes.length)])!);
        k.set(randomHash(rng).subarray(8), 8);
        hashes.push(k);
        t.addHolder(k, i % 3);
        ref.set(hex(k), new Set([i % 3]));
        keys.set(hex(k), k);
      }
      expect(t.slotUsed(cap - 1) && t.slotUsed(0)).toBe(true); // the run spans the end
      while (hashes.length > 0) {
        const [k] = hashes.splice(randInt(rng, hashes.length), 1);
        t.removeHolders(
          t.find(k),
          () => true,
          () => undefined,
        );
        ref.delete(hex(k));
        keys.delete(hex(k));
        checkEqual(t, ref, keys, `seed ${seed}, ${hashes.length} left`);
      }
    }
  });
});
