import { describe, expect, it } from "vitest";
import { LlamaEngine } from "../src/engine.js";
import { EngineError, KvImportError } from "../src/engine-error.js";
import { decodeKvBlock, encodeKvBlock } from "../src/kv-block.js";
import { KvBlockError } from "../src/kv-block-error.js";
import { randomModel } from "../src/random-model.js";
import { argmax, fakeHash, maxAbsDiff, stories, storyTokens } from "./engine-fixtures.js";

const BS = 16;
const { model } = stories();
const newEngine = (capacityBlocks = 16): LlamaEngine => new LlamaEngine(model, { blockSize: BS, capacityBlocks });
const hashes = (n: number, tag = "h"): Uint8Array[] => Array.from({ length: n }, (_, i) => fakeHash(`${tag}${i}`));

/** Export the two full blocks at the start of a sequence with `codec`. */
function exportAll(engine: LlamaEngine, seqId: string, codec: string): Uint8Array[] {
  return engine.exportBlocks(seqId, 0, 2, codec, hashes(2));
}

describe("KV export / import", () => {
  it("fp32 export -> decode -> import gives bit-identical next-token logits; fp16 is close", () => {
    const src = newEngine();
    src.openSequence("a");
    const prompt = storyTokens(40);
    const next = argmax(src.prefill("a", prompt));
    const blocks = [...exportAll(src, "a", "fp32"), src.exportTail("a", "fp32", fakeHash("tail"), src.length("a")) as Uint8Array];
    expect(blocks.length).toBe(3);
    expect(decodeKvBlock(blocks[2]).header.tokens).toBe(8);
    const expected = src.decodeStep([{ seqId: "a", token: next }])[0];

    const dst = newEngine();
    dst.openSequence("b");
    dst.importBlocks("b", blocks);
    expect(dst.length("b")).toBe(40);
    expect(dst.decodeStep([{ seqId: "b", token: next }])[0]).toEqual(expected);

    const src16 = newEngine();
    src16.openSequence("a");
    src16.prefill("a", prompt);
    const blocks16 = [...exportAll(src16, "a", "fp16"), src16.exportTail("a", "fp16", fakeHash("tail"), src16.length("a")) as Uint8Array];
    expect(blocks16[0].length).toBeLessThan(blocks[0].length);
    const dst16 = newEngine();
    dst16.openSequence("b");
    dst16.importBlocks("b", blocks16);
    const diff = maxAbsDiff(dst16.decodeStep([{ seqId: "b", token: next }])[0], expected);
    console.log(`fp16 import: max abs logit diff vs fp32 = ${diff.toExponential(3)}`);
    expect(diff).toBeLessThan(1e-2);
    expect(diff).toBeGreaterThan(0); // fp16 really did round something
  });

  it("a block with different but valid KV changes the logits", () => {
    const src = newEngine();
    src.openSequence("a");
    const next = argmax(src.prefill("a", storyTokens(32)));
    const blocks = exportAll(src, "a", "fp32");
    const expected = src.decodeStep([{ seqId: "a", token: next }])[0];

    const { header, k, v } = decodeKvBlock(blocks[1]);
    for (let i = 0; i < v.length; i++) v[i] = -v[i];
    const tampered = encodeKvBlock(header, k, v); // a valid block: checksum recomputed
    const dst = newEngine();
    dst.openSequence("b");
    dst.importBlocks("b", [blocks[0], tampered]);
    expect(maxAbsDiff(dst.decodeStep([{ seqId: "b", token: next }])[0], expected)).toBeGreaterThan(1e-3);
  });

  it("shares only exact KV: blocks imported through a lossy codec, and KV computed over them, enter no cache and are not exported as shared", () => {
    const src = newEngine();
    src.openSequence("a");
    src.prefill("a", storyTokens(40));
    for (const [codec, exact] of [
      ["fp32", true],
      ["fp16", false],
    ] as const) {
      const dst = newEngine();
      dst.openSequence("b");
      dst.importBlocks("b", exportAll(src, "a", codec)); // blocks 0-1
      dst.prefill("b", storyTokens(48).slice(32)); // block 2, computed over them
      expect(dst.exactTokens("b")).toBe(exact ? 48 : 0);
      dst.registerBlocks("b", 0, hashes(3));
      expect(dst.exportBlocks("b", 0, 3, "fp32", hashes(3), true)).toHaveLength(exact ? 3 : 0);
      expect(dst.exportBlocks("b", 0, 3, "fp32", hashes(3))).toHaveLength(3); // a hand-off still gets them all
      dst.closeSequence("b");
      dst.openSequence("c");
      expect(dst.attachCached("c", hashes(3))).toBe(exact ? 3 : 0);
      expect(dst.exactTokens("c")).toBe(exact ? 48 : 0);
    }
  });

  it("exports a prompt tail as the prompt left it, however far decoding went since", () => {
    const src = newEngine();
    src.openSequence("a");
    src.prefill("a", storyTokens(40));
    const before = src.exportTail("a", "fp32", fakeHash("tail"), 40) as Uint8Array;
    for (let i = 0; i < 3; i++) src.decodeStep([{ seqId: "a", token: 5 + i }]); // 43 tokens, still in block 2
    const after = src.exportTail("a", "fp32", fakeHash("tail"), 40) as Uint8Array;
    expect(decodeKvBlock(after).header.tokens).toBe(8);
    expect(Buffer.from(after).equals(Buffer.from(before))).toBe(true);
    expect(decodeKvBlock(src.exportTail("a", "fp32", fakeHash("tail"), 43) as Uint8Array).header.tokens).toBe(11);
    expect(src.exportTail("a", "fp32", fakeHash("tail"), 32)).toBeNull();
    expect(() => src.exportTail("a", "fp32", fakeHash("tail"), 44)).toThrow(EngineError);
  });

  it("refuses corrupt, foreign, mis-shaped and misplaced blocks without touching the sequence", () => {
    const src = newEngine();
    src.openSequence("a");
    src.prefill("a", storyTokens(40));
    const [b0, b1] = exportAll(src, "a", "fp32");
    const tail = src.exportTail("a", "fp32", fakeHash("tail"), src.length("a")) as Uint8Array;
    const dst = newEngine();
    dst.openSequence("b");
    const corrupt = b1.slice();
    corrupt[200] ^= 1;
    expect(() => dst.importBlocks("b", [b0, corrupt])).toThrow(KvBlockError);
    const { header, k, v } = decodeKvBlock(b0);
    const foreign = encodeKvBlock({ ...header, modelId: "other-model@00000000" }, k, v);
    expect(() => dst.importBlocks("b", [foreign])).toThrow(expect.objectContaining({ name: "KvImportError", code: "MODEL_MISMATCH" }));
    const otherBlockSize = encodeKvBlock({ ...header, blockSize: 32 }, k, v);
    expect(() => dst.importBlocks("b", [otherBlockSize])).toThrow(expect.objectContaining({ code: "SHAPE_MISMATCH" }));
    expect(() => dst.importBlocks("b", [tail, b0])).toThrow(expect.objectContaining({ code: "MISALIGNED" }));
    expect(dst.length("b")).toBe(0);
    dst.importBlocks("b", [b0, tail]);
    expect(() => dst.importBlocks("b", [b1])).toThrow(KvImportError);
    expect(dst.length("b")).toBe(24);
    const small = randomModel({ ...model.config, nKvHeads: 8, dim: 64, nHeads: 8 }, 1);
    const other = new LlamaEngine(small, { blockSize: BS, capacityBlocks: 4 });
    other.openSequence("c");
    expect(() => other.importBlocks("c", [b0])).toThrow(KvImportError);
  });
});

describe("prefix cache in the device pool", () => {
  it("announces new blocks as runs of one chain: a block already cached splits the run", () => {
    const prompt = storyTokens(53);
    const engine = newEngine();
    const runs: string[][] = [];
    engine.onStored((hs) => runs.push(hs.map((h) => Buffer.from(h).toString("hex"))));
    const hex = (h: Uint8Array): string => Buffer.from(h).toString("hex");
    engine.openSequence("a");
    engine.prefill("a", prompt);
    engine.registerBlocks("a", 0, hashes(3));
    expect(runs).toEqual([hashes(3).map(hex)]);
    // another sequence whose middle block hashes as one already cached: its new blocks are two runs
    engine.openSequence("b");
    engine.prefill("b", prompt);
    const mixed = [fakeHash("b0"), hashes(3)[1], fakeHash("b2")];
    engine.registerBlocks("b", 0, mixed);
    expect(runs.slice(1)).toEqual([[hex(mixed[0])], [hex(mixed[2])]]);
  });

  it("attachCached reuse gives bit-identical logits to a fresh prefill", () => {
    const prompt = storyTokens(53);
    const engine = newEngine();
    const stored: string[] = [];
    engine.onStored((hs) => stored.push(...hs.map((h) => Buffer.from(h).toString("hex"))));
    engine.openSequence("a");
    const fresh = engine.prefill("a", prompt);
    engine.registerBlocks("a", 0, hashes(3));
    expect(stored).toEqual(hashes(3).map((h) => Buffer.from(h).toString("hex")));
    engine.registerBlocks("a", 0, hashes(3)); // idempotent: no new events
    expect(stored.length).toBe(3);
    expect(() => engine.registerBlocks("a", 3, hashes(1, "x"))).toThrow(EngineError); // block 3 is partial
    engine.closeSequence("a");

    const free = engine.freeBlocks;
    engine.openSequence("b");
    expect(engine.attachCached("b", [...hashes(3), fakeHash("missing"), fakeHash("h3")])).toBe(3);
    expect(engine.length("b")).toBe(48);
    expect(engine.freeBlocks).toBe(free - 3);
    expect(engine.prefill("b", prompt.slice(48))).toEqual(fresh);

    // a second sequence shares the same pages concurrently
    engine.openSequence("c");
    expect(engine.attachCached("c", hashes(2))).toBe(2);
    expect(engine.freeBlocks).toBe(free - 3 - 1);
  });

  it("reserve refuses when the pool is full; eviction fires onRemoved, least recently used first", () => {
    const engine = newEngine(4);
    const removed: string[] = [];
    engine.onRemoved((hs) => removed.push(...hs.map((h) => Buffer.from(h).toString("hex"))));
    engine.openSequence("a");
    engine.prefill("a", storyTokens(32));
    engine.registerBlocks("a", 0, hashes(2));
    engine.closeSequence("a");
    expect(engine.freeBlocks).toBe(4); // 2 free + 2 cached but unreferenced
    expect(engine.cachedBlocks).toBe(2);

    engine.openSequence("b");
    expect(engine.reserve("b", 5 * BS)).toBe(false);
    expect(engine.freeBlocks).toBe(4);
    expect(removed).toEqual([]);
    expect(engine.reserve("b", 3 * BS)).toBe(true);
    expect(removed).toEqual([Buffer.from(hashes(1)[0]).toString("hex")]);
    expect(engine.freeBlocks).toBe(1);
    expect(engine.reserve("b", 3 * BS)).toBe(true); // already held: nothing more needed

    engine.openSequence("c");
    expect(engine.reserve("c", 2 * BS)).toBe(false);
    expect(engine.attachCached("c", hashes(2))).toBe(0); // h0 is gone, so no leading run
    expect(() => engine.prefill("c", storyTokens(40))).toThrow(expect.objectContaining({ code: "POOL_EXHAUSTED" }));
    expect(engine.length("c")).toBe(0);
    engine.closeSequence("b");
    expect(engine.reserve("c", 2 * BS)).toBe(true);
    expect(removed.length).toBe(1); // 3 free pages were enough, h1 stays cached
  });

  it("names its errors", () => {
    const engine = newEngine(2);
    expect(() => engine.length("nope")).toThrow(expect.objectContaining({ code: "UNKNOWN_SEQUENCE" }));
    engine.openSequence("a");
    expect(() => engine.openSequence("a")).toThrow(expect.objectContaining({ code: "DUPLICATE_SEQUENCE" }));
    expect(() => engine.reserve("a", model.config.seqLen + 1)).toThrow(expect.objectContaining({ code: "CONTEXT_OVERFLOW" }));
    expect(() => engine.prefill("a", [model.config.vocabSize])).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(() =>
      engine.decodeStep([
        { seqId: "a", token: 1 },
        { seqId: "a", token: 2 },
      ]),
    ).toThrow(EngineError);
  });
});
