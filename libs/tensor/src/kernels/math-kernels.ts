// Row-wise float kernels with a fixed reduction order: a row's result never depends on the other rows.

/** RMSNorm epsilon, as llama2.c. */
export const RMS_NORM_EPS = 1e-5;

/**
 * out[r][i] = sum_j w[i][j] * x[r][j] for r < rows; w is row-major [d][n].
 * Accumulates in float64 over j in a fixed 4-lane order, so batching rows (which only reuses each
 * weight row across inputs, for cache locality) cannot change any output.
 */
export function matmulRows(out: Float32Array, x: Float32Array, w: Float32Array, rows: number, n: number, d: number): void {
  const n4 = n - (n % 4);
  for (let i = 0; i < d; i++) {
    const wo = i * n;
    for (let r = 0; r < rows; r++) {
      const xo = r * n;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let j = 0;
      for (; j < n4; j += 4) {
        s0 += w[wo + j] * x[xo + j];
        s1 += w[wo + j + 1] * x[xo + j + 1];
        s2 += w[wo + j + 2] * x[xo + j + 2];
        s3 += w[wo + j + 3] * x[xo + j + 3];
      }
      for (; j < n; j++) s0 += w[wo + j] * x[xo + j];
      out[r * d + i] = s0 + s1 + (s2 + s3);
    }
  }
}

/** out[r] = weight * x[r] / sqrt(mean(x[r]^2) + eps), per row of width n. `out` may alias `x`. */
export function rmsNormRows(out: Float32Array, x: Float32Array, weight: Float32Array, rows: number, n: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    let ss = 0;
    for (let j = 0; j < n; j++) ss += x[o + j] * x[o + j];
    const scale = 1 / Math.sqrt(ss / n + RMS_NORM_EPS);
    for (let j = 0; j < n; j++) out[o + j] = weight[j] * (scale * x[o + j]);
  }
}

/** gate[i] = silu(gate[i]) * up[i] over the first `count` values. */
export function swiGlu(gate: Float32Array, up: Float32Array, count: number): void {
  for (let i = 0; i < count; i++) {
    const g = gate[i];
    gate[i] = (g / (1 + Math.exp(-g))) * up[i];
  }
}

/** acc[i] += delta[i] over the first `count` values. */
export function addInPlace(acc: Float32Array, delta: Float32Array, count: number): void {
  for (let i = 0; i < count; i++) acc[i] += delta[i];
}
