// The host tier: block bytes in process RAM under a byte capacity, least recently used evicted
// first. A Map keeps insertion order, so moving a key to the end on use makes its first key the
// LRU victim in O(1).
import { KvtierError } from "@kvtier/platform";
import type { BlockKey } from "./block-key.js";
import type { EvictionListener, TierPutOutcome, TierStore } from "./tier-store.js";

interface Held {
  key: BlockKey;
  bytes: Uint8Array;
}

/** Options of a {@link HostTier}. */
export interface HostTierOptions {
  /** Bytes of block data the tier may hold (headers included, bookkeeping not). */
  capacityBytes: number;
}

/** RAM tier with LRU eviction; its used bytes never exceed its capacity. */
export class HostTier implements TierStore {
  readonly tier = "host" as const;
  readonly capacityBytes: number;
  private used = 0;
  private readonly held = new Map<string, Held>();
  private readonly listeners: EvictionListener[] = [];

  constructor(opts: HostTierOptions) {
    if (!Number.isSafeInteger(opts.capacityBytes) || opts.capacityBytes < 1) {
      throw new RangeError(`capacityBytes must be a positive integer, got ${opts.capacityBytes}`);
    }
    this.capacityBytes = opts.capacityBytes;
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

  async get(key: BlockKey): Promise<Uint8Array | undefined> {
    return this.getNow(key);
  }

  /** Synchronous {@link get}: the host tier never waits. */
  getNow(key: BlockKey): Uint8Array | undefined {
    const h = this.held.get(key.id);
    if (!h) return undefined;
    this.held.delete(key.id);
    this.held.set(key.id, h);
    return h.bytes;
  }

  async put(key: BlockKey, bytes: Uint8Array): Promise<TierPutOutcome> {
    return this.putNow(key, bytes);
  }

  /** Synchronous {@link put}. */
  putNow(key: BlockKey, bytes: Uint8Array): TierPutOutcome {
    const existing = this.held.get(key.id);
    if (existing) {
      if (!Buffer.from(existing.bytes.buffer, existing.bytes.byteOffset, existing.bytes.byteLength).equals(bytes)) return "conflict";
      this.getNow(key);
      return "existing";
    }
    if (bytes.byteLength > this.capacityBytes) {
      throw new KvtierError("RESOURCE_EXHAUSTED", `block of ${bytes.byteLength} bytes exceeds the host tier's capacity of ${this.capacityBytes} bytes`, {
        field: "header.total_bytes",
      });
    }
    this.evictFor(bytes.byteLength);
    this.held.set(key.id, { key, bytes });
    this.used += bytes.byteLength;
    return "created";
  }

  delete(key: BlockKey): boolean {
    const h = this.held.get(key.id);
    if (!h) return false;
    this.held.delete(key.id);
    this.used -= h.bytes.byteLength;
    return true;
  }

  *keys(): IterableIterator<BlockKey> {
    for (const h of this.held.values()) yield h.key;
  }

  onEvicted(listener: EvictionListener): void {
    this.listeners.push(listener);
  }

  /** Drop LRU blocks until `incoming` more bytes fit. */
  private evictFor(incoming: number): void {
    const victims: BlockKey[] = [];
    while (this.used + incoming > this.capacityBytes) {
      const oldest = this.held.values().next();
      if (oldest.done) break; // unreachable: incoming <= capacity
      this.delete(oldest.value.key);
      victims.push(oldest.value.key);
    }
    if (victims.length > 0) for (const l of this.listeners) l(victims);
  }
}
