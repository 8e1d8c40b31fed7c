// @kvtier/kvstore: the node-local block store (over @kvtier/kv-tiers' tiers) and its gRPC
// service, so tests can run one in-process. The process entry point is dist/main.js.
export { KvBlockStore } from "./block-store.js";
export type { KvBlockStoreOptions, GetRunOptions, HeldBlock, PutResult, StoreInfo, HeldSet } from "./block-store.js";
export type { LeaseRequest } from "./lease-table.js";
export type { PutIntent, AckLevelName } from "./put-intent.js";
export { PutRefusedError, BlockConflictError } from "./put-refusal.js";
export type { PutRefusalReason } from "./put-refusal.js";
export type { BlockEventSink, StoreObserver } from "./block-events.js";
export { admitBlock } from "./block-admission.js";
export { PutAssembler } from "./put-assembler.js";
export { PutBudget, MAX_INFLIGHT_PUT_BYTES, PUT_RETRY_AFTER_MS } from "./put-budget.js";
export { parsePutHeader, parseBlockKeys, parseLease, MAX_HASHES_PER_REQUEST } from "./wire-requests.js";
export { KvStoreMetrics } from "./kvstore-metrics.js";
export type { DataPath, TierOccupancy } from "./kvstore-metrics.js";
export { createKvStoreService, createKvStoreServer } from "./kvstore-service.js";
export type { KvStoreServerOptions } from "./kvstore-service.js";
export { announcerSink, snapshotOf } from "./announcer-sink.js";
export { readKvStoreConfig, DEFAULT_KVSTORE_PORT, DEFAULT_HOST_CAPACITY_BYTES } from "./config.js";
export type { KvStoreConfig } from "./config.js";
