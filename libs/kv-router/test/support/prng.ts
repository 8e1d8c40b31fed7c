// Seeded PRNG for property tests (mulberry32): same seed, same sequence, on every machine.
import { seededUniform } from "../../src/seeded-uniform.js";

/** Returns a generator of uniform floats in [0, 1). */
export const mulberry32 = seededUniform;

/** Uniform integer in [0, n). */
export function randInt(rng: () => number, n: number): number {
  return Math.floor(rng() * n);
}

/** A uniformly chosen element of a non-empty array. */
export function pick<T>(rng: () => number, xs: readonly T[]): T {
  return xs[randInt(rng, xs.length)];
}
