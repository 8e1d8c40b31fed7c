// xoshiro128** PRNG seeded through splitmix32: small, fast, and resumable from its 4-word state.

/** splitmix32 step: returns [next state, output]; spreads a seed over the xoshiro state. */
function splitmix32(state: number): [number, number] {
  const s = (state + 0x9e3779b9) >>> 0;
  let z = s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return [s, (z ^ (z >>> 16)) >>> 0];
}

const rotl = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0;

/** xoshiro128** (Blackman & Vigna). The state is exactly 4 uint32 words. */
export class Xoshiro128 {
  private readonly s = new Uint32Array(4);

  /** Seed from a number via splitmix32, or resume from a saved 4-word state. */
  constructor(seedOrState: number | Uint32Array) {
    if (typeof seedOrState === "number") {
      let sm = seedOrState >>> 0;
      for (let i = 0; i < 4; i++) {
        const [next, out] = splitmix32(sm);
        sm = next;
        this.s[i] = out;
      }
    } else {
      if (seedOrState.length !== 4) throw new RangeError("xoshiro128 state must be 4 uint32 words");
      this.s.set(seedOrState);
    }
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1; // all-zero is a fixed point
  }

  /** Next uniformly distributed uint32. */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform float in [0, 1) with 32 bits of randomness. */
  nextFloat(): number {
    return this.nextU32() / 4294967296;
  }

  /** A copy of the 4-word state; `new Xoshiro128(state)` continues the same sequence. */
  get state(): Uint32Array {
    return this.s.slice();
  }
}
