// A replay run as reported: the chosen policy and, from the same run, round-robin, random,
// least-loaded and one pooled LRU cache of workers × capacity tokens; as text lines and as the
// one JSON object the CLI prints last.
import { DEFAULT_ROUTING_WEIGHTS, ROUTING_POLICIES, type RoutingPolicy, type RoutingWeights } from "@kvtier/kv-router";
import { TRACE_BLOCK_TOKENS, traceDurationS, type TraceRequest } from "./mooncake-trace.js";
import { IMBALANCE_WINDOW_S } from "./load-imbalance.js";
import { RECENT_WORK_TAU_S } from "./prefill-queue-model.js";
import {
  assertReplayOptions,
  pooledLruHitRate,
  replayPolicy,
  resolvePrefillRate,
  totalInputTokens,
  type PolicyResult,
  type ReplayOptions,
} from "./replay.js";

/** Everything one replay run measured. */
export interface ReplayReport {
  policy: RoutingPolicy;
  requests: number;
  inputTokens: number;
  durationS: number;
  workers: number;
  capacityTokens: number;
  prefillTokensPerS: number;
  weights: RoutingWeights;
  /** Time constant of the recent work the kv policy's bounded-load terms read, s. */
  recentWorkTauS: number;
  /** Per policy, the chosen one included. */
  results: Record<RoutingPolicy, PolicyResult>;
  pooledLruHitRate: number;
  /** Wall-clock time of the whole run, ms. */
  wallMs: number;
}

/** Replays `trace` under every policy and the pooled LRU baseline. */
export function runReplay(trace: readonly TraceRequest[], policy: RoutingPolicy, options: ReplayOptions): ReplayReport {
  assertReplayOptions(options);
  const t0 = performance.now();
  const results = {} as Record<RoutingPolicy, PolicyResult>;
  for (const p of ROUTING_POLICIES) results[p] = replayPolicy(trace, p, options);
  return {
    policy,
    requests: trace.length,
    inputTokens: totalInputTokens(trace),
    durationS: traceDurationS(trace),
    workers: options.workers,
    capacityTokens: options.capacityTokens,
    prefillTokensPerS: resolvePrefillRate(trace, options),
    weights: options.weights ?? DEFAULT_ROUTING_WEIGHTS,
    recentWorkTauS: options.recentWorkTauS ?? RECENT_WORK_TAU_S,
    results,
    pooledLruHitRate: pooledLruHitRate(trace, options.workers * options.capacityTokens),
    wallMs: performance.now() - t0,
  };
}

const r4 = (x: number): number => Math.round(x * 10_000) / 10_000;

/** The summary object (the CLI prints it as its last line). */
export function replaySummary(report: ReplayReport): Record<string, unknown> {
  const own = report.results[report.policy];
  const rr = report.results["round-robin"];
  const ll = report.results["least-loaded"];
  return {
    policy: report.policy,
    hit_rate: r4(own.hitRate),
    load_imbalance: r4(own.loadImbalance),
    load_imbalance_floor: r4(own.loadImbalanceFloor),
    pooled_lru_hit_rate: r4(report.pooledLruHitRate),
    hit_rate_vs_pooled: r4(report.pooledLruHitRate === 0 ? 1 : own.hitRate / report.pooledLruHitRate),
    round_robin_hit_rate: r4(rr.hitRate),
    round_robin_load_imbalance: r4(rr.loadImbalance),
    round_robin_load_imbalance_floor: r4(rr.loadImbalanceFloor),
    load_imbalance_by_phase: own.loadImbalanceByPhase.map(r4),
    round_robin_load_imbalance_by_phase: rr.loadImbalanceByPhase.map(r4),
    peak_window_tokens: Math.round(own.peakWindowTokens),
    round_robin_peak_window_tokens: Math.round(rr.peakWindowTokens),
    peak_vs_round_robin: r4(rr.peakWindowTokens === 0 ? 1 : own.peakWindowTokens / rr.peakWindowTokens),
    least_loaded_hit_rate: r4(ll.hitRate),
    least_loaded_load_imbalance: r4(ll.loadImbalance),
    random_hit_rate: r4(report.results.random.hitRate),
    random_load_imbalance: r4(report.results.random.loadImbalance),
    workers: report.workers,
    capacity_tokens: report.capacityTokens,
    prefill_tokens_per_s: Math.round(report.prefillTokensPerS),
    requests: report.requests,
    trace_duration_s: r4(report.durationS),
    block_tokens: TRACE_BLOCK_TOKENS,
    time: "simulated at trace timestamps (no wall-clock pacing)",
    index_mismatches: own.indexMismatches,
    wall_ms: Math.round(report.wallMs),
  };
}

/** Human-readable lines: the setting, then one line per policy. */
export function replayLines(report: ReplayReport): string[] {
  const w = report.weights;
  const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
  return [
    `trace: ${report.requests} requests, ${report.inputTokens} prompt tokens over ${report.durationS.toFixed(1)} s (simulated time, blocks of ${TRACE_BLOCK_TOKENS} tokens as in the trace)`,
    `pool: ${report.workers} workers x ${report.capacityTokens} tokens of LRU device cache; prefill ${Math.round(report.prefillTokensPerS)} tokens/s per worker`,
    `kv weights: device ${w.device}, prefillLoad ${w.prefillLoad} per queued token, overload ${w.overload} per token of recent work above ${1 + w.overloadSlack} x the mean, penalty ${w.overloadPenalty} tokens of cached value per 100% of recent work above ${1 + w.overloadPenaltySlack} x the mean (tau ${report.recentWorkTauS} s); imbalance windows ${IMBALANCE_WINDOW_S} s; busiest: the busiest worker's uncached tokens per window, averaged`,
    `pooled LRU (${report.workers * report.capacityTokens} tokens): hit ${pct(report.pooledLruHitRate)}`,
    ...ROUTING_POLICIES.map((p) => {
      const r = report.results[p];
      return `${p.padEnd(13)} hit ${pct(r.hitRate).padStart(7)}  (${pct(report.pooledLruHitRate === 0 ? 1 : r.hitRate / report.pooledLruHitRate)} of pooled)  load imbalance ${r.loadImbalance.toFixed(3)} (floor ${r.loadImbalanceFloor.toFixed(3)})  busiest ${Math.round(r.peakWindowTokens)}${p === report.policy ? "  <- policy" : ""}`;
    }),
  ];
}
