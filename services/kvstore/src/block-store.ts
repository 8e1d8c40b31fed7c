// The kvstore's domain: a content-addressed store of KV blocks keyed by (hash, codec) over a host
// tier and an optional SSD tier. It admits verified blocks only, acknowledges puts at `memory` or
// `durable`, serves leading runs of hash chains (promoting SSD hits to host, verifying every SSD
// read), leases runs, and reports what each tier holds. Its API (precheck, put, getRun, lookup,
// delete, release) is transport-neutral: the gRPC handlers and the fast data paths both call it.
// No gRPC, NATS or Prometheus here; the adapters wire those.
import type { Logger } from "@kvtier/platform";
import {
  blockKey,
  type BlockKey,
  blockKeyId,
  DEFAULT_SSD_ADMIT_MIN_ACCESSES,
  type EvictedBlock,
  type HostTier,
  type SsdTier,
  type TierName,
  type TierStore,
  WriteBack,
} from "@kvtier/kv-tiers";
import { admitBlock } from "./block-admission.js";
import { hashesByCodec, type BlockEventSink, type StoreObserver } from "./block-events.js";
import { LeaseTable, type LeaseRequest } from "./lease-table.js";
import type { PutIntent } from "./put-intent.js";
import { PutRefusedError } from "./put-refusal.js";
import { findBlock, type GetContext, type HeldBlock } from "./store-get.js";
import { storeDurably, storeInMemory, type PutResult } from "./store-put.js";

export type { PutResult } from "./store-put.js";
export type { HeldBlock } from "./store-get.js";

/** SSD events announced per tick on start (one event per chunk keeps each batch small). */
const ANNOUNCE_HASHES_PER_CHUNK = 4096;

/** Options of a {@link KvBlockStore}. */
export interface KvBlockStoreOptions {
  /** The store's id (its KV-event announcer id). */
  storeId: string;
  /** New at every start (the announcer's incarnation). */
  incarnation: string;
  /** The RAM tier. */
  host: HostTier;
  /** The disk tier, already opened. @default none: memory acks only */
  ssd?: SsdTier;
  /** Tokens per block in this deployment; blocks of another size are refused. */
  blockSize: number;
  /** Copy every memory put to SSD in the background. @default false (write-back of reused blocks only) */
  writeThrough?: boolean;
  /** Uses a block evicted from host needs to be written back to SSD. @default DEFAULT_SSD_ADMIT_MIN_ACCESSES (2) */
  ssdAdmitMinAccesses?: number;
  /** TTL of a lease whose request gives none. @default DEFAULT_LEASE_TTL_MS (30 s) */
  leaseTtlMs?: number;
  /** Where stored/removed events go. @default none */
  events?: BlockEventSink;
  /** Where hit/miss/eviction counts go. @default none */
  observer?: StoreObserver;
  /** Where corrupt blocks and failed background writes are reported. @default none */
  log?: Logger;
}

/** Options of {@link KvBlockStore.getRun}. */
export interface GetRunOptions {
  /** Lease the served blocks: none is evicted until the lease is released or ends. */
  lease?: LeaseRequest;
}

/** The store's identity and occupancy (top-level figures are the host tier's). */
export interface StoreInfo {
  storeId: string;
  incarnation: string;
  capacityBytes: number;
  usedBytes: number;
  blocks: number;
  tiers: TierOccupancy[];
}

/** Occupancy of one tier. */
export interface TierOccupancy {
  tier: TierName;
  bytes: number;
  blocks: number;
  capacityBytes: number;
}

/** What the store holds in one tier and codec (for snapshots). */
export interface HeldSet {
  tier: TierName;
  codec: string;
  hashes: Uint8Array[];
}

/** Node-local block store over a host tier and an optional SSD tier. */
export class KvBlockStore {
  readonly storeId: string;
  readonly incarnation: string;
  private readonly host: HostTier;
  private readonly ssd: SsdTier | undefined;
  private readonly writeBack: WriteBack | undefined;
  private readonly writeThrough: boolean;
  private readonly leases: LeaseTable;
  private readonly blockSize: number;
  private readonly events: BlockEventSink | undefined;
  private readonly observer: StoreObserver | undefined;
  private readonly log: Logger | undefined;
  private readonly getContext: GetContext;
  /** Ids of the request-scoped blocks held (never announced, listed, or written to SSD). */
  private readonly scoped = new Set<string>();

  constructor(opts: KvBlockStoreOptions) {
    this.storeId = opts.storeId;
    this.incarnation = opts.incarnation;
    this.host = opts.host;
    this.ssd = opts.ssd;
    this.blockSize = opts.blockSize;
    this.writeThrough = opts.writeThrough ?? false;
    this.events = opts.events && this.unscopedOnly(opts.events);
    this.observer = opts.observer;
    this.log = opts.log;
    this.leases = new LeaseTable(
      (k) => this.tiers().forEach((t) => t.pin(k)),
      (k) => this.tiers().forEach((t) => t.unpin(k)),
      opts.leaseTtlMs,
    );
    this.getContext = { host: this.host, ssd: this.ssd, events: this.events, observer: this.observer, log: this.log };
    this.host.onEvicted((evicted) => this.onEvicted(this.host, evicted));
    if (this.ssd) {
      const ssd = this.ssd;
      ssd.onEvicted((evicted) => this.onEvicted(ssd, evicted));
      this.writeBack = new WriteBack(ssd, opts.ssdAdmitMinAccesses ?? DEFAULT_SSD_ADMIT_MIN_ACCESSES, (block, cause, result, err) => {
        this.observer?.ssdWritten?.(cause, result);
        if (result === "written") {
          this.observer?.tierIo?.("ssd", "write", block.bytes.byteLength);
          if (cause === "eviction") this.observer?.demoted?.("host", "ssd");
          this.events?.stored("ssd", block.key.codec, [block.key.hash], block.parent);
        } else if (result !== "existing") {
          this.log?.warn("SSD write-back failed; the block stays out of SSD", {
            block: block.key.id,
            cause,
            result,
            err: err === undefined ? undefined : String(err),
          });
        }
      });
    }
  }

  /** True when an SSD tier exists (durable acks possible). */
  get hasSsd(): boolean {
    return this.ssd !== undefined;
  }

  /**
   * Refuse early what no bytes can fix: an ack level this store cannot give, or a block larger
   * than a tier it must enter. Called on the header, before the bytes arrive; {@link put} checks again.
   */
  precheck(intent: PutIntent): void {
    if (intent.requestScoped && intent.ack === "durable") {
      throw new PutRefusedError(
        "invalid",
        "INVALID_ARGUMENT",
        "header.request_scoped",
        "a request-scoped block is kept in memory only: ack=durable is refused",
      );
    }
    if (intent.ack === "durable" && !this.ssd) {
      throw new PutRefusedError(
        "durable_unsupported",
        "FAILED_PRECONDITION",
        "header.ack",
        "ack=durable needs an SSD tier, and this store has none (set KVTIER_SSD_DIR)",
      );
    }
    if (intent.totalBytes > this.host.capacityBytes) {
      throw new PutRefusedError(
        "no_room",
        "RESOURCE_EXHAUSTED",
        "header.total_bytes",
        `${intent.totalBytes} bytes exceed the host tier's capacity of ${this.host.capacityBytes} bytes`,
      );
    }
    if (intent.ack === "durable" && this.ssd && intent.totalBytes > this.ssd.capacityBytes) {
      throw new PutRefusedError(
        "no_room",
        "RESOURCE_EXHAUSTED",
        "header.total_bytes",
        `${intent.totalBytes} bytes exceed the SSD tier's capacity of ${this.ssd.capacityBytes} bytes`,
      );
    }
  }

  /**
   * Verify `bytes` against the intent and store them. `memory`: in the host tier when this
   * resolves (and copied to SSD in the background with write-through). `durable`: written and
   * fsynced on SSD (file and directory) when this resolves, and kept in host if it fits.
   * Idempotent for identical bytes; throws BlockConflictError for different bytes under the same
   * key, PutRefusedError for anything else refused. Takes ownership of `bytes`.
   */
  async put(intent: PutIntent, bytes: Uint8Array): Promise<PutResult> {
    this.precheck(intent);
    const header = admitBlock(intent, bytes, { blockSize: this.blockSize });
    const ctx = { host: this.host, ssd: this.ssd, events: this.events, observer: this.observer };
    if (intent.ack === "durable" && this.ssd) return storeDurably({ ...ctx, ssd: this.ssd }, intent, bytes, header.checksum);
    // a new request-scoped block; one already held as a shared block stays shared (and announced)
    const newlyScoped =
      intent.requestScoped === true && !this.scoped.has(intent.key.id) && !this.host.has(intent.key) && !this.ssd?.has(intent.key);
    if (newlyScoped) this.scoped.add(intent.key.id);
    let r: PutResult;
    try {
      r = storeInMemory(ctx, intent, bytes, header.checksum);
    } catch (err) {
      if (newlyScoped) this.scoped.delete(intent.key.id);
      throw err;
    }
    if (this.writeThrough && this.writeBack && !this.scoped.has(intent.key.id)) {
      this.observer?.ssdOffered?.(
        "write_through",
        this.writeBack.offer({ key: intent.key, bytes, parent: intent.parent }, "write_through", 0),
      );
    }
    return r;
  }

  /**
   * The leading run of `keys` the store holds, in order, stopping at the first block no tier
   * holds (or whose SSD copy fails verification: it is deleted, counted, reported and treated as
   * missing). SSD hits are promoted to host when they fit. With `opts.lease`, every served block
   * is pinned until the lease ends.
   */
  async getRun(keys: readonly BlockKey[], opts: GetRunOptions = {}): Promise<HeldBlock[]> {
    const run: HeldBlock[] = [];
    for (const key of keys) {
      const block = await findBlock(this.getContext, key);
      if (!block) break;
      if (opts.lease) this.leases.add(opts.lease, [key]);
      run.push(block);
    }
    return run;
  }

  /** End a lease taken by {@link getRun} (any transport); returns how many blocks it held. */
  release(leaseId: string): number {
    return this.leases.release(leaseId);
  }

  /** Tier of each leading block held (host before SSD); its length is the number of leading blocks. Not a use. */
  lookup(keys: readonly BlockKey[]): TierName[] {
    const tiers: TierName[] = [];
    for (const k of keys) {
      const t = this.host.has(k) ? "host" : this.ssd?.has(k) ? "ssd" : undefined;
      if (!t) break;
      tiers.push(t);
    }
    return tiers;
  }

  /** Drop blocks from every tier (leased ones too); returns how many were held anywhere. */
  delete(keys: readonly BlockKey[]): number {
    const held = new Set<string>();
    for (const tier of this.tiers()) {
      const gone = keys.filter((k) => tier.delete(k));
      for (const k of gone) held.add(k.id);
      for (const [codec, hashes] of hashesByCodec(gone)) this.events?.removed(tier.tier, codec, hashes);
    }
    return held.size;
  }

  info(): StoreInfo {
    return {
      storeId: this.storeId,
      incarnation: this.incarnation,
      capacityBytes: this.host.capacityBytes,
      usedBytes: this.host.usedBytes,
      blocks: this.host.blockCount,
      tiers: this.occupancy(),
    };
  }

  /** Everything held, per tier and codec, but request-scoped blocks. */
  held(): HeldSet[] {
    const shared = (keys: Iterable<BlockKey>): Iterable<BlockKey> =>
      this.scoped.size === 0 ? keys : [...keys].filter((k) => !this.scoped.has(k.id));
    return this.tiers().flatMap((t) => [...hashesByCodec(shared(t.keys()))].map(([codec, hashes]) => ({ tier: t.tier, codec, hashes })));
  }

  /** Whether the store holds `key` as a request-scoped block (tests and diagnostics). */
  isRequestScoped(key: BlockKey): boolean {
    return this.scoped.has(key.id);
  }

  /**
   * `sink` without the request-scoped blocks: their stored events are dropped, and a removal
   * drops them from the scoped set once no tier holds them (they only ever live in host).
   */
  private unscopedOnly(sink: BlockEventSink): BlockEventSink {
    const keep = (codec: string, hashes: Uint8Array[]): Uint8Array[] =>
      this.scoped.size === 0 ? hashes : hashes.filter((h) => !this.scoped.has(blockKeyId(h, codec)));
    return {
      stored: (tier, codec, hashes, parent) => {
        const kept = keep(codec, hashes);
        if (kept.length > 0) sink.stored(tier, codec, kept, kept.length === hashes.length ? parent : undefined);
      },
      removed: (tier, codec, hashes) => {
        const kept = keep(codec, hashes);
        if (this.scoped.size > 0) {
          for (const h of hashes) {
            const id = blockKeyId(h, codec);
            if (this.scoped.has(id) && !this.host.has(blockKey(h, codec)) && !this.ssd?.has(blockKey(h, codec))) this.scoped.delete(id);
          }
        }
        if (kept.length > 0) sink.removed(tier, codec, kept);
      },
    };
  }

  /** Occupancy of each tier, for gauges. */
  occupancy(): TierOccupancy[] {
    return this.tiers().map((t) => ({ tier: t.tier, bytes: t.usedBytes, blocks: t.blockCount, capacityBytes: t.capacityBytes }));
  }

  /** Leases held and blocks they pin, for gauges. */
  leaseCounts(): { leases: number; blocks: number } {
    return { leases: this.leases.size, blocks: this.leases.pinnedBlocks };
  }

  /** Announce what the SSD tier holds (after a start rebuilt its index), a chunk per tick. */
  async announceSsd(): Promise<number> {
    if (!this.ssd) return 0;
    let n = 0;
    for (const [codec, hashes] of hashesByCodec(this.ssd.keys())) {
      for (let i = 0; i < hashes.length; i += ANNOUNCE_HASHES_PER_CHUNK) {
        // one block per stored event: the keys come in no chain order, and an event's list is a chain
        for (const h of hashes.slice(i, i + ANNOUNCE_HASHES_PER_CHUNK)) this.events?.stored("ssd", codec, [h]);
        n += Math.min(ANNOUNCE_HASHES_PER_CHUNK, hashes.length - i);
        await new Promise((r) => setImmediate(r));
      }
    }
    return n;
  }

  /** End leases, finish background SSD writes and release the SSD directory. Idempotent. */
  async close(): Promise<void> {
    this.leases.close();
    await this.writeBack?.drain();
    await this.ssd?.close();
  }

  private tiers(): TierStore[] {
    return this.ssd ? [this.host, this.ssd] : [this.host];
  }

  private onEvicted(tier: TierStore, evicted: EvictedBlock[]): void {
    this.observer?.evicted(tier.tier, evicted.length);
    for (const [codec, hashes] of hashesByCodec(evicted.map((e) => e.key))) this.events?.removed(tier.tier, codec, hashes);
    if (tier.tier !== "host" || !this.writeBack) return;
    for (const e of evicted) {
      if (!e.bytes || this.scoped.has(e.key.id)) continue;
      this.observer?.ssdOffered?.(
        "eviction",
        this.writeBack.offer({ key: e.key, bytes: e.bytes, parent: e.parent }, "eviction", e.accesses),
      );
    }
  }
}
