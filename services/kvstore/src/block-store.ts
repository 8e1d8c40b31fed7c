// The kvstore's domain: a content-addressed store of KV blocks keyed by (hash, codec) over its
// tiers. It admits verified blocks only, serves leading runs of hash chains and reports what it
// holds. No gRPC, NATS or Prometheus here; the adapters wire those.
import type { BlockKey } from "./block-key.js";
import { admitBlock } from "./block-admission.js";
import { hashesByCodec, type BlockEventSink, type StoreObserver } from "./block-events.js";
import type { PutIntent } from "./put-intent.js";
import { BlockConflictError, PutRefusedError } from "./put-refusal.js";
import type { TierName, TierStore } from "./tier-store.js";

/** Options of a {@link KvBlockStore}. */
export interface KvBlockStoreOptions {
  /** The store's id (its KV-event announcer id). */
  storeId: string;
  /** New at every start (the announcer's incarnation). */
  incarnation: string;
  /** The RAM tier. */
  host: TierStore;
  /** Tokens per block in this deployment; blocks of another size are refused. */
  blockSize: number;
  /** Where stored/removed events go. @default none */
  events?: BlockEventSink;
  /** Where hit/miss/eviction counts go. @default none */
  observer?: StoreObserver;
}

/** A block of a served run. */
export interface HeldBlock {
  key: BlockKey;
  tier: TierName;
  /** The stored bytes; do not mutate. */
  bytes: Uint8Array;
}

/** What a put did. */
export interface PutResult {
  /** False when the same block was already stored. */
  created: boolean;
  tier: TierName;
}

/** The store's identity and occupancy. */
export interface StoreInfo {
  storeId: string;
  incarnation: string;
  capacityBytes: number;
  usedBytes: number;
  blocks: number;
}

/** What the store holds in one tier and codec (for snapshots). */
export interface HeldSet {
  tier: TierName;
  codec: string;
  hashes: Uint8Array[];
}

/** Node-local block store. Only the host tier exists for now; SSD comes behind the same TierStore. */
export class KvBlockStore {
  readonly storeId: string;
  readonly incarnation: string;
  private readonly host: TierStore;
  private readonly blockSize: number;
  private readonly events: BlockEventSink | undefined;
  private readonly observer: StoreObserver | undefined;

  constructor(opts: KvBlockStoreOptions) {
    this.storeId = opts.storeId;
    this.incarnation = opts.incarnation;
    this.host = opts.host;
    this.blockSize = opts.blockSize;
    this.events = opts.events;
    this.observer = opts.observer;
    this.host.onEvicted((keys) => {
      this.observer?.evicted(this.host.tier, keys.length);
      for (const [codec, hashes] of hashesByCodec(keys)) this.events?.removed(this.host.tier, codec, hashes);
    });
  }

  /**
   * Refuse early what no bytes can fix: an ack level this store cannot give, or a block larger
   * than the host tier. Called on the header, before the bytes arrive; {@link put} checks again.
   */
  precheck(intent: PutIntent): void {
    if (intent.ack === "durable") {
      throw new PutRefusedError("durable_unsupported", "FAILED_PRECONDITION", "header.ack", "ack=durable needs an SSD tier, and this store has none yet");
    }
    if (intent.totalBytes > this.host.capacityBytes) {
      throw new PutRefusedError("no_room", "RESOURCE_EXHAUSTED", "header.total_bytes", `${intent.totalBytes} bytes exceed the host tier's capacity of ${this.host.capacityBytes} bytes`);
    }
  }

  /**
   * Verify `bytes` against the intent and store them (memory ack: in the host tier when this
   * resolves). Idempotent for identical bytes; throws BlockConflictError for different bytes
   * under the same key, PutRefusedError for anything else refused. Takes ownership of `bytes`.
   */
  async put(intent: PutIntent, bytes: Uint8Array): Promise<PutResult> {
    this.precheck(intent);
    admitBlock(intent, bytes, { blockSize: this.blockSize });
    const outcome = await this.host.put(intent.key, bytes);
    if (outcome === "conflict") throw new BlockConflictError(intent.key);
    if (outcome === "created") this.events?.stored(this.host.tier, intent.key.codec, [intent.key.hash]);
    return { created: outcome === "created", tier: this.host.tier };
  }

  /**
   * The leading run of `keys` the store holds, in order, stopping at the first missing block.
   * Marks the run as used from its last block to its first, so a chain's parents end up more
   * recently used than their children and LRU takes leaves first.
   */
  async getRun(keys: readonly BlockKey[]): Promise<HeldBlock[]> {
    let n = 0;
    while (n < keys.length && this.host.has(keys[n])) n++;
    const fetched = new Array<HeldBlock | undefined>(n);
    for (let i = n - 1; i >= 0; i--) {
      const bytes = await this.host.get(keys[i]);
      fetched[i] = bytes && { key: keys[i], tier: this.host.tier, bytes };
    }
    // A block evicted by a concurrent put while the run was read shortens the run there.
    let len = 0;
    while (len < n && fetched[len]) len++;
    if (len < keys.length) this.observer?.miss(this.host.tier);
    for (let i = 0; i < len; i++) this.observer?.hit(this.host.tier);
    return fetched.slice(0, len) as HeldBlock[];
  }

  /** Tier of each leading block held; its length is the number of leading blocks. Not a use. */
  lookup(keys: readonly BlockKey[]): TierName[] {
    const tiers: TierName[] = [];
    for (const k of keys) {
      if (!this.host.has(k)) break;
      tiers.push(this.host.tier);
    }
    return tiers;
  }

  /** Drop blocks; returns how many were held. */
  delete(keys: readonly BlockKey[]): number {
    const gone = keys.filter((k) => this.host.delete(k));
    for (const [codec, hashes] of hashesByCodec(gone)) this.events?.removed(this.host.tier, codec, hashes);
    return gone.length;
  }

  info(): StoreInfo {
    return {
      storeId: this.storeId,
      incarnation: this.incarnation,
      capacityBytes: this.host.capacityBytes,
      usedBytes: this.host.usedBytes,
      blocks: this.host.blockCount,
    };
  }

  /** Everything held, per tier and codec, least recently used first. */
  held(): HeldSet[] {
    return [...hashesByCodec(this.host.keys())].map(([codec, hashes]) => ({ tier: this.host.tier, codec, hashes }));
  }

  /** Occupancy of each tier, for gauges. */
  occupancy(): { tier: TierName; bytes: number; blocks: number; capacityBytes: number }[] {
    return [{ tier: this.host.tier, bytes: this.host.usedBytes, blocks: this.host.blockCount, capacityBytes: this.host.capacityBytes }];
  }
}
