// `kvtier replay` flag parsing: each bad flag is named; defaults as documented.
import { describe, expect, it } from "vitest";
import { DEFAULT_ROUTING_WEIGHTS } from "@kvtier/trace-replay";
import { parseReplayArgs, parseReplaySweepArgs } from "../src/commands/replay.js";
import { UsageError } from "../src/usage-error.js";

const flagOf = (argv: string[], parse: (argv: string[]) => unknown = parseReplayArgs): string | undefined => {
  try {
    parse(argv);
  } catch (e) {
    if (e instanceof UsageError) return e.flag;
    throw e;
  }
  return undefined;
};

describe("parseReplayArgs", () => {
  it("applies the documented defaults", () => {
    expect(parseReplayArgs(["--trace", "t.jsonl", "--capacity-tokens", "1250000"])).toEqual({
      source: { file: "t.jsonl" },
      workers: 8,
      capacityTokens: 1_250_000,
      policy: "kv",
      prefillTokensPerS: "auto",
      seed: 1,
      kv: { weights: undefined, recentWorkTauS: undefined },
      json: false,
    });
    expect(
      parseReplayArgs(["--synthetic", "chat", "--trace-seed", "9", "--capacity-tokens", "5", "--prefill-tokens-per-s", "1500.5"]),
    ).toMatchObject({
      source: { shape: "chat", seed: 9, saveTo: undefined },
      prefillTokensPerS: 1500.5,
    });
  });

  it("sets kv weights over the defaults and the recent-work time constant", () => {
    const cmd = parseReplayArgs([
      "--trace",
      "t",
      "--capacity-tokens",
      "5",
      "--weights",
      "overload=2, overloadPenalty=0",
      "--recent-work-tau-s",
      "30",
    ]);
    expect(cmd.kv).toEqual({ weights: { ...DEFAULT_ROUTING_WEIGHTS, overload: 2, overloadPenalty: 0 }, recentWorkTauS: 30 });
    for (const bad of ["overload", "overload=x", "overload=-1", "bogus=1", "overload=1,"])
      expect(flagOf(["--trace", "t", "--capacity-tokens", "5", "--weights", bad]), bad).toMatch(/^--weights/);
    expect(flagOf(["--trace", "t", "--capacity-tokens", "5", "--recent-work-tau-s", "0"])).toBe("--recent-work-tau-s");
    expect(parseReplaySweepArgs(["--sweep", "--weights", "temperature=0.5"]).kv.weights?.temperature).toBe(0.5);
  });

  it("names the bad flag", () => {
    expect(flagOf(["--capacity-tokens", "5"])).toBe("--trace");
    expect(flagOf(["--trace", "a", "--synthetic", "chat", "--capacity-tokens", "5"])).toBe("--trace");
    expect(flagOf(["--synthetic", "nope", "--capacity-tokens", "5"])).toBe("--synthetic");
    expect(flagOf(["--trace", "a"])).toBe("--capacity-tokens");
    expect(flagOf(["--trace", "a", "--capacity-tokens", "-1"])).toBe("--capacity-tokens");
    expect(flagOf(["--trace", "a", "--capacity-tokens", "5", "--workers", "0"])).toBe("--workers");
    expect(flagOf(["--trace", "a", "--capacity-tokens", "5", "--policy", "lru"])).toBe("--policy");
    expect(flagOf(["--trace", "a", "--capacity-tokens", "5", "--prefill-tokens-per-s", "0"])).toBe("--prefill-tokens-per-s");
    expect(flagOf(["--trace", "a", "--capacity-tokens", "5", "--bogus"])).toBe("--bogus");
  });
});

describe("parseReplaySweepArgs", () => {
  it("applies the documented defaults and parses the lists", () => {
    expect(parseReplaySweepArgs(["--sweep"])).toEqual({
      file: undefined,
      shapes: ["docqa", "chat", "sysprompt", "agent", "tenants"],
      seeds: [1, 2],
      settings: [
        { workers: 8, capacityTokens: 1_250_000 },
        { workers: 16, capacityTokens: 625_000 },
        { workers: 4, capacityTokens: 2_500_000 },
        { workers: 8, capacityTokens: 625_000 },
      ],
      kv: { weights: undefined, recentWorkTauS: undefined },
      json: false,
    });
    expect(parseReplaySweepArgs(["--sweep", "--trace", "t.jsonl", "--shapes", "none", "--settings", "2x100,32x312500", "--json"])).toEqual({
      file: "t.jsonl",
      shapes: [],
      seeds: [1, 2],
      settings: [
        { workers: 2, capacityTokens: 100 },
        { workers: 32, capacityTokens: 312_500 },
      ],
      kv: { weights: undefined, recentWorkTauS: undefined },
      json: true,
    });
    expect(parseReplaySweepArgs(["--sweep", "--shapes", "agent,tenants", "--trace-seeds", "3,4"])).toMatchObject({
      shapes: ["agent", "tenants"],
      seeds: [3, 4],
    });
  });

  it("names the bad flag", () => {
    const sweepFlagOf = (argv: string[]): string | undefined => flagOf(argv, parseReplaySweepArgs);
    expect(sweepFlagOf(["--sweep", "--settings", "8by100"])).toBe("--settings");
    expect(sweepFlagOf(["--sweep", "--settings", "0x100"])).toBe("--settings");
    expect(sweepFlagOf(["--sweep", "--settings", "8x100,"])).toBe("--settings");
    expect(sweepFlagOf(["--sweep", "--shapes", "chat,nope"])).toBe("--shapes");
    expect(sweepFlagOf(["--sweep", "--shapes", "none"])).toBe("--shapes");
    expect(sweepFlagOf(["--sweep", "--trace-seeds", "1,x"])).toBe("--trace-seeds");
    // a single run's flags have no meaning in a sweep
    expect(sweepFlagOf(["--sweep", "--workers", "8"])).toBe("--workers");
    expect(sweepFlagOf(["--sweep", "--capacity-tokens", "5"])).toBe("--capacity-tokens");
    expect(sweepFlagOf(["--sweep", "--synthetic", "chat"])).toBe("--synthetic");
  });

  it("refuses the sweep's flags without --sweep, naming each", () => {
    expect(flagOf(["--trace", "a", "--capacity-tokens", "5", "--settings", "8x100"])).toBe("--settings");
    expect(flagOf(["--trace", "a", "--capacity-tokens", "5", "--shapes", "chat"])).toBe("--shapes");
    expect(flagOf(["--trace", "a", "--capacity-tokens", "5", "--trace-seeds", "1"])).toBe("--trace-seeds");
  });
});
