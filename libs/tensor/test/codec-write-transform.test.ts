// The engine's kvTransform hook: unset or identity it changes nothing bit for bit; a codec applied
// as positions are written acts on exactly what a stored block would hold; block transforms give
// the same logits whatever the prefill chunking or decode steps.
import { describe, expect, it } from "vitest";
import { codecWriteTransform } from "../src/codecs/codec-transform.js";
import { decodeKvBlock, encodeKvBlock, type KvBlockHeader } from "../src/kv-block.js";
import { LlamaEngine } from "../src/engine.js";
import type { KvWriteTransform } from "../src/kv-write-transform.js";
import { fakeHash, stories, storyTokens } from "./engine-fixtures.js";

const BLOCK = 32;

function engine(kvTransform?: KvWriteTransform): LlamaEngine {
  return new LlamaEngine(stories().model, { blockSize: BLOCK, capacityBlocks: 8, kvTransform });
}

function logitsOf(e: LlamaEngine, tokens: number[], chunkTokens?: number): Float32Array[] {
  e.openSequence("s");
  const out = e.prefillWithLogits("s", tokens, { chunkTokens });
  return out;
}

/** The logits of `tokens` fed one at a time: the first by prefill, the rest by decode steps. */
function steppedLogitsOf(e: LlamaEngine, tokens: number[]): Float32Array[] {
  e.openSequence("s");
  const stepped = [e.prefill("s", tokens.slice(0, 1))];
  for (const t of tokens.slice(1)) stepped.push(e.decodeStep([{ seqId: "s", token: t }])[0]);
  return stepped;
}

function identity(granularity: "token" | "block", calls: number[]): KvWriteTransform {
  return {
    granularity,
    applyKeys: (_l, _k, tokens) => void calls.push(tokens),
    applyValues: () => undefined,
  };
}

describe("engine kvTransform hook", () => {
  const tokens = storyTokens(70);

  it("identity transforms leave the logits bit-identical, and are called once per token / per full block", () => {
    const plain = logitsOf(engine(), tokens);
    const tokenCalls: number[] = [];
    const blockCalls: number[] = [];
    expect(logitsOf(engine(identity("token", tokenCalls)), tokens)).toEqual(plain);
    expect(logitsOf(engine(identity("block", blockCalls)), tokens)).toEqual(plain);
    const layers = stories().model.config.nLayers;
    expect(tokenCalls).toEqual(new Array(70 * layers).fill(1));
    expect(blockCalls).toEqual(new Array(2 * layers).fill(BLOCK)); // 70 tokens: 2 full blocks, the tail untouched
  });

  it("a block codec rewrites a full block exactly as its stored block would decode", () => {
    const { config, modelId } = stories().model;
    const plain = engine();
    plain.openSequence("s");
    plain.prefill("s", tokens);
    const stored = plain.exportBlocks("s", 0, 1, "fp32", [fakeHash("b0")])[0];
    const { k, v } = decodeKvBlock(stored);
    const kivi = decodeKvBlock(encodeKvBlock({ ...decodeKvBlock(stored).header, modelId, codec: "kivi2-g32-f16" }, k, v));

    const coded = engine(codecWriteTransform("kivi2-g32-f16", config, { residualTokens: 0 }));
    coded.openSequence("s");
    coded.prefill("s", tokens);
    const rewritten = decodeKvBlock(coded.exportBlocks("s", 0, 1, "fp32", [fakeHash("b0")])[0]);
    // Layer 0's K/V depend on the tokens only. Deeper layers of the block's last token differ:
    // that token attends to its block as rewritten (a block is compressed as soon as it is full).
    const layer0 = BLOCK * config.nKvHeads * config.headDim;
    expect(rewritten.k.subarray(0, layer0)).toEqual(kivi.k.subarray(0, layer0));
    expect(rewritten.v.subarray(0, layer0)).toEqual(kivi.v.subarray(0, layer0));
    expect(rewritten.k.subarray(0, layer0)).not.toEqual(k.subarray(0, layer0));
  });

  it("with a block transform, chunked prefill equals token-by-token decode", () => {
    const transform = (): KvWriteTransform => codecWriteTransform("int8-kc-vt32-f16", stories().model.config);
    const chunked = logitsOf(engine(transform()), tokens, 64);
    expect(steppedLogitsOf(engine(transform()), tokens)).toEqual(chunked);
    expect(chunked).not.toEqual(logitsOf(engine(), tokens));
  });

  it("a token codec (fp16) changes the logits a little", () => {
    const plain = logitsOf(engine(), tokens);
    const coded = logitsOf(engine(codecWriteTransform("fp16", stories().model.config)), tokens);
    let maxDiff = 0;
    plain.forEach((row, i) => row.forEach((x, j) => (maxDiff = Math.max(maxDiff, Math.abs(x - coded[i][j])))));
    expect(maxDiff).toBeGreaterThan(0);
    expect(maxDiff).toBeLessThan(0.05);
  });
});

describe("KIVI residual window", () => {
  const { config, modelId } = stories().model;
  const kvd = config.nKvHeads * config.headDim;
  const layer0 = (block: { k: Float32Array; v: Float32Array }, t: number): { k: Float32Array; v: Float32Array } => ({
    k: block.k.subarray(t * kvd, (t + 1) * kvd),
    v: block.v.subarray(t * kvd, (t + 1) * kvd),
  });

  it("is the codec default (128 for KIVI, 0 otherwise), and a bad window names the field", () => {
    expect(codecWriteTransform("kivi2-g32-f16", config).residualTokens).toBe(128);
    expect(codecWriteTransform("kivi4-g32-f16", config).residualTokens).toBe(128);
    expect(codecWriteTransform("int8-kc-vt32-f16", config).residualTokens).toBe(0);
    expect(codecWriteTransform("kivi2-g32-f16", config, { residualTokens: 40 }).residualTokens).toBe(40);
    expect(() => codecWriteTransform("kivi2-g32-f16", config, { residualTokens: -1 })).toThrow(/residualTokens/);
  });

  it("keeps the last R positions as computed; values leave it per token, keys per whole block", () => {
    const R = 40;
    const n = 100; // positions >= 60 in the window; blocks 0 (0..31) left it, block 1 (32..63) has not
    const seqTokens = storyTokens(n);
    const dump = (t?: KvWriteTransform): { header: KvBlockHeader; k: Float32Array; v: Float32Array }[] => {
      const e = engine(t);
      e.openSequence("s");
      e.prefill("s", seqTokens);
      return e.exportBlocks("s", 0, 3, "fp32", [fakeHash("a"), fakeHash("b"), fakeHash("c")]).map((b) => decodeKvBlock(b));
    };
    const plain = dump();
    const windowed = dump(codecWriteTransform("kivi2-g32-f16", config, { residualTokens: R }));
    // layer 0's K/V depend on the tokens only: compare them with the plain engine and the codec
    const kivi = plain.map((b) => decodeKvBlock(encodeKvBlock({ ...b.header, modelId, codec: "kivi2-g32-f16" }, b.k, b.v)));
    for (let pos = 0; pos < 96; pos++) {
      const b = (pos / BLOCK) | 0;
      const t = pos % BLOCK;
      const got = layer0(windowed[b], t);
      const fp = layer0(plain[b], t);
      const q = layer0(kivi[b], t);
      expect(got.v).toEqual(pos < n - R ? q.v : fp.v);
      expect(got.k).toEqual(b === 0 ? q.k : fp.k);
    }
    expect(layer0(kivi[0], 5).k).not.toEqual(layer0(plain[0], 5).k);
    expect(layer0(kivi[1], 5).v).not.toEqual(layer0(plain[1], 5).v);
  });

  it("chunked prefill equals token-by-token decode, and the window changes the logits", () => {
    const tokens = storyTokens(110);
    const transform = (): KvWriteTransform => codecWriteTransform("kivi2-g32-f16", config, { residualTokens: 40 });
    const chunked = logitsOf(engine(transform()), tokens, 64);
    expect(steppedLogitsOf(engine(transform()), tokens)).toEqual(chunked);
    expect(chunked).not.toEqual(logitsOf(engine(codecWriteTransform("kivi2-g32-f16", config, { residualTokens: 0 })), tokens));
  });

  it("registers only blocks that have left the window (the others are still rewritten)", () => {
    const e = engine(codecWriteTransform("kivi2-g32-f16", config, { residualTokens: 40 }));
    e.openSequence("s");
    e.prefill("s", storyTokens(100));
    e.registerBlocks("s", 0, [fakeHash("a"), fakeHash("b"), fakeHash("c")]);
    expect(e.cachedBlocks).toBe(1); // block 0 ends at 31 < 60; block 1 (to 63) is still in the window
  });
});

describe("per-sequence residual codec (serving)", () => {
  const { config } = stories().model;
  it("setResidualCodec gives a sequence what an engine-wide transform gives, and leaves other sequences alone", () => {
    const tokens = storyTokens(131); // positions 0..2 leave the 128-token window
    const wide = logitsOf(engine(codecWriteTransform("kivi2-g32-f16", config)), tokens);
    expect(wide).not.toEqual(logitsOf(engine(), tokens));
    const e = new LlamaEngine(stories().model, { blockSize: BLOCK, capacityBlocks: 16 });
    e.openSequence("s");
    expect(e.setResidualCodec("s", "kivi2-g32-f16")).toBe(128);
    e.openSequence("plain");
    expect(e.setResidualCodec("plain", "fp16")).toBe(0); // no window: nothing set
    expect(e.prefillWithLogits("s", tokens, { chunkTokens: 64 })).toEqual(wide);
    expect(e.prefillWithLogits("plain", tokens)).toEqual(logitsOf(engine(), tokens));
    expect(() => e.setResidualCodec("s", "kivi2-g32-f16")).toThrow(/not empty/);
    // its pages are codec-rewritten: never entered in the hash-keyed device cache, shared by every codec
    e.registerBlocks("s", 0, [fakeHash("a")]);
    expect(e.cachedBlocks).toBe(0);
    e.registerBlocks("plain", 0, [fakeHash("b")]);
    expect(e.cachedBlocks).toBe(1);
    e.openSequence("bad");
    expect(() => e.setResidualCodec("bad", "kivi9")).toThrow(/unknown KV codec/);
  });
});
