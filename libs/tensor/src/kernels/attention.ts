// Causal grouped-query attention of one query row over a sequence's paged keys/values, float64 softmax.

/**
 * Receives one head's attention probabilities over positions 0..position (valid only during the
 * call). For a compressed sequence probs[i] is for `positions[i]` (the entries that head read).
 */
export type AttentionObserver = (event: {
  seqId: string;
  /** Position of the query token. */
  position: number;
  layer: number;
  head: number;
  /** probs[t] for t in 0..position; a view into scratch memory, copy it to keep it. */
  probs: Float64Array;
  /** Compressed sequences only: the position of each entry of probs. */
  positions?: Int32Array;
}) => void;

/** Scratch reused across rows; grown to the longest context once. */
export class AttentionScratch {
  offsets = new Int32Array(0);
  scores = new Float64Array(0);
  acc = new Float64Array(0);

  ensure(positions: number, headDim: number): void {
    if (this.offsets.length < positions) {
      this.offsets = new Int32Array(positions);
      this.scores = new Float64Array(positions);
    }
    if (this.acc.length < headDim) this.acc = new Float64Array(headDim);
  }
}

/** Geometry of one attention call. */
export interface AttentionShape {
  nHeads: number;
  nKvHeads: number;
  headDim: number;
}

/**
 * out[h] = sum_t softmax_t(q[h]·k[t] / sqrt(headDim)) v[t] for t = 0..count-1, in t order, for each
 * query head h reading KV head floor(h / (nHeads / nKvHeads)). `tokenOffsets[t]` is token t's float
 * offset in the layer's key/value arrays. q·k is summed in four float64 lanes (as matmulRows), the
 * softmax and the value sum run over t in increasing order: the result depends only on this row.
 */
export function attendRow(
  out: Float32Array,
  outOff: number,
  q: Float32Array,
  qOff: number,
  keys: Float32Array,
  values: Float32Array,
  tokenOffsets: Int32Array,
  count: number,
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
    const kvo = ((h / kvMul) | 0) * headDim;
    let max = -Infinity;
    for (let t = 0; t < count; t++) {
      const ko = tokenOffsets[t] + kvo;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
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
