// Fixtures for the selection-policy engine tests: a long natural prompt (the STORY fixture
// continued by the model itself, sampled with a fixed seed) and small engine helpers.
import { LlamaEngine } from "../src/engine.js";
import { Sampler } from "../src/sampler.js";
import { stories, storyTokens } from "./engine-fixtures.js";

export const POLICY_BS = 16;

let cachedPrompt: number[] | null = null;

/** `n` tokens: STORY's tokens, then the model's own continuation (temperature 0.8, seed 7). */
export function longPrompt(n: number): number[] {
  if (cachedPrompt === null || cachedPrompt.length < n) {
    const { model } = stories();
    const start = storyTokens(64);
    const engine = new LlamaEngine(model, { blockSize: POLICY_BS, capacityBlocks: 40 });
    engine.openSequence("gen");
    let logits = engine.prefill("gen", start);
    const out = [...start];
    const sampler = new Sampler({ temperature: 0.8, topP: 0.95, seed: 7 });
    while (out.length < Math.max(n, 400)) {
      const { token } = sampler.sample(logits, 0);
      out.push(token);
      logits = engine.decodeStep([{ seqId: "gen", token }])[0];
    }
    cachedPrompt = out;
  }
  return cachedPrompt.slice(0, n);
}

/** A fresh engine over stories260K with pages of POLICY_BS tokens. */
export function policyEngine(capacityBlocks = 96): LlamaEngine {
  return new LlamaEngine(stories().model, { blockSize: POLICY_BS, capacityBlocks });
}

/** Prefill `prompt` into a new sequence with `policy`, compress, and return the engine's logits for `next` teacher-forced tokens. */
export function compressedLogits(engine: LlamaEngine, seqId: string, policy: string, prompt: number[], next: number[]): Float32Array[] {
  engine.openSequence(seqId);
  engine.setSelectionPolicy(seqId, policy, prompt.length);
  engine.prefill(seqId, prompt);
  if (policy !== "none") engine.compress(seqId);
  return next.map((token) => engine.decodeStep([{ seqId, token }])[0]);
}
