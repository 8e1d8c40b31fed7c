// Public entry of @kvtier/trace-replay: Mooncake-format traces (parse, write, generate) and
// replays of them through production's placement (kv-router's Placer) over simulated workers.
export { TRACE_BLOCK_TOKENS, MAX_TRACE_LINE_CHARS, parseMooncakeTrace, formatMooncakeTrace, traceDurationS } from "./mooncake-trace.js";
export type { TraceRequest } from "./mooncake-trace.js";
export { ReplayError } from "./replay-error.js";
export type { ReplayErrorCode } from "./replay-error.js";
export { LruBlockCache } from "./lru-block-cache.js";
export type { CacheTouch } from "./lru-block-cache.js";
export { SimulatedWorker } from "./simulated-worker.js";
export type { ServedRequest } from "./simulated-worker.js";
export { TraceBlockHashes } from "./trace-block-hash.js";
export { PrefillQueueModel, RECENT_WORK_TAU_S } from "./prefill-queue-model.js";
export { LoadImbalanceMeter, IMBALANCE_WINDOW_S, IMBALANCE_PHASES } from "./load-imbalance.js";
export { MAX_REPLAY_WORKERS, replayPolicy, pooledLruHitRate, resolvePrefillRate, assertReplayOptions, totalInputTokens } from "./replay.js";
export type { ReplayOptions, PolicyResult } from "./replay.js";
export { ReplayRouter, REPORT_PERIOD_MS, SIMULATED_DECODE_ID } from "./replay-router.js";
export type { ReplayRouterOptions } from "./replay-router.js";
export { runReplay, replaySummary, replayLines } from "./replay-report.js";
export type { ReplayReport } from "./replay-report.js";
export { sweepReplay, sweepLines, sweepSummary, phaseMetCounts, DEFAULT_SWEEP_SETTINGS, TARGET_HIT_VS_POOLED, TARGET_PEAK_VS_ROUND_ROBIN } from "./replay-sweep.js";
export type { PoolSetting, NamedTrace, SweepRow, SweepOptions } from "./replay-sweep.js";
/** The kv policy's weights and the routing policies (the router's), re-exported for the replay's callers. */
export { DEFAULT_ROUTING_WEIGHTS, ROUTING_POLICIES } from "@kvtier/kv-router";
export type { RoutingWeights, RoutingPolicy } from "@kvtier/kv-router";
export { generateTrace, TRACE_SHAPES, TRACE_SHAPE_NAMES, TRACE_RATE_PERIOD_S, MAX_GENERATED_REQUESTS } from "./trace-generator.js";
export type { TraceShape, TraceShapeName } from "./trace-generator.js";
