// Grouped-query attention of one query row where each KV head attends its own list of token
// slots (selected caches: per-head slot maps). The one attention kernel: attendRow (dense rows)
// calls it with the same list for every head, so dense and selected rows share their arithmetic.
import type { AttentionScratch } from "./attention-scratch.js";

/** Geometry of one attention call. */
export interface AttentionShape {
  nHeads: number;
  nKvHeads: number;
  headDim: number;
}

/**
 * out[h] = sum_i softmax_i(q[h]·k[s_i] / sqrt(headDim)) v[s_i] over the slots s_i =
 * headOffsets[g][i] (i < headCounts[g]) of query head h's KV head g, in list order. Slot offsets
 * are float offsets of a token's slot in the layer arrays (the KV head's offset is added here).
 * `observe(h, probs)` sees probs[i] for list entry i (valid only during the call).
 */
export function attendHeads(
  out: Float32Array,
  outOff: number,
  q: Float32Array,
  qOff: number,
  keys: Float32Array,
  values: Float32Array,
  headOffsets: readonly Int32Array[],
  headCounts: ArrayLike<number>,
  shape: AttentionShape,
  scratch: AttentionScratch,
  observe?: (head: number, probs: Float64Array) => void,
): void {
  const { nHeads, headDim } = shape;
  const kvMul = nHeads / shape.nKvHeads;
  const invScale = 1 / Math.sqrt(headDim);
  const hd4 = headDim - (headDim % 4);
  const scores = scratch.scores;
  const acc = scratch.acc;
  for (let h = 0; h < nHeads; h++) {
    const qo = qOff + h * headDim;
    const g = (h / kvMul) | 0;
    const kvo = g * headDim;
    const tokenOffsets = headOffsets[g];
    const count = headCounts[g];
    let max = -Infinity;
    for (let t = 0; t < count; t++) {
      const ko = tokenOffsets[t] + kvo;
      let s0 = 0,
        s1 = 0,
        s2 = 0,
        s3 = 0;
      let i = 0;
      for (; i < hd4; i += 4) {
        s0 += q[qo + i] * keys[ko + i];
        s1 += q[qo + i + 1] * keys[ko + i + 1];
        s2 += q[qo + i + 2] * keys[ko + i + 2];
        s3 += q[qo + i + 3] * keys[ko + i + 3];
      }
      for (; i < headDim; i++) s0 += q[qo + i] * keys[ko + i];
      const s = (s0 + s1 + (s2 + s3)) * invScale;
      scores[t] = s;
      if (s > max) max = s;
    }
    let sum = 0;
    for (let t = 0; t < count; t++) {
      const e = Math.exp(scores[t] - max);
      scores[t] = e;
      sum += e;
    }
    const invSum = 1 / sum;
    for (let t = 0; t < count; t++) scores[t] *= invSum;
    if (observe !== undefined) observe(h, scores.subarray(0, count));
    acc.fill(0, 0, headDim);
    for (let t = 0; t < count; t++) {
      const vo = tokenOffsets[t] + kvo;
      const p = scores[t];
      let i = 0;
      for (; i < hd4; i += 4) {
        acc[i] += p * values[vo + i];
        acc[i + 1] += p * values[vo + i + 1];
        acc[i + 2] += p * values[vo + i + 2];
        acc[i + 3] += p * values[vo + i + 3];
      }
      for (; i < headDim; i++) acc[i] += p * values[vo + i];
    }
    const oo = outOff + h * headDim;
    for (let i = 0; i < headDim; i++) out[oo + i] = acc[i];
  }
}
