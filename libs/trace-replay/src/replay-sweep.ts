// A sweep: the kv policy against round-robin and the pooled LRU over several traces and pool
// settings in one run, each row checked against the targets: kv's hit rate at least 0.95 of the
// pooled LRU's, and kv's busiest worker's uncached prefill work per 60-second window at most
// round-robin's in the same run (peak_vs_round_robin <= 1). The mean-normalised load imbalance is
// reported beside. Runs only the policies the targets compare.
import type { RoutingWeights } from "@kvtier/kv-router";
import type { TraceRequest } from "./mooncake-trace.js";
import { IMBALANCE_PHASES, IMBALANCE_WINDOW_S } from "./load-imbalance.js";
import { ReplayError } from "./replay-error.js";
import { pooledLruHitRate, replayPolicy, type PolicyResult } from "./replay.js";

/** kv must reach this share of the pooled LRU's hit rate. */
const TARGET_HIT_VS_POOLED = 0.95;

/** kv's busiest worker's window work may reach this multiple of round-robin's. */
const TARGET_PEAK_VS_ROUND_ROBIN = 1;

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
  /** The balance target: {@link peakVsRoundRobin} at most TARGET_PEAK_VS_ROUND_ROBIN. */
  balanceTargetMet: boolean;
  /** kv's busiest worker's uncached tokens per window over round-robin's (see load-imbalance.ts). */
  peakVsRoundRobin: number;
  /** Reported beside the targets: kv's mean-normalised load imbalance is at most round-robin's. */
  imbalanceAtMostRoundRobin: boolean;
}

/** How a sweep scores and what it adds. */
export interface SweepOptions {
  /** Weights of the kv policy. @default DEFAULT_ROUTING_WEIGHTS */
  weights?: RoutingWeights;
  /** See ReplayOptions.recentWorkTauS. */
  recentWorkTauS?: number;
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
      const peakVsRoundRobin = roundRobin.peakWindowTokens === 0 ? 1 : kv.peakWindowTokens / roundRobin.peakWindowTokens;
      rows.push({
        trace: name,
        workers,
        capacityTokens,
        pooledHitRate,
        kv,
        roundRobin,
        hitVsPooled,
        peakVsRoundRobin,
        hitTargetMet: hitVsPooled >= TARGET_HIT_VS_POOLED,
        balanceTargetMet: peakVsRoundRobin <= TARGET_PEAK_VS_ROUND_ROBIN,
        imbalanceAtMostRoundRobin: kv.loadImbalance <= roundRobin.loadImbalance,
      });
    }
  }
  return rows;
}

const r4 = (x: number): number => Math.round(x * 10_000) / 10_000;

/** Whether a row met both targets. */
const targetsMet = (r: SweepRow): boolean => r.hitTargetMet && r.balanceTargetMet;

/** A table of the rows, one line each, with a header. */
export function sweepLines(rows: readonly SweepRow[]): string[] {
  const head = `${"trace".padEnd(22)} ${"pool".padEnd(12)} kv/pooled  kv/rr busiest  kv imb (floor)    rr imb (floor)    targets`;
  return [
    head,
    ...rows.map((r) => {
      const ok = targetsMet(r)
        ? "met"
        : `MISSED (${[r.hitTargetMet ? "" : "hit", r.balanceTargetMet ? "" : "balance"].filter(Boolean).join(", ")})`;
      return `${r.trace.padEnd(22)} ${`${r.workers}x${r.capacityTokens}`.padEnd(12)} ${r.hitVsPooled.toFixed(3).padStart(9)}  ${r.peakVsRoundRobin.toFixed(3).padStart(13)}  ${r.kv.loadImbalance.toFixed(3)} (${r.kv.loadImbalanceFloor.toFixed(3)})    ${r.roundRobin.loadImbalance.toFixed(3)} (${r.roundRobin.loadImbalanceFloor.toFixed(3)})    ${ok}`;
    }),
    ...phaseLines(rows),
  ];
}

/**
 * Per window phase, the rows on which kv's mean-normalised imbalance is at most round-robin's,
 * both measured with windows starting that much later (LoadImbalanceMeter.imbalanceAtPhase).
 */
function phaseMetCounts(rows: readonly SweepRow[]): number[] {
  return Array.from(
    { length: IMBALANCE_PHASES },
    (_, k) => rows.filter((r) => r.kv.loadImbalanceByPhase[k] <= r.roundRobin.loadImbalanceByPhase[k]).length,
  );
}

function phaseLines(rows: readonly SweepRow[]): string[] {
  const starts = Array.from({ length: IMBALANCE_PHASES }, (_, k) => (k * IMBALANCE_WINDOW_S) / IMBALANCE_PHASES).join(" / ");
  return [
    `reported beside: kv's load imbalance <= round-robin's with the windows starting ${starts} s after the trace's start: ${phaseMetCounts(rows).join(" / ")} of ${rows.length} rows`,
  ];
}

/** The sweep's JSON summary: every row's figures and how many rows met both targets. */
export function sweepSummary(rows: readonly SweepRow[]): Record<string, unknown> {
  const met = rows.filter(targetsMet).length;
  return {
    rows: rows.map((r) => ({
      trace: r.trace,
      workers: r.workers,
      capacity_tokens: r.capacityTokens,
      hit_rate: r4(r.kv.hitRate),
      pooled_lru_hit_rate: r4(r.pooledHitRate),
      hit_rate_vs_pooled: r4(r.hitVsPooled),
      peak_vs_round_robin: r4(r.peakVsRoundRobin),
      load_imbalance: r4(r.kv.loadImbalance),
      load_imbalance_floor: r4(r.kv.loadImbalanceFloor),
      round_robin_hit_rate: r4(r.roundRobin.hitRate),
      round_robin_load_imbalance: r4(r.roundRobin.loadImbalance),
      load_imbalance_by_phase: r.kv.loadImbalanceByPhase.map(r4),
      round_robin_load_imbalance_by_phase: r.roundRobin.loadImbalanceByPhase.map(r4),
      targets_met: targetsMet(r),
    })),
    rows_met: met,
    hit_rows_met: rows.filter((r) => r.hitTargetMet).length,
    balance_rows_met: rows.filter((r) => r.balanceTargetMet).length,
    max_peak_vs_round_robin: r4(Math.max(...rows.map((r) => r.peakVsRoundRobin))),
    min_hit_rate_vs_pooled: r4(Math.min(...rows.map((r) => r.hitVsPooled))),
    imbalance_at_most_round_robin_by_phase: phaseMetCounts(rows),
    rows_total: rows.length,
    all_targets_met: met === rows.length,
  };
}
