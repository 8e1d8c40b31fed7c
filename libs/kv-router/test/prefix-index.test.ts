import { describe, expect, it } from "vitest";
import { chainBlockHashes, hashHex, namespaceHash, PackedHashes, type BlockHash } from "../src/block-hash.js";
import { PrefixIndexError } from "../src/errors.js";
import { MAX_INDEXED_CODECS, PrefixIndex } from "../src/prefix-index.js";

const ns = namespaceHash({ modelId: "m", layoutVersion: 1, blockSize: 2, tenantSalt: "salt" });
/** A chain of n blocks; different `salt`s give disjoint chains. */
const chain = (n: number, salt = 0): BlockHash[] =>
  chainBlockHashes(
    ns,
    Array.from({ length: 2 * n }, (_, i) => salt * 1000 + i),
    2,
  );

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof PrefixIndexError ? e.code : `not a PrefixIndexError: ${String(e)}`;
  }
  return undefined;
}

describe("PrefixIndex.match", () => {
  it("returns an empty map on an empty index or an empty query", () => {
    const idx = new PrefixIndex();
    expect(idx.match(chain(3)).size).toBe(0);
    idx.applyStored("w1", "device", "fp16", chain(3));
    expect(idx.match([]).size).toBe(0);
  });

  it("counts leading blocks with nested tiers: device <= device-or-host <= any", () => {
    const c = chain(7);
    const idx = new PrefixIndex();
    idx.applyStored("w1", "device", "fp16", [c[0], c[1]]);
    idx.applyStored("w1", "host", "fp16", [c[1], c[2]]);
    idx.applyStored("w1", "ssd", "fp16", [c[3]]);
    // c[4] held nowhere; c[5] in device again must not count.
    idx.applyStored("w1", "device", "fp16", [c[5], c[6]]);
    expect(idx.match(c).get("w1")).toEqual({ device: 2, host: 3, ssd: 4, best: 4, shared: 0 });
  });

  it("a host block before a device block ends the device run but not the host run", () => {
    const c = chain(3);
    const idx = new PrefixIndex();
    idx.applyStored("s1", "host", "fp16", [c[0]]);
    idx.applyStored("s1", "device", "fp16", [c[1], c[2]]);
    expect(idx.match(c).get("s1")).toEqual({ device: 0, host: 3, ssd: 3, best: 3, shared: 0 });
  });

  it("leaves out locations that do not hold the first block", () => {
    const c = chain(4);
    const idx = new PrefixIndex();
    idx.applyStored("w1", "device", "fp16", c);
    idx.applyStored("w2", "device", "fp16", c.slice(1));
    const m = idx.match(c);
    expect([...m.keys()]).toEqual(["w1"]);
    expect(m.get("w1")!.best).toBe(4);
  });

  it("reports each location separately", () => {
    const c = chain(5);
    const idx = new PrefixIndex();
    idx.applyStored("w1", "device", "fp16", c.slice(0, 2));
    idx.applyStored("w2", "device", "fp16", c.slice(0, 4));
    idx.applyStored("kv", "ssd", "fp16", c);
    const m = idx.match(c);
    expect(m.get("w1")).toEqual({ device: 2, host: 2, ssd: 2, best: 2, shared: 0 });
    expect(m.get("w2")).toEqual({ device: 4, host: 4, ssd: 4, best: 4, shared: 0 });
    expect(m.get("kv")).toEqual({ device: 0, host: 0, ssd: 5, best: 5, shared: 0 });
  });

  it("with a codec, counts only blocks held in that codec", () => {
    const c = chain(4);
    const idx = new PrefixIndex();
    idx.applyStored("kv", "host", "fp16", c.slice(0, 2));
    idx.applyStored("kv", "host", "int8", c);
    expect(idx.match(c, "fp16").get("kv")!.best).toBe(2);
    expect(idx.match(c, "int8").get("kv")!.best).toBe(4);
    expect(idx.match(c).get("kv")!.best).toBe(4);
    expect(idx.match(c, "int4-g32").size).toBe(0);
  });

  it("without a codec, mixes codecs along the chain", () => {
    const c = chain(2);
    const idx = new PrefixIndex();
    idx.applyStored("kv", "host", "fp16", [c[0]]);
    idx.applyStored("kv", "host", "int8", [c[1]]);
    expect(idx.match(c).get("kv")!.best).toBe(2);
    expect(idx.match(c, "fp16").get("kv")!.best).toBe(1);
  });

  it("stops where the query leaves a stored chain, wherever that is inside a run of linked records", () => {
    // one event stores 40 blocks in consecutive linked records with one holder: the walk checks
    // the run's last key, then finds where the query left it
    const stored = chain(40);
    for (let d = 0; d <= 40; d++) {
      const idx = new PrefixIndex();
      idx.applyStored("w1", "device", "fp16", stored);
      // the same tokens for d blocks, then others: the hashes agree on exactly d blocks
      const q = chainBlockHashes(
        ns,
        Array.from({ length: 80 }, (_, i) => (i < 2 * d ? i : 5000 + i)),
        2,
      );
      expect(idx.match(q).get("w1")?.best ?? 0, `left after ${d} blocks`).toBe(d);
      // and a query shorter than the run
      expect(idx.match(stored.slice(0, d)).get("w1")?.best ?? 0, `a query of ${d} blocks`).toBe(d);
    }
  });

  it("learns links from a walk with a true chain, never from other lists (an index built from snapshots)", () => {
    const c = chain(20);
    const idx = new PrefixIndex();
    idx.applyStored("w1", "device", "fp16", c, undefined, false); // a snapshot: no links
    // white-box: the table's links (the bits the walk skips runs by)
    const table = (idx as unknown as { table: { find(h: BlockHash): number; linked(i: number): boolean } }).table;
    const linkedCount = (): number => c.filter((h, k) => k > 0 && table.linked(table.find(h))).length;
    expect(linkedCount()).toBe(0);
    expect(idx.match(PackedHashes.from(c)).get("w1")!.best).toBe(20);
    expect(linkedCount()).toBe(0);
    expect(idx.match(PackedHashes.from(c, true)).get("w1")!.best).toBe(20);
    expect(linkedCount()).toBe(19);
    // the learned run still ends where the holders change
    idx.applyRemoved("w1", "device", "fp16", [c[12]]);
    expect(idx.match(PackedHashes.from(c, true)).get("w1")!.best).toBe(12);
    expect(idx.match(c.slice(0, 10)).get("w1")!.best).toBe(10);
  });

  it("does not skip over a block whose holders changed inside a run", () => {
    const c = chain(40);
    const idx = new PrefixIndex();
    idx.applyStored("w1", "device", "fp16", c);
    idx.applyStored("w2", "device", "fp16", c);
    idx.applyRemoved("w2", "device", "fp16", [c[25]]);
    expect(idx.match(c).get("w1")!.best).toBe(40);
    expect(idx.match(c).get("w2")!.best).toBe(25);
    // stored again, on its own: the run is whole again only once the link is stored again
    idx.applyStored("w2", "device", "fp16", [c[25]]);
    expect(idx.match(c).get("w2")!.best).toBe(40);
  });
});

describe("PrefixIndex.match: shared prefix", () => {
  /** Chains of 4 blocks that share their first 2 blocks (a "system prompt") and then differ. */
  const branches = (n: number): BlockHash[][] =>
    Array.from({ length: n }, (_, k) => chainBlockHashes(ns, [1, 2, 3, 4, 100 + k, 5, 200 + k, 6], 2));

  it("runs through the deepest block that at least 3 different blocks continue", () => {
    const cs = branches(4);
    const idx = new PrefixIndex();
    for (const c of cs.slice(0, 3)) idx.applyStored("w1", "device", "fp16", c);
    // block 1 has 3 children: a match of the whole chain shares 2 blocks, the rest is its own
    expect(idx.match(cs[0]).get("w1")).toEqual({ device: 4, host: 4, ssd: 4, best: 4, shared: 2 });
    // a new chain that only finds the shared prefix: all of its match is shared
    expect(idx.match(cs[3]).get("w1")).toEqual({ device: 2, host: 2, ssd: 2, best: 2, shared: 2 });
    // another location holding only the first block shares nothing (the branch point is deeper)
    idx.applyStored("w2", "host", "fp16", [cs[0][0]]);
    expect(idx.match(cs[0]).get("w2")).toEqual({ device: 0, host: 1, ssd: 1, best: 1, shared: 0 });
  });

  it("counts children across locations and events, each child once, and needs 3 by default", () => {
    const cs = branches(3);
    const idx = new PrefixIndex();
    idx.applyStored("w1", "device", "fp16", cs[0]);
    idx.applyStored("w2", "device", "fp16", cs[1]);
    idx.applyStored("w2", "device", "fp16", cs[1]); // the same child again
    expect(idx.match(cs[0]).get("w1")!.shared).toBe(0);
    // the third child arrives as a run announced with its parent
    idx.applyStored("w2", "device", "fp16", cs[2].slice(2), cs[2][1]);
    expect(idx.match(cs[0]).get("w1")!.shared).toBe(2);
    // with a threshold of 2, two children already make a branch point
    const two = new PrefixIndex({ sharedPrefixChildren: 2 });
    two.applyStored("w1", "device", "fp16", cs[0]);
    two.applyStored("w1", "device", "fp16", cs[1]);
    expect(two.match(cs[0]).get("w1")!.shared).toBe(2);
  });

  it("learns nothing from lists that are not chains, and forgets a block nobody holds", () => {
    const cs = branches(3);
    const idx = new PrefixIndex();
    for (const c of cs) idx.applyStored("w1", "device", "fp16", c, undefined, false);
    expect(idx.match(cs[0]).get("w1")!.shared).toBe(0);
    for (const c of cs) idx.applyStored("w1", "device", "fp16", c);
    expect(idx.match(cs[0]).get("w1")!.shared).toBe(2);
    // the branch point leaves the index and comes back with a single child
    idx.applyCleared("w1");
    idx.applyStored("w1", "device", "fp16", cs[0]);
    expect(idx.match(cs[0]).get("w1")!.shared).toBe(0);
  });

  it("refuses a threshold outside [2, 16]", () => {
    for (const bad of [1, 17, 2.5, Number.NaN])
      expect(codeOf(() => new PrefixIndex({ sharedPrefixChildren: bad }))).toBe("INVALID_ARGUMENT");
  });
});

describe("PrefixIndex updates", () => {
  it("is idempotent and counts distinct blocks and locations", () => {
    const c = chain(3);
    const idx = new PrefixIndex();
    idx.applyStored("w1", "device", "fp16", c);
    idx.applyStored("w1", "device", "fp16", c);
    idx.applyStored("w2", "host", "fp16", c.slice(0, 1));
    expect(idx.blockCount()).toBe(3);
    expect(idx.locationCount()).toBe(2);
    expect(idx.snapshot("w1")).toHaveLength(3);
  });

  it("removes one (tier, codec) at a time and forgets a block nobody holds", () => {
    const c = chain(2);
    const idx = new PrefixIndex();
    idx.applyStored("kv", "host", "fp16", c);
    idx.applyStored("kv", "ssd", "fp16", c);
    idx.applyRemoved("kv", "host", "fp16", c);
    expect(idx.match(c).get("kv")).toEqual({ device: 0, host: 0, ssd: 2, best: 2, shared: 0 });
    idx.applyRemoved("kv", "ssd", "int8", c); // not held in int8: no-op
    expect(idx.blockCount()).toBe(2);
    idx.applyRemoved("kv", "ssd", "fp16", [c[1]]);
    expect(idx.blockCount()).toBe(1);
    idx.applyRemoved("kv", "ssd", "fp16", [c[0]]);
    expect(idx.blockCount()).toBe(0);
    expect(idx.locationCount()).toBe(0);
  });

  it("clears one tier, or all tiers, of one location only", () => {
    const c = chain(3);
    const idx = new PrefixIndex();
    idx.applyStored("kv", "host", "fp16", c);
    idx.applyStored("kv", "ssd", "fp16", c);
    idx.applyStored("w1", "device", "fp16", c);
    idx.applyCleared("kv", "host");
    expect(idx.match(c).get("kv")).toEqual({ device: 0, host: 0, ssd: 3, best: 3, shared: 0 });
    idx.applyCleared("kv");
    expect(idx.match(c).has("kv")).toBe(false);
    expect(idx.match(c).get("w1")!.device).toBe(3);
    expect(idx.locations()).toEqual(["w1"]);
  });

  it("removeLocation forgets it, and a reused internal id inherits nothing", () => {
    const a = chain(3, 1);
    const b = chain(3, 2);
    const idx = new PrefixIndex();
    idx.applyStored("w1", "device", "fp16", a);
    idx.applyStored("w2", "device", "fp16", a);
    idx.removeLocation("w1");
    idx.applyStored("w3", "device", "fp16", b); // takes w1's freed id
    expect(idx.locations()).toEqual(["w2", "w3"]);
    expect([...idx.match(a).keys()]).toEqual(["w2"]);
    expect([...idx.match(b).keys()]).toEqual(["w3"]);
    expect(idx.snapshot("w1")).toEqual([]);
    expect(idx.blockCount()).toBe(6);
  });

  it("snapshots are sorted by hash, tier, codec", () => {
    const c = chain(2);
    const idx = new PrefixIndex();
    idx.applyStored("kv", "ssd", "int8", c);
    idx.applyStored("kv", "host", "fp16", c);
    idx.applyStored("kv", "host", "bf16", c);
    const [lo, hi] = c.map(hashHex).sort();
    expect(idx.snapshot("kv")).toEqual([
      { hashHex: lo, tier: "host", codec: "bf16" },
      { hashHex: lo, tier: "host", codec: "fp16" },
      { hashHex: lo, tier: "ssd", codec: "int8" },
      { hashHex: hi, tier: "host", codec: "bf16" },
      { hashHex: hi, tier: "host", codec: "fp16" },
      { hashHex: hi, tier: "ssd", codec: "int8" },
    ]);
  });
});

describe("PrefixIndex input checks", () => {
  it("refuses a bad hash anywhere in a batch without applying any of it", () => {
    const c = chain(3);
    const idx = new PrefixIndex();
    const bad = [c[0], new Uint8Array(15), c[2]];
    expect(codeOf(() => idx.applyStored("w1", "device", "fp16", bad))).toBe("INVALID_BLOCK_HASH");
    expect(idx.blockCount()).toBe(0);
    expect(idx.locationCount()).toBe(0);
    expect(codeOf(() => idx.match(bad))).toBe("INVALID_BLOCK_HASH");
  });

  it("refuses unknown tiers and empty ids, naming the field", () => {
    const idx = new PrefixIndex();
    try {
      idx.applyStored("w1", "gpu" as never, "fp16", chain(1));
      expect.unreachable();
    } catch (e) {
      expect((e as PrefixIndexError).code).toBe("INVALID_ARGUMENT");
      expect((e as PrefixIndexError).field).toBe("tier");
    }
    expect(codeOf(() => idx.applyStored("", "device", "fp16", chain(1)))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => idx.applyStored("w1", "device", "", chain(1)))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => idx.applyCleared("w1", "tape" as never))).toBe("INVALID_ARGUMENT");
  });

  it("refuses a codec past the codec table's capacity, leaving the location unindexed", () => {
    const idx = new PrefixIndex();
    const c = chain(1);
    for (let i = 0; i < MAX_INDEXED_CODECS; i++) idx.applyStored("w1", "host", `codec-${i}`, c);
    expect(codeOf(() => idx.applyStored("w2", "host", "one-too-many", c))).toBe("CAPACITY_EXCEEDED");
    expect(idx.locations()).toEqual(["w1"]);
  });
});
