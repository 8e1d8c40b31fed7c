// Causal grouped-query attention of one query row over a sequence's paged keys/values, float64 softmax.
// The arithmetic lives in attendHeads (head-attention.ts); a dense row is the case where every KV
// head reads the same token list.
import { attendHeads } from './head-attention.js';

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

  private readonly everyHead: { offsets: Int32Array[]; counts: Int32Array } = { offsets: [], counts: new Int32Array(0) };

  /** The same token list for each of `nKvHeads` KV heads, reusing arrays (no allocation per row). */
  sameForEveryHead(tokenOffsets: Int32Array, count: number, nKvHeads: number): { offsets: Int32Array[]; counts: Int32Array } {
    const e = this.everyHead;
    if (e.counts.length !== nKvHeads) e.counts = new Int32Array(nKvHeads);
    e.offsets.length = nKvHeads;
    e.offsets.fill(tokenOffsets);
    e.counts.fill(count);
    return e;
  }

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
  const every = scratch.sameForEveryHead(tokenOffsets, count, shape.nKvHeads);
  attendHeads(out, outOff, q, qOff, keys, values, every.offsets, every.counts, shape, scratch, observe);
}
