// Internal: the block table's hash table (block-table.ts), which finds a record from a block hash.
// Open addressing with linear probing and backward-shift deletion (no tombstones): a slot is a
// pair of int32 words, (first key word, record id), 8 bytes, in one Int32Array of a power of two
// slots. A probe compares the first key word in the slot, and only on a match reads the record's
// other three key words (record-layout.ts): A/B (two builds in one process, interleaved; not in
// `pnpm bench router`, which has no switch for it): ingest x1.08-1.31 over slots holding only the
// record id, which would save 4 B per slot. `seed` keys the slot function so that prompts cannot
// be crafted (offline) to collide in one probe run. Functions over the array, which the block
// table keeps in a field of its own (block-table.ts).

import { EMPTY, RECORD_WORDS as RW } from "./record-layout.js";

/** Slots of a new table. */
export const INITIAL_SLOTS = 1 << 10;

/** A table of `n` free slots (`n` a power of two). */
export function emptySlots(n: number): Int32Array {
  const a = new Int32Array(2 * n);
  for (let i = 1; i < a.length; i += 2) a[i] = EMPTY;
  return a;
}

/** Slots of `slots`. */
export const slotCount = (slots: Int32Array): number => slots.length >>> 1;

/** The slot a probe for a key starting with word `w0` starts at. */
export function homeSlot(slots: Int32Array, seed: number, w0: number): number {
  let h = Math.imul(w0 ^ seed, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h & ((slots.length >>> 1) - 1);
}

/** Whether slot `s` is used. */
export const slotUsed = (slots: Int32Array, s: number): boolean => slots[2 * s + 1] !== EMPTY;

/** The id of the record in `recs` whose key is the four words, or -1. */
export function findSlot(slots: Int32Array, seed: number, recs: Int32Array, w0: number, w1: number, w2: number, w3: number): number {
  const mask = (slots.length >>> 1) - 1;
  let i = homeSlot(slots, seed, w0);
  for (;;) {
    const id = slots[2 * i + 1];
    if (id === EMPTY) return -1;
    if (slots[2 * i] === w0) {
      const r = RW * id;
      if (recs[r + 1] === w1 && recs[r + 2] === w2 && recs[r + 3] === w3) return id;
    }
    i = (i + 1) & mask;
  }
}

/** Adds record `id`, whose key starts with `w0` (not in the table yet; a slot is free). */
export function insertSlot(slots: Int32Array, seed: number, w0: number, id: number): void {
  const mask = (slots.length >>> 1) - 1;
  let i = homeSlot(slots, seed, w0);
  while (slots[2 * i + 1] !== EMPTY) i = (i + 1) & mask;
  slots[2 * i] = w0;
  slots[2 * i + 1] = id;
}

/**
 * Removes record `id`, whose key starts with `w0` (in the table), by backward-shift deletion:
 * later entries of the probe run move back so lookups stay exact.
 */
export function removeSlot(slots: Int32Array, seed: number, w0: number, id: number): void {
  const mask = (slots.length >>> 1) - 1;
  let i = homeSlot(slots, seed, w0);
  while (slots[2 * i + 1] !== id) i = (i + 1) & mask;
  let j = i;
  for (;;) {
    j = (j + 1) & mask;
    if (slots[2 * j + 1] === EMPTY) break;
    const ideal = homeSlot(slots, seed, slots[2 * j]);
    // entry j may move to i only if its ideal slot is not cyclically within (i, j]
    const between = i <= j ? ideal > i && ideal <= j : ideal > i || ideal <= j;
    if (between) continue;
    slots[2 * i] = slots[2 * j];
    slots[2 * i + 1] = slots[2 * j + 1];
    i = j;
  }
  slots[2 * i + 1] = EMPTY;
}

/** The entries of `slots` in a new table of `n` slots (a power of two, more than the entries). */
export function resizedSlots(slots: Int32Array, seed: number, n: number): Int32Array {
  const out = emptySlots(n);
  for (let s = 0; s < slots.length; s += 2) if (slots[s + 1] !== EMPTY) insertSlot(out, seed, slots[s], slots[s + 1]);
  return out;
}
