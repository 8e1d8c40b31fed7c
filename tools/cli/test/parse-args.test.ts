// Command-line parsing: good lines give typed requests, bad ones a UsageError naming the flag.
import { describe, expect, it } from "vitest";
import { parseGenerateArgs } from "../src/commands/generate.js";
import { parseTokenizeArgs } from "../src/commands/tokenize.js";
import { parseUpArgs } from "../src/commands/up.js";
import { UsageError } from "../src/usage-error.js";

function usageError(parse: () => unknown): UsageError {
  try {
    parse();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error("expected a UsageError");
}

describe("generate", () => {
  it("builds the request with add_bos and the sampling flags", () => {
    const cmd = parseGenerateArgs(
      [
        "Once upon a time",
        "--max-tokens",
        "32",
        "--temperature",
        "0.7",
        "--top-p=0.9",
        "--seed",
        "42",
        "--stop",
        ".",
        "--stop",
        "The end",
        "--logprobs",
        "5",
        "--codec",
        "fp16",
        "--policy",
        "snapkv@25",
        "--json",
      ],
      {},
    );
    expect(cmd.json).toBe(true);
    expect(cmd.target).toEqual({ addresses: ["127.0.0.1:50051"], apiKey: undefined });
    expect(cmd.request).toEqual({
      prompt: "Once upon a time",
      maxTokens: 32,
      sampling: { temperature: 0.7, topP: 0.9, seed: 42 },
      stop: [".", "The end"],
      logprobs: 5,
      requestId: "",
      addBos: true,
      codec: "fp16",
      policy: "snapkv@25",
      sessionId: "",
    });
  });

  it("defaults to greedy, and takes the router and key from the environment", () => {
    const cmd = parseGenerateArgs(["hi", "--max-tokens", "1"], { KVTIER_ROUTER: "10.0.0.1:7000", KVTIER_API_KEY: "k1" });
    expect(cmd.request.sampling).toEqual({ temperature: 0, topP: 0, seed: 0 });
    expect(cmd.target).toEqual({ addresses: ["10.0.0.1:7000"], apiKey: "k1" });
    expect(
      parseGenerateArgs(["hi", "--max-tokens", "1", "--router", "h:1", "--api-key", "k2"], { KVTIER_ROUTER: "x:2", KVTIER_API_KEY: "k1" })
        .target,
    ).toEqual({ addresses: ["h:1"], apiKey: "k2" });
    expect(parseGenerateArgs(["hi", "--max-tokens", "1"], { KVTIER_ROUTER: "  ", KVTIER_API_KEY: "" }).target).toEqual({
      addresses: ["127.0.0.1:50051"],
      apiKey: undefined,
    });
    expect(parseGenerateArgs(["hi", "--max-tokens", "1", "--router", "a:1, b:2"], {}).target.addresses).toEqual(["a:1", "b:2"]);
    expect(() => parseGenerateArgs(["hi", "--max-tokens", "1"], { KVTIER_ROUTER: "a:1,nope" })).toThrow(
      /KVTIER_ROUTER: expected HOST:PORT, got "nope"/,
    );
  });

  it.each([
    [["hi"], "--max-tokens", "--max-tokens: required"],
    [["hi", "--max-tokens", "0"], "--max-tokens", "--max-tokens: expected a positive integer"],
    [["hi", "--max-tokens", "1.5"], "--max-tokens", "--max-tokens: expected a positive integer"],
    [["hi", "--max-tokens", "-3"], "--max-tokens", "--max-tokens: expected a value"],
    [["hi", "--max-tokens"], "--max-tokens", "--max-tokens: expected a value"],
    [["hi", "--max-tokens", "2", "--temperature", "2.5"], "--temperature", "--temperature: expected a number in [0, 2]"],
    [["hi", "--max-tokens", "2", "--temperature", "warm"], "--temperature", "--temperature: expected a number"],
    [["hi", "--max-tokens", "2", "--top-p", "0"], "--top-p", "--top-p: expected a number in (0, 1]"],
    [["hi", "--max-tokens", "2", "--seed", "-1"], "--seed", "--seed: expected a value"],
    [["hi", "--max-tokens", "2", "--logprobs", "21"], "--logprobs", "--logprobs: expected an integer in [0, 20]"],
    [["hi", "--max-tokens", "2", "--router", "localhost"], "--router", "--router: expected HOST:PORT"],
    [["hi", "--max-tokens", "2", "--router", "h:70000"], "--router", "--router: expected HOST:PORT"],
    [["hi", "--max-tokens", "2", "--frobnicate"], "--frobnicate", "--frobnicate: unknown flag"],
    [["hi", "--max-tokens", "2", "--json=yes"], "--json", "--json: takes no value"],
    [["--max-tokens", "2"], "<prompt>", "<prompt>: required"],
    [["a", "b", "--max-tokens", "2"], "<prompt>", "<prompt>: expected one argument"],
  ])("%j names %s", (argv, flag, message) => {
    const err = usageError(() => parseGenerateArgs(argv, {}));
    expect(err.flag).toBe(flag);
    expect(err.message.startsWith(message)).toBe(true);
  });

  it("names KVTIER_ROUTER when the environment's address is malformed", () => {
    expect(usageError(() => parseGenerateArgs(["hi", "--max-tokens", "1"], { KVTIER_ROUTER: "nope" })).flag).toBe("KVTIER_ROUTER");
  });
});

describe("tokenize", () => {
  it("adds BOS unless --no-bos", () => {
    expect(parseTokenizeArgs(["Once upon a time"], {}).request).toEqual({ text: "Once upon a time", addBos: true });
    expect(parseTokenizeArgs(["x", "--no-bos", "--json"], {})).toMatchObject({ request: { addBos: false }, json: true });
    expect(usageError(() => parseTokenizeArgs([], {})).flag).toBe("<text>");
  });
});

describe("up", () => {
  it("has defaults and reads REDIS_URL / NATS_URL", () => {
    const cmd = parseUpArgs([], { REDIS_URL: "redis://127.0.0.1:6379", NATS_URL: "" });
    expect(cmd).toMatchObject({
      prefillWorkers: 1,
      decodeWorkers: 1,
      blockSize: undefined,
      demo: undefined,
      exitAfterDemo: false,
      routerPort: 0,
      verbose: false,
    });
    expect(cmd.redisUrl).toBe("redis://127.0.0.1:6379");
    expect(cmd.natsUrl).toBeUndefined();
    expect(cmd.apiKey).toMatch(/^dev-[0-9a-f]{16}$/);
    expect(cmd.logDir).toMatch(/\.kvtier\/logs\/\d{4}-/);
  });

  it("takes its flags", () => {
    const cmd = parseUpArgs(
      ["--prefill", "0", "--decode", "2", "--block-size", "32", "--demo", "Once upon a time", "--exit-after-demo", "--api-key", "k"],
      {},
    );
    expect(cmd).toMatchObject({
      prefillWorkers: 0,
      decodeWorkers: 2,
      blockSize: 32,
      demo: "Once upon a time",
      exitAfterDemo: true,
      apiKey: "k",
    });
  });

  it.each([
    [["--decode", "0"], "--decode"],
    [["--prefill", "x"], "--prefill"],
    [["--prefill", "17"], "--prefill"],
    [["--block-size", "0"], "--block-size"],
    [["--router-port", "65536"], "--router-port"],
    [["--exit-after-demo"], "--exit-after-demo"],
    [["--demo", " "], "--demo"],
    [["--demo"], "--demo"],
    [["extra"], "extra"],
  ])("%j names %s", (argv, flag) => {
    expect(usageError(() => parseUpArgs(argv, {})).flag).toBe(flag);
  });
});
