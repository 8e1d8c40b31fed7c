// Public entry of @kvtier/trace-replay: Mooncake-format traces (parse, write, generate) and
// replays of them through production's placement (kv-router's Placer) over simulated workers.
export { parseMooncakeTrace, formatMooncakeTrace } from "./mooncake-trace.js";
export type { TraceRequest } from "./mooncake-trace.js";
export { ReplayError } from "./replay-error.js";
export type { ReplayErrorCode } from "./replay-error.js";
export type { ReplayOptions, PolicyResult } from "./replay.js";
export { runReplay, replaySummary, replayLines } from "./replay-report.js";
export type { ReplayReport } from "./replay-report.js";
export { sweepReplay, sweepLines, sweepSummary, DEFAULT_SWEEP_SETTINGS } from "./replay-sweep.js";
export type { PoolSetting, NamedTrace, SweepRow, SweepOptions } from "./replay-sweep.js";
/** The kv policy's weights and the routing policies (the router's), re-exported for the replay's callers. */
export { DEFAULT_ROUTING_WEIGHTS, ROUTING_POLICIES } from "@kvtier/kv-router";
export type { RoutingWeights, RoutingPolicy } from "@kvtier/kv-router";
export { generateTrace, TRACE_SHAPE_NAMES } from "./trace-generator.js";
export type { TraceShape, TraceShapeName } from "./trace-generator.js";
