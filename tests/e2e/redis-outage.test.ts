// Redis outages, with a Redis the test starts and restarts itself (never the machine's): a restart
// that comes back empty drops no live worker (their NATS load reports vouch for them), the
// workers re-register, and requests whose waiting prefill jobs went with Redis's data are
// enqueued again and complete; a request that arrives while Redis is down ends UNAVAILABLE with
// a retry hint at once instead of waiting on it.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { status, type ServiceError } from "@grpc/grpc-js";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { bullPrefix, prefillQueueName, registryKey } from "@kvtier/platform";
import type { KvTierServiceClient } from "@kvtier/proto";
import type { Stack } from "@kvtier/local-stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate, request, routerClient, type GenerateResult } from "./client.js";
import { eventually } from "./index-probe.js";
import { testStack } from "./stack.js";

/** Long enough for the prefill workers to be paused (SIGSTOP) through a Redis restart. */
const HEARTBEAT_TIMEOUT_MS = 6_000;
const HELD_REQUESTS = 6;

let stack: Stack;
let client: KvTierServiceClient;
let redis: Redis;

beforeAll(async () => {
  // redisUrl undefined: the stack starts (and may restart) its own redis-server
  stack = await testStack({
    redisUrl: undefined,
    prefillWorkers: 2,
    decodeWorkers: 2,
    heartbeatMs: 250,
    heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS,
  });
  client = routerClient(stack.routerAddress);
  redis = new Redis(stack.redisUrl, { maxRetriesPerRequest: null });
  redis.on("error", () => undefined); // reconnects through the restarts
});
afterAll(async () => {
  client?.close();
  redis?.disconnect();
  await stack?.stop();
});

const signal = (name: string, sig: NodeJS.Signals): void => void process.kill(stack.process(name).pid, sig);

async function waitingJobs(): Promise<number> {
  let n = 0;
  for (const w of ["prefill-1", "prefill-2"]) {
    const q = new Queue(prefillQueueName(w), { connection: redis, prefix: bullPrefix(stack.namespace) });
    n += await q.getWaitingCount();
    await q.close();
  }
  return n;
}

describe("Redis outages", () => {
  it("a restart that comes back empty drops no live worker, and requests whose prefill jobs it lost complete", async () => {
    await generate(client, request("Once upon a time there was a warm up", 4), "key-alpha");
    // the prefill workers take no job meanwhile: every request's job waits in Redis
    signal("prefill-1", "SIGSTOP");
    signal("prefill-2", "SIGSTOP");
    let results: Promise<GenerateResult[]>;
    try {
      results = Promise.all(
        Array.from({ length: HELD_REQUESTS }, (_, i) =>
          generate(client, request(`Once upon a time there was a girl who had ${i + 2} red balls and a`, 24), "key-alpha"),
        ),
      );
      await eventually("every request's prefill job waits in its queue", 10_000, async () => (await waitingJobs()) === HELD_REQUESTS);
      await stack.restartServer("redis", 1_000);
      expect(await redis.hlen(registryKey(stack.namespace))).toBeLessThan(4); // it came back empty (workers may have re-registered already)
      await eventually("the router enqueued the lost jobs again", 10_000, async () => (await waitingJobs()) === HELD_REQUESTS);
    } finally {
      signal("prefill-1", "SIGCONT");
      signal("prefill-2", "SIGCONT");
    }
    const done = await results;
    expect(done.map((r) => r.finishReason)).toEqual(Array<string>(HELD_REQUESTS).fill("length"));
    await eventually("all four workers registered again", 10_000, async () => (await redis.hlen(registryKey(stack.namespace))) === 4);
    const routerLog = readFileSync(join(stack.logDir, "router.log"), "utf8");
    expect(routerLog).not.toContain("worker dropped");
    expect(routerLog).toContain("requests restored after Redis lost its data");
  }, 60_000);

  it("a request that arrives while Redis is down ends UNAVAILABLE at once, with a retry hint", async () => {
    const outage = stack.restartServer("redis", 3_000);
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    const err = await generate(client, request("Once upon a time during an outage", 8), "key-alpha").then(
      () => undefined,
      (e: ServiceError) => e,
    );
    expect(err?.code).toBe(status.UNAVAILABLE);
    expect(err?.details).toMatch(/Redis/);
    expect(Number(err?.metadata.get("retry-after-ms")[0])).toBeGreaterThan(0);
    expect(Date.now() - t0).toBeLessThan(2_500); // not the outage's length
    await outage;
    await eventually("requests succeed again", 15_000, async () =>
      generate(client, request("Once upon a time after the outage", 4), "key-alpha").then(
        () => true,
        () => false,
      ),
    );
  }, 60_000);
});
