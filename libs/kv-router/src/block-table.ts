// Internal: a map from a 128-bit block hash to the holders of that block, kept in typed arrays so
// an indexed block costs bytes, not JS objects. Not part of the public API; PrefixIndex validates
// everything before calling in.
//
// Two arrays:
// - Records, one per distinct block, at a record id: six int32 words side by side, the 16-byte
//   key, the first holder (EMPTY when the record is free), and "rest": -1 (none), a second holder
//   (>= 0), or a reference (<= -2) to an overflow list of every holder after the first
//   (record-layout.ts).
// - An open-addressing table (slot-table.ts) of (first key word, record id) pairs, 8 bytes per
//   slot, that finds a record from a hash.
//
// Why the split: a prompt is looked up along its chain, and the blocks of one chain are usually
// stored by one event, in chain order. Records of new blocks are given consecutive ids, so a walk
// down a chain finds block i + 1 in the record after block i's (`findAfter`): one sequential read
// the hardware prefetches, instead of one cache miss per block in a table far larger than the
// caches. Freed ids are reused last-freed-first, which keeps a chain evicted from its tail and
// stored again in order. Whenever the guess fails, the table is probed, so locality only ever
// changes the speed, never the answer.
//
// Beside each record, a 16-bit signature of its children (the blocks stored right after it in some
// chain, see linkChild): one bit per child, picked by the child's key, so a block with many
// continuations (a shared system prompt) shows many bits and a session's own context one.
//
// Beside each record too, three bits (see runBits): whether its block is the child of the record
// before it ("linked": a stored chain said so, or a walk with a true chain found them in a row),
// whether it is a possible branch point (two or more signature bits), and whether it continues the
// run of the record before it: linked to it, with the same holders. A walk down a chain skips a
// whole run by checking only its last key: block hashes are chained (each commits to its parent),
// so a query block equal to a linked record's key has the parent that record's predecessor holds.
// The bits are kept exact on every change of a record's holders, links or key (a few neighbouring
// words, in cache); a stored event must list a chain in order, as the wire format says
// (events.proto).
//
// Memory: 24 + 2 bytes per record (records grow by doubling) + 8 / load bytes per block in the
// table, at most MAX_LOAD_FACTOR full: about 38-62 bytes per block with one or two holders. This
// layout is for memory: `pnpm bench router` gives 44.7 B per block (bytes_per_block) against
// 337 B for the same blocks in a hex-keyed Map of holder objects (naive_bytes_per_block); the
// target is under 100.

import { bitAt, bitWords, setBit } from "./bit-set.js";
import { EMPTY, NO_REST, RECORD_FIRST as FIRST, RECORD_REST as REST, RECORD_WORDS as RW, keyWord as word } from "./record-layout.js";
import { INITIAL_SLOTS, emptySlots, findSlot, homeSlot, insertSlot, removeSlot, resizedSlots, slotCount, slotUsed } from "./slot-table.js";

/** Records of a new table. */
const INITIAL_RECORDS = 1 << 9;
/** The table grows (doubles) when more than this share of its slots is used. */
const MAX_LOAD_FACTOR = 0.7;
/** The table (and the records) shrink when fewer than this share is used, at compact(). */
const MIN_LOAD_FACTOR = 0.15;

/**
 * The signature bit of a child block whose key starts with word `w0`: one of 16, from the word
 * mixed (keys need not be uniform: the trace replay's are sequential ids).
 */
export function childBit(w0: number): number {
  let h = Math.imul(w0 ^ (w0 >>> 16), 0x45d9f3b);
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  return 1 << ((h ^ (h >>> 16)) & 15);
}

/** Set bits of a 16-bit value. */
export function bitCount16(x: number): number {
  x -= (x >>> 1) & 0x5555;
  x = (x & 0x3333) + ((x >>> 2) & 0x3333);
  x = (x + (x >>> 4)) & 0x0f0f;
  return (x + (x >>> 8)) & 0x1f;
}

/** Records keyed by 16-byte block hashes; `seed` keys the slot table's slot function. */
export class BlockTable {
  /** The slot table (slot-table.ts): (first key word, record id) per slot. */
  private slots: Int32Array;
  private recs: Int32Array;
  /** Per record: bit set of its children's signature bits (see {@link linkChild}). */
  private childSigs: Uint16Array;
  /** Per record, a bit: its block is the child of record id - 1's block (see {@link linkChild}, {@link learnLink}). */
  private linkedBits: Int32Array;
  /** Per record, a bit: it continues record id - 1's run (see {@link runBits}). */
  private runBitSet: Int32Array;
  /** Per record, a bit: its child signature has two bits or more (see {@link forkBits}). */
  private forkBitSet: Int32Array;
  /** Ids >= fresh were never used since the last compaction. */
  private fresh = 0;
  /** Freed record ids, reused last first. */
  private freeIds: Int32Array = new Int32Array(64);
  private freeCount = 0;
  private used = 0;
  private readonly overflow: (number[] | undefined)[] = [];
  private readonly freeOverflow: number[] = [];
  /** Where touchMany's loads go, so the engine cannot drop them. */
  private sink = 0;

  /**
   * `seed` keys the slot function; `nextRecordFirst` false makes every lookup probe the table
   * (the plain form, for A/B figures only: see PrefixIndexOptions.plainForms).
   */
  constructor(
    private readonly seed: number,
    private readonly nextRecordFirst = true,
  ) {
    this.slots = emptySlots(INITIAL_SLOTS);
    this.recs = BlockTable.emptyRecords(INITIAL_RECORDS);
    this.childSigs = new Uint16Array(INITIAL_RECORDS);
    this.linkedBits = new Int32Array(bitWords(INITIAL_RECORDS));
    this.runBitSet = new Int32Array(bitWords(INITIAL_RECORDS));
    this.forkBitSet = new Int32Array(bitWords(INITIAL_RECORDS));
  }

  /** Distinct blocks held. */
  get size(): number {
    return this.used;
  }

  /** Number of record ids ever handed out (free or not); record ids are in [0, capacity). */
  get capacity(): number {
    return this.fresh;
  }

  /** Records allocated (used, free, and not yet handed out). */
  private get recordRoom(): number {
    return this.recs.length / RW;
  }

  /** Number of slots of the hash table (tests and diagnostics). */
  get slotCount(): number {
    return slotCount(this.slots);
  }

  /**
   * The record words themselves, for a read-only walk (PrefixIndex.match): record i's first
   * holder is at `i * RECORD_WORDS + RECORD_FIRST`, its rest at `+ RECORD_REST` (see the
   * header). Replaced when the records grow or are compacted.
   */
  get records(): Int32Array {
    return this.recs;
  }

  /** The overflow list a rest value <= -2 refers to (every holder after the first). */
  overflowOf(rest: number): readonly number[] {
    return this.overflow[-rest - 2]!;
  }

  /**
   * Whether two rest values name the same holders after the first: equal values, or two overflow
   * lists with the same holders in the same order (a chain stored by the same events in the same
   * order has such lists, one per record).
   */
  sameRest(a: number, b: number): boolean {
    if (a === b) return true;
    if (a >= NO_REST || b >= NO_REST) return false;
    const x = this.overflow[-a - 2]!;
    const y = this.overflow[-b - 2]!;
    if (x.length !== y.length) return false;
    for (let k = 0; k < x.length; k++) if (x[k] !== y[k]) return false;
    return true;
  }

  /** Bytes of typed-array storage (overflow lists not included). */
  get storageBytes(): number {
    return (
      this.slots.byteLength + this.recs.byteLength + this.childSigs.byteLength + this.freeIds.byteLength + 3 * this.runBitSet.byteLength
    );
  }

  /**
   * Records that occupied record `child` continues occupied record `parent` in a chain: sets the
   * child's bit in the parent's signature. Idempotent (the same child sets the same bit), so a
   * chain stored again, by the same or another location, adds nothing. The signature lives as
   * long as the parent's record: it is cleared when the block leaves the table.
   */
  linkChild(parent: number, child: number): void {
    const sig = (this.childSigs[parent] |= childBit(this.recs[RW * child]));
    if ((sig & (sig - 1)) !== 0) setBit(this.forkBitSet, parent, true);
    if (child === parent + 1 && !bitAt(this.linkedBits, child)) {
      setBit(this.linkedBits, child, true);
      this.refreshRun(child);
    }
  }

  /**
   * Per record, a bit (record i: word i >>> 5, bit i & 31): record i continues record i - 1's
   * run. Both are in use, with the same holders (as {@link sameRest}), and record i's block was
   * stored as the child of record i - 1's ({@link linkChild}), so a chained query whose block
   * equals record i's key has record i - 1's key before it. Read-only, for the match walk;
   * replaced when the records grow or are compacted.
   */
  get runBits(): Int32Array {
    return this.runBitSet;
  }

  /**
   * Per record, a bit: its child signature has two bits or more (a branch point at the lowest
   * threshold a walk may ask for). Read-only, replaced as {@link runBits}.
   */
  get forkBits(): Int32Array {
    return this.forkBitSet;
  }

  /**
   * Records that record `child`'s block is the child of record `child - 1`'s, both in use, as a
   * walk with a true chain learns it ({@link PackedHashes.chained}: two of its hashes, one after
   * the other, are the keys of these two records). An index built from snapshots, whose lists are
   * not chains, links nothing until then.
   */
  learnLink(child: number): void {
    if (bitAt(this.linkedBits, child)) return;
    setBit(this.linkedBits, child, true);
    this.refreshRun(child);
  }

  /** Whether record `i`'s block was stored (or found by a walk) as the child of record i - 1's. */
  linked(i: number): boolean {
    return i < this.fresh && bitAt(this.linkedBits, i);
  }

  /** Recomputes record `i`'s run bit (after a change of its holders or links, or of record i - 1's). */
  private refreshRun(i: number): void {
    if (i >= this.fresh) return;
    const recs = this.recs;
    const k = RW * i;
    const on =
      i > 0 &&
      bitAt(this.linkedBits, i) &&
      recs[k + FIRST] !== EMPTY &&
      recs[k + FIRST] === recs[k - RW + FIRST] &&
      this.sameRest(recs[k + REST], recs[k - RW + REST]);
    setBit(this.runBitSet, i, on);
  }

  /** Recomputes the run bits that record `i`'s holders take part in (its own, and the next record's). */
  private holdersChanged(i: number): void {
    this.refreshRun(i);
    this.refreshRun(i + 1);
  }

  /**
   * Per record, its children's signature (see {@link linkChild}); read-only, for the match walk.
   * Replaced when the records grow or are compacted.
   */
  get childSignatures(): Uint16Array {
    return this.childSigs;
  }

  /** Room for `n` records. Ids >= `fresh` are never read, so they need no initialisation. */
  private static emptyRecords(n: number): Int32Array {
    return new Int32Array(RW * n);
  }

  /** The table slot a probe for `hash` starts at (tests and diagnostics). */
  homeSlot(hash: Uint8Array): number {
    return homeSlot(this.slots, this.seed, word(hash, 0));
  }

  /** Whether table slot `s` is used (tests and diagnostics). */
  slotUsed(s: number): boolean {
    return slotUsed(this.slots, s);
  }

  /** The record id of `hash`, or -1. */
  find(hash: Uint8Array): number {
    return findSlot(this.slots, this.seed, this.recs, word(hash, 0), word(hash, 4), word(hash, 8), word(hash, 12));
  }

  /**
   * The record id of `hash`, or -1, trying first the record after `prev` (the id of the block
   * before it in its chain, or -1): the common case when the chain was stored in order.
   */
  findAfter(hash: Uint8Array, prev: number): number {
    const w0 = word(hash, 0);
    const w1 = word(hash, 4);
    const w2 = word(hash, 8);
    const w3 = word(hash, 12);
    const r = RW * (prev + 1);
    const recs = this.recs;
    // A/B (pnpm bench router, ab_next_record_route_p50_ratio): route p50 x1.07-1.13 over probing the table for every block
    if (
      this.nextRecordFirst &&
      prev >= 0 &&
      prev + 1 < this.fresh &&
      recs[r] === w0 &&
      recs[r + 1] === w1 &&
      recs[r + 2] === w2 &&
      recs[r + 3] === w3 &&
      recs[r + FIRST] !== EMPTY
    ) {
      return prev + 1;
    }
    return findSlot(this.slots, this.seed, recs, w0, w1, w2, w3);
  }

  /**
   * Touches the home slots of `hashes[from, to)` so that the cache misses of a following run of
   * updates overlap instead of queueing one behind the other (nothing is read back).
   */
  touchMany(hashes: readonly Uint8Array[], from: number, to: number): void {
    const slots = this.slots;
    let touched = 0;
    for (let k = from; k < to; k++) touched ^= slots[2 * homeSlot(slots, this.seed, word(hashes[k], 0))];
    this.sink ^= touched;
  }

  /** Is record `i` in use? */
  occupied(i: number): boolean {
    return this.recs[RW * i + FIRST] !== EMPTY;
  }

  /** Number of holders in occupied record `i`. */
  holderCount(i: number): number {
    const r = this.recs[RW * i + REST];
    return r === NO_REST ? 1 : r >= 0 ? 2 : 1 + this.overflow[-r - 2]!.length;
  }

  /** The `j`-th holder of occupied record `i` (0 <= j < holderCount(i)). */
  holderAt(i: number, j: number): number {
    if (j === 0) return this.recs[RW * i + FIRST];
    const r = this.recs[RW * i + REST];
    return r >= 0 ? r : this.overflow[-r - 2]![j - 1];
  }

  /** The 16 bytes of the key of occupied record `i`, copied into `out` at `offset`. */
  keyInto(i: number, out: Uint8Array, offset = 0): void {
    for (let w = 0; w < 4; w++) {
      const v = this.recs[RW * i + w];
      out[offset + 4 * w] = v & 0xff;
      out[offset + 4 * w + 1] = (v >>> 8) & 0xff;
      out[offset + 4 * w + 2] = (v >>> 16) & 0xff;
      out[offset + 4 * w + 3] = (v >>> 24) & 0xff;
    }
  }

  /**
   * Adds `holder` to the block `hash`, inserting the block when new. Returns the block's record
   * id, as `~id` (negative) when the holder was already there. `prev`: the record of the block
   * before it in its chain, or -1; a new block takes the record after it when that one is free.
   */
  addHolder(hash: Uint8Array, holder: number, prev = -1): number {
    // updates probe the table (PrefixIndex touches the slots ahead); only the walk tries the next record first
    const found = this.find(hash);
    if (found >= 0) {
      if (!this.appendHolder(found, holder)) return ~found;
      this.holdersChanged(found);
      return found;
    }
    if (this.used + 1 > MAX_LOAD_FACTOR * this.slotCount) this.slots = resizedSlots(this.slots, this.seed, 2 * this.slotCount);
    const id = this.allocate(prev);
    const w0 = word(hash, 0);
    const r = RW * id;
    const recs = this.recs;
    recs[r] = w0;
    recs[r + 1] = word(hash, 4);
    recs[r + 2] = word(hash, 8);
    recs[r + 3] = word(hash, 12);
    recs[r + FIRST] = holder;
    recs[r + REST] = NO_REST;
    this.childSigs[id] = 0;
    insertSlot(this.slots, this.seed, w0, id);
    this.used += 1;
    // its run bit and the next record's are clear: a free record's links were cleared with it
    return id;
  }

  /**
   * Removes `holder` from occupied record `i`: 0 if it was not there, 1 if removed and the block
   * stays, 2 if removed and the block left the table (its record is free).
   */
  removeHolder(i: number, holder: number): 0 | 1 | 2 {
    const k = RW * i;
    const recs = this.recs;
    const r = recs[k + REST];
    if (r === NO_REST) {
      if (recs[k + FIRST] !== holder) return 0;
      this.deleteRecord(i);
      return 2;
    }
    if (r >= 0) {
      if (recs[k + FIRST] === holder) recs[k + FIRST] = r;
      else if (r !== holder) return 0;
      recs[k + REST] = NO_REST;
      this.holdersChanged(i);
      return 1;
    }
    let found = false;
    this.removeHolders(
      i,
      (h) => h === holder,
      () => (found = true),
    );
    return found ? 1 : 0;
  }

  /**
   * Removes the holders of occupied record `i` that `drop` selects, calling `removed` for each.
   * Returns true when the block lost its last holder and left the table.
   */
  removeHolders(i: number, drop: (holder: number) => boolean, removed: (holder: number) => void): boolean {
    const recs = this.recs;
    const r = recs[RW * i + REST];
    const f = recs[RW * i + FIRST];
    if (r === NO_REST) {
      if (!drop(f)) return false;
      removed(f);
      this.deleteRecord(i);
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
      recs[RW * i + REST] = NO_REST;
      this.deleteRecord(i);
      return true;
    }
    recs[RW * i + FIRST] = kept[0];
    recs[RW * i + REST] = kept.length === 1 ? NO_REST : kept.length === 2 ? kept[1] : this.newOverflow(kept.slice(1));
    this.holdersChanged(i);
    return false;
  }

  /**
   * Shrinks the table and the records when mostly empty (call after a bulk removal, never while
   * walking records). Live records keep their order, so chains stay consecutive.
   */
  compact(): void {
    let slots = this.slotCount;
    while (slots > INITIAL_SLOTS && this.used < MIN_LOAD_FACTOR * slots) slots >>>= 1;
    let records = this.recordRoom;
    while (records > INITIAL_RECORDS && this.used < MIN_LOAD_FACTOR * records) records >>>= 1;
    if (records < this.recordRoom) this.compactRecords(records, slots);
    else if (slots < this.slotCount) this.slots = resizedSlots(this.slots, this.seed, slots);
  }

  /** A free record id: the last freed one, else the next never used (the records grow when full). */
  private allocate(prev: number): number {
    // the record after the chain's previous block, when free, keeps the chain consecutive
    if (prev >= 0 && prev + 1 < this.fresh && this.recs[RW * (prev + 1) + FIRST] === EMPTY && this.takeFree(prev + 1)) return prev + 1;
    if (this.freeCount > 0) return this.freeIds[--this.freeCount];
    if (this.fresh === this.recordRoom) this.growRecords(2 * this.recordRoom);
    return this.fresh++;
  }

  /** Removes `id` from the free list when it is on top (the common case after a tail eviction). */
  private takeFree(id: number): boolean {
    if (this.freeCount === 0 || this.freeIds[this.freeCount - 1] !== id) return false;
    this.freeCount--;
    return true;
  }

  private growRecords(n: number): void {
    const recs = BlockTable.emptyRecords(n);
    recs.set(this.recs);
    this.recs = recs;
    const sigs = new Uint16Array(n);
    sigs.set(this.childSigs);
    this.childSigs = sigs;
    const bits = (old: Int32Array): Int32Array => {
      const b = new Int32Array(bitWords(n));
      b.set(old);
      return b;
    };
    this.linkedBits = bits(this.linkedBits);
    this.runBitSet = bits(this.runBitSet);
    this.forkBitSet = bits(this.forkBitSet);
  }

  private appendHolder(i: number, holder: number): boolean {
    const k = RW * i;
    const recs = this.recs;
    if (recs[k + FIRST] === holder) return false;
    const r = recs[k + REST];
    if (r === NO_REST) {
      recs[k + REST] = holder;
      return true;
    }
    if (r >= 0) {
      if (r === holder) return false;
      recs[k + REST] = this.newOverflow([r, holder]);
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

  /** Frees record `i` and removes its table slot. */
  private deleteRecord(id: number): void {
    const k = RW * id;
    const recs = this.recs;
    removeSlot(this.slots, this.seed, recs[k], id);
    recs[k + FIRST] = EMPTY;
    recs[k + REST] = NO_REST;
    // the record's links end with its block: a block stored here later has other parents and children
    setBit(this.linkedBits, id, false);
    setBit(this.runBitSet, id, false);
    setBit(this.forkBitSet, id, false);
    if (id + 1 < this.fresh) {
      setBit(this.linkedBits, id + 1, false);
      setBit(this.runBitSet, id + 1, false);
    }
    if (this.freeCount === this.freeIds.length) {
      const grown = new Int32Array(2 * this.freeIds.length);
      grown.set(this.freeIds);
      this.freeIds = grown;
    }
    this.freeIds[this.freeCount++] = id;
    this.used -= 1;
  }

  /** Moves the live records, in id order, to ids [0, used) of `records` new ones, and re-indexes them in `slots` slots. */
  private compactRecords(records: number, slots: number): void {
    const old = this.recs;
    const oldSigs = this.childSigs;
    const oldLinked = this.linkedBits;
    const recs = BlockTable.emptyRecords(records);
    const sigs = new Uint16Array(records);
    const linked = new Int32Array(bitWords(records));
    const forks = new Int32Array(bitWords(records));
    let next = 0;
    let lastMoved = -2;
    for (let k = 0; k < RW * this.fresh; k += RW) {
      if (old[k + FIRST] === EMPTY) continue;
      const id = k / RW;
      const sig = (sigs[next] = oldSigs[id]);
      if ((sig & (sig - 1)) !== 0) setBit(forks, next, true);
      // a link survives when its parent moved too, right before it (always so: freeing a
      // record clears the link of the record after it)
      if (lastMoved === id - 1 && bitAt(oldLinked, id)) setBit(linked, next, true);
      lastMoved = id;
      recs.set(old.subarray(k, k + RW), RW * next++);
    }
    this.recs = recs;
    this.childSigs = sigs;
    this.linkedBits = linked;
    this.forkBitSet = forks;
    this.runBitSet = new Int32Array(bitWords(records));
    this.fresh = next;
    for (let id = 1; id < next; id++) this.refreshRun(id);
    this.freeCount = 0;
    this.slots = emptySlots(slots);
    for (let id = 0; id < next; id++) insertSlot(this.slots, this.seed, recs[RW * id], id);
  }
}
