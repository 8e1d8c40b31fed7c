import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  PackedHashes,
  hashChain,
  BLOCK_HASH_BYTES,
  HASH_SCHEME,
  chainBlockHashes,
  chainNext,
  hashFromHex,
  hashHex,
  namespaceHash,
  tenantSalt,
  type BlockNamespace,
} from "../src/block-hash.js";
import { PrefixIndexError } from "../src/errors.js";
import { mulberry32, randInt } from "./support/prng.js";

const SECRET = "server-secret-for-tests";
const baseNs = (tenant = "tenant-a"): BlockNamespace => ({
  modelId: "stories260K@b0a507e7",
  layoutVersion: 1,
  blockSize: 4,
  tenantSalt: tenantSalt(tenant, SECRET),
});

function tokensOf(n: number, seed: number): number[] {
  const rng = mulberry32(seed);
  return Array.from({ length: n }, () => randInt(rng, 32000));
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof PrefixIndexError ? e.code : `not a PrefixIndexError: ${String(e)}`;
  }
  return undefined;
}

describe("namespaceHash", () => {
  it("is 16 bytes, deterministic, and names the scheme", () => {
    const a = namespaceHash(baseNs());
    expect(a).toBeInstanceOf(Uint8Array);
    expect(a.length).toBe(BLOCK_HASH_BYTES);
    expect(hashHex(namespaceHash(baseNs()))).toBe(hashHex(a));
    expect(HASH_SCHEME).toBe("sha256-128-chain-v1");
  });

  it("changes with every field", () => {
    const base = hashHex(namespaceHash(baseNs()));
    const variants: BlockNamespace[] = [
      { ...baseNs(), modelId: "stories260K@other" },
      { ...baseNs(), layoutVersion: 2 },
      { ...baseNs(), blockSize: 16 },
      baseNs("tenant-b"),
    ];
    const hexes = variants.map((v) => hashHex(namespaceHash(v)));
    expect(new Set([base, ...hexes]).size).toBe(variants.length + 1);
  });

  it("length-prefixes text fields, so moving characters between them changes the hash", () => {
    const a = namespaceHash({ ...baseNs(), modelId: "ab", tenantSalt: "c" });
    const b = namespaceHash({ ...baseNs(), modelId: "a", tenantSalt: "bc" });
    expect(hashHex(a)).not.toBe(hashHex(b));
  });

  it("refuses empty or out-of-range fields, naming them", () => {
    for (const [bad, field] of [
      [{ ...baseNs(), modelId: "" }, "modelId"],
      [{ ...baseNs(), tenantSalt: "" }, "tenantSalt"],
      [{ ...baseNs(), blockSize: 0 }, "blockSize"],
      [{ ...baseNs(), blockSize: 2.5 }, "blockSize"],
      [{ ...baseNs(), layoutVersion: -1 }, "layoutVersion"],
    ] as const) {
      try {
        namespaceHash(bad);
        expect.unreachable(`accepted bad ${field}`);
      } catch (e) {
        expect(e).toBeInstanceOf(PrefixIndexError);
        expect((e as PrefixIndexError).code).toBe("INVALID_ARGUMENT");
        expect((e as PrefixIndexError).field).toBe(field);
      }
    }
  });
});

describe("tenantSalt", () => {
  it("is HMAC-SHA256(secret, tenant) in hex and differs per tenant and per secret", () => {
    const s = tenantSalt("tenant-a", SECRET);
    expect(s).toMatch(/^[0-9a-f]{64}$/);
    expect(tenantSalt("tenant-a", SECRET)).toBe(s);
    expect(tenantSalt("tenant-b", SECRET)).not.toBe(s);
    expect(tenantSalt("tenant-a", "another-secret")).not.toBe(s);
  });

  it("refuses an empty tenant or secret", () => {
    expect(codeOf(() => tenantSalt("", SECRET))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => tenantSalt("t", ""))).toBe("INVALID_ARGUMENT");
  });
});

describe("chainNext", () => {
  it("is the first 16 bytes of sha256(parent || tokens as uint32 LE)", () => {
    const parent = namespaceHash(baseNs());
    const tokens = [1, 2, 0xffffffff, 70000];
    const body = Buffer.alloc(16 + 4 * tokens.length);
    body.set(parent, 0);
    tokens.forEach((t, i) => body.writeUInt32LE(t, 16 + 4 * i));
    const expected = createHash("sha256").update(body).digest().subarray(0, 16).toString("hex");
    expect(hashHex(chainNext(parent, tokens))).toBe(expected);
  });

  it("returns plain 16-byte Uint8Arrays that do not alias each other", () => {
    const parent = namespaceHash(baseNs());
    const a = chainNext(parent, [1, 2, 3, 4]);
    const b = chainNext(parent, [5, 6, 7, 8]);
    expect(Buffer.isBuffer(a)).toBe(false);
    expect(a.byteLength).toBe(16);
    expect(a.buffer).not.toBe(b.buffer);
    expect(hashHex(a)).not.toBe(hashHex(b));
  });

  it("gives a partial block a hash no full block of the same chain has", () => {
    const ns = namespaceHash(baseNs());
    const tokens = tokensOf(4 * 3 + 2, 7);
    const full = chainBlockHashes(ns, tokens, 4).map(hashHex);
    const tail = hashHex(chainNext(hashFromHex(full[2]), tokens.slice(12)));
    expect(full).not.toContain(tail);
    // Same leading tokens as the next full block would have, still a different hash.
    const padded = hashHex(chainNext(hashFromHex(full[2]), [...tokens.slice(12), 0, 0]));
    expect(tail).not.toBe(padded);
  });

  it("refuses bad tokens and bad parents", () => {
    const parent = namespaceHash(baseNs());
    for (const bad of [-1, 1.5, 2 ** 32, Number.NaN]) {
      expect(codeOf(() => chainNext(parent, [1, bad]))).toBe("INVALID_TOKEN");
    }
    expect(codeOf(() => chainNext(parent, []))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => chainNext(parent.subarray(0, 15), [1]))).toBe("INVALID_BLOCK_HASH");
  });
});

describe("chainBlockHashes", () => {
  it("is deterministic and equals chaining chainNext block by block", () => {
    const ns = namespaceHash(baseNs());
    const tokens = tokensOf(40, 1);
    const hashes = chainBlockHashes(ns, tokens, 4).map(hashHex);
    expect(chainBlockHashes(ns, Uint32Array.from(tokens), 4).map(hashHex)).toEqual(hashes);
    let parent = ns;
    const manual: string[] = [];
    for (let i = 0; i < 10; i++) {
      parent = chainNext(parent, tokens.slice(4 * i, 4 * i + 4));
      manual.push(hashHex(parent));
    }
    expect(hashes).toEqual(manual);
  });

  it("hashes full blocks only", () => {
    const ns = namespaceHash(baseNs());
    const tokens = tokensOf(4 * 5 + 3, 2);
    expect(chainBlockHashes(ns, tokens, 4)).toHaveLength(5);
    expect(chainBlockHashes(ns, tokens.slice(0, 3), 4)).toHaveLength(0);
    expect(chainBlockHashes(ns, tokens, 4).map(hashHex)).toEqual(chainBlockHashes(ns, tokens.slice(0, 20), 4).map(hashHex));
  });

  it("prefix property: prompts sharing exactly k full blocks share exactly the first k hashes", () => {
    const rng = mulberry32(42);
    const ns = namespaceHash(baseNs());
    for (let trial = 0; trial < 200; trial++) {
      const blocks = 1 + randInt(rng, 8);
      const a = Array.from({ length: blocks * 4 + randInt(rng, 4) }, () => randInt(rng, 50));
      const diverge = randInt(rng, a.length); // first token index where b differs from a
      const b = a.slice();
      b[diverge] = a[diverge] + 1;
      const k = Math.floor(diverge / 4);
      const ha = chainBlockHashes(ns, a, 4).map(hashHex);
      const hb = chainBlockHashes(ns, b, 4).map(hashHex);
      expect(hb.slice(0, k)).toEqual(ha.slice(0, k));
      for (let i = k; i < Math.min(ha.length, hb.length); i++) expect(hb[i]).not.toBe(ha[i]);
    }
  });

  it("never shares a block between tenants, even for identical tokens", () => {
    const tokens = tokensOf(64, 3);
    const a = chainBlockHashes(namespaceHash(baseNs("tenant-a")), tokens, 4).map(hashHex);
    const b = new Set(chainBlockHashes(namespaceHash(baseNs("tenant-b")), tokens, 4).map(hashHex));
    expect(a.filter((h) => b.has(h))).toEqual([]);
  });

  it("refuses a bad block size or namespace", () => {
    const ns = namespaceHash(baseNs());
    expect(codeOf(() => chainBlockHashes(ns, [1, 2], 0))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => chainBlockHashes(new Uint8Array(8), [1, 2], 1))).toBe("INVALID_BLOCK_HASH");
  });
});

describe("PackedHashes and hashChain", () => {
  it("hashChain gives chainBlockHashes' hashes, marked as a true chain (PackedHashes.from's are not, unless asked)", () => {
    const ns = namespaceHash(baseNs());
    const tokens = tokensOf(16 * 9 + 5, 3);
    const chain = hashChain(ns, tokens, 16);
    const hashes = chainBlockHashes(ns, tokens, 16);
    expect(chain.length).toBe(9);
    expect(chain.hashes.map(hashHex)).toEqual(hashes.map(hashHex));
    expect(chain.chained).toBe(true);
    expect(PackedHashes.from(hashes).chained).toBe(false);
    expect(PackedHashes.from(hashes, true).chained).toBe(true);
  });

  it("refuses a bad hash, naming its index, and a non-array", () => {
    const ns = namespaceHash(baseNs());
    const hashes = chainBlockHashes(ns, tokensOf(64, 1), 16);
    const bad = [...hashes.slice(0, 2), new Uint8Array(15), hashes[3]];
    expect(() => PackedHashes.from(bad)).toThrow(/hashes\[2\]/);
    expect(codeOf(() => PackedHashes.from(bad))).toBe("INVALID_BLOCK_HASH");
    expect(codeOf(() => PackedHashes.from("x" as unknown as Uint8Array[]))).toBe("INVALID_ARGUMENT");
  });
});

describe("hex round trip", () => {
  it("round-trips and accepts upper case", () => {
    const h = namespaceHash(baseNs());
    const hex = hashHex(h);
    expect(hex).toMatch(/^[0-9a-f]{32}$/);
    expect(hashFromHex(hex)).toEqual(h);
    expect(hashHex(hashFromHex(hex.toUpperCase()))).toBe(hex);
  });

  it("refuses wrong length or non-hex with INVALID_BLOCK_HASH", () => {
    const hex = hashHex(namespaceHash(baseNs()));
    for (const bad of ["", hex.slice(2), `${hex}00`, `${hex.slice(0, 31)}g`, ` ${hex.slice(1)}`]) {
      expect(codeOf(() => hashFromHex(bad))).toBe("INVALID_BLOCK_HASH");
    }
  });
});
