// Internal: an open-addressing hash table from a 128-bit block hash to the holders of that block,
// kept in typed arrays so an indexed block costs bytes, not JS objects. Linear probing with
// backward-shift deletion (no tombstones). A holder is a non-negative int32 (see prefix-index.ts).
//
// Per slot, six int32 words side by side (one cache line or two, so a probe costs one memory
// miss, not three): the 16-byte key, the first holder (or EMPTY), and "rest": -1 (none), a second
// holder (>= 0), or a reference (<= -2) to an overflow list of every holder after the first.
// At most MAX_LOAD_FACTOR full, so 24 / 0.35 = 69 bytes per block in the worst case right after
// growth, 24 / 0.7 = 34 at best, for blocks with one or two holders.
// Not part of the public API; PrefixIndex validates everything before calling in.

/** Slots of a new table. */
const INITIAL_SLOTS = 1 << 10;
/** The table grows (doubles) when more than this share of its slots is used. */
const MAX_LOAD_FACTOR = 0.7;
/** The table shrinks (halves) when fewer than this share of its slots is used. */
const MIN_LOAD_FACTOR = 0.15;
const EMPTY = -1;
const NO_REST = -1;
/** Words per slot: key 0..3, first holder 4, rest 5 (exported for PrefixIndex's match walk). */
export const SLOT_WORDS = 6;
export const SLOT_FIRST = 4;
export const SLOT_REST = 5;
const STRIDE = SLOT_WORDS;
const FIRST = SLOT_FIRST;
const REST = SLOT_REST;

/** Reads the 4 little-endian words of a 16-byte hash starting at `off`. */
function word(h: Uint8Array, off: number): number {
  return h[off] | (h[off + 1] << 8) | (h[off + 2] << 16) | (h[off + 3] << 24);
}

/**
 * Hash table keyed by 16-byte block hashes. `seed` keys the slot function so that prompts cannot
 * be crafted (offline) to collide in one probe run.
 */
export class BlockTable {
  private slots: Int32Array;
  private mask: number;
  private used = 0;
  private readonly overflow: (number[] | undefined)[] = [];
  private words: Int32Array = new Int32Array(4 * 64);
  /** Where findMany's touching loads go, so the engine cannot drop them. */
  private sink = 0;
  private readonly freeOverflow: number[] = [];

  constructor(private readonly seed: number) {
    this.slots = BlockTable.emptySlots(INITIAL_SLOTS);
    this.mask = INITIAL_SLOTS - 1;
  }

  /** Distinct blocks held. */
  get size(): number {
    return this.used;
  }

  /** Number of slots (occupied or not); slot ids are in [0, capacity). */
  get capacity(): number {
    return this.mask + 1;
  }

  /**
   * The slot words themselves, for a read-only walk (PrefixIndex.match): slot i's first holder is
   * at `i * SLOT_WORDS + SLOT_FIRST`, its rest at `+ SLOT_REST` (see the header). Replaced on resize.
   */
  get slotWords(): Int32Array {
    return this.slots;
  }

  /** The overflow list a rest value <= -2 refers to (every holder after the first). */
  overflowOf(rest: number): readonly number[] {
    return this.overflow[-rest - 2]!;
  }

  /** Bytes of typed-array storage (overflow lists not included). */
  get storageBytes(): number {
    return this.slots.byteLength;
  }

  private static emptySlots(n: number): Int32Array {
    const a = new Int32Array(STRIDE * n);
    for (let i = 0; i < n; i++) {
      a[STRIDE * i + FIRST] = EMPTY;
      a[STRIDE * i + REST] = NO_REST;
    }
    return a;
  }

  private slotOf(w0: number, w1: number): number {
    let h = Math.imul(w0 ^ this.seed, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h ^ w1, 0xc2b2ae35);
    h ^= h >>> 16;
    return h & this.mask;
  }

  /** The slot a probe for `hash` starts at (tests and diagnostics). */
  homeSlot(hash: Uint8Array): number {
    return this.slotOf(word(hash, 0), word(hash, 4));
  }

  /** The slot holding `hash`, or -1. */
  find(hash: Uint8Array): number {
    const w0 = word(hash, 0);
    const w1 = word(hash, 4);
    const w2 = word(hash, 8);
    const w3 = word(hash, 12);
    const slots = this.slots;
    const mask = this.mask;
    let i = this.slotOf(w0, w1);
    for (;;) {
      const k = STRIDE * i;
      if (slots[k + FIRST] === EMPTY) return -1;
      if (slots[k] === w0 && slots[k + 1] === w1 && slots[k + 2] === w2 && slots[k + 3] === w3) return i;
      i = (i + 1) & mask;
    }
  }

  /**
   * The slots of `hashes[from, to)` (or -1 each) into `out[0, to - from)`. All home slots are
   * computed and touched first, so the table's memory misses overlap instead of queueing one
   * behind the other (the table is far larger than the caches; a lookup is a miss).
   */
  findMany(hashes: readonly Uint8Array[], from: number, to: number, out: Int32Array): void {
    const n = to - from;
    const words = this.scratchWords(n);
    const slots = this.slots;
    let touched = 0;
    for (let k = 0; k < n; k++) {
      const h = hashes[from + k];
      const w0 = word(h, 0);
      const w1 = word(h, 4);
      words[4 * k] = w0;
      words[4 * k + 1] = w1;
      words[4 * k + 2] = word(h, 8);
      words[4 * k + 3] = word(h, 12);
      const home = this.slotOf(w0, w1);
      out[k] = home;
      touched ^= slots[STRIDE * home];
    }
    this.sink ^= touched;
    const mask = this.mask;
    for (let k = 0; k < n; k++) {
      const w0 = words[4 * k];
      const w1 = words[4 * k + 1];
      const w2 = words[4 * k + 2];
      const w3 = words[4 * k + 3];
      let i = out[k];
      for (;;) {
        const b = STRIDE * i;
        if (slots[b + FIRST] === EMPTY) {
          i = -1;
          break;
        }
        if (slots[b] === w0 && slots[b + 1] === w1 && slots[b + 2] === w2 && slots[b + 3] === w3) break;
        i = (i + 1) & mask;
      }
      out[k] = i;
    }
  }

  /**
   * Touches the home slots of `hashes[from, to)` so that the misses of a following run of
   * lookups or updates overlap (nothing is read back; entries may move afterwards, so callers
   * look each hash up again).
   */
  touchMany(hashes: readonly Uint8Array[], from: number, to: number): void {
    const slots = this.slots;
    let touched = 0;
    for (let k = from; k < to; k++) {
      const h = hashes[k];
      touched ^= slots[STRIDE * this.slotOf(word(h, 0), word(h, 4))];
    }
    this.sink ^= touched;
  }

  private scratchWords(n: number): Int32Array {
    if (this.words.length < 4 * n) this.words = new Int32Array(4 * n);
    return this.words;
  }

  /** Is slot `i` occupied? */
  occupied(i: number): boolean {
    return this.slots[STRIDE * i + FIRST] !== EMPTY;
  }

  /** Number of holders in occupied slot `i`. */
  holderCount(i: number): number {
    const r = this.slots[STRIDE * i + REST];
    return r === NO_REST ? 1 : r >= 0 ? 2 : 1 + this.overflow[-r - 2]!.length;
  }

  /** The `j`-th holder of occupied slot `i` (0 <= j < holderCount(i)). */
  holderAt(i: number, j: number): number {
    if (j === 0) return this.slots[STRIDE * i + FIRST];
    const r = this.slots[STRIDE * i + REST];
    return r >= 0 ? r : this.overflow[-r - 2]![j - 1];
  }

  /** The 16 bytes of the key in occupied slot `i`, copied into `out` at `offset`. */
  keyInto(i: number, out: Uint8Array, offset = 0): void {
    for (let w = 0; w < 4; w++) {
      const v = this.slots[STRIDE * i + w];
      out[offset + 4 * w] = v & 0xff;
      out[offset + 4 * w + 1] = (v >>> 8) & 0xff;
      out[offset + 4 * w + 2] = (v >>> 16) & 0xff;
      out[offset + 4 * w + 3] = (v >>> 24) & 0xff;
    }
  }

  /** Adds `holder` to the block `hash` (inserting the block); false when it was already there. */
  addHolder(hash: Uint8Array, holder: number): boolean {
    const w0 = word(hash, 0);
    const w1 = word(hash, 4);
    const w2 = word(hash, 8);
    const w3 = word(hash, 12);
    const slots = this.slots;
    let i = this.slotOf(w0, w1);
    for (;;) {
      const k = STRIDE * i;
      if (slots[k + FIRST] === EMPTY) break;
      if (slots[k] === w0 && slots[k + 1] === w1 && slots[k + 2] === w2 && slots[k + 3] === w3) return this.appendHolder(i, holder);
      i = (i + 1) & this.mask;
    }
    if (this.used + 1 > MAX_LOAD_FACTOR * this.capacity) {
      this.resize(this.capacity * 2);
      return this.addHolder(hash, holder);
    }
    const k = STRIDE * i;
    slots[k] = w0;
    slots[k + 1] = w1;
    slots[k + 2] = w2;
    slots[k + 3] = w3;
    slots[k + FIRST] = holder;
    slots[k + REST] = NO_REST;
    this.used += 1;
    return true;
  }

  /**
   * Removes `holder` from occupied slot `i`: 0 if it was not there, 1 if removed and the block
   * stays, 2 if removed and the block left the table (the slot may hold another block now).
   */
  removeHolder(i: number, holder: number): 0 | 1 | 2 {
    const k = STRIDE * i;
    const slots = this.slots;
    const r = slots[k + REST];
    if (r === NO_REST) {
      if (slots[k + FIRST] !== holder) return 0;
      this.deleteSlot(i);
      return 2;
    }
    if (r >= 0) {
      if (slots[k + FIRST] === holder) slots[k + FIRST] = r;
      else if (r !== holder) return 0;
      slots[k + REST] = NO_REST;
      return 1;
    }
    let found = false;
    this.removeHolders(i, (h) => h === holder, () => (found = true));
    return found ? 1 : 0;
  }

  /**
   * Removes the holders of occupied slot `i` that `drop` selects, calling `removed` for each.
   * Returns true when the block lost its last holder and left the table; the slot may then hold
   * another block shifted back into it, so a caller scanning slots looks at `i` again.
   */
  removeHolders(i: number, drop: (holder: number) => boolean, removed: (holder: number) => void): boolean {
    const r = this.slots[STRIDE * i + REST];
    const f = this.slots[STRIDE * i + FIRST];
    if (r === NO_REST) {
      if (!drop(f)) return false;
      removed(f);
      this.deleteSlot(i);
      return true;
    }
    const all = r >= 0 ? [f, r] : [f, ...this.overflow[-r - 2]!];
    const kept: number[] = [];
    for (const h of all) {
      if (drop(h)) removed(h);
      else kept.push(h);
    }
    if (kept.length === all.length) return false;
    if (r < 0) this.releaseOverflow(-r - 2);
    if (kept.length === 0) {
      this.deleteSlot(i);
      return true;
    }
    this.slots[STRIDE * i + FIRST] = kept[0];
    this.slots[STRIDE * i + REST] = kept.length === 1 ? NO_REST : kept.length === 2 ? kept[1] : this.newOverflow(kept.slice(1));
    return false;
  }

  /** Shrinks the table when mostly empty (call after a bulk removal, never while scanning slots). */
  compact(): void {
    if (this.capacity > INITIAL_SLOTS && this.used < MIN_LOAD_FACTOR * this.capacity) {
      let cap = this.capacity;
      while (cap > INITIAL_SLOTS && this.used < MIN_LOAD_FACTOR * cap) cap >>>= 1;
      this.resize(cap);
    }
  }

  private appendHolder(i: number, holder: number): boolean {
    const k = STRIDE * i;
    if (this.slots[k + FIRST] === holder) return false;
    const r = this.slots[k + REST];
    if (r === NO_REST) {
      this.slots[k + REST] = holder;
      return true;
    }
    if (r >= 0) {
      if (r === holder) return false;
      this.slots[k + REST] = this.newOverflow([r, holder]);
      return true;
    }
    const list = this.overflow[-r - 2]!;
    if (list.includes(holder)) return false;
    list.push(holder);
    return true;
  }

  private newOverflow(list: number[]): number {
    const id = this.freeOverflow.pop() ?? this.overflow.length;
    this.overflow[id] = list;
    return -id - 2;
  }

  private releaseOverflow(id: number): void {
    this.overflow[id] = undefined;
    this.freeOverflow.push(id);
  }

  /** Backward-shift deletion: later entries of the probe run move back so lookups stay exact. */
  private deleteSlot(hole: number): void {
    const mask = this.mask;
    const slots = this.slots;
    let i = hole;
    let j = hole;
    for (;;) {
      j = (j + 1) & mask;
      if (slots[STRIDE * j + FIRST] === EMPTY) break;
      const ideal = this.slotOf(slots[STRIDE * j], slots[STRIDE * j + 1]);
      // entry j may move to i only if its ideal slot is not cyclically within (i, j]
      const between = i <= j ? ideal > i && ideal <= j : ideal > i || ideal <= j;
      if (between) continue;
      slots.copyWithin(STRIDE * i, STRIDE * j, STRIDE * j + STRIDE);
      i = j;
    }
    slots[STRIDE * i + FIRST] = EMPTY;
    slots[STRIDE * i + REST] = NO_REST;
    this.used -= 1;
  }

  private resize(n: number): void {
    const old = this.slots;
    const slots = BlockTable.emptySlots(n);
    this.slots = slots;
    this.mask = n - 1;
    for (let s = 0; s < old.length; s += STRIDE) {
      if (old[s + FIRST] === EMPTY) continue;
      let i = this.slotOf(old[s], old[s + 1]);
      while (slots[STRIDE * i + FIRST] !== EMPTY) i = (i + 1) & this.mask;
      slots.set(old.subarray(s, s + STRIDE), STRIDE * i);
    }
  }
}
