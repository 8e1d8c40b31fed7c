// The built CLI run as a user runs it, against a fake router over real gRPC: what it prints,
// what it sends, and its exit statuses. Runs tools/cli/dist, so `pnpm build` comes first.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeRouter, type FakeRouter } from "./fake-router.js";

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

let router: FakeRouter;
beforeAll(async () => {
  router = await startFakeRouter();
});
afterAll(async () => {
  await router.close();
});

describe("kvtier generate", () => {
  it("streams the text to stdout and the usage to stderr, sending add_bos and the bearer key", async () => {
    const run = await kvtier(["generate", "Once upon a time", "--max-tokens", "3", "--seed", "7"], { KVTIER_ROUTER: router.address, KVTIER_API_KEY: "k1" });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(" there was a!\n");
    expect(run.stderr).toContain("[length] 5 prompt tokens (4 cached: device 0, host 4, ssd 0)");
    expect(router.requests.at(-1)).toMatchObject({ prompt: "Once upon a time", maxTokens: 3, addBos: true, sampling: { seed: 7 } });
    expect(router.authorizations.at(-1)).toBe("Bearer k1");
  });

  it("--json prints one JSON object and nothing else", async () => {
    const run = await kvtier(["generate", "Once upon a time", "--max-tokens", "3", "--json", "--logprobs", "1", "--router", router.address]);
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const out = JSON.parse(lines[0]) as Record<string, unknown>;
    expect(out).toMatchObject({
      text: " there was a!",
      tokens: [10, 11, 12],
      request_id: "req-1",
      prompt_tokens: 5,
      completion_tokens: 3,
      cached_tokens: 4,
      cached_by_tier: { device: 0, host: 4, ssd: 0 },
      computed_prompt_tokens: 1,
      loaded_bytes_by_tier: { device: 0, host: 4096, ssd: 0 },
      transferred_bytes: 8192,
      finish_reason: "length",
      ttft_ms: 12.5,
      prefill_worker: "prefill-1",
      decode_worker: "decode-1",
      disaggregated: true,
    });
    expect(out["logprobs"]).toEqual([10, 11, 12].map((id) => ({ token_id: id, logprob: -0.5, top: [{ token_id: id, logprob: -0.5 }] })));
    expect(router.authorizations.at(-1)).toBeUndefined();
  });

  it("leaves logprobs out when not asked", async () => {
    const run = await kvtier(["generate", "x", "--max-tokens", "3", "--json", "--router", router.address]);
    expect(JSON.parse(run.stdout)).not.toHaveProperty("logprobs");
  });

  it("prints a gRPC error as `error: <STATUS>: <details>` and exits 2", async () => {
    const run = await kvtier(["generate", "fail", "--max-tokens", "3", "--json", "--router", router.address]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr.trim()).toBe("error: INVALID_ARGUMENT: max_tokens: must be at least 1");
  });

  it("reports an unreachable router as UNAVAILABLE", async () => {
    const run = await kvtier(["generate", "x", "--max-tokens", "3", "--router", "127.0.0.1:1"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^error: UNAVAILABLE: /m);
  });

  it("names the bad flag and exits 2", async () => {
    const run = await kvtier(["generate", "x", "--max-tokens", "many"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--max-tokens: expected a positive integer");
  });
});

describe("kvtier tokenize", () => {
  it("prints the token ids", async () => {
    const run = await kvtier(["tokenize", "Once upon", "--router", router.address]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("1 403 407\n");
    const json = await kvtier(["tokenize", "Once upon", "--no-bos", "--json", "--router", router.address]);
    expect(JSON.parse(json.stdout)).toEqual({ token_ids: [403, 407], pieces: ["Once", " upon"] });
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
