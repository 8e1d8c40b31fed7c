// The attention kernels' scratch memory: held by the caller (the forward pass) and passed to
// attendRow and attendHeads alike, so attending a row allocates nothing.

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
