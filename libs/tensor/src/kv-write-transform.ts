// An optional rewrite of K (pre-RoPE) and V as the forward pass writes them into the pool: the
// quality harness uses it to run a codec "as each position is written" (quantize-dequantize).
// Unset, the engine's behaviour is unchanged bit for bit.
import type { KvPool, SequencePages } from './kv-pool.js';

/**
 * Rewrites one layer's K (before RoPE) and V in place, each `tokens` x [kvHead][headDim].
 * - `token`: called for every token as it is written, before anything attends to it.
 * - `block`: called once per block, when its last token is written (a codec whose groups span
 *   tokens: the tokens of the unfinished tail block stay as computed, like KIVI's full-precision
 *   residual window). The engine then prefills one token per forward, so no position attends to a
 *   block rewritten with statistics of later tokens.
 */
export interface KvWriteTransform {
  readonly granularity: 'token' | 'block';
  apply(layer: number, k: Float32Array, v: Float32Array, tokens: number): void;
}

/**
 * Write token `pos` of `seq` for `layer` through `transform`: a token transform rewrites the
 * row's K/V first; a block transform rewrites the block that `pos` completes, then re-derives its
 * rotated keys.
 */
export function writeTokenTransformed(
  pool: KvPool,
  transform: KvWriteTransform,
  layer: number,
  seq: SequencePages,
  pos: number,
  k: Float32Array,
  v: Float32Array,
  rowOffset: number,
): void {
  const kvd = pool.kvDim;
  if (transform.granularity === 'token') {
    transform.apply(layer, k.subarray(rowOffset, rowOffset + kvd), v.subarray(rowOffset, rowOffset + kvd), 1);
  }
  pool.writeToken(layer, pool.tokenOffset(seq, pos), pos, k, rowOffset, v, rowOffset);
  const bs = pool.blockSize;
  if (transform.granularity !== 'block' || (pos + 1) % bs !== 0) return;
  const first = pos + 1 - bs;
  const start = pool.tokenOffset(seq, first); // a block's tokens are contiguous in its page
  const keys = pool.keysPre[layer];
  const values = pool.values[layer];
  transform.apply(layer, keys.subarray(start, start + bs * kvd), values.subarray(start, start + bs * kvd), bs);
  for (let t = 0; t < bs; t++) {
    const off = start + t * kvd;
    pool.writeToken(layer, off, first + t, keys, off, values, off);
  }
}
