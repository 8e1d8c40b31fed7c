// `kvtier replay` flag parsing: each bad flag is named; defaults as documented.
import { describe, expect, it } from "vitest";
import { parseReplayArgs } from "../src/commands/replay.js";
import { UsageError } from "../src/usage-error.js";

const flagOf = (argv: string[]): string | undefined => {
  try {
    parseReplayArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) return e.flag;
    throw e;
  }
  return undefined;
};

describe("parseReplayArgs", () => {
  it("applies the documented defaults", () => {
    expect(parseReplayArgs(["--trace", "t.jsonl", "--capacity-tokens", "1250000"])).toEqual({
      source: { file: "t.jsonl" }, workers: 8, capacityTokens: 1_250_000, policy: "kv", prefillTokensPerS: "auto", seed: 1, json: false,
    });
    expect(parseReplayArgs(["--synthetic", "chat", "--trace-seed", "9", "--capacity-tokens", "5", "--prefill-tokens-per-s", "1500.5"])).toMatchObject({
      source: { shape: "chat", seed: 9, saveTo: undefined }, prefillTokensPerS: 1500.5,
    });
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
