// The block store's outward signals: KV events (what the store now holds) and usage counts.
// Kept as interfaces so the store knows nothing of NATS or Prometheus.
import type { BlockKey } from "./block-key.js";
import type { TierName } from "./tier-store.js";

/** Receives what the store holds, per tier and codec (wired to the KvEventAnnouncer). */
export interface BlockEventSink {
  stored(tier: TierName, codec: string, hashes: Uint8Array[]): void;
  removed(tier: TierName, codec: string, hashes: Uint8Array[]): void;
}

/** Receives usage counts (wired to the metrics). */
export interface StoreObserver {
  /** A requested block was served from `tier`. */
  hit(tier: TierName): void;
  /** A requested block was not in `tier`. */
  miss(tier: TierName): void;
  /** `blocks` were dropped from `tier` to make room. */
  evicted(tier: TierName, blocks: number): void;
}

/** Group keys by codec, keeping their order, for one event per codec. */
export function hashesByCodec(keys: Iterable<BlockKey>): Map<string, Uint8Array[]> {
  const out = new Map<string, Uint8Array[]>();
  for (const k of keys) {
    const list = out.get(k.codec);
    if (list) list.push(k.hash);
    else out.set(k.codec, [k.hash]);
  }
  return out;
}
