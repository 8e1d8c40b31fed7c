// Causal grouped-query attention of one query row over a sequence's paged keys/values, float64 softmax.
// The arithmetic lives in attendHeads (head-attention.ts); a dense row is the case where every KV
// head reads the same token list.
import type { AttentionScratch } from "./attention-scratch.js";
import { attendHeads, type AttentionShape } from "./head-attention.js";

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
