// Selection policies in the engine: exact logits at 100%, exact budgets while decoding, a
// compressed and an uncompressed request side by side over shared prefix pages, the sparse
// hand-off between engines, and compressed blocks staying request-scoped.
import { describe, expect, it } from "vitest";
import { EngineError } from "../src/engine-error.js";
import { POLICY_METHODS } from "../src/policies/policy-spec.js";
import { budgetTokens } from "../src/policies/policy-spec.js";
import { h2oRecent } from "../src/policies/h2o.js";
import { fakeHash } from "./engine-fixtures.js";
import { compressedLogits, longPrompt, POLICY_BS, policyEngine } from "./policy-fixtures.js";

const PROMPT = 120;
const STEPS = 24;

/** Attention entries each (layer, kvHead) read at each decode position, from the observer. */
function watchCounts(engine: ReturnType<typeof policyEngine>, seqId: string): Map<string, Int32Array> {
  const seen = new Map<string, Int32Array>();
  engine.setAttentionObserver((e) => {
    if (e.seqId !== seqId || e.head % 2 !== 0 || e.positions === undefined) return;
    seen.set(`${e.position}/${e.layer}/${e.head / 2}`, e.positions.slice());
  });
  return seen;
}

describe("selection policies in the engine", () => {
  const all = longPrompt(PROMPT + STEPS);
  const prompt = all.slice(0, PROMPT);
  const next = all.slice(PROMPT);
  const baseline = compressedLogits(policyEngine(), "ref", "none", prompt, next);

  it("with budget 100% every policy gives exactly the uncompressed logits", () => {
    for (const method of POLICY_METHODS) {
      const got = compressedLogits(policyEngine(), "s", `${method}@100`, prompt, next);
      got.forEach((logits, i) => expect(logits, `${method} step ${i}`).toEqual(baseline[i]));
    }
  });

  it("at 25% logits change, and teacher-forced chunks equal token-by-token decode (H2O too)", () => {
    for (const policy of ["snapkv@25", "h2o@25", "quest@25"]) {
      const stepwise = compressedLogits(policyEngine(), "s", policy, prompt, next);
      expect(stepwise[0]).not.toEqual(baseline[0]);
      const engine = policyEngine();
      engine.openSequence("c");
      engine.setSelectionPolicy("c", policy, PROMPT);
      engine.prefill("c", prompt, { chunkTokens: 7 });
      engine.compress("c");
      const chunked = engine.prefillWithLogits("c", next, { chunkTokens: 5 });
      chunked.forEach((logits, i) => expect(logits, `${policy} step ${i}`).toEqual(stepwise[i]));
    }
  });

  it("keeps exactly the budget per head and layer while decoding; H2O evicts down to it, recent tokens stay", () => {
    for (const policy of ["snapkv@25", "streamingllm@25", "h2o@25", "pyramidkv@25"]) {
      const engine = policyEngine();
      const seen = watchCounts(engine, "s");
      engine.openSequence("s");
      engine.setSelectionPolicy("s", policy, PROMPT);
      engine.prefill("s", prompt);
      const summary = engine.compress("s");
      next.forEach((token) => engine.decodeStep([{ seqId: "s", token }]));
      for (let step = 0; step < STEPS; step++) {
        for (let l = 0; l < 5; l++) {
          for (let g = 0; g < 4; g++) {
            const pos = PROMPT + step;
            const read = seen.get(`${pos}/${l}/${g}`) as Int32Array;
            if (policy === "h2o@25") {
              // the cache held budgetTokens(pos) entries before this token: one share of the context
              const held = budgetTokens({ method: "h2o", budgetPercent: 25 }, pos);
              expect(read.length).toBe(held + 1);
              for (let p = pos - h2oRecent(held); p <= pos; p++) expect(read.includes(p)).toBe(true);
            } else {
              expect(read.length).toBe(summary.layerBudgets[l] + step + 1);
              for (let p = PROMPT; p <= pos; p++) expect(read.includes(p)).toBe(true);
            }
          }
        }
      }
    }
  });

  it("kept keys keep their prompt positions: layer 0 attention after eviction is the dense attention renormalised over the kept positions", () => {
    // Layer 0's query and keys do not depend on the cache, so if kept keys were re-positioned
    // (RoPE at their index in the compacted list) these probabilities would differ.
    const probsAt = (policy: string): Map<number, { probs: Float64Array; positions: Int32Array | undefined }> => {
      const engine = policyEngine();
      const rows = new Map<number, { probs: Float64Array; positions: Int32Array | undefined }>();
      engine.setAttentionObserver((e) => {
        if (e.layer === 0 && e.position === PROMPT) rows.set(e.head, { probs: e.probs.slice(), positions: e.positions?.slice() });
      });
      compressedLogits(engine, "s", policy, prompt, next.slice(0, 1));
      return rows;
    };
    const dense = probsAt("none");
    for (const policy of ["snapkv@25", "h2o@25", "streamingllm@12.5"]) {
      const comp = probsAt(policy);
      expect(comp.size).toBe(8);
      for (const [head, { probs, positions }] of comp) {
        const kept = positions as Int32Array;
        expect(kept.length).toBeLessThan(PROMPT / 2);
        expect(kept[kept.length - 1]).toBe(PROMPT);
        const full = (dense.get(head) as { probs: Float64Array }).probs;
        const mass = kept.reduce((s, p) => s + full[p], 0);
        kept.forEach((p, i) => expect(probs[i], `${policy} head ${head} position ${p}`).toBeCloseTo(full[p] / mass, 10));
      }
    }
  });

  it("Quest reads whole selected pages plus the dense tail, and its page choice follows the query", () => {
    const engine = policyEngine();
    const seen = watchCounts(engine, "s");
    engine.openSequence("s");
    engine.setSelectionPolicy("s", "quest@25", PROMPT);
    engine.prefill("s", prompt);
    engine.compress("s");
    next.forEach((token) => engine.decodeStep([{ seqId: "s", token }]));
    const pages = Math.round(budgetTokens({ method: "quest", budgetPercent: 25 }, PROMPT) / POLICY_BS);
    const denseFrom = Math.floor(PROMPT / POLICY_BS) * POLICY_BS;
    const choices = new Set<string>();
    for (const [key, read] of seen) {
      const pos = Number(key.split("/")[0]);
      expect(read.length).toBe(pages * POLICY_BS + pos - denseFrom + 1);
      const chosen = [...read].filter((p) => p < denseFrom);
      chosen.forEach((p, i) => i % POLICY_BS === 0 && expect(p % POLICY_BS).toBe(0));
      choices.add(chosen.join(","));
    }
    expect(choices.size).toBeGreaterThan(1);
  });

  it("a compressed and an uncompressed request share prefix pages side by side without seeing each other", () => {
    const shared = Math.floor(64 / POLICY_BS);
    const hashes = Array.from({ length: shared }, (_, i) => fakeHash(`p${i}`));
    /** Runs the scenario; with `both` the two requests decode in the same batches. */
    const run = (both: boolean, policy: string): { plain: Float32Array[]; comp: Float32Array[]; sharedBytes: Uint8Array[] } => {
      const engine = policyEngine();
      engine.openSequence("base");
      engine.prefill("base", prompt.slice(0, shared * POLICY_BS));
      engine.registerBlocks("base", 0, hashes);
      engine.closeSequence("base");
      const before = (): Uint8Array[] => {
        engine.openSequence("peek");
        engine.attachCached("peek", hashes);
        const bytes = engine.exportBlocks("peek", 0, shared, "fp32", hashes);
        engine.closeSequence("peek");
        return bytes;
      };
      const sharedBytes = before();
      const open = (seqId: string, p: string): void => {
        engine.openSequence(seqId);
        engine.setSelectionPolicy(seqId, p, PROMPT);
        expect(engine.attachCached(seqId, hashes)).toBe(shared);
        engine.prefill(seqId, prompt.slice(shared * POLICY_BS));
      };
      if (both) open("plain", "none");
      open("comp", policy);
      engine.compress("comp");
      const plain: Float32Array[] = [];
      const comp: Float32Array[] = [];
      for (const token of next) {
        const batch = both
          ? [
              { seqId: "plain", token },
              { seqId: "comp", token },
            ]
          : [{ seqId: "comp", token }];
        const out = engine.decodeStep(batch);
        if (both) plain.push(out[0]);
        comp.push(out[out.length - 1]);
      }
      expect(before()).toEqual(sharedBytes); // the shared pages are unchanged
      return { plain, comp, sharedBytes };
    };
    for (const policy of ["h2o@25", "snapkv@25"]) {
      const together = run(true, policy);
      const alone = run(false, policy);
      together.plain.forEach((logits, i) => expect(logits, `uncompressed step ${i}`).toEqual(baseline[i]));
      together.comp.forEach((logits, i) => expect(logits, `${policy} step ${i}`).toEqual(alone.comp[i]));
      expect(together.comp[0]).not.toEqual(together.plain[0]);
    }
  });

  it("compression gives pages back; a compressed sequence refuses to export, register or append blocks", () => {
    const engine = policyEngine(40);
    engine.openSequence("s");
    engine.setSelectionPolicy("s", "snapkv@25", PROMPT);
    engine.prefill("s", prompt);
    const before = engine.freeBlocks;
    const summary = engine.compress("s");
    expect(summary.keptEntries * 4).toBe(summary.totalEntries);
    expect(engine.freeBlocks - before).toBe(Math.floor(PROMPT / POLICY_BS) - Math.ceil(30 / POLICY_BS));
    const refused = (fn: () => unknown): string | undefined => {
      try {
        fn();
      } catch (e) {
        return e instanceof EngineError ? e.code : "other";
      }
      return undefined;
    };
    expect(refused(() => engine.exportBlocks("s", 0, 1, "fp32", [fakeHash("a")]))).toBe("INVALID_ARGUMENT");
    expect(refused(() => engine.registerBlocks("s", 0, [fakeHash("a")]))).toBe("INVALID_ARGUMENT");
    expect(refused(() => engine.exportTail("s", "fp32", fakeHash("t"), engine.length("s")))).toBe("INVALID_ARGUMENT");
    expect(refused(() => engine.importBlocks("s", []))).toBeUndefined();
    expect(refused(() => engine.compress("s"))).toBe("INVALID_ARGUMENT");
  });

  it("the sparse hand-off (fp32) reproduces the compressed request bit for bit in another engine, at a quarter of the bytes", () => {
    for (const policy of ["snapkv@25", "h2o@25", "pyramidkv@25", "adaptivekv@12.5"]) {
      const src = policyEngine();
      src.openSequence("s");
      src.setSelectionPolicy("s", policy, PROMPT);
      src.prefill("s", prompt);
      src.compress("s");
      const { meta, blocks } = src.exportSelection("s", "fp32", fakeHash("req"));
      const expected = next.map((token) => src.decodeStep([{ seqId: "s", token }])[0]);

      const dst = policyEngine();
      dst.openSequence("d");
      expect(dst.reserve("d", PROMPT + STEPS)).toBe(true);
      const summary = dst.importSelection("d", meta, "fp32", blocks);
      expect(dst.length("d")).toBe(PROMPT);
      next.forEach((token, i) => expect(dst.decodeStep([{ seqId: "d", token }])[0], `${policy} step ${i}`).toEqual(expected[i]));

      const denseBytes = 2 * 5 * PROMPT * 32 * 4;
      const sparseBytes = blocks.reduce((s, b) => s + b.length, 0);
      const payload = (summary.keptEntries / summary.totalEntries) * denseBytes;
      expect(sparseBytes).toBeGreaterThanOrEqual(payload);
      expect(sparseBytes).toBeLessThan(payload * 1.12);

      const dense = policyEngine();
      dense.openSequence("x");
      dense.prefill("x", prompt);
      dense.applySelection("x", meta);
      next.forEach((token, i) => expect(dense.decodeStep([{ seqId: "x", token }])[0], `${policy} apply step ${i}`).toEqual(expected[i]));
    }
  });

  it("a sparse block that does not match the meta is refused before anything changes", () => {
    const src = policyEngine();
    src.openSequence("s");
    src.setSelectionPolicy("s", "snapkv@25", PROMPT);
    src.prefill("s", prompt);
    src.compress("s");
    const { meta, blocks } = src.exportSelection("s", "fp32", fakeHash("req"));
    const dst = policyEngine();
    dst.openSequence("d");
    expect(() => dst.importSelection("d", meta, "fp32", blocks.slice(1))).toThrow(/sparse blocks/);
    expect(() => dst.importSelection("d", meta, "fp16", blocks)).toThrow(/codec=fp32/);
    expect(dst.length("d")).toBe(0);
  });
});
