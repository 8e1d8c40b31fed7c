// PrefixIndex against the brute-force ReferenceIndex over long random event sequences.
import { describe, expect, it } from "vitest";
import { chainBlockHashes, hashHex, namespaceHash, PackedHashes, type BlockHash } from "../src/block-hash.js";
import { mergeMatches, type LocationMatch } from "../src/location-match.js";
import { PrefixIndex, type IndexTrick } from "../src/prefix-index.js";
import { TIERS, type Tier } from "../src/tier.js";
import { mulberry32, pick, randInt } from "./support/prng.js";
import { ReferenceIndex } from "./support/reference-index.js";

const BLOCK = 2;
const LOCATIONS = ["worker-0", "worker-1", "worker-2", "kvstore-0", "kvstore-1"];
const CODECS = ["fp16", "int8-per-token"];
const QUERY_CODECS: (string | string[] | undefined)[] = [
  undefined,
  "fp16",
  "int8-per-token",
  "never-stored",
  ["fp16", "int8-per-token"],
  ["never-stored", "fp16"],
];

/** The reference for a codec list: each codec matched alone, merged per tier by maximum. */
function refMatch(ref: ReferenceIndex, q: BlockHash[], codec: string | string[] | undefined): Record<string, LocationMatch> {
  if (!Array.isArray(codec)) return Object.fromEntries(ref.match(q, codec));
  const out = new Map<string, LocationMatch>();
  for (const c of codec) for (const [loc, m] of ref.match(q, c)) out.set(loc, mergeMatches(out.get(loc), m));
  return Object.fromEntries(out);
}

interface Shape {
  chains: number;
  maxTail: number;
  steps: number;
  fullCheckEvery: number;
}
/** A few blocks, many events: every corner of the holder lists. */
const SMALL: Shape = { chains: 6, maxTail: 8, steps: 4000, fullCheckEvery: 50 };
/** Thousands of blocks: the table grows past its initial size and clears scan a large table. */
const LARGE: Shape = { chains: 80, maxTail: 60, steps: 1500, fullCheckEvery: 300 };

/** Chains forming a tree: each shares a random-length prefix with a common trunk. */
function makeChains(rng: () => number, count: number, maxTail: number): BlockHash[][] {
  const ns = namespaceHash({ modelId: "m", layoutVersion: 1, blockSize: BLOCK, tenantSalt: "s" });
  const trunk = Array.from({ length: 12 * BLOCK }, () => randInt(rng, 100));
  return Array.from({ length: count }, (_, c) => {
    const shared = randInt(rng, 12) * BLOCK;
    const tail = Array.from({ length: (2 + randInt(rng, maxTail)) * BLOCK }, () => 100 + c * 1000 + randInt(rng, 100));
    return chainBlockHashes(ns, [...trunk.slice(0, shared), ...tail], BLOCK);
  });
}

function randomRange(rng: () => number, chain: BlockHash[]): BlockHash[] {
  return randomRun(rng, chain).hashes;
}

/** A random run of `chain` and the block before it (undefined when the run starts the chain). */
function randomRun(rng: () => number, chain: BlockHash[]): { hashes: BlockHash[]; parent: BlockHash | undefined } {
  const start = rng() < 0.6 ? 0 : randInt(rng, chain.length);
  const end = start + 1 + randInt(rng, chain.length - start);
  return { hashes: chain.slice(start, end), parent: start > 0 ? chain[start - 1] : undefined };
}

function runSequence(seed: number, shape: Shape, plainForms: readonly IndexTrick[] = []): void {
  const rng = mulberry32(seed);
  const chains = makeChains(rng, shape.chains, shape.maxTail);
  // each block's parent (chains sharing a trunk agree on it: the hashes are chained)
  const parentOf = new Map<string, string>();
  for (const c of chains) for (let k = 1; k < c.length; k++) parentOf.set(hashHex(c[k]), hashHex(c[k - 1]));
  const fast = new PrefixIndex({ seed, plainForms });
  const ref = new ReferenceIndex();
  const log: string[] = [];
  const check = (step: number, full: boolean): void => {
    const where = `seed ${seed} step ${step}, last ops:\n${log.slice(-5).join("\n")}`;
    const chain = pick(rng, chains);
    const codec = pick(rng, QUERY_CODECS);
    const queryLen = randInt(rng, chain.length + 1);
    const q = chain.slice(0, queryLen);
    const want = refMatch(ref, q, codec);
    // as the router queries: a true chain, whose walk also links the consecutive records it finds
    // (an index built from snapshots has no links until then), answered as the reference
    expect(
      Object.fromEntries(fast.match(PackedHashes.from(q, true), codec)),
      `${where}\nchained, query codec ${JSON.stringify(codec)}`,
    ).toEqual(want);
    expect(Object.fromEntries(fast.match(q, codec)), `${where}\nquery codec ${JSON.stringify(codec)}`).toEqual(want);
    // the packed form of the same query answers the same
    expect(Object.fromEntries(fast.match(PackedHashes.from(q), codec)), `${where}\npacked, query codec ${JSON.stringify(codec)}`).toEqual(
      want,
    );
    // every link the table keeps (from stored chains, or learned by chained walks) is true: the
    // walk skips runs by them (white-box: the table's bits)
    const table = (
      fast as unknown as {
        table: { capacity: number; occupied(i: number): boolean; linked(i: number): boolean; keyInto(i: number, out: Uint8Array): void };
      }
    ).table;
    const key = new Uint8Array(16);
    const before = new Uint8Array(16);
    for (let i = 1; i < table.capacity; i++) {
      if (!table.occupied(i) || !table.linked(i)) continue;
      table.keyInto(i, key);
      table.keyInto(i - 1, before);
      expect(parentOf.get(hashHex(key)), `${where}\nrecord ${i} linked to record ${i - 1}`).toBe(hashHex(before));
    }
    if (!full) return;
    expect(fast.blockCount(), where).toBe(ref.blockCount());
    expect(fast.locations(), where).toEqual(ref.locations());
    expect(fast.locationCount(), where).toBe(ref.locations().length);
    for (const loc of LOCATIONS) expect(fast.snapshot(loc), `${where}\nsnapshot ${loc}`).toEqual(ref.snapshot(loc));
  };
  for (let step = 0; step < shape.steps; step++) {
    const r = rng();
    const loc = pick(rng, LOCATIONS);
    const tier: Tier = pick(rng, TIERS);
    const codec = pick(rng, CODECS);
    if (r < 0.5) {
      // runs of a chain with their parent (as workers announce them), some without it, some not
      // chains at all (as a snapshot lists blocks)
      const run = randomRun(rng, pick(rng, chains));
      const kind = rng();
      const parent = kind < 0.6 ? run.parent : undefined;
      const links = kind < 0.8;
      // a snapshot's list links nothing, whether or not its blocks come in chain order
      const hashes = links || kind < 0.9 ? run.hashes : [...run.hashes].reverse();
      log.push(`stored ${loc} ${tier} ${codec} x${hashes.length}${parent ? " with parent" : ""}${links ? "" : " (a snapshot's list)"}`);
      fast.applyStored(loc, tier, codec, hashes, parent, links);
      ref.applyStored(loc, tier, codec, hashes, parent, links);
    } else if (r < 0.8) {
      const chain = pick(rng, chains);
      const hashes = rng() < 0.5 ? randomRange(rng, chain) : chain.filter(() => rng() < 0.3);
      log.push(`removed ${loc} ${tier} ${codec} x${hashes.length}`);
      fast.applyRemoved(loc, tier, codec, hashes);
      ref.applyRemoved(loc, tier, codec, hashes);
    } else if (r < 0.86) {
      const which = rng() < 0.5 ? undefined : tier;
      log.push(`cleared ${loc} ${which ?? "all tiers"}`);
      fast.applyCleared(loc, which);
      ref.applyCleared(loc, which);
    } else if (r < 0.89) {
      log.push(`removeLocation ${loc}`);
      fast.removeLocation(loc);
      ref.removeLocation(loc);
    } else {
      log.push("match only");
    }
    check(step, step % shape.fullCheckEvery === 0 || step === shape.steps - 1);
  }
}

describe("PrefixIndex matches the brute-force reference", () => {
  for (const seed of [1, 2, 3, 0xc0ffee]) {
    it(`over ${SMALL.steps} random events on a few blocks (seed ${seed})`, () => runSequence(seed, SMALL));
  }
  for (const seed of [4, 5]) {
    it(`over ${LARGE.steps} random events on thousands of blocks (seed ${seed})`, () => runSequence(seed, LARGE));
  }
});

describe("the plain forms of the index's tricks (PrefixIndexOptions.plainForms, for A/B figures) match the reference too", () => {
  const tricks: IndexTrick[] = ["same-holder-runs", "fork-bits", "next-record", "walk-scratch", "touch-ahead"];
  for (const trick of tricks) it(`${trick}, over ${SMALL.steps} random events on a few blocks`, () => runSequence(6, SMALL, [trick]));
  it(`all of them, over ${LARGE.steps} random events on thousands of blocks`, () => runSequence(7, LARGE, tricks));
});
