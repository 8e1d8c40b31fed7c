// Test fixtures for engine tests: the real stories260K model, its tokenizer, prompts and block hashes.
import { createHash } from "node:crypto";
import { loadCheckpoint } from "../src/checkpoint.js";
import { IncrementalDetokenizer } from "../src/detokenizer.js";
import type { LlamaEngine } from "../src/engine.js";
import { Sampler } from "../src/sampler.js";
import type { LlamaModel } from "../src/llama-model.js";
import { Tokenizer } from "../src/tokenizer.js";
import { checkpointPath, tokenizerPath } from "./model-dir.js";

let cached: { model: LlamaModel; tokenizer: Tokenizer } | null = null;

/** stories260K and tok512, loaded once per test file. */
export function stories(): { model: LlamaModel; tokenizer: Tokenizer } {
  if (cached === null) {
    const model = loadCheckpoint(checkpointPath());
    cached = { model, tokenizer: Tokenizer.fromFile(tokenizerPath(), model.config.vocabSize) };
  }
  return cached;
}

const STORY =
  "Once upon a time, there was a little dog named Max. Max liked to run in the park with his friend Sam. " +
  "One day, Sam found a big red ball under a tree. They played with the ball all day long. When the sun went down, " +
  "Max and Sam were very tired. They went home and had a nice dinner with mom and dad. Then they went to sleep.";

/** The first `n` tokens of STORY (BOS first). */
export function storyTokens(n: number): number[] {
  const tokens = stories().tokenizer.encode(STORY, { bos: true });
  if (tokens.length < n) throw new Error(`STORY has only ${tokens.length} tokens`);
  return tokens.slice(0, n);
}

/** A deterministic 16-byte stand-in for a chained block hash. */
export function fakeHash(label: string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(label).digest().subarray(0, 16));
}

/** Largest absolute element-wise difference. */
export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error("length mismatch");
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Index of the largest value (lowest index on ties). */
export function argmax(a: Float32Array): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

/** Greedy continuation through the public engine API; returns tokens and text. */
export function greedyContinuation(
  engine: Pick<LlamaEngine, "openSequence" | "prefill" | "decodeStep" | "closeSequence">,
  prompt: number[],
  steps: number,
): { tokens: number[]; text: string } {
  const { tokenizer } = stories();
  engine.openSequence("gen");
  let logits = engine.prefill("gen", prompt);
  const sampler = new Sampler({ temperature: 0, topP: 1, seed: 0 });
  const detok = new IncrementalDetokenizer(tokenizer, prompt[prompt.length - 1]);
  const tokens: number[] = [];
  let text = "";
  for (let i = 0; i < steps; i++) {
    const { token } = sampler.sample(logits, 0);
    tokens.push(token);
    text += detok.push(token);
    logits = engine.decodeStep([{ seqId: "gen", token }])[0];
  }
  engine.closeSequence("gen");
  return { tokens, text: text + detok.flush() };
}
