// Token sampling: greedy, temperature and top-p, deterministic and resumable; log-probs from raw logits.
import { EngineError } from "./engine-error.js";
import { Xoshiro128 } from "./xoshiro128.js";

/** How to pick the next token. */
export interface SamplingOptions {
  /** 0 = greedy argmax (ties to the lowest id); otherwise logits are divided by it. */
  temperature: number;
  /** Nucleus mass in (0, 1]; 1 disables top-p. */
  topP: number;
  /** Seeds the xoshiro128** stream (through splitmix32). */
  seed: number;
}

/** A sampled token with its log-probability under the raw (temperature 1) distribution. */
export interface SampledToken {
  token: number;
  logprob: number;
  /** The `topLogprobs` most likely tokens, most likely first (ties by token id). */
  top: { token: number; logprob: number }[];
}

/** Largest number of top log-probs returned per token. */
export const MAX_TOP_LOGPROBS = 20;

/** Picks tokens from logits. Greedy steps do not consume randomness. */
export class Sampler {
  private readonly opts: SamplingOptions;
  private readonly rng: Xoshiro128;
  private probs = new Float64Array(0);
  private order: number[] = [];

  /** `state` (from {@link Sampler.state}) resumes a stream instead of seeding a new one. */
  constructor(opts: SamplingOptions, state?: Uint32Array) {
    if (!(opts.temperature >= 0) || !Number.isFinite(opts.temperature)) {
      throw new EngineError("INVALID_ARGUMENT", `temperature must be a finite number >= 0, got ${opts.temperature}`);
    }
    if (!(opts.topP > 0 && opts.topP <= 1)) {
      throw new EngineError("INVALID_ARGUMENT", `topP must be in (0, 1], got ${opts.topP}`);
    }
    this.opts = { ...opts };
    this.rng = new Xoshiro128(state ?? opts.seed);
  }

  /** The RNG state (4 uint32 words), to hand a request to another worker mid-stream. */
  get state(): Uint32Array {
    return this.rng.state;
  }

  /** Sample one token and report log-probs of it and of the `topLogprobs` best tokens. */
  sample(logits: Float32Array, topLogprobs: number): SampledToken {
    const n = logits.length;
    if (n === 0) throw new EngineError("INVALID_ARGUMENT", "empty logits");
    if (!Number.isInteger(topLogprobs) || topLogprobs < 0 || topLogprobs > MAX_TOP_LOGPROBS) {
      throw new EngineError("INVALID_ARGUMENT", `topLogprobs must be an integer in 0..${MAX_TOP_LOGPROBS}`);
    }
    let max = -Infinity;
    let argmax = 0;
    for (let i = 0; i < n; i++) {
      if (logits[i] > max) {
        max = logits[i];
        argmax = i;
      }
    }
    let sum = 0;
    for (let i = 0; i < n; i++) sum += Math.exp(logits[i] - max);
    const logZ = max + Math.log(sum);
    const token = this.opts.temperature === 0 ? argmax : this.sampleStochastic(logits, max);
    return { token, logprob: logits[token] - logZ, top: this.topK(logits, logZ, topLogprobs) };
  }

  private sampleStochastic(logits: Float32Array, max: number): number {
    const n = logits.length;
    if (this.probs.length < n) this.probs = new Float64Array(n);
    const p = this.probs;
    const invT = 1 / this.opts.temperature;
    let total = 0;
    for (let i = 0; i < n; i++) {
      p[i] = Math.exp((logits[i] - max) * invT);
      total += p[i];
    }
    const u = this.rng.nextFloat();
    if (this.opts.topP >= 1) return pickByMass(p, n, u * total);
    // Tokens below this mass cannot be in the nucleus (llama2.c's cutoff), so skip sorting them.
    const cutoff = ((1 - this.opts.topP) / Math.max(1, n - 1)) * total;
    const order = this.order;
    order.length = 0;
    for (let i = 0; i < n; i++) if (p[i] >= cutoff) order.push(i);
    order.sort((a, b) => p[b] - p[a] || a - b);
    const target = this.opts.topP * total;
    let kept = 0;
    let mass = 0;
    while (kept < order.length) {
      mass += p[order[kept++]];
      if (mass >= target) break;
    }
    let r = u * mass;
    for (let j = 0; j < kept; j++) {
      r -= p[order[j]];
      if (r < 0) return order[j];
    }
    return order[kept - 1];
  }

  private topK(logits: Float32Array, logZ: number, k: number): { token: number; logprob: number }[] {
    const best: number[] = [];
    if (k === 0) return [];
    for (let i = 0; i < logits.length; i++) {
      if (best.length === k && logits[i] <= logits[best[k - 1]]) continue;
      let at = best.length === k ? k - 1 : best.length;
      best[at] = i;
      while (at > 0 && logits[best[at - 1]] < logits[i]) {
        best[at] = best[at - 1];
        best[at - 1] = i;
        at--;
      }
    }
    return best.map((token) => ({ token, logprob: logits[token] - logZ }));
  }
}

/** First index whose cumulative mass exceeds r (in id order). */
function pickByMass(p: Float64Array, n: number, r: number): number {
  for (let i = 0; i < n; i++) {
    r -= p[i];
    if (r < 0) return i;
  }
  return n - 1;
}
