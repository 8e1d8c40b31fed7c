// A sweep: the kv policy against round-robin and the pooled LRU over several traces and pool
// settings in one run, each row checked against the issue's targets (kv hit rate >= 0.95 of the
// pooled LRU's, kv load imbalance <= round-robin's). Runs only the policies the targets compare.
import type { RoutingWeights } from "@kvtier/prefix-index";
import type { TraceRequest } from "./mooncake-trace.js";
import { ReplayError } from "./replay-error.js";
import { pooledLruHitRate, replayPolicy, replayWindowOracle, type PolicyResult } from "./replay.js";

/** kv must reach this share of the pooled LRU's hit rate. */
export const TARGET_HIT_VS_POOLED = 0.95;

/** One pool setting: workers × capacity tokens each. */
export interface PoolSetting {
  workers: number;
  capacityTokens: number;
}

/** The settings a sweep uses unless told otherwise: the issue's 8 × 1.25M, the same 10M tokens split 4 and 16 ways, and half the memory. */
export const DEFAULT_SWEEP_SETTINGS: readonly PoolSetting[] = Object.freeze([
  { workers: 8, capacityTokens: 1_250_000 },
  { workers: 16, capacityTokens: 625_000 },
  { workers: 4, capacityTokens: 2_500_000 },
  { workers: 8, capacityTokens: 625_000 },
]);

/** A trace to sweep, with the name its rows carry. */
export interface NamedTrace {
  name: string;
  trace: readonly TraceRequest[];
}

/** One trace at one setting. */
export interface SweepRow {
  trace: string;
  workers: number;
  capacityTokens: number;
  pooledHitRate: number;
  kv: PolicyResult;
  roundRobin: PolicyResult;
  /** kv hit rate over the pooled LRU's (1 when the pooled LRU hits nothing). */
  hitVsPooled: number;
  hitTargetMet: boolean;
  imbalanceTargetMet: boolean;
  /** kv's busiest worker's uncached tokens per window over round-robin's (see load-imbalance.ts: the absolute load the ratio hides). */
  peakVsRoundRobin: number;
  /** The window oracle's load imbalance (see replayWindowOracle), when the sweep was asked for it. */
  windowOracleImbalance?: number;
}

/** How a sweep scores and what it adds. */
export interface SweepOptions {
  /** Weights of the kv policy. @default DEFAULT_ROUTING_WEIGHTS */
  weights?: RoutingWeights;
  /** See ReplayOptions.recentWorkTauS. */
  recentWorkTauS?: number;
  /** Also replay the window oracle on every row (see replayWindowOracle). @default false */
  windowOracle?: boolean;
}

/**
 * Replays every trace at every setting (kv and round-robin, plus the pooled LRU).
 * @throws {ReplayError} `INVALID_OPTION` on an empty list or a bad setting.
 */
export function sweepReplay(traces: readonly NamedTrace[], settings: readonly PoolSetting[], sweep: SweepOptions = {}): SweepRow[] {
  const { weights, recentWorkTauS } = sweep;
  if (traces.length === 0) throw new ReplayError("INVALID_OPTION", "traces", "expected at least one trace");
  if (settings.length === 0) throw new ReplayError("INVALID_OPTION", "settings", "expected at least one setting");
  const rows: SweepRow[] = [];
  for (const { name, trace } of traces) {
    for (const { workers, capacityTokens } of settings) {
      const options = { workers, capacityTokens, weights, recentWorkTauS };
      const kv = replayPolicy(trace, "kv", options);
      const roundRobin = replayPolicy(trace, "round-robin", options);
      const pooledHitRate = pooledLruHitRate(trace, workers * capacityTokens);
      const hitVsPooled = pooledHitRate === 0 ? 1 : kv.hitRate / pooledHitRate;
      rows.push({
        trace: name, workers, capacityTokens, pooledHitRate, kv, roundRobin, hitVsPooled,
        hitTargetMet: hitVsPooled >= TARGET_HIT_VS_POOLED,
        imbalanceTargetMet: kv.loadImbalance <= roundRobin.loadImbalance,
        peakVsRoundRobin: roundRobin.peakWindowTokens === 0 ? 1 : kv.peakWindowTokens / roundRobin.peakWindowTokens,
        ...(sweep.windowOracle === true ? { windowOracleImbalance: replayWindowOracle(trace, options).loadImbalance } : {}),
      });
    }
  }
  return rows;
}

const r4 = (x: number): number => Math.round(x * 10_000) / 10_000;

/** A table of the rows, one line each, with a header. */
export function sweepLines(rows: readonly SweepRow[]): string[] {
  const oracle = rows.some((r) => r.windowOracleImbalance !== undefined);
  const head = `${"trace".padEnd(22)} ${"pool".padEnd(12)} kv/pooled  kv imb (floor)    rr imb (floor)    kv/rr busiest  ${oracle ? "oracle imb  " : ""}targets`;
  return [head, ...rows.map((r) => {
    const oracleCell = oracle ? `${(r.windowOracleImbalance?.toFixed(3) ?? "-").padStart(10)}  ` : "";
    const ok = r.hitTargetMet && r.imbalanceTargetMet ? "met" : `MISSED (${[r.hitTargetMet ? "" : "hit", r.imbalanceTargetMet ? "" : "imbalance"].filter(Boolean).join(", ")})`;
    return `${r.trace.padEnd(22)} ${`${r.workers}x${r.capacityTokens}`.padEnd(12)} ${r.hitVsPooled.toFixed(3).padStart(9)}  ${r.kv.loadImbalance.toFixed(3)} (${r.kv.loadImbalanceFloor.toFixed(3)})    ${r.roundRobin.loadImbalance.toFixed(3)} (${r.roundRobin.loadImbalanceFloor.toFixed(3)})    ${r.peakVsRoundRobin.toFixed(3).padStart(13)}  ${oracleCell}${ok}`;
  })];
}

/** The sweep's JSON summary: every row's figures and how many rows met both targets. */
export function sweepSummary(rows: readonly SweepRow[]): Record<string, unknown> {
  const met = rows.filter((r) => r.hitTargetMet && r.imbalanceTargetMet).length;
  return {
    rows: rows.map((r) => ({
      trace: r.trace, workers: r.workers, capacity_tokens: r.capacityTokens,
      hit_rate: r4(r.kv.hitRate), pooled_lru_hit_rate: r4(r.pooledHitRate), hit_rate_vs_pooled: r4(r.hitVsPooled),
      load_imbalance: r4(r.kv.loadImbalance), load_imbalance_floor: r4(r.kv.loadImbalanceFloor),
      round_robin_hit_rate: r4(r.roundRobin.hitRate), round_robin_load_imbalance: r4(r.roundRobin.loadImbalance),
      peak_vs_round_robin: r4(r.peakVsRoundRobin),
      ...(r.windowOracleImbalance !== undefined ? { window_oracle_load_imbalance: r4(r.windowOracleImbalance) } : {}),
      targets_met: r.hitTargetMet && r.imbalanceTargetMet,
    })),
    rows_met: met,
    rows_total: rows.length,
    all_targets_met: met === rows.length,
  };
}
