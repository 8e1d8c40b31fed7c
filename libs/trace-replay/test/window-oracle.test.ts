// The window oracle (a diagnostic, not a router): new contexts go to the worker with the least
// uncached work in the load-imbalance measure's current window; requests with context of their
// own cached go where the kv policy sends them.
import { describe, expect, it } from "vitest";
import type { TraceRequest } from "../src/mooncake-trace.js";
import { replayPolicy, replayWindowOracle, type ReplayOptions } from "../src/replay.js";
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
});
