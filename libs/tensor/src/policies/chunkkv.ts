// ChunkKV (Liu et al., 2025): the observation window's votes are summed over fixed chunks of
// consecutive tokens and whole chunks are kept, preserving phrases; layers share selections
// (layer-wise index reuse).
import { CHUNKKV_CHUNK_TOKENS, CHUNKKV_REUSE_LAYERS } from "./policy-defaults.js";
import { topKPositions } from "./selection-math.js";

/** The layer whose selection `layer` reuses: the first of its group of `reuse` layers. */
export function chunkSourceLayer(layer: number, reuse = CHUNKKV_REUSE_LAYERS): number {
  return layer - (layer % reuse);
}

/**
 * One KV head's kept positions (ascending): the window, then whole chunks of the earlier
 * positions in order of summed votes while they fit; the first chunk that does not fit gives
 * its best-voted positions, so exactly `keep` positions are kept.
 */
export function selectChunkKvHead(
  votes: ArrayLike<number>,
  promptTokens: number,
  keep: number,
  window: number,
  chunk = CHUNKKV_CHUNK_TOKENS,
): Int32Array {
  if (keep >= promptTokens) return Int32Array.from({ length: promptTokens }, (_, i) => i);
  const w = Math.min(window, keep);
  const prefix = promptTokens - w;
  const nChunks = Math.ceil(prefix / chunk);
  const score = new Float64Array(nChunks);
  for (let t = 0; t < prefix; t++) score[(t / chunk) | 0] += votes[t];
  const order = Array.from({ length: nChunks }, (_, i) => i).sort((a, b) => score[b] - score[a] || a - b);
  const kept: number[] = [];
  let left = keep - w;
  for (const c of order) {
    if (left === 0) break;
    const from = c * chunk;
    const to = Math.min(prefix, from + chunk);
    if (to - from <= left) {
      for (let t = from; t < to; t++) kept.push(t);
      left -= to - from;
    } else {
      kept.push(...topKPositions(votes, from, to, left));
      left = 0;
    }
  }
  for (let t = prefix; t < promptTokens; t++) kept.push(t);
  return Int32Array.from(kept).sort();
}
