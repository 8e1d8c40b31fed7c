// The harness on a tiny random model: lossless fp32 scores exactly KL 0 / top-1 1 / no attention
// error, a lossy codec scores worse, windows and intervals behave, and the report's last line is
// one JSON object keyed by method.
import { describe, expect, it } from "vitest";
import { LlamaEngine, randomModel, type ModelConfig } from "@kvtier/tensor";
import { meanInterval, pairedInterval } from "../src/bootstrap.js";
import { QualityMethodError, QualityMethodRegistry } from "../src/method-registry.js";
import { codecMethod } from "../src/methods/codec-method.js";
import { buildReport, lastLineJson } from "../src/quality-report.js";
import { recordReference } from "../src/reference-forward.js";
import { renderMarkdown } from "../src/report-markdown.js";
import { renderSvg } from "../src/report-svg.js";
import { runMethods } from "../src/run-quality.js";
import { summarize } from "../src/summarize.js";
import { makeWindows } from "../src/windows.js";

const TINY: ModelConfig = {
  dim: 32,
  hiddenDim: 48,
  nLayers: 2,
  nHeads: 4,
  nKvHeads: 2,
  headDim: 8,
  vocabSize: 48,
  seqLen: 512,
  sharedClassifier: true,
};
const model = randomModel(TINY, 7);

/** Deterministic pseudo-text: a token stream with some repetition (so attention has structure). */
function text(n: number): number[] {
  let s = 3;
  return Array.from({ length: n }, (_, i) => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return i % 11 < 3 ? 3 + (i % 5) : 3 + (s % (TINY.vocabSize - 3));
  });
}

describe("quality harness on a tiny random model", () => {
  const registry = new QualityMethodRegistry();
  for (const [id, codec] of [
    ["fp32", "fp32"],
    ["int4", "int4"],
    ["kivi2", "kivi2"],
  ])
    registry.register(codecMethod(id, codec));
  registry.compare("kivi2", "int4");
  const ids = registry.ids();
  const { windows, runs } = runMethods({ model, textTokens: text(600), bos: 1, methods: ids.map((id) => registry.get(id)) });
  const summary = summarize(runs, registry.comparisons(ids));
  const byId = new Map(summary.methods.map((m) => [m.id, m]));

  it("scores fp32 as lossless: KL 0, top-1 1, no perplexity change, no attention error", () => {
    expect(windows.length).toBe(1);
    const fp32 = byId.get("fp32")!;
    expect(fp32.positions).toBe(510 - 64 + 1);
    expect(fp32.kl).toBe(0);
    expect(fp32.top1).toBe(1);
    expect(fp32.ppl_delta).toBe(0);
    expect(fp32.attn_rel_err).toBe(0);
    expect(fp32.ratio_vs_fp16).toBeCloseTo(0.5, 1);
  });

  it("scores a lossy codec worse, with its real block sizes", () => {
    const int4 = byId.get("int4")!;
    const kivi2 = byId.get("kivi2")!;
    expect(int4.kl).toBeGreaterThan(0);
    expect(int4.top1).toBeLessThan(1);
    expect(int4.attn_rel_err).toBeGreaterThan(0);
    expect(kivi2.kl).toBeGreaterThan(0);
    // int4: 4 bits per value plus an fp16 scale and minimum per 16-channel token row; header included
    expect(int4.ratio_vs_fp16).toBeGreaterThan(2.5);
    expect(kivi2.ratio_vs_fp16).toBeGreaterThan(int4.ratio_vs_fp16);
    expect(int4.encode_gbps).toBeGreaterThan(0);
    expect(summary.comparisons).toHaveLength(1);
    expect(summary.comparisons[0]).toMatchObject({ a: "kivi2", b: "int4", windows: 1 });
  });

  it("writes a report whose last line is one JSON object keyed by method", () => {
    const report = buildReport(
      model.modelId,
      { source: "test", tokens: 600, windows: windows.length },
      32,
      1,
      summary.methods,
      summary.comparisons,
    );
    const last = JSON.parse(lastLineJson(report)) as Record<string, { ratio_vs_fp16: number; kl: number; top1: number }>;
    expect(Object.keys(last)).toEqual(["fp32", "int4", "kivi2"]);
    expect(last["fp32"]).toMatchObject({ kl: 0, top1: 1 });
    expect(renderMarkdown(report)).toContain("| kivi2 | codec |");
    expect(renderSvg(report.methods)).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
  });
});

describe("harness pieces", () => {
  it("the reference forward agrees with the engine (rounding only)", () => {
    const tokens = [1, ...text(80)];
    const engine = new LlamaEngine(model, { blockSize: 16, capacityBlocks: 8 });
    engine.openSequence("s");
    engine.prefill("s", tokens);
    const ref = recordReference(model, tokens);
    const exported = engine.exportBlocks("s", 0, 1, "fp32", [new Uint8Array(16)])[0];
    const k0 = new Float32Array(exported.buffer, exported.byteOffset + 112, 16 * TINY.nKvHeads * TINY.headDim);
    const kvd = TINY.nKvHeads * TINY.headDim;
    for (let i = 0; i < 16 * kvd; i++) expect(Math.abs(k0[i] - ref.layers[0].kPre[i])).toBeLessThan(1e-5);
  });

  it("windows start every 256 tokens, BOS first, full windows only", () => {
    const w = makeWindows(text(1200), 1);
    expect(w.map((x) => x.start)).toEqual([0, 256, 512]);
    expect(w.every((x) => x.tokens.length === 512 && x.tokens[0] === 1)).toBe(true);
    expect(makeWindows(text(100), 1)).toHaveLength(1);
    expect(() => makeWindows([5], 1)).toThrow();
  });

  it("bootstrap intervals are deterministic and bracket the mean; paired ratio detects a difference", () => {
    const a = [1, 2, 3, 4, 5, 6, 7, 8];
    const [lo, hi] = meanInterval(a);
    expect(lo).toBeLessThan(4.5);
    expect(hi).toBeGreaterThan(4.5);
    expect(meanInterval(a)).toEqual([lo, hi]);
    const p = pairedInterval(
      a.map((x) => x * 0.5),
      a,
    );
    expect(p.ratio).toBeCloseTo(0.5);
    expect(p.ratioCi95[1]).toBeLessThan(1);
  });

  it("the registry refuses duplicate and unknown ids and cross-kind comparisons", () => {
    const r = new QualityMethodRegistry();
    r.register(codecMethod("fp16", "fp16"));
    expect(() => r.register(codecMethod("fp16", "fp16"))).toThrow(QualityMethodError);
    expect(() => r.get("nope")).toThrow(QualityMethodError);
    r.register({
      id: "p@50",
      kind: "policy",
      description: "",
      evaluate: () => {
        throw new Error("unused");
      },
    });
    r.compare("fp16", "p@50");
    expect(() => r.comparisons(["fp16", "p@50"])).toThrow(QualityMethodError);
  });
});
