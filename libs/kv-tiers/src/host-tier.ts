// The host tier: block bytes in process RAM under a byte capacity, with high/low watermarks.
// A put that would take the tier above its high watermark evicts, in the policy's order, down to
// the low watermark, so evictions (and the write-back they feed) come in batches rather than one
// per put; the capacity itself is never exceeded. Pinned (leased) blocks are never evicted.
import { KvtierError } from "@kvtier/core";
import { blockKeyId, type BlockKey } from "./block-key.js";
import type { EvictedBlock, EvictionListener, TierPutOutcome, TierStore } from "./tier-store.js";
import type { EvictionPolicy } from "./eviction-policy.js";
import { PrefixAwarePolicy } from "./prefix-aware-policy.js";

/** Default high watermark: evict once a put would fill more than this fraction of capacity. */
const DEFAULT_HIGH_WATERMARK = 0.95;
/** Default low watermark: evict down to this fraction of capacity. */
const DEFAULT_LOW_WATERMARK = 0.9;
/** Retry hint when the tier is full of leased blocks. */
const HOST_FULL_RETRY_AFTER_MS = 100;

interface Held {
  key: BlockKey;
  bytes: Uint8Array;
  parent: Uint8Array | undefined;
}

/** Options of a {@link HostTier}. */
export interface HostTierOptions {
  /** Bytes of block data the tier may hold (headers included, bookkeeping not). */
  capacityBytes: number;
  /** Fraction of capacity above which a put evicts. @default DEFAULT_HIGH_WATERMARK (0.95) */
  highWatermark?: number;
  /** Fraction of capacity eviction brings the tier down to. @default DEFAULT_LOW_WATERMARK (0.9) */
  lowWatermark?: number;
  /** Victim order. @default a new PrefixAwarePolicy */
  policy?: EvictionPolicy;
}

/** RAM tier; its used bytes never exceed its capacity. */
export class HostTier implements TierStore {
  readonly tier = "host" as const;
  readonly capacityBytes: number;
  private readonly highBytes: number;
  private readonly lowBytes: number;
  private readonly policy: EvictionPolicy;
  private used = 0;
  private readonly held = new Map<string, Held>();
  private readonly listeners: EvictionListener[] = [];

  constructor(opts: HostTierOptions) {
    if (!Number.isSafeInteger(opts.capacityBytes) || opts.capacityBytes < 1) {
      throw new RangeError(`capacityBytes must be a positive integer, got ${opts.capacityBytes}`);
    }
    const high = opts.highWatermark ?? DEFAULT_HIGH_WATERMARK;
    const low = opts.lowWatermark ?? Math.min(DEFAULT_LOW_WATERMARK, high);
    if (!(high > 0 && high <= 1 && low > 0 && low <= high)) {
      throw new RangeError(`watermarks must satisfy 0 < low <= high <= 1, got low ${low}, high ${high}`);
    }
    this.capacityBytes = opts.capacityBytes;
    this.highBytes = Math.floor(high * opts.capacityBytes);
    this.lowBytes = Math.floor(low * opts.capacityBytes);
    this.policy = opts.policy ?? new PrefixAwarePolicy();
  }

  get usedBytes(): number {
    return this.used;
  }

  get blockCount(): number {
    return this.held.size;
  }

  has(key: BlockKey): boolean {
    return this.held.has(key.id);
  }

  /** The block's bytes, counted as a use; undefined when not held. Callers must not mutate them. */
  getNow(key: BlockKey): Uint8Array | undefined {
    const h = this.held.get(key.id);
    if (!h) return undefined;
    this.policy.touch(key.id);
    return h.bytes;
  }

  /** True when different bytes are held under `key`. */
  conflicts(key: BlockKey, bytes: Uint8Array): boolean {
    const h = this.held.get(key.id);
    return h !== undefined && !Buffer.from(h.bytes.buffer, h.bytes.byteOffset, h.bytes.byteLength).equals(bytes);
  }

  /** Uses of the block so far (remembered ones included); not a use. */
  accesses(key: BlockKey): number {
    return this.policy.accesses(key.id);
  }

  /**
   * Store `bytes` under `key` (taking ownership), evicting per the watermarks. An identical block
   * already held counts as a use. Throws KvtierError RESOURCE_EXHAUSTED (field header.total_bytes)
   * when the block is larger than the tier, or cannot fit because the rest is leased.
   */
  putNow(key: BlockKey, bytes: Uint8Array, parent?: Uint8Array): TierPutOutcome {
    const existing = this.held.get(key.id);
    if (existing) {
      if (this.conflicts(key, bytes)) return "conflict";
      this.policy.touch(key.id);
      return "existing";
    }
    if (bytes.byteLength > this.capacityBytes) {
      throw new KvtierError(
        "RESOURCE_EXHAUSTED",
        `block of ${bytes.byteLength} bytes exceeds the host tier's capacity of ${this.capacityBytes} bytes`,
        {
          field: "header.total_bytes",
        },
      );
    }
    this.makeRoom(bytes.byteLength);
    if (this.used + bytes.byteLength > this.capacityBytes) {
      throw new KvtierError("RESOURCE_EXHAUSTED", "the host tier is full of leased blocks; retry after leases end", {
        field: "header.total_bytes",
        retryAfterMs: HOST_FULL_RETRY_AFTER_MS,
      });
    }
    this.held.set(key.id, { key, bytes, parent });
    this.policy.insert(key.id, parent && blockKeyId(parent, key.codec)); // a chain is stored in one codec
    this.used += bytes.byteLength;
    return "created";
  }

  delete(key: BlockKey): boolean {
    const h = this.held.get(key.id);
    if (!h) return false;
    this.held.delete(key.id);
    this.policy.remove(key.id);
    this.used -= h.bytes.byteLength;
    return true;
  }

  *keys(): IterableIterator<BlockKey> {
    for (const h of this.held.values()) yield h.key;
  }

  pin(key: BlockKey): void {
    this.policy.pin(key.id);
  }

  unpin(key: BlockKey): void {
    this.policy.unpin(key.id);
  }

  onEvicted(listener: EvictionListener): void {
    this.listeners.push(listener);
  }

  /** Evict so that `incoming` more bytes fit: down to the low watermark once past the high one. */
  private makeRoom(incoming: number): void {
    if (this.used + incoming <= this.highBytes) return;
    const target = Math.max(0, this.lowBytes - incoming);
    const victims: EvictedBlock[] = [];
    while (this.used > target) {
      const v = this.policy.evict();
      if (!v) break; // the rest is pinned
      const h = this.held.get(v.id);
      if (!h) continue;
      this.held.delete(v.id);
      this.used -= h.bytes.byteLength;
      victims.push({ key: h.key, parent: h.parent, bytes: h.bytes, accesses: v.accesses });
    }
    if (victims.length > 0) for (const l of this.listeners) l(victims);
  }
}
