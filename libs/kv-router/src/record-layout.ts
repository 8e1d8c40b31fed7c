// Internal: the layout of the block table's records (block-table.ts), read by its slot table
// (slot-table.ts) and the match walk (match-walk.ts). One record per distinct block, six int32
// words side by side at `id × RECORD_WORDS`: the 16-byte key (words 0-3, little-endian), the
// first holder (EMPTY when the record is free), and "rest": NO_REST, a second holder (>= 0), or
// a reference (<= -2) to an overflow list of every holder after the first.

/** Words per record. */
export const RECORD_WORDS = 6;
/** Word of a record's first holder. */
export const RECORD_FIRST = 4;
/** Word of a record's rest. */
export const RECORD_REST = 5;
/** A free record's first holder, and a free slot's record id. */
export const EMPTY = -1;
/** A rest of no holder after the first. */
export const NO_REST = -1;

/** Key word `off / 4` of a 16-byte hash: its 4 bytes from `off`, little-endian. */
export function keyWord(h: Uint8Array, off: number): number {
  return h[off] | (h[off + 1] << 8) | (h[off + 2] << 16) | (h[off + 3] << 24);
}
