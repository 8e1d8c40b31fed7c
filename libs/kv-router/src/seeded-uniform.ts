// A small seeded uniform generator (mulberry32) for the `rng` that routing takes: same seed, same
// sequence on every machine. Used by softmax routing, trace replay, fault injection and tests.

/** Returns a generator of uniform floats in [0, 1). Not for cryptographic use. */
export function seededUniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
