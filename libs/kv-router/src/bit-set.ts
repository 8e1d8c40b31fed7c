// Internal: bit sets kept 32 per int32 word, one bit per record id: the block table's linked, run
// and fork bits (block-table.ts), and the scan the match walk runs over them (match-walk.ts).

/** Int32 words for one bit per id below `n`. */
export const bitWords = (n: number): number => (n + 31) >>> 5;

/** Bit `i`. */
export function bitAt(bits: Int32Array, i: number): boolean {
  return (bits[i >>> 5] & (1 << (i & 31))) !== 0;
}

export function setBit(bits: Int32Array, i: number, on: boolean): void {
  if (on) bits[i >>> 5] |= 1 << (i & 31);
  else bits[i >>> 5] &= ~(1 << (i & 31));
}

/** The first id in [from, to) whose bit is `set` (a one when true, a zero when false), or `to` when there is none. */
export function firstBit(bits: Int32Array, from: number, to: number, set: boolean): number {
  let at = from;
  while (at < to) {
    // the wanted bits of word at >>> 5, at or above bit at & 31
    const wanted = (set ? bits[at >>> 5] : ~bits[at >>> 5]) & (-1 << (at & 31));
    if (wanted !== 0) return Math.min(to, (at & ~31) + (31 - Math.clz32(wanted & -wanted)));
    at = (at | 31) + 1;
  }
  return to;
}
