// The built CLI run as a user runs it, against a real local stack (router, kvstore, prefill and
// decode processes): what it prints and its exit statuses. Runs dist, so `pnpm build` comes first.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "@kvtier/local-stack";

const MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function kvtier(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("KVTIER_")));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env: { ...clean, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const KEY = "cli-test-key";
let stack: Stack;
let env: Record<string, string>;
beforeAll(async () => {
  stack = await startStack({
    redisUrl: process.env.REDIS_URL || undefined,
    natsUrl: process.env.NATS_URL || undefined,
    apiKeys: { [KEY]: "cli" },
    allowAnonymous: false,
  });
  env = { KVTIER_ROUTER: stack.routerAddress, KVTIER_API_KEY: KEY };
});
afterAll(async () => {
  await stack?.stop();
});

describe("kvtier generate", () => {
  it("streams the text to stdout and the usage to stderr; --json prints one JSON object with the same text", async () => {
    const run = await kvtier(["generate", "Once upon a time", "--max-tokens", "12"], env);
    expect(run.code).toBe(0);
    expect(run.stdout.trim().length).toBeGreaterThan(10);
    expect(run.stderr).toContain("[length] 5 prompt tokens");
    const json = await kvtier(["generate", "Once upon a time", "--max-tokens", "12", "--json", "--logprobs", "2"], env);
    expect(json.code).toBe(0);
    const lines = json.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const out = JSON.parse(lines[0]) as Record<string, unknown>;
    expect(out.text).toBe(run.stdout.replace(/\n$/, ""));
    expect(out).toMatchObject({ prompt_tokens: 5, completion_tokens: 12, finish_reason: "length", decode_worker: "decode-1" });
    expect(out.computed_prompt_tokens).toBe(5 - (out.cached_tokens as number));
    for (const k of [
      "tokens",
      "cached_by_tier",
      "loaded_bytes_by_tier",
      "transferred_bytes",
      "ttft_ms",
      "request_id",
      "prefill_worker",
      "disaggregated",
    ])
      expect(out).toHaveProperty(k);
    expect((out.tokens as number[]).length).toBe(12);
    const lp = out.logprobs as { token_id: number; top: unknown[] }[];
    expect(lp.map((x) => x.token_id)).toEqual(out.tokens);
    expect(lp[0].top).toHaveLength(2);
  });

  it("leaves logprobs out when not asked", async () => {
    const run = await kvtier(["generate", "Once upon a time", "--max-tokens", "3", "--json"], env);
    expect(JSON.parse(run.stdout)).not.toHaveProperty("logprobs");
  });

  it("prints a gRPC error as `error: <STATUS>: <details>` and exits 2", async () => {
    const run = await kvtier(["generate", "Once upon a time", "--max-tokens", "600", "--json"], env);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr.trim()).toMatch(/^error: INVALID_ARGUMENT: max_tokens: /);
    const unauth = await kvtier(["generate", "Once upon a time", "--max-tokens", "3", "--api-key", "wrong"], env);
    expect(unauth.code).toBe(2);
    expect(unauth.stderr.trim()).toMatch(/^error: UNAUTHENTICATED: /);
  });

  it("reports an unreachable router as UNAVAILABLE", async () => {
    const run = await kvtier(["generate", "x", "--max-tokens", "3", "--router", "127.0.0.1:1"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^error: UNAVAILABLE: /m);
  });

  it("given several routers, goes to the first one that can be reached", async () => {
    const run = await kvtier(["generate", "Once upon a time", "--max-tokens", "3", "--json"], {
      ...env,
      KVTIER_ROUTER: `127.0.0.1:1,${stack.routerAddress}`,
    });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout.trim()).completion_tokens).toBe(3);
    const tok = await kvtier(["tokenize", "Once upon", "--router", `127.0.0.1:1,${stack.routerAddress}`], env);
    expect(tok.code).toBe(0);
    expect(tok.stdout.trim().split(" ").length).toBeGreaterThan(1);
  });

  it("names the bad flag and exits 2", async () => {
    const run = await kvtier(["generate", "x", "--max-tokens", "many"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--max-tokens: expected a positive integer");
  });
});

describe("kvtier tokenize", () => {
  it("prints the token ids", async () => {
    const run = await kvtier(["tokenize", "Once upon"], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("1 403 407\n");
    const json = await kvtier(["tokenize", "Once upon", "--no-bos", "--json"], env);
    expect(JSON.parse(json.stdout)).toEqual({ token_ids: [403, 407], pieces: [" Once", " upon"] });
  });
});

describe("kvtier", () => {
  it("--help lists the commands; an unknown command exits 2", async () => {
    const help = await kvtier(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/up.*\n.*generate.*\n.*tokenize/);
    const bad = await kvtier(["frobnicate"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("frobnicate: unknown command");
  });
});
