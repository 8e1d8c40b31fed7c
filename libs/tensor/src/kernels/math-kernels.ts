// Row-wise float kernels with a fixed reduction order: a row's result never depends on the other rows.

/** RMSNorm epsilon, as llama2.c. */
export const RMS_NORM_EPS = 1e-5;

/**
 * Reference for {@link matmulRows}: out[r][i] = sum_j w[i][j] * x[r][j], w row-major [d][n].
 * Defines the reduction order every matmul here follows: four float64 lanes, lane k summing
 * j ≡ k (mod 4) in increasing j, leftover j (n % 4) into lane 0, result (l0 + l1) + (l2 + l3).
 */
export function matmulRowsReference(out: Float32Array, x: Float32Array, w: Float32Array, rows: number, n: number, d: number): void {
  const n4 = n - (n % 4);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < d; i++) {
      const lanes = [0, 0, 0, 0];
      for (let j = 0; j < n4; j++) lanes[j % 4] += w[i * n + j] * x[r * n + j];
      for (let j = n4; j < n; j++) lanes[0] += w[i * n + j] * x[r * n + j];
      out[r * d + i] = lanes[0] + lanes[1] + (lanes[2] + lanes[3]);
    }
  }
}

/**
 * Batched matrix-vector products, bit-identical to {@link matmulRowsReference} for every row
 * whatever `rows` is. Register blocking only shares loads (one weight row across two inputs, or
 * one input across two weight rows), never changes a sum's order, so batching cannot change results.
 */
export function matmulRows(out: Float32Array, x: Float32Array, w: Float32Array, rows: number, n: number, d: number): void {
  if (rows === 1) {
    matvecPairs(out, x, w, n, d);
    return;
  }
  const n4 = n - (n % 4);
  for (let i = 0; i < d; i++) {
    const wo = i * n;
    let r = 0;
    for (; r + 1 < rows; r += 2) {
      const xa = r * n;
      const xb = xa + n;
      let a0 = 0,
        a1 = 0,
        a2 = 0,
        a3 = 0,
        b0 = 0,
        b1 = 0,
        b2 = 0,
        b3 = 0;
      let j = 0;
      for (; j < n4; j += 4) {
        const w0 = w[wo + j],
          w1 = w[wo + j + 1],
          w2 = w[wo + j + 2],
          w3 = w[wo + j + 3];
        a0 += w0 * x[xa + j];
        a1 += w1 * x[xa + j + 1];
        a2 += w2 * x[xa + j + 2];
        a3 += w3 * x[xa + j + 3];
        b0 += w0 * x[xb + j];
        b1 += w1 * x[xb + j + 1];
        b2 += w2 * x[xb + j + 2];
        b3 += w3 * x[xb + j + 3];
      }
      for (; j < n; j++) {
        a0 += w[wo + j] * x[xa + j];
        b0 += w[wo + j] * x[xb + j];
      }
      out[r * d + i] = a0 + a1 + (a2 + a3);
      out[(r + 1) * d + i] = b0 + b1 + (b2 + b3);
    }
    if (r < rows) out[r * d + i] = dot4(w, wo, x, r * n, n);
  }
}

/** One input row: two weight rows at a time share the input loads. */
function matvecPairs(out: Float32Array, x: Float32Array, w: Float32Array, n: number, d: number): void {
  const n4 = n - (n % 4);
  let i = 0;
  for (; i + 1 < d; i += 2) {
    const wa = i * n;
    const wb = wa + n;
    let a0 = 0,
      a1 = 0,
      a2 = 0,
      a3 = 0,
      b0 = 0,
      b1 = 0,
      b2 = 0,
      b3 = 0;
    let j = 0;
    for (; j < n4; j += 4) {
      const x0 = x[j],
        x1 = x[j + 1],
        x2 = x[j + 2],
        x3 = x[j + 3];
      a0 += w[wa + j] * x0;
      a1 += w[wa + j + 1] * x1;
      a2 += w[wa + j + 2] * x2;
      a3 += w[wa + j + 3] * x3;
      b0 += w[wb + j] * x0;
      b1 += w[wb + j + 1] * x1;
      b2 += w[wb + j + 2] * x2;
      b3 += w[wb + j + 3] * x3;
    }
    for (; j < n; j++) {
      a0 += w[wa + j] * x[j];
      b0 += w[wb + j] * x[j];
    }
    out[i] = a0 + a1 + (a2 + a3);
    out[i + 1] = b0 + b1 + (b2 + b3);
  }
  if (i < d) out[i] = dot4(w, i * n, x, 0, n);
}

/** One output in the reference lane order. */
function dot4(w: Float32Array, wo: number, x: Float32Array, xo: number, n: number): number {
  const n4 = n - (n % 4);
  let s0 = 0,
    s1 = 0,
    s2 = 0,
    s3 = 0;
  let j = 0;
  for (; j < n4; j += 4) {
    s0 += w[wo + j] * x[xo + j];
    s1 += w[wo + j + 1] * x[xo + j + 1];
    s2 += w[wo + j + 2] * x[xo + j + 2];
    s3 += w[wo + j + 3] * x[xo + j + 3];
  }
  for (; j < n; j++) s0 += w[wo + j] * x[xo + j];
  return s0 + s1 + (s2 + s3);
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
