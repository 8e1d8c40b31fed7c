// The bounded-load terms of the routing cost on traces where hot prefixes pile work onto their
// holders. Agent-like: a few hot tool prefixes, long growing sessions, a steady arrival rate (so
// every 60-second window holds enough work for balance to be possible); tenants: 40 tenants' long
// system prompts (Zipf) with multi-turn chats after them. With the terms, kv keeps >= 0.95 of the
// pooled LRU's hit rate AND its load imbalance is no worse than round-robin's; without them the
// hot prefixes' holders take most new sessions and the imbalance exceeds round-robin's.
import { describe, expect, it } from "vitest";
import { DEFAULT_ROUTING_WEIGHTS, type RoutingWeights } from "@kvtier/kv-router";
import { pooledLruHitRate, replayPolicy, type ReplayOptions } from "../src/replay.js";
import { generateTrace, type TraceShape, type TraceShapeName } from "../src/trace-generator.js";

const OPTIONS: ReplayOptions = { workers: 8, capacityTokens: 1_250_000 };
const STEADY_AGENT = { swell: 0, durationS: 300 } as const;
/** The cost before any bounded-load term. */
const NO_BOUNDED_LOAD: RoutingWeights = { ...DEFAULT_ROUTING_WEIGHTS, overload: 0, overloadPenalty: 0 };
/** The marginal term alone (before the overload penalty). */
const MARGINAL_ONLY: RoutingWeights = { ...DEFAULT_ROUTING_WEIGHTS, overloadPenalty: 0 };

/**
 * On `shape` (seeds 1, 2): kv keeps >= 0.95 of the pooled LRU's hits and balances no worse than
 * round-robin, and the control (`controlWeights`) balances worse than round-robin.
 */
function describeBalance(
  title: string,
  shape: TraceShapeName,
  overrides: Partial<TraceShape>,
  control: string,
  controlWeights: RoutingWeights,
): void {
  describe(title, () => {
    for (const seed of [1, 2]) {
      const trace = generateTrace(shape, seed, overrides);
      const pooled = pooledLruHitRate(trace, OPTIONS.workers * OPTIONS.capacityTokens);
      const rr = replayPolicy(trace, "round-robin", OPTIONS);

      it(`keeps the hits and balances no worse than round-robin (seed ${seed})`, () => {
        const kv = replayPolicy(trace, "kv", OPTIONS);
        expect(kv.indexMismatches).toBe(0);
        expect(kv.hitRate / pooled, `kv hit ${kv.hitRate} vs pooled ${pooled}`).toBeGreaterThanOrEqual(0.95);
        expect(kv.loadImbalance, `kv imbalance ${kv.loadImbalance} vs round-robin ${rr.loadImbalance}`).toBeLessThanOrEqual(
          rr.loadImbalance,
        );
      });

      it(`control: ${control} (seed ${seed})`, () => {
        const kv = replayPolicy(trace, "kv", { ...OPTIONS, weights: controlWeights });
        expect(kv.loadImbalance).toBeGreaterThan(rr.loadImbalance);
      });
    }
  });
}

describeBalance(
  "kv routing on a steady agent-like trace (8 workers x 1.25M tokens)",
  "agent",
  STEADY_AGENT,
  "without the bounded-load terms the imbalance exceeds round-robin's",
  NO_BOUNDED_LOAD,
);
describeBalance(
  "kv routing on the tenants trace (8 workers x 1.25M tokens)",
  "tenants",
  {},
  "with the marginal term alone a hot tenant's holder keeps its new sessions",
  MARGINAL_ONLY,
);
