// Which token two adjacent tokens merge into: run.c's lookup of the concatenated pieces, precomputed.

/** `mergeOf` result when the two pieces' concatenation is not a piece. */
export const NO_MERGE = -1;

/**
 * Every pair of token ids whose pieces concatenate to a piece, and the id that lookup finds
 * (the first id holding that piece). Built once per vocabulary by splitting each piece at every
 * byte, so `mergeOf(a, b)` equals run.c's `str_lookup(vocab[a] + vocab[b])` for every a, b in
 * the vocabulary, with no string built per call (the encoder's inner loop: it pays in
 * `pnpm bench tokenizer`).
 */
export class MergeTable {
  private readonly merges = new Map<number, number>();
  private readonly vocabSize: number;
  /** Longest piece (bytes) that is the merge of two pieces; 0 when none is. */
  readonly longestMergedPieceBytes: number;

  /**
   * @param keys the pieces as latin1 strings, indexed by token id.
   * @param lookup piece -> the first id holding it.
   */
  constructor(keys: readonly string[], lookup: ReadonlyMap<string, number>) {
    this.vocabSize = keys.length;
    const idsByKey = new Map<string, number[]>();
    keys.forEach((key, id) => {
      const ids = idsByKey.get(key);
      if (ids === undefined) idsByKey.set(key, [id]);
      else ids.push(id);
    });
    let longest = 0;
    for (const [key, merged] of lookup) {
      // Splits at 0 and key.length only matter for a vocabulary holding an empty piece.
      for (let at = 0; at <= key.length; at++) {
        const lefts = idsByKey.get(key.slice(0, at));
        const rights = idsByKey.get(key.slice(at));
        if (lefts === undefined || rights === undefined) continue;
        for (const a of lefts) for (const b of rights) this.merges.set(a * this.vocabSize + b, merged);
        longest = Math.max(longest, key.length);
      }
    }
    this.longestMergedPieceBytes = longest;
  }

  /** The token `a` followed by `b` merges into, or {@link NO_MERGE}. Ids outside the vocabulary never merge. */
  mergeOf(a: number, b: number): number {
    if (a >= this.vocabSize || b >= this.vocabSize) return NO_MERGE;
    return this.merges.get(a * this.vocabSize + b) ?? NO_MERGE;
  }

  /** Whether `a` followed by some token merges (if BOS cannot, every output that asks for it keeps it). */
  mergesOnTheLeft(a: number): boolean {
    for (let b = 0; b < this.vocabSize; b++) if (this.merges.has(a * this.vocabSize + b)) return true;
    return false;
  }
}
