// Public entry of @kvtier/kv-router: block identity, the prefix index, KV-event sequencing, the
// routing score, and placement (policies, this replica's load ledger, peers' shares, sessions).
// Pure library (node:crypto and @kvtier/core only); services adapt it to gRPC, NATS and Redis.
export {
  HASH_SCHEME,
  MAX_BLOCK_SIZE_TOKENS,
  MAX_NAMESPACE_FIELD_BYTES,
  namespaceHash,
  tenantSalt,
  chainNext,
  chainBlockHashes,
  hashChain,
  hashHex,
  hashFromHex,
  PackedHashes,
  reusableBlocks,
} from "./block-hash.js";
export type { BlockHash, BlockNamespace } from "./block-hash.js";
export type { Tier } from "./tier.js";
export { emptyMatch, mergeMatches, blocksByFastestTier } from "./location-match.js";
export type { LocationMatch, TierBlockCounts } from "./location-match.js";
export { PrefixIndex, MAX_INDEXED_LOCATIONS, MAX_INDEXED_CODECS, MAX_ID_CHARS } from "./prefix-index.js";
export type { HeldBlock, HeldVisitor, PrefixIndexOptions } from "./prefix-index.js";
export { AnnouncerTracker, RETIRED_INCARNATIONS_KEPT } from "./announcer-tracker.js";
export type { AcceptVerdict, AnnouncerState } from "./announcer-tracker.js";
export {
  chooseWorker,
  chooseCandidate,
  scoreWorker,
  assertRoutingWeights,
  shouldDisaggregate,
  DEFAULT_ROUTING_WEIGHTS,
  DEFAULT_LOCAL_PREFILL_MAX_TOKENS,
} from "./routing-cost.js";
export { Placer, ROUTING_POLICIES } from "./placer.js";
export type { Placement, PlacerOptions, PlacementRequest, LoadSources, RoutingPolicy } from "./placer.js";
export { Roster } from "./roster.js";
export type { RosterWorker } from "./roster.js";
export { LoadLedger } from "./load-ledger.js";
export { RequestCharge } from "./request-charge.js";
export type { RequestWork } from "./request-charge.js";
export type { WorkerShare, LedgerEntry } from "./load-ledger.js";
export { PeerLoads } from "./peer-loads.js";
export type { PeerTotal } from "./peer-loads.js";
export { SessionTable } from "./session-table.js";
export type { SessionWorkers } from "./session-table.js";
export { matchForCodec, DEVICE_CODEC } from "./codec-match.js";
export type { WorkerLoad, RoutingWeights, WorkerChoice, ChooseOptions, ChooseCandidateOptions } from "./routing-cost.js";
export { CandidateSet } from "./candidate-set.js";
export { IndexFeed, MAX_BUFFERED_BATCHES } from "./index-feed.js";
export type { FeedOutcome, FeedCounters } from "./index-feed.js";
export type { KvIndexEvent, KvIndexBatch } from "./kv-event.js";
export { PrefixIndexError } from "./errors.js";
export type { PrefixIndexErrorCode } from "./errors.js";
export { seededUniform } from "./seeded-uniform.js";
