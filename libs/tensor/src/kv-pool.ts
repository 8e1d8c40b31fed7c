// The device tier: fixed pages of K (pre-RoPE and rotated) and V, per-sequence page tables, a
// refcounted prefix cache of full pages keyed by block hash, LRU eviction, stored/removed events.
import { EngineError } from "./engine-error.js";
import type { RopeTable } from "./kernels/rope.js";
import { PageKeyBounds } from "./page-key-bounds.js";
import type { KvWriteTransform } from "./kv-write-transform.js";
import type { PolicyState } from "./sequence-selection.js";

/** Listener for cache membership changes; hashes are 16-byte block hashes. */
export type KvCacheListener = (hashes: Uint8Array[]) => void;

/** Dimensions of a pool. */
export interface KvPoolShape {
  nLayers: number;
  nKvHeads: number;
  headDim: number;
  /** Tokens per page. */
  blockSize: number;
  /** Pages in the pool. */
  capacityBlocks: number;
}

/** A page-table entry whose page was given back (its positions live on only as selected entries). */
export const RELEASED_PAGE = -1;

/**
 * A sequence's page table: pages[i] holds tokens [i*blockSize, (i+1)*blockSize); extra pages are
 * reserved. A compressed sequence may have RELEASED_PAGE entries below its compression point and
 * hold `extraPages` of packed selected entries.
 */
export interface SequencePages {
  readonly pages: number[];
  length: number;
  /** Private pages held outside the position table (packed selected entries). */
  readonly extraPages: number[];
  /** Selection policy of the sequence, if any (sequence-selection.ts). */
  policy: PolicyState | null;
  /** The sequence's own KV write transform (a codec's residual window), else the engine's. */
  kvTransform: KvWriteTransform | null;
  /**
   * Leading tokens whose KV is exactly what a full-precision forward pass over the tokens gives:
   * computed over an exact prefix, attached from the cache (which holds only exact pages), or
   * imported losslessly. KV imported through a lossy codec, or computed over such KV, is not:
   * it never enters the cache nor is shared under the tokens' block hash, so a block hash always
   * names one content per codec.
   */
  exactTokens: number;
}

/** Hex form of a block hash, the cache key. */
const blockHashKey = (hash: Uint8Array): string => Buffer.from(hash.buffer, hash.byteOffset, hash.length).toString("hex");

/**
 * Paged KV storage. Page memory per layer is [page][slot][kvHead][headDim] for pre-RoPE keys,
 * rotated keys and values. A page is free, held by sequences (refcount > 0), or cached and
 * unreferenced (evictable, least recently released first). Cached pages are full and never written.
 */
export class KvPool {
  readonly blockSize: number;
  readonly capacityBlocks: number;
  readonly nLayers: number;
  readonly kvDim: number;
  /** Per layer, keys before RoPE (what blocks store). */
  readonly keysPre: Float32Array[];
  /** Per layer, keys rotated at their position (what attention reads). */
  readonly keysRot: Float32Array[];
  /** Per layer, values. */
  readonly values: Float32Array[];
  /** Quest metadata: per page, layer and KV head, channel min/max of the rotated keys. */
  readonly keyBounds: PageKeyBounds;
  private readonly rope: RopeTable;
  private readonly nKvHeads: number;
  private readonly refs: Int32Array;
  private readonly pageHash: (Uint8Array | null)[];
  private readonly free: number[] = [];
  private readonly cache = new Map<string, number>();
  /** Unreferenced cached pages; Map iteration order makes the first entry the LRU victim. */
  private readonly lru = new Map<number, string>();
  private readonly sequences = new Map<string, SequencePages>();
  private readonly storedListeners = new Set<KvCacheListener>();
  private readonly removedListeners = new Set<KvCacheListener>();
  /** Blocks entered since the last flush, as runs of one chain each, in chain order. */
  private pendingStored: Uint8Array[][] = [];
  /** Whether the last register call entered its block (a following block of its chain joins that run). */
  private runOpen = false;
  private pendingRemoved: Uint8Array[] = [];

  constructor(shape: KvPoolShape, rope: RopeTable) {
    for (const [name, value] of Object.entries(shape)) {
      if (!Number.isInteger(value) || value < 1) throw new EngineError("INVALID_ARGUMENT", `pool ${name} must be a positive integer`);
    }
    this.blockSize = shape.blockSize;
    this.capacityBlocks = shape.capacityBlocks;
    this.nLayers = shape.nLayers;
    this.nKvHeads = shape.nKvHeads;
    this.kvDim = shape.nKvHeads * shape.headDim;
    this.rope = rope;
    const floats = shape.capacityBlocks * shape.blockSize * this.kvDim;
    const alloc = (): Float32Array[] => Array.from({ length: shape.nLayers }, () => new Float32Array(floats));
    this.keysPre = alloc();
    this.keysRot = alloc();
    this.values = alloc();
    this.keyBounds = new PageKeyBounds(shape.nLayers, shape.capacityBlocks, this.kvDim);
    this.refs = new Int32Array(shape.capacityBlocks);
    this.pageHash = new Array<Uint8Array | null>(shape.capacityBlocks).fill(null);
    for (let p = shape.capacityBlocks - 1; p >= 0; p--) this.free.push(p);
  }

  /** Pages a sequence could still obtain: free pages plus unreferenced cached pages (evictable). */
  get availableBlocks(): number {
    return this.free.length + this.lru.size;
  }

  /** Pages currently in the prefix cache (referenced or not). */
  get cachedBlocks(): number {
    return this.cache.size;
  }

  /**
   * Subscribe to pages entering the cache; returns an unsubscribe function. Each call is one run
   * of a chain, in chain order (each block the child of the one before it), as a stored event
   * must list them: a flush with blocks of two sequences, or with a block already cached between
   * two new ones, calls the listener once per run.
   */
  onStored(listener: KvCacheListener): () => void {
    this.storedListeners.add(listener);
    return () => this.storedListeners.delete(listener);
  }

  /** Subscribe to pages leaving the cache (evicted); returns an unsubscribe function. */
  onRemoved(listener: KvCacheListener): () => void {
    this.removedListeners.add(listener);
    return () => this.removedListeners.delete(listener);
  }

  /** Deliver events collected during one engine call: removals in one batch, first, then each stored run. */
  flushEvents(): void {
    const removed = this.pendingRemoved;
    const stored = this.pendingStored;
    this.pendingRemoved = [];
    this.pendingStored = [];
    if (removed.length > 0) for (const l of this.removedListeners) l(removed);
    this.runOpen = false;
    for (const run of stored) for (const l of this.storedListeners) l(run);
  }

  /** Start an empty page table; throws DUPLICATE_SEQUENCE if the id is open. */
  openSequence(seqId: string): void {
    if (this.sequences.has(seqId)) throw new EngineError("DUPLICATE_SEQUENCE", `sequence ${seqId} is already open`);
    this.sequences.set(seqId, { pages: [], length: 0, extraPages: [], policy: null, kvTransform: null, exactTokens: 0 });
  }

  /** Release a sequence's pages; its cached full pages stay cached (and become evictable). */
  closeSequence(seqId: string): void {
    const seq = this.sequence(seqId);
    for (const page of seq.pages) if (page !== RELEASED_PAGE) this.release(page);
    for (const page of seq.extraPages) this.release(page);
    this.sequences.delete(seqId);
  }

  /** The page table of an open sequence; throws UNKNOWN_SEQUENCE. */
  sequence(seqId: string): SequencePages {
    const seq = this.sequences.get(seqId);
    if (seq === undefined) throw new EngineError("UNKNOWN_SEQUENCE", `no open sequence ${seqId}`);
    return seq;
  }

  /** Extra pages a sequence needs to hold `tokens` tokens. */
  pagesNeeded(seq: SequencePages, tokens: number): number {
    return Math.max(0, Math.ceil(tokens / this.blockSize) - seq.pages.length);
  }

  /** Give the sequence pages for `tokens` tokens; false (and no change) if the pool cannot. */
  tryGrow(seq: SequencePages, tokens: number): boolean {
    const need = this.pagesNeeded(seq, tokens);
    if (need > this.availableBlocks) return false;
    for (let i = 0; i < need; i++) seq.pages.push(this.allocate());
    return true;
  }

  /** For an empty sequence, share the longest run of leading cached pages; returns how many. */
  attachCached(seq: SequencePages, hashes: Uint8Array[]): number {
    if (seq.length !== 0) throw new EngineError("INVALID_ARGUMENT", "attachCached needs an empty sequence");
    let n = 0;
    for (; n < hashes.length; n++) {
      const page = this.cache.get(blockHashKey(hashes[n]));
      if (page === undefined) break;
      this.retain(page);
      // A page reserved earlier is given back: the shared one takes its place.
      if (n < seq.pages.length) this.release(seq.pages[n]);
      seq.pages[n] = page;
    }
    seq.length = n * this.blockSize;
    seq.exactTokens = seq.length; // cached pages are exact (registration checks it)
    return n;
  }

  /**
   * Enter a full page into the cache under `hash`. A hash already cached (another page with the
   * same tokens) or a page already registered under that hash is left as it is. `follows`: the
   * block is the child of the one the previous call named (the next block of the same chain), so
   * when both entered the cache they are announced in one run.
   */
  register(page: number, hash: Uint8Array, follows = false): void {
    const key = blockHashKey(hash);
    const current = this.pageHash[page];
    const continues = follows && this.runOpen;
    this.runOpen = false;
    if (current !== null) {
      if (blockHashKey(current) !== key) throw new EngineError("INVALID_ARGUMENT", `page already cached under another hash`);
      return;
    }
    if (this.cache.has(key)) return;
    const owned = hash.slice();
    this.cache.set(key, page);
    this.pageHash[page] = owned;
    if (continues) this.pendingStored[this.pendingStored.length - 1].push(owned);
    else this.pendingStored.push([owned]);
    this.runOpen = true;
  }

  /** True when `page` is in the prefix cache (shared: never written). */
  isCachedPage(page: number): boolean {
    return this.pageHash[page] !== null;
  }

  /** A private page for the caller (free, else the LRU cached one); throws POOL_EXHAUSTED. */
  takePage(): number {
    return this.allocate();
  }

  /** Give back a page from takePage or a page table (shared pages stay while others hold them). */
  dropPage(page: number): void {
    this.release(page);
  }

  /** Float offset of (page, slot) in the per-layer arrays. */
  slotOffset(page: number, slot: number): number {
    return (page * this.blockSize + slot) * this.kvDim;
  }

  /** Float offset of token `pos` of a sequence. */
  tokenOffset(seq: SequencePages, pos: number): number {
    const b = (pos / this.blockSize) | 0;
    return this.slotOffset(seq.pages[b], pos - b * this.blockSize);
  }

  /** Store one token's pre-RoPE key and value for a layer, deriving the rotated key at `pos`. */
  writeToken(layer: number, offset: number, pos: number, k: Float32Array, kOff: number, v: Float32Array, vOff: number): void {
    this.keysPre[layer].set(k.subarray(kOff, kOff + this.kvDim), offset);
    this.values[layer].set(v.subarray(vOff, vOff + this.kvDim), offset);
    this.rope.rotate(this.keysPre[layer], offset, this.keysRot[layer], offset, this.nKvHeads, pos);
    this.keyBounds.include(layer, (offset / this.pageFloats) | 0, this.keysRot[layer], offset);
  }

  /** Floats of one page in a per-layer array. */
  get pageFloats(): number {
    return this.blockSize * this.kvDim;
  }

  private allocate(): number {
    const page = this.free.pop() ?? this.evictOne();
    this.refs[page] = 1;
    this.keyBounds.reset(page);
    return page;
  }

  private evictOne(): number {
    const victim = this.lru.entries().next();
    if (victim.done === true) throw new EngineError("POOL_EXHAUSTED", "no free or evictable KV page");
    const [page, key] = victim.value;
    this.lru.delete(page);
    this.cache.delete(key);
    this.pendingRemoved.push(this.pageHash[page] as Uint8Array);
    this.pageHash[page] = null;
    return page;
  }

  private retain(page: number): void {
    if (this.refs[page]++ === 0) this.lru.delete(page);
  }

  private release(page: number): void {
    if (--this.refs[page] > 0) return;
    const hash = this.pageHash[page];
    if (hash !== null) this.lru.set(page, blockHashKey(hash));
    else this.free.push(page);
  }
}
