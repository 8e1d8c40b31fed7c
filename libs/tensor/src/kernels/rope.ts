// Rotary position embedding as llama2.c: pairs (2i, 2i+1) within each head, freq = 10000^(-2i/headDim).

/** RoPE base, as llama2.c. */
export const ROPE_THETA = 10000;

/**
 * Precomputed cos/sin per (position, pair). The forward pass and KV import both rotate through
 * `rotate`, so a key imported at a position is bit-identical to one computed there.
 */
export class RopeTable {
  readonly headDim: number;
  readonly maxPositions: number;
  private readonly cos: Float32Array;
  private readonly sin: Float32Array;

  constructor(headDim: number, maxPositions: number) {
    this.headDim = headDim;
    this.maxPositions = maxPositions;
    const half = headDim / 2;
    this.cos = new Float32Array(maxPositions * half);
    this.sin = new Float32Array(maxPositions * half);
    for (let pos = 0; pos < maxPositions; pos++) {
      for (let p = 0; p < half; p++) {
        // float32 at every step, like run.c's powf/cosf chain
        const exponent = Math.fround((2 * p) / headDim);
        const freq = Math.fround(1 / Math.fround(Math.pow(ROPE_THETA, exponent)));
        const angle = Math.fround(pos * freq);
        this.cos[pos * half + p] = Math.cos(angle);
        this.sin[pos * half + p] = Math.sin(angle);
      }
    }
  }

  /**
   * Rotate `heads` consecutive head vectors of `src` (from srcOff) for position `pos` into `dst`
   * (from dstOff). src and dst may be the same array at the same offset.
   */
  rotate(src: Float32Array, srcOff: number, dst: Float32Array, dstOff: number, heads: number, pos: number): void {
    const half = this.headDim / 2;
    const t = pos * half;
    for (let h = 0; h < heads; h++) {
      const base = h * this.headDim;
      for (let p = 0; p < half; p++) {
        const c = this.cos[t + p];
        const s = this.sin[t + p];
        const v0 = src[srcOff + base + 2 * p];
        const v1 = src[srcOff + base + 2 * p + 1];
        dst[dstOff + base + 2 * p] = v0 * c - v1 * s;
        dst[dstOff + base + 2 * p + 1] = v0 * s + v1 * c;
      }
    }
  }
}
