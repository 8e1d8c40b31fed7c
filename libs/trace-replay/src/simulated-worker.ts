// One simulated worker of the replay: an LRU device cache of a fixed number of blocks that, like
// a real worker's KV pool, announces what it stores and evicts as numbered KV event batches.
import { DEVICE_CODEC, type KvIndexBatch, type KvIndexEvent } from "@kvtier/kv-router";
import { LruBlockCache } from "./lru-block-cache.js";
import type { TraceBlockHashes } from "./trace-block-hash.js";

/** What serving one request did on a worker. */
export interface ServedRequest {
  /** Leading blocks of the prompt that were in the worker's cache (prefix hits). */
  hitBlocks: number;
  /** The KV events the worker announces for it (stored, then removed), or null if nothing changed. */
  batch: KvIndexBatch | null;
}

/** A worker with an LRU device cache that announces its changes. */
export class SimulatedWorker {
  readonly cache: LruBlockCache;
  private seq = 0;

  constructor(
    readonly id: string,
    capacityBlocks: number,
    private readonly hashes: TraceBlockHashes,
    /** New per simulated process start, as a real announcer's. */
    readonly incarnation = `${id}-1`,
  ) {
    this.cache = new LruBlockCache(capacityBlocks);
  }

  /**
   * Prefills a request: counts its prefix hits, caches its blocks, and returns the events a real
   * worker would publish: one stored event per run of newly cached blocks that are consecutive in
   * the request's chain, with the block before the run as its parent.
   */
  serve(blockIds: readonly number[]): ServedRequest {
    const touch = this.cache.touch(blockIds);
    const events: KvIndexEvent[] = [];
    if (touch.inserted.length > 0) {
      const inserted = new Set(touch.inserted);
      for (let i = 0; i < blockIds.length;) {
        if (!inserted.has(blockIds[i])) {
          i++;
          continue;
        }
        let end = i + 1;
        while (end < blockIds.length && inserted.has(blockIds[end])) end++;
        const hashes = this.hashes.chain(blockIds.slice(i, end));
        events.push({
          kind: "stored",
          tier: "device",
          codec: DEVICE_CODEC,
          hashes,
          ...(i > 0 && { parent: this.hashes.of(blockIds[i - 1]) }),
        });
        i = end;
      }
    }
    if (touch.evicted.length > 0)
      events.push({ kind: "removed", tier: "device", codec: DEVICE_CODEC, hashes: this.hashes.chain(touch.evicted) });
    if (events.length === 0) return { hitBlocks: touch.leadingHits, batch: null };
    this.seq += 1;
    return {
      hitBlocks: touch.leadingHits,
      batch: { announcerId: this.id, incarnation: this.incarnation, seq: this.seq, snapshot: false, events },
    };
  }
}
