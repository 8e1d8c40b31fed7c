import { describe, expect, it } from "vitest";
import { LlamaEngine } from "../src/engine.js";
import { argmax, greedyContinuation, stories, storyTokens } from "./engine-fixtures.js";

describe("LlamaEngine on stories260K", () => {
  const { model, tokenizer } = stories();

  it('greedy 30-token continuation of "Once upon a time" is readable English', () => {
    const engine = new LlamaEngine(model, { blockSize: 16, capacityBlocks: 8 });
    const prompt = tokenizer.encode("Once upon a time", { bos: true });
    const { text } = greedyContinuation(engine, prompt, 30);
    console.log(`greedy continuation: "Once upon a time${text}"`);
    expect(text).toMatch(/^[A-Za-z ,.'"!?\n-]+$/);
    const words = new Set(text.toLowerCase().split(/[^a-z]+/));
    const common = ["the", "a", "was", "she", "he", "to", "and", "there", "little", "day", "one"];
    expect(common.filter((w) => words.has(w)).length).toBeGreaterThanOrEqual(3);
    expect(engine.freeBlocks).toBe(8);
  });

  it("batched/chunked prefill equals token-by-token decode at every position of a 100-token prompt", () => {
    const prompt = storyTokens(100);
    const reference = new LlamaEngine(model, { blockSize: 16, capacityBlocks: 8 });
    reference.openSequence("ref");
    const expected = prompt.map((token) => reference.decodeStep([{ seqId: "ref", token }])[0]);
    for (const chunkTokens of [1, 7, 64]) {
      const engine = new LlamaEngine(model, { blockSize: 16, capacityBlocks: 8 });
      engine.openSequence("s");
      const got = engine.prefillWithLogits("s", prompt, { chunkTokens });
      expect(got.length).toBe(100);
      let worst = 0;
      got.forEach((logits, i) => {
        for (let j = 0; j < logits.length; j++) worst = Math.max(worst, Math.abs(logits[j] - expected[i][j]));
      });
      expect(worst).toBeLessThanOrEqual(1e-4);
      expect(got).toEqual(expected); // bit-identical, by construction
      expect(engine.length("s")).toBe(100);
    }
    // prefill() returns the last position's logits and agrees too
    const e2 = new LlamaEngine(model, { blockSize: 16, capacityBlocks: 8 });
    e2.openSequence("s");
    expect(e2.prefill("s", prompt, { chunkTokens: 7 })).toEqual(expected[99]);
  });

  it("a decode batch of 4 sequences gives each row the logits it gets alone", () => {
    const prompts = [storyTokens(5), storyTokens(23), storyTokens(40).slice(10), storyTokens(61).slice(30)];
    const batched = new LlamaEngine(model, { blockSize: 16, capacityBlocks: 32 });
    const alone = new LlamaEngine(model, { blockSize: 16, capacityBlocks: 32 });
    const next = prompts.map((p, i) => {
      batched.openSequence(`s${i}`);
      alone.openSequence(`s${i}`);
      alone.prefill(`s${i}`, p);
      return argmax(batched.prefill(`s${i}`, p));
    });
    for (let step = 0; step < 5; step++) {
      const rows = batched.decodeStep(next.map((token, i) => ({ seqId: `s${i}`, token })));
      next.forEach((token, i) => {
        const solo = alone.decodeStep([{ seqId: `s${i}`, token }])[0];
        expect(rows[i]).toEqual(solo);
        next[i] = argmax(rows[i]);
      });
    }
    // the argmax continuations differ between sequences, so rows really are distinct
    expect(new Set(next).size).toBeGreaterThan(1);
  });

  it("exposes attention probabilities on opt-in", () => {
    const engine = new LlamaEngine(model, { blockSize: 16, capacityBlocks: 8 });
    const seen: { layer: number; head: number; position: number; sum: number; len: number }[] = [];
    engine.setAttentionObserver(({ layer, head, position, probs }) => {
      seen.push({ layer, head, position, len: probs.length, sum: probs.reduce((a, p) => a + p, 0) });
    });
    engine.openSequence("s");
    engine.prefill("s", storyTokens(6));
    expect(seen.length).toBe(6 * model.config.nLayers * model.config.nHeads);
    for (const s of seen) {
      expect(s.len).toBe(s.position + 1);
      expect(s.sum).toBeCloseTo(1, 12);
    }
    engine.setAttentionObserver(null);
    engine.decodeStep([{ seqId: "s", token: 400 }]);
    expect(seen.length).toBe(6 * model.config.nLayers * model.config.nHeads);
  });
});
