// @kvtier/kv-tiers: the kvstore's storage tiers as a library, with no service wiring. Block
// identity, the host RAM tier and the SSD tier (two-phase file writes, verified reads, a directory
// index rebuilt on start), write-back between them, and the eviction policies (LRU and the
// prefix-aware GreedyDual-Frequency policy), so the store, tests and `pnpm bench` use one copy.
export { blockKey, blockKeyId, hashHex } from "./block-key.js";
export type { BlockKey } from "./block-key.js";
export type { TierStore, TierName, TierPutOutcome, EvictionListener, EvictedBlock } from "./tier-store.js";
export { HostTier } from "./host-tier.js";
export type { HostTierOptions } from "./host-tier.js";
export { SsdTier, SsdWriteError } from "./ssd-tier.js";
export type { SsdTierOptions, SsdRead, SsdWriteFailure } from "./ssd-tier.js";
export type { SsdScan } from "./ssd-directory.js";
export { WriteBack, DEFAULT_SSD_ADMIT_MIN_ACCESSES } from "./write-back.js";
export type { WriteBackBlock, WriteBackListener, WriteBackCause, WriteBackAdmission, WriteBackResult } from "./write-back.js";
export type { EvictionPolicy, EvictedEntry } from "./eviction-policy.js";
export { LruPolicy } from "./lru-policy.js";
export { PrefixAwarePolicy } from "./prefix-aware-policy.js";
