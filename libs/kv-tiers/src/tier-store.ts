// What every storage tier of the kvstore has in common (host RAM and SSD files), so the block
// store composes tiers and reports on them without knowing how each keeps its bytes. Reading and
// writing differ per tier (RAM is synchronous, the SSD verifies reads and fsyncs durable writes),
// so data operations live on each tier's own class.
import type { BlockKey } from "./block-key.js";

/** Tiers a kvstore owns (a worker's device pool is announced by the worker, not here). */
export type TierName = "host" | "ssd";

/** What a put did in one tier. */
export type TierPutOutcome =
  /** The block was not held and now is. */
  | "created"
  /** The same bytes were already held under the key (idempotent put). */
  | "existing"
  /** Different bytes are held under the key; nothing changed. */
  | "conflict";

/** A block a tier dropped to make room. */
export interface EvictedBlock {
  key: BlockKey;
  /** The hash of the block before it in its chain, when known. */
  parent: Uint8Array | undefined;
  /** Its bytes, when the tier held them in memory (host): what write-back writes to SSD. */
  bytes: Uint8Array | undefined;
  /** Uses counted by the tier's policy, remembered ones included (the SSD admission gate reads it). */
  accesses: number;
}

/** Called with the blocks a tier dropped to make room, in eviction order. */
export type EvictionListener = (evicted: EvictedBlock[]) => void;

/** One tier of block storage with a byte capacity its accounting never exceeds. */
export interface TierStore {
  readonly tier: TierName;
  /** Bytes of block data this tier may hold. */
  readonly capacityBytes: number;
  /** Bytes of block data held now; never above capacityBytes. */
  readonly usedBytes: number;
  /** Blocks held now. */
  readonly blockCount: number;
  /** True when the block is held; not a use. */
  has(key: BlockKey): boolean;
  /** Drop a block; true when it was held. Not reported as an eviction. */
  delete(key: BlockKey): boolean;
  /** Keys held, in no promised order. */
  keys(): IterableIterator<BlockKey>;
  /** Keep `key` from being evicted (a lease) until a matching unpin; counted, may precede the block. */
  pin(key: BlockKey): void;
  unpin(key: BlockKey): void;
  /** Subscribe to evictions. */
  onEvicted(listener: EvictionListener): void;
}
