// The block store's outward signals: KV events (what the store now holds) and usage counts.
// Kept as interfaces so the store knows nothing of NATS or Prometheus.
import type { BlockKey, TierName, WriteBackAdmission, WriteBackCause, WriteBackResult } from "@kvtier/kv-tiers";

/** Receives what the store holds, per tier and codec (wired to the KvEventAnnouncer). */
export interface BlockEventSink {
  /** `parent`: the hash of the block before the first of `hashes`, when known. */
  stored(tier: TierName, codec: string, hashes: Uint8Array[], parent?: Uint8Array): void;
  removed(tier: TierName, codec: string, hashes: Uint8Array[]): void;
}

/** Where a checksum was checked: a put arriving over the network, or a block read from SSD. */
export type ChecksumStage = "receive" | "ssd_read";

/** Receives usage counts (wired to the metrics). */
export interface StoreObserver {
  /** A requested block was served from `tier`. */
  hit(tier: TierName): void;
  /** A requested block was not in `tier` (counted per tier looked in; the run ends at a block no tier has). */
  miss(tier: TierName): void;
  /** `blocks` were dropped from `tier` to make room. */
  evicted(tier: TierName, blocks: number): void;
  /** A block read from `from` was copied into `to` (SSD to host on a hit). */
  promoted?(from: TierName, to: TierName): void;
  /** A block evicted from `from` was copied into `to` (write-back). */
  demoted?(from: TierName, to: TierName): void;
  /** Bytes moved into (`write`) or out of (`read`) a tier's storage, whatever the data path. */
  tierIo?(tier: TierName, op: "read" | "write", bytes: number): void;
  /** A block failed its checksum (or structure) check at `stage`. */
  checksumFailed?(stage: ChecksumStage): void;
  /** What the SSD reuse gate did with a block offered to it. */
  ssdOffered?(cause: WriteBackCause, admission: WriteBackAdmission): void;
  /** How a background SSD write ended. */
  ssdWritten?(cause: WriteBackCause, result: WriteBackResult): void;
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
