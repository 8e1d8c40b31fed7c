// The interface every storage tier of the kvstore implements (host RAM now, SSD later), so the
// block store composes tiers without knowing how each keeps its bytes.
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

/** Called with the keys a tier dropped to make room, oldest first. */
export type EvictionListener = (keys: BlockKey[]) => void;

/**
 * One tier of block storage with a byte capacity it never exceeds.
 * Data operations (get, put) are asynchronous because a disk tier reads and writes files;
 * the index operations (has, keys, delete) are synchronous because every tier keeps its index
 * in memory (a disk tier rebuilds it on start).
 */
export interface TierStore {
  readonly tier: TierName;
  /** Bytes of block data this tier may hold. */
  readonly capacityBytes: number;
  /** Bytes of block data held now; never above capacityBytes. */
  readonly usedBytes: number;
  /** Blocks held now. */
  readonly blockCount: number;
  /** True when the block is held; does not count as a use. */
  has(key: BlockKey): boolean;
  /** The block's bytes, marking it recently used; undefined when not held. Callers must not mutate them. */
  get(key: BlockKey): Promise<Uint8Array | undefined>;
  /**
   * Store `bytes` under `key`, evicting least recently used blocks as needed (reported to the
   * eviction listeners). Throws KvtierError RESOURCE_EXHAUSTED when the block cannot fit at all.
   * The tier keeps a reference to `bytes`: callers hand over ownership.
   */
  put(key: BlockKey, bytes: Uint8Array): Promise<TierPutOutcome>;
  /** Drop a block; true when it was held. Not reported as an eviction. */
  delete(key: BlockKey): boolean;
  /** Keys held, least recently used first. */
  keys(): IterableIterator<BlockKey>;
  /** Subscribe to evictions. */
  onEvicted(listener: EvictionListener): void;
}
