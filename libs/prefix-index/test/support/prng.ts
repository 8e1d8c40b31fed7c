// Seeded PRNG for property tests (mulberry32): same seed, same sequence, on every machine.

/** Returns a generator of uniform floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform integer in [0, n). */
export function randInt(rng: () => number, n: number): number {
  return Math.floor(rng() * n);
}

/** A uniformly chosen element of a non-empty array. */
export function pick<T>(rng: () => number, xs: readonly T[]): T {
  return xs[randInt(rng, xs.length)];
}
