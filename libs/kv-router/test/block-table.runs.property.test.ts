// BlockTable's run bits, which let the match walk skip a run of records by checking its last key
// only, never claim more than is true: over random chain stores (linked or not), links a walk
// learns, holder removals, location clears and compactions, a record's run bit is set only when it and the record before
// it are in use with the same holders, and its block was stored as the child of that record's
// block since both last entered the table. (The walk's answers are checked against a brute-force
// reference in prefix-index.property.test.ts; this checks the bits themselves, including states
// those queries rarely reach.)
import { describe, expect, it } from "vitest";
import { BlockTable } from "../src/block-table.js";
import { mulberry32, pick, randInt } from "./support/prng.js";

const hex = (h: Uint8Array): string => Buffer.from(h).toString("hex");
const HOLDERS = 4;

function randomHash(rng: () => number): Uint8Array {
  return Uint8Array.from({ length: 16 }, () => randInt(rng, 256));
}

/** Chains of `length` keys; about half share a trunk with the chain before them (branch points). */
function makeChains(rng: () => number, count: number, length: number): Uint8Array[][] {
  const chains: Uint8Array[][] = [];
  for (let c = 0; c < count; c++) {
    const shared = c > 0 && rng() < 0.5 ? 1 + randInt(rng, length - 1) : 0;
    chains.push([...(shared > 0 ? chains[c - 1].slice(0, shared) : []), ...Array.from({ length: length - shared }, () => randomHash(rng))]);
  }
  return chains;
}

function holderSet(t: BlockTable, i: number): string {
  return Array.from({ length: t.holderCount(i) }, (_, j) => t.holderAt(i, j))
    .sort((a, b) => a - b)
    .join(",");
}

const runBit = (t: BlockTable, i: number): boolean => (t.runBits[i >>> 5] & (1 << (i & 31))) !== 0;

/** Runs random operations, checking every run bit after each; returns how many run bits were seen set. */
function runRandom(seed: number, steps: number): number {
  const rng = mulberry32(seed);
  const t = new BlockTable(seed);
  const chains = makeChains(rng, 12, 40);
  // links stored since both blocks last entered the table, as "parent>child"
  const links = new Set<string>();
  const left = (key: string): void => {
    for (const l of [...links]) if (l.startsWith(`${key}>`) || l.endsWith(`>${key}`)) links.delete(l);
  };
  let seenSet = 0;
  const key = new Uint8Array(16);
  const prevKey = new Uint8Array(16);
  for (let step = 0; step < steps; step++) {
    const r = rng();
    const chain = pick(rng, chains);
    const holder = randInt(rng, HOLDERS);
    let op: string;
    if (r < 0.5) {
      // a run of the chain, linked to its parent when the event names it (as applyStored does)
      const start = rng() < 0.5 ? 0 : randInt(rng, chain.length);
      const end = start + 1 + randInt(rng, Math.min(12, chain.length - start));
      const linked = rng() < 0.85;
      op = `store ${start}..${end} by ${holder}${linked ? "" : " unlinked"}`;
      let prev = linked && start > 0 ? t.find(chain[start - 1]) : -1;
      // the allocation hint is the previous block's record, linked or not
      let hint = start > 0 ? t.find(chain[start - 1]) : -1;
      for (let k = start; k < end; k++) {
        const id = t.addHolder(chain[k], holder, hint);
        const rec = id >= 0 ? id : ~id;
        if (linked && prev >= 0) {
          t.linkChild(prev, rec);
          links.add(`${hex(chain[k - 1])}>${hex(chain[k])}`);
        }
        prev = linked ? rec : -1;
        hint = rec;
      }
    } else if (r < 0.6) {
      // a walk with a true chain finding two of its blocks in consecutive records links them
      const k = 1 + randInt(rng, chain.length - 1);
      const parent = t.find(chain[k - 1]);
      const child = t.find(chain[k]);
      op = `walk links ${k - 1}..${k}`;
      if (parent >= 0 && child === parent + 1) {
        t.learnLink(child);
        links.add(`${hex(chain[k - 1])}>${hex(chain[k])}`);
      }
    } else if (r < 0.8) {
      // a removal: a tail of the chain (as an eviction) or scattered blocks
      const from = randInt(rng, chain.length);
      const tail = rng() < 0.5;
      op = `remove ${tail ? `tail from ${from}` : "scattered"} by ${holder}`;
      for (let k = from; k < chain.length; k++) {
        if (!tail && rng() < 0.6) continue;
        const id = t.find(chain[k]);
        if (id >= 0 && t.removeHolder(id, holder) === 2) left(hex(chain[k]));
      }
    } else if (r < 0.9) {
      op = `clear ${holder}`;
      for (let i = 0; i < t.capacity; i++) {
        if (!t.occupied(i)) continue;
        t.keyInto(i, key);
        if (
          t.removeHolders(
            i,
            (h) => h === holder,
            () => {},
          )
        )
          left(hex(key));
      }
      if (rng() < 0.5) t.compact();
    } else {
      op = "compact";
      t.compact();
    }
    const problems: string[] = [];
    for (let i = 1; i < t.capacity; i++) {
      if (!runBit(t, i)) continue;
      seenSet++;
      if (!t.occupied(i) || !t.occupied(i - 1)) {
        problems.push(`record ${i}: run bit set, occupied ${t.occupied(i - 1)}/${t.occupied(i)}`);
        continue;
      }
      if (holderSet(t, i) !== holderSet(t, i - 1))
        problems.push(`record ${i}: run bit set, holders ${holderSet(t, i - 1)} then ${holderSet(t, i)}`);
      t.keyInto(i, key);
      t.keyInto(i - 1, prevKey);
      if (!links.has(`${hex(prevKey)}>${hex(key)}`))
        problems.push(`record ${i}: run bit set, its block was not stored as the child of record ${i - 1}'s`);
    }
    expect(problems.slice(0, 3), `seed ${seed} step ${step}: ${op}`).toEqual([]);
  }
  return seenSet;
}

describe("BlockTable run bits", () => {
  for (const seed of [1, 2, 3, 4]) {
    it(`claim only linked records with the same holders, over random events (seed ${seed})`, () => {
      // the bits were set often enough for the check to mean something
      expect(runRandom(seed, 3000)).toBeGreaterThan(2_000);
    });
  }
});
