// The window oracle (a diagnostic, not a router): new contexts go to the worker with the least
// uncached work in the load-imbalance measure's current window; requests with context of their
// own cached go where the kv policy sends them.
import { describe, expect, it } from "vitest";
import type { TraceRequest } from "../src/mooncake-trace.js";
import { pooledLruHitRate, replayPolicy, replayWindowOracle, type ReplayOptions } from "../src/replay.js";
import { SWEEP_ORACLE_MOVE_SLACK, phaseMetCounts, sweepLines, sweepReplay, sweepSummary } from "../src/replay-sweep.js";
import { generateTrace } from "../src/trace-generator.js";

/** Two workers whose queues drain at once (so the kv policy weighs only cache and recent work). */
const TWO: ReplayOptions = { workers: 2, capacityTokens: 1_000_000, prefillTokensPerS: 1e9 };
let nextId = 1_000;
/** A request at `tS` of `blocks` fresh blocks after `prefix`. */
const req = (tS: number, blocks: number, prefix: number[] = []): TraceRequest => {
  const blockIds = [...prefix, ...Array.from({ length: blocks }, () => nextId++)];
  return { timestampMs: tS * 1000, inputTokens: blockIds.length * 512, outputTokens: 1, blockIds };
};

describe("replayWindowOracle", () => {
  it("places new contexts by the measure's current window, not by decayed recent work", () => {
    // window 0: one 20-block request (on worker 0: max/mean 2); window 1: 6, 2, 2, 2 blocks.
    // By window work: 6 -> worker 0 (tie, lowest index), then each 2 -> worker 1: 3072 each, 1.0.
    const trace = [req(0, 20), req(61, 6), req(62, 2), req(63, 2), req(64, 2)];
    const oracle = replayWindowOracle(trace, TWO);
    expect(oracle.loadImbalance).toBeCloseTo((2 + 1) / 2, 12);
    expect(oracle.hitTokens).toBe(0);
    // round-robin: window 1 holds 6 + 2 on worker 1 and 2 + 2 on worker 0 -> 8 / 6
    expect(replayPolicy(trace, "round-robin", TWO).loadImbalance).toBeCloseTo((2 + 8 / 6) / 2, 12);
  });

  it("keeps a session where the kv policy keeps it, even where its window holds more work", () => {
    // A (4 blocks) -> worker 0; G (40) -> worker 1; H (41) -> worker 0 (22528 vs 20480 + 20992).
    // A's continuation: by window work alone it would move (worker 0: 23040 + 512, worker 1:
    // 20480 + 2560 = 23040); it has context of its own on worker 0, so it stays and hits A's 4 blocks.
    const a = req(0, 4);
    const trace = [a, req(1, 40), req(2, 41), req(3, 1, a.blockIds)];
    const oracle = replayWindowOracle(trace, TWO);
    const kv = replayPolicy(trace, "kv", TWO);
    expect(oracle.hitTokens).toBe(4 * 512);
    expect(kv.hitTokens).toBe(4 * 512);
    expect(oracle.indexMismatches).toBe(0);
  });

  it("balances the agent shape's windows better than the kv policy (the bound the sweep's oracle column reports)", () => {
    const trace = generateTrace("agent", 1, { durationS: 300 });
    const options: ReplayOptions = { workers: 8, capacityTokens: 1_250_000 };
    expect(replayWindowOracle(trace, options).loadImbalance).toBeLessThan(replayPolicy(trace, "kv", options).loadImbalance);
  });

  it("with moveSessionsAbove, moves a session off a worker whose window work it would take above the bound", () => {
    // new contexts: A (4 blocks) -> worker 0 (tie); B (10) -> worker 1; C (12) -> worker 0 (2048 + 6144 < 5120 + 6144).
    // A's continuation (1 fresh block): kv keeps it on worker 0 (A cached), window 8192 + 512 = 8704
    // against a mean of (8192 + 5120 + 512) / 2 = 6912. At slack 0 it moves to worker 1 (5120 + 2560
    // = 7680 < 8704), recomputing A: no hits, windows 8192 / 7680. At slack 0.3 (bound 8985.6) it stays.
    const a = req(0, 4);
    const trace = [a, req(1, 10), req(2, 12), req(3, 1, a.blockIds)];
    const kept = replayWindowOracle(trace, TWO);
    const still = replayWindowOracle(trace, TWO, { moveSessionsAbove: 0.3 });
    const moved = replayWindowOracle(trace, TWO, { moveSessionsAbove: 0 });
    expect(kept.hitTokens).toBe(4 * 512);
    expect(kept.loadImbalance).toBeCloseTo(8704 / 6912, 12);
    expect(still).toEqual(kept);
    expect(moved.hitTokens).toBe(0);
    expect(moved.loadImbalance).toBeCloseTo(8192 / 7936, 12);
    expect(moved.indexMismatches).toBe(0);
  });

  it("refuses a bad moveSessionsAbove, naming it", () => {
    for (const bad of [-0.1, Number.NaN, Infinity]) {
      expect(() => replayWindowOracle([req(0, 1)], TWO, { moveSessionsAbove: bad })).toThrow(expect.objectContaining({ code: "INVALID_OPTION", field: "moveSessionsAbove" }));
    }
  });

  it("reports both oracles per sweep row when asked, and neither otherwise", () => {
    const trace = generateTrace("agent", 1, { durationS: 180 });
    const options: ReplayOptions = { workers: 4, capacityTokens: 400_000 };
    const [row] = sweepReplay([{ name: "agent", trace }], [options], { windowOracle: true });
    expect(row.windowOracleImbalance).toBe(replayWindowOracle(trace, options).loadImbalance);
    const moving = replayWindowOracle(trace, options, { moveSessionsAbove: SWEEP_ORACLE_MOVE_SLACK });
    expect(row.movingOracle?.loadImbalance).toBe(moving.loadImbalance);
    expect(row.movingOracle?.hitVsPooled).toBeCloseTo(moving.hitRate / pooledLruHitRate(trace, 4 * 400_000), 12);
    expect(row.movingOracle?.targetsMet).toBe(row.movingOracle!.hitVsPooled >= 0.95 && moving.loadImbalance <= row.roundRobin.loadImbalance);
    expect(sweepSummary([row])).toMatchObject({ moving_oracle_rows_met: row.movingOracle!.targetsMet ? 1 : 0 });
    const lines = sweepLines([row]);
    expect(lines[0]).toContain("moving oracle hit/imb");
    // per phase, whether each placement's imbalance is at most round-robin's at that phase
    const rr = row.roundRobin.loadImbalanceByPhase;
    const metAt = (byPhase: readonly number[]): number[] => byPhase.map((x, k) => (x <= rr[k] ? 1 : 0));
    expect(row.kv.loadImbalanceByPhase[0]).toBe(row.kv.loadImbalance);
    expect(phaseMetCounts([row])).toEqual({ kv: metAt(row.kv.loadImbalanceByPhase), windowOracle: metAt(replayWindowOracle(trace, options).loadImbalanceByPhase), movingOracle: metAt(moving.loadImbalanceByPhase) });
    expect(lines.at(-1)).toBe(`  moving oracle  ${metAt(moving.loadImbalanceByPhase).join(" / ")} of 1 rows`);
    const [plain] = sweepReplay([{ name: "agent", trace }], [options]);
    expect(plain.windowOracleImbalance).toBeUndefined();
    expect(plain.movingOracle).toBeUndefined();
    expect(sweepSummary([plain])).not.toHaveProperty("moving_oracle_rows_met");
    expect(phaseMetCounts([plain])).toEqual({ kv: metAt(plain.kv.loadImbalanceByPhase) });
  });
});
