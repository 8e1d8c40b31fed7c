// startStack against fake services that follow the service contract (see fixtures/).
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { LocalStackError } from "../src/local-stack-error.js";
import { startStack } from "../src/start-stack.js";
import type { Stack } from "../src/stack.js";
import type { StackOptions } from "../src/stack-options.js";
import { makeFakeRepo } from "./fixtures/fake-repo.js";
import { isAlive, recordedPids } from "./fixtures/process-alive.js";

// The fakes never connect; these only have to be passed through.
const FAKE_URLS = { redisUrl: "redis://127.0.0.1:1", natsUrl: "nats://127.0.0.1:2" };

let repoRoot: string;
let pidDir: string;
const stacks: Stack[] = [];

beforeAll(() => {
  repoRoot = makeFakeRepo();
});

afterEach(async () => {
  await Promise.all(stacks.splice(0).map((s) => s.stop()));
});

function options(extra: StackOptions = {}): StackOptions {
  pidDir = mkdtempSync(join(tmpdir(), "kvtier-pids-"));
  return { ...FAKE_URLS, repoRoot, stopGraceMs: 2_000, ...extra, env: { FAKE_PID_DIR: pidDir, ...extra.env } };
}

async function started(extra: StackOptions = {}): Promise<Stack> {
  const stack = await startStack(options(extra));
  stacks.push(stack);
  return stack;
}

async function failure(extra: StackOptions): Promise<LocalStackError> {
  const err: unknown = await startStack(options(extra)).then(
    (s) => {
      stacks.push(s);
      throw new Error("startStack should have failed");
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LocalStackError);
  return err as LocalStackError;
}

const envOf = (stack: Stack, name: string): Record<string, string> => stack.process(name).ready["env"] as Record<string, string>;

describe("startStack", () => {
  it("starts kvstore, workers and router in order and reads their ready lines", async () => {
    const stack = await started({ decodeWorkers: 2, prefillWorkers: 1, apiKeys: { k1: "tenantA", k2: "tenantB" }, blockSize: 32 });
    expect(stack.processes.map((p) => p.name)).toEqual(["kvstore-1", "decode-1", "decode-2", "prefill-1", "router"]);
    expect(stack.routerAddress).toBe(`127.0.0.1:${stack.process("router").port}`);
    expect(stack.namespace).toMatch(/^t[0-9a-f]{12}$/);
    expect(stack.process("prefill-1").port).toBeUndefined();
    expect(stack.process("decode-2").id).toBe("decode-2");
    expect(stack.process("decode-2").metricsPort).toBeGreaterThan(0);

    const decode = envOf(stack, "decode-1");
    expect(decode["KVTIER_KVSTORE_ENDPOINT"]).toBe(stack.kvstoreEndpoint);
    expect(stack.kvstoreEndpoint).toBe(`127.0.0.1:${stack.process("kvstore-1").port}`);
    expect(decode["KVTIER_KVSTORE_ID"]).toBe("kvstore-1");
    expect(decode["KVTIER_NAMESPACE"]).toBe(stack.namespace);
    expect(decode["KVTIER_BLOCK_SIZE"]).toBe("32");
    expect(decode["KVTIER_DECODE_PORT"]).toBe("0");
    expect(decode["REDIS_URL"]).toBe(FAKE_URLS.redisUrl);
    const router = envOf(stack, "router");
    expect(router["KVTIER_API_KEYS"]).toBe("k1=tenantA,k2=tenantB");
    expect(router["KVTIER_ALLOW_ANONYMOUS"]).toBe("false");
    expect(readFileSync(stack.process("router").logFile, "utf8")).toContain("fake router starting");
  });

  it("starts several routers when asked, and adds one later", async () => {
    const stack = await started({ routers: 2 });
    expect(stack.processes.map((p) => p.name)).toEqual(["kvstore-1", "decode-1", "prefill-1", "router", "router-2"]);
    expect(stack.routerAddresses).toEqual([`127.0.0.1:${stack.process("router").port}`, `127.0.0.1:${stack.process("router-2").port}`]);
    expect(stack.routerAddress).toBe(stack.routerAddresses[0]);
    const third = await stack.addRouter({ KVTIER_LOG_LEVEL: "debug" });
    expect(third.name).toBe("router-3");
    expect(envOf(stack, "router-3")["KVTIER_LOG_LEVEL"]).toBe("debug");
    expect(envOf(stack, "router-3")["KVTIER_TENANT_SECRET"]).toBe(envOf(stack, "router")["KVTIER_TENANT_SECRET"]);
    expect(stack.routerAddresses).toHaveLength(3);
  });

  it("applies per-kind and per-process environment, the more specific winning", async () => {
    const stack = await started({
      decodeWorkers: 2,
      env: { KVTIER_LOG_LEVEL: "debug", KVTIER_MAX_BATCH: "1" },
      serviceEnv: { decode: { KVTIER_MAX_BATCH: "4" } },
      processEnv: { "decode-2": { KVTIER_MAX_BATCH: "8" } },
    });
    expect(envOf(stack, "decode-1")["KVTIER_MAX_BATCH"]).toBe("4");
    expect(envOf(stack, "decode-2")["KVTIER_MAX_BATCH"]).toBe("8");
    expect(envOf(stack, "prefill-1")["KVTIER_MAX_BATCH"]).toBe("1");
    expect(envOf(stack, "router")["KVTIER_LOG_LEVEL"]).toBe("debug");
  });

  it("echoes output with the process name as prefix", async () => {
    const lines: string[] = [];
    await started({ echo: (l) => lines.push(l) });
    expect(lines).toContain("[decode-1] a stray line before the ready line");
    expect(lines.some((l) => l.startsWith("[kvstore-1] {"))).toBe(true);
  });

  it("starts and stops its own Redis and NATS when none are given", async () => {
    const stack = await started({ redisUrl: undefined, natsUrl: undefined });
    expect(stack.redisUrl).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    expect(envOf(stack, "kvstore-1")["NATS_URL"]).toBe(stack.natsUrl);
    await stack.stop();
    const port = Number(new URL(stack.redisUrl).port);
    const { probeOnce, REDIS_PING_PROBE } = await import("../src/tcp-probe.js");
    expect(await probeOnce(port, REDIS_PING_PROBE)).toBe(false);
  });

  it("reports a process that exits before ready with the tail of its stderr, and stops the rest", async () => {
    const err = await failure({ processEnv: { "decode-1": { FAKE_MODE: "exit-early" } } });
    expect(err.code).toBe("EXITED_BEFORE_READY");
    expect(err.details.process).toBe("decode-1");
    expect(err.message).toContain("decode-1");
    expect(err.message).toContain("cannot open the model: no such file");
    expect(err.message).toContain("code 3");
    const pids = recordedPids(pidDir);
    expect(pids.length).toBeGreaterThanOrEqual(2);
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
  });

  it("times out a process that never prints its ready line", async () => {
    const err = await failure({ readyTimeoutMs: 1_000, serviceEnv: { router: { FAKE_MODE: "hang" } } });
    expect(err.code).toBe("READY_TIMEOUT");
    expect(err.message).toContain("router printed no ready line within 1000 ms");
    expect(err.message).toContain("fake router starting");
    for (const pid of recordedPids(pidDir)) expect(isAlive(pid)).toBe(false);
  });

  it("refuses a router without a port", async () => {
    const err = await failure({ serviceEnv: { router: { FAKE_MODE: "no-port" } } });
    expect(err.code).toBe("BAD_READY_LINE");
    for (const pid of recordedPids(pidDir)) expect(isAlive(pid)).toBe(false);
  });

  it("says to build when a service was not built", async () => {
    const err = await failure({ repoRoot: makeFakeRepo(["kvstore", "prefill", "router"]) });
    expect(err.code).toBe("SPAWN_FAILED");
    expect(err.message).toMatch(/decode-1: .*services\/decode\/dist\/main\.js does not exist; build first \(pnpm build\)/);
  });

  it("names the bad option", async () => {
    await expect(startStack({ ...FAKE_URLS, repoRoot, decodeWorkers: 0 })).rejects.toThrow(/^decodeWorkers: /);
    await expect(startStack({ ...FAKE_URLS, repoRoot, namespace: "a.b" })).rejects.toThrow(/^namespace: /);
    await expect(startStack({ ...FAKE_URLS, repoRoot, apiKeys: { "a,b": "t" } })).rejects.toThrow(/^apiKeys: /);
  });

  it("kill() crashes one process; addWorker() starts another", async () => {
    const stack = await started();
    const pid = stack.process("decode-1").pid;
    expect(await stack.kill("decode-1")).toBeNull();
    expect(isAlive(pid)).toBe(false);
    expect(isAlive(stack.process("router").pid)).toBe(true);
    const added = await stack.addWorker("decode");
    expect(added.name).toBe("decode-2");
    expect((added.ready["env"] as Record<string, string>)["KVTIER_KVSTORE_ENDPOINT"]).toBe(stack.kvstoreEndpoint);
    expect(() => stack.process("decode-9")).toThrow(/no process named "decode-9"/);
  });

  it("stop() is idempotent, SIGKILLs a process that ignores SIGTERM, and leaves no process", async () => {
    const stack = await started({ stopGraceMs: 500, processEnv: { "prefill-1": { FAKE_MODE: "stubborn" } } });
    const pids = stack.processes.map((p) => p.pid);
    expect(pids.every(isAlive)).toBe(true);
    await Promise.all([stack.stop(), stack.stop()]);
    await stack.stop();
    for (const pid of [...pids, ...recordedPids(pidDir)]) expect(isAlive(pid)).toBe(false);
    expect(await stack.process("router").exited).toBe(0);
    expect(await stack.process("prefill-1").exited).toBeNull();
  });
});
