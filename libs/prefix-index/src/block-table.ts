// Internal: an open-addressing hash table from a 128-bit block hash to the holders of that block,
// kept in typed arrays so an indexed block costs bytes, not JS objects. Linear probing with
// backward-shift deletion (no tombstones). A holder is a non-negative int32 (see prefix-index.ts).
//
// Per slot: 16 bytes of key, 4 bytes of first holder, 4 bytes of "rest": -1 (none), a second
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

/** Reads the 4 little-endian words of a 16-byte hash starting at `off`. */
function word(h: Uint8Array, off: number): number {
  return h[off] | (h[off + 1] << 8) | (h[off + 2] << 16) | (h[off + 3] << 24);
}

/**
 * Hash table keyed by 16-byte block hashes. `seed` keys the slot function so that prompts cannot
 * be crafted (offline) to collide in one probe run.
 */
export class BlockTable {
  private keys: Int32Array;
  private first: Int32Array;
  private rest: Int32Array;
  private mask: number;
  private used = 0;
  private readonly overflow: (number[] | undefined)[] = [];
  private readonly freeOverflow: number[] = [];

  constructor(private readonly seed: number) {
    this.keys = new Int32Array(4 * INITIAL_SLOTS);
    this.first = new Int32Array(INITIAL_SLOTS).fill(EMPTY);
    this.rest = new Int32Array(INITIAL_SLOTS).fill(NO_REST);
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

  /** Bytes of typed-array storage (overflow lists not included). */
  get storageBytes(): number {
    return this.keys.byteLength + this.first.byteLength + this.rest.byteLength;
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
    const keys = this.keys;
    const first = this.first;
    const mask = this.mask;
    let i = this.slotOf(w0, w1);
    for (;;) {
      if (first[i] === EMPTY) return -1;
      const k = 4 * i;
      if (keys[k] === w0 && keys[k + 1] === w1 && keys[k + 2] === w2 && keys[k + 3] === w3) return i;
      i = (i + 1) & mask;
    }
  }

  /** Is slot `i` occupied? */
  occupied(i: number): boolean {
    return this.first[i] !== EMPTY;
  }

  /** Number of holders in occupied slot `i`. */
  holderCount(i: number): number {
    const r = this.rest[i];
    return r === NO_REST ? 1 : r >= 0 ? 2 : 1 + this.overflow[-r - 2]!.length;
  }

  /** The `j`-th holder of occupied slot `i` (0 <= j < holderCount(i)). */
  holderAt(i: number, j: number): number {
    if (j === 0) return this.first[i];
    const r = this.rest[i];
    return r >= 0 ? r : this.overflow[-r - 2]![j - 1];
  }

  /** The 16 bytes of the key in occupied slot `i`, copied into `out` at `offset`. */
  keyInto(i: number, out: Uint8Array, offset = 0): void {
    for (let w = 0; w < 4; w++) {
      const v = this.keys[4 * i + w];
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
    let i = this.slotOf(w0, w1);
    for (;;) {
      if (this.first[i] === EMPTY) break;
      const k = 4 * i;
      if (this.keys[k] === w0 && this.keys[k + 1] === w1 && this.keys[k + 2] === w2 && this.keys[k + 3] === w3) return this.appendHolder(i, holder);
      i = (i + 1) & this.mask;
    }
    if (this.used + 1 > MAX_LOAD_FACTOR * this.capacity) {
      this.resize(this.capacity * 2);
      return this.addHolder(hash, holder);
    }
    const k = 4 * i;
    this.keys[k] = w0;
    this.keys[k + 1] = w1;
    this.keys[k + 2] = w2;
    this.keys[k + 3] = w3;
    this.first[i] = holder;
    this.rest[i] = NO_REST;
    this.used += 1;
    return true;
  }

  /**
   * Removes the holders of occupied slot `i` that `drop` selects, calling `removed` for each.
   * Returns true when the block lost its last holder and left the table; the slot may then hold
   * another block shifted back into it, so a caller scanning slots looks at `i` again.
   */
  removeHolders(i: number, drop: (holder: number) => boolean, removed: (holder: number) => void): boolean {
    const r = this.rest[i];
    const f = this.first[i];
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
    this.first[i] = kept[0];
    this.rest[i] = kept.length === 1 ? NO_REST : kept.length === 2 ? kept[1] : this.newOverflow(kept.slice(1));
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
    if (this.first[i] === holder) return false;
    const r = this.rest[i];
    if (r === NO_REST) {
      this.rest[i] = holder;
      return true;
    }
    if (r >= 0) {
      if (r === holder) return false;
      this.rest[i] = this.newOverflow([r, holder]);
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
    let i = hole;
    let j = hole;
    for (;;) {
      j = (j + 1) & mask;
      if (this.first[j] === EMPTY) break;
      const ideal = this.slotOf(this.keys[4 * j], this.keys[4 * j + 1]);
      // entry j may move to i only if its ideal slot is not cyclically within (i, j]
      const between = i <= j ? ideal > i && ideal <= j : ideal > i || ideal <= j;
      if (between) continue;
      this.keys.copyWithin(4 * i, 4 * j, 4 * j + 4);
      this.first[i] = this.first[j];
      this.rest[i] = this.rest[j];
      i = j;
    }
    this.first[i] = EMPTY;
    this.rest[i] = NO_REST;
    this.used -= 1;
  }

  private resize(slots: number): void {
    const { keys, first, rest } = this;
    this.keys = new Int32Array(4 * slots);
    this.first = new Int32Array(slots).fill(EMPTY);
    this.rest = new Int32Array(slots).fill(NO_REST);
    this.mask = slots - 1;
    for (let s = 0; s < first.length; s++) {
      if (first[s] === EMPTY) continue;
      let i = this.slotOf(keys[4 * s], keys[4 * s + 1]);
      while (this.first[i] !== EMPTY) i = (i + 1) & this.mask;
      this.keys.set(keys.subarray(4 * s, 4 * s + 4), 4 * i);
      this.first[i] = first[s];
      this.rest[i] = rest[s];
    }
  }
}
