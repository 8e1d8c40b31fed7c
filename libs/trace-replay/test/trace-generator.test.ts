// Generated traces: reproducible by seed, in the Mooncake format, and prefix-chained (an id always
// follows the same id, so it names its whole prefix).
import { describe, expect, it } from "vitest";
import { TRACE_BLOCK_TOKENS, formatMooncakeTrace, parseMooncakeTrace } from "../src/mooncake-trace.js";
import { ReplayError } from "../src/replay-error.js";
import { TRACE_SHAPE_NAMES, generateTrace } from "../src/trace-generator.js";

describe("generateTrace", () => {
  it("gives the same trace for the same seed and another for another seed", () => {
    expect(generateTrace("chat", 5)).toEqual(generateTrace("chat", 5));
    expect(generateTrace("chat", 5)).not.toEqual(generateTrace("chat", 6));
  });

  for (const shape of TRACE_SHAPE_NAMES) {
    it(`writes a valid, prefix-chained Mooncake trace (${shape})`, () => {
      const trace = generateTrace(shape, 1, { durationS: 200 });
      expect(parseMooncakeTrace(formatMooncakeTrace(trace))).toEqual(trace);
      const parentOf = new Map<number, number>();
      const problems: string[] = [];
      for (const r of trace) {
        if (Math.ceil(r.inputTokens / TRACE_BLOCK_TOKENS) !== r.blockIds.length)
          problems.push(`${r.inputTokens} tokens in ${r.blockIds.length} blocks`);
        r.blockIds.forEach((id, k) => {
          const parent = k === 0 ? -1 : r.blockIds[k - 1];
          if ((parentOf.get(id) ?? parent) !== parent) problems.push(`block ${id} follows ${parent} and ${parentOf.get(id)}`);
          parentOf.set(id, parent);
        });
      }
      expect(problems.slice(0, 3)).toEqual([]);
      // some prefixes are shared
      expect(parentOf.size).toBeLessThan(trace.reduce((n, r) => n + r.blockIds.length, 0));
    });
  }

  it("refuses an unknown shape or a bad field, naming it", () => {
    expect(() => generateTrace("nope" as never, 1)).toThrow(/shape: unknown shape "nope"/);
    expect(() => generateTrace("chat", 1, { newContext: 2 })).toThrow(ReplayError);
    expect(() => generateTrace("chat", 1, { contextBlocks: [5, 2] })).toThrow(/shape\.contextBlocks/);
  });
});
