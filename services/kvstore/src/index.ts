// @kvtier/kvstore: the node-local block store's pure parts and its gRPC service, so tests and
// tools can run one in-process. The process entry point is dist/main.js.
export { KvBlockStore } from "./block-store.js";
export type { KvBlockStoreOptions, HeldBlock, PutResult, StoreInfo, HeldSet } from "./block-store.js";
export { HostTier } from "./host-tier.js";
export type { HostTierOptions } from "./host-tier.js";
export type { TierStore, TierName, TierPutOutcome, EvictionListener } from "./tier-store.js";
export type { EvictionPolicy, EvictedEntry } from "./tiers/eviction-policy.js";
export { LruPolicy } from "./tiers/lru-policy.js";
export { PrefixAwarePolicy } from "./tiers/prefix-aware-policy.js";
export { blockKey, hashHex, BLOCK_HASH_BYTES } from "./block-key.js";
export type { BlockKey } from "./block-key.js";
export type { PutIntent, AckLevelName } from "./put-intent.js";
export { PutRefusedError, BlockConflictError } from "./put-refusal.js";
export type { PutRefusalReason } from "./put-refusal.js";
export type { BlockEventSink, StoreObserver } from "./block-events.js";
export { admitBlock } from "./block-admission.js";
export { PutAssembler } from "./put-assembler.js";
export { PutBudget, MAX_INFLIGHT_PUT_BYTES, PUT_RETRY_AFTER_MS } from "./put-budget.js";
export { parsePutHeader, parseBlockKeys, MAX_HASHES_PER_REQUEST } from "./wire-requests.js";
export { KvStoreMetrics } from "./kvstore-metrics.js";
export type { DataPath, TierOccupancy } from "./kvstore-metrics.js";
export { createKvStoreService, createKvStoreServer } from "./kvstore-service.js";
export type { KvStoreServerOptions } from "./kvstore-service.js";
export { announcerSink, snapshotOf } from "./announcer-sink.js";
export { readKvStoreConfig, DEFAULT_KVSTORE_PORT, DEFAULT_HOST_CAPACITY_BYTES } from "./config.js";
export type { KvStoreConfig } from "./config.js";
