// The eviction benchmark's replay: its plain LRU must reproduce the published Mooncake figures
// (otherwise its comparison means nothing), and the store's policy must meet the target
// (above LRU at 1M and 3M tokens by at least a point, not below it at 10M).
import { LruPolicy, PrefixAwarePolicy } from "@kvtier/kv-tiers";
import { describe, expect, it } from "vitest";
import { CAPACITIES_TOKENS, LRU_TOLERANCE, PUBLISHED_LRU_HIT_RATES, TRACE_BLOCK_TOKENS, readTrace, replay } from "../src/eviction-bench.js";

const TRACE = new URL("../../../../shared/traces/mooncake-synthetic.jsonl", import.meta.url).pathname;

describe("eviction bench replay", () => {
  const trace = readTrace(TRACE);

  it("reproduces the published LRU hit rates, and the prefix-aware policy beats them", () => {
    for (const [i, tokens] of CAPACITIES_TOKENS.entries()) {
      const blocks = Math.floor(tokens / TRACE_BLOCK_TOKENS);
      const lru = replay(trace, new LruPolicy(), blocks);
      expect(Math.abs(lru - PUBLISHED_LRU_HIT_RATES[i])).toBeLessThanOrEqual(LRU_TOLERANCE);
      const ours = replay(trace, new PrefixAwarePolicy(), blocks);
      expect(ours).toBeGreaterThanOrEqual(i < 2 ? lru + 0.01 : lru);
    }
  });

  it("counts a block only when every block before it hit, capped at the input length", () => {
    const tiny = [
      { inputLength: 1000, blockIds: ["a", "b"] },
      { inputLength: 1200, blockIds: ["a", "x", "b"] }, // "b" is held but follows a miss
      { inputLength: 700, blockIds: ["a", "x"] }, // 2 x 512 hit tokens, capped at 700
    ];
    const hit = 0 + 512 + 700;
    expect(replay(tiny, new LruPolicy(), 10)).toBeCloseTo(hit / (1000 + 1200 + 700), 12);
  });
});
