// One token's K and V written into the pool through a KvWriteTransform: a token transform rewrites
// it as it is written, and whatever leaves the residual window (or completes a block) is rewritten
// and re-rotated in place (the rules are on KvWriteTransform).
import type { KvPool, SequencePages } from "./kv-pool.js";
import { residualTokensOf, type KvWriteTransform } from "./kv-write-transform.js";

/** Write token `pos` of `seq` for `layer` through `transform`, then rewrite what leaves the window. */
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
  const window = residualTokensOf(transform);
  if (window === 0 && transform.granularity === "token") {
    transform.applyKeys(layer, k.subarray(rowOffset, rowOffset + kvd), 1);
    transform.applyValues(layer, v.subarray(rowOffset, rowOffset + kvd), 1);
  }
  pool.writeToken(layer, pool.tokenOffset(seq, pos), pos, k, rowOffset, v, rowOffset);
  const leaving = pos - window; // the position that leaves the window with this write
  if (leaving < 0 || (window === 0 && transform.granularity === "token")) return;
  const bs = pool.blockSize;
  const block = (leaving / bs) | 0;
  if (pool.isCachedPage(seq.pages[block])) return; // shared: rewritten before it was registered
  const keys = pool.keysPre[layer];
  const values = pool.values[layer];
  const blockDone = (leaving + 1) % bs === 0;
  if (window > 0) {
    const off = pool.tokenOffset(seq, leaving);
    transform.applyValues(layer, values.subarray(off, off + kvd), 1);
    if (transform.granularity === "token") transform.applyKeys(layer, keys.subarray(off, off + kvd), 1);
    if (!blockDone || transform.granularity === "token") {
      pool.writeToken(layer, off, leaving, keys, off, values, off);
      return;
    }
  } else if (!blockDone) {
    return;
  }
  const first = leaving + 1 - bs;
  const start = pool.tokenOffset(seq, first); // a block's tokens are contiguous in its page
  transform.applyKeys(layer, keys.subarray(start, start + bs * kvd), bs);
  if (window === 0) transform.applyValues(layer, values.subarray(start, start + bs * kvd), bs);
  for (let t = 0; t < bs; t++) {
    const off = start + t * kvd;
    pool.writeToken(layer, off, first + t, keys, off, values, off);
  }
}
