import { describe, expect, it } from "vitest";
import { Sampler } from "../src/sampler.js";
import { Xoshiro128 } from "../src/xoshiro128.js";

function randomLogits(n: number, seed: number): Float32Array {
  const rng = new Xoshiro128(seed);
  return Float32Array.from({ length: n }, () => (rng.nextFloat() - 0.5) * 6);
}

describe("Xoshiro128", () => {
  it("matches the reference xoshiro128** outputs for state {1,2,3,4}", () => {
    const rng = new Xoshiro128(new Uint32Array([1, 2, 3, 4]));
    expect(Array.from({ length: 6 }, () => rng.nextU32())).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  });
});

describe("Sampler", () => {
  it("greedy picks the argmax, ties to the lowest id, without consuming randomness", () => {
    const logits = Float32Array.from([0.5, 2, -1, 2, 1.5]);
    const s = new Sampler({ temperature: 0, topP: 1, seed: 7 });
    const before = s.state;
    expect(s.sample(logits, 0).token).toBe(1);
    expect(s.state).toEqual(before);
  });

  it("log-probs are a log-softmax of the raw logits, top sorted", () => {
    const logits = randomLogits(64, 3);
    const r = new Sampler({ temperature: 0.8, topP: 0.9, seed: 1 }).sample(logits, 5);
    const max = Math.max(...logits);
    const logZ = max + Math.log(logits.reduce((a, l) => a + Math.exp(l - max), 0));
    expect(r.logprob).toBeCloseTo(logits[r.token] - logZ, 12);
    const sorted = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a] || a - b);
    expect(r.top.map((t) => t.token)).toEqual(sorted.slice(0, 5));
    r.top.forEach((t) => expect(t.logprob).toBeCloseTo(logits[t.token] - logZ, 12));
  });

  it("a sampler rebuilt from state continues the same sequence", () => {
    const logits = randomLogits(100, 5);
    const opts = { temperature: 1.0, topP: 0.95, seed: 42 };
    const a = new Sampler(opts);
    for (let i = 0; i < 10; i++) a.sample(logits, 0);
    const saved = a.state;
    const restOfA = Array.from({ length: 20 }, () => a.sample(logits, 0).token);
    const b = new Sampler(opts, saved);
    expect(Array.from({ length: 20 }, () => b.sample(logits, 0).token)).toEqual(restOfA);
    const c = new Sampler({ ...opts, seed: 43 });
    expect(Array.from({ length: 20 }, () => c.sample(logits, 0).token)).not.toEqual(restOfA);
  });

  it("top-p only returns tokens of the nucleus", () => {
    // probabilities ~ 0.5, 0.3, 0.1, 0.1 (ids 2, 0, 1, 3): nucleus 0.75 = {2, 0}
    const logits = Float32Array.from([Math.log(0.3), Math.log(0.1), Math.log(0.5), Math.log(0.1)]);
    const s = new Sampler({ temperature: 1, topP: 0.75, seed: 9 });
    const seen = new Set(Array.from({ length: 500 }, () => s.sample(logits, 0).token));
    expect([...seen].sort()).toEqual([0, 2]);
  });

  it("temperature 1 without top-p follows the softmax", () => {
    const logits = Float32Array.from([Math.log(0.6), Math.log(0.3), Math.log(0.1)]);
    const s = new Sampler({ temperature: 1, topP: 1, seed: 11 });
    const counts = [0, 0, 0];
    const n = 20_000;
    for (let i = 0; i < n; i++) counts[s.sample(logits, 0).token]++;
    expect(counts[0] / n).toBeCloseTo(0.6, 1);
    expect(counts[1] / n).toBeCloseTo(0.3, 1);
    expect(counts[2] / n).toBeCloseTo(0.1, 1);
  });

  it("rejects bad options", () => {
    expect(() => new Sampler({ temperature: -1, topP: 1, seed: 0 })).toThrow(/temperature/);
    expect(() => new Sampler({ temperature: 1, topP: 0, seed: 0 })).toThrow(/topP/);
  });
});
