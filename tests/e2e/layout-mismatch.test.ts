// A worker started with another block size is refused by the router: it never gets work, its
// KV events are ignored, the refusal shows in kvtier_router_refused_workers with the reason, and
// when no compatible decode worker is left the UNAVAILABLE status says which worker was refused
// and why.
import { status, type ServiceError } from "@grpc/grpc-js";
import type { Stack } from "@kvtier/local-stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate, request, routerClient } from "./client.js";
import { eventually, metricWithLabels, routerIndex } from "./index-probe.js";
import { testStack } from "./stack.js";

const PROMPT = "Once upon a time there was a little girl who loved to read books about dragons and castles";
let stack: Stack;

beforeAll(async () => {
  stack = await testStack({ prefillWorkers: 0, decodeWorkers: 1, heartbeatTimeoutMs: 1000 });
});
afterAll(async () => {
  await stack?.stop();
});

describe("layout mismatch", () => {
  it("refuses a worker with another block size, says why, and routes around it", async () => {
    await stack.addWorker("decode", { KVTIER_BLOCK_SIZE: "32" });
    const port = stack.process("router").metricsPort!;
    await eventually(
      "decode-2 refused",
      5000,
      async () => (await metricWithLabels(port, "kvtier_router_refused_workers", { worker: "decode-2" })) === 1,
    );
    expect(await metricWithLabels(port, "kvtier_router_refused_workers", { worker: "decode-2", reason: "block_size 32 != 16" })).toBe(1);
    const client = routerClient(stack.routerAddress);
    for (let i = 0; i < 3; i++)
      expect((await generate(client, request(`${PROMPT} ${i}`, 2), "key-alpha")).usage.decodeWorker).toBe("decode-1");
    expect(Object.keys((await routerIndex(port, stack.serviceToken)).locations)).not.toContain("decode-2");

    await stack.kill("decode-1");
    let err: ServiceError | undefined;
    await eventually("UNAVAILABLE naming the refused worker", 10_000, async () => {
      err = await generate(client, request(PROMPT, 2), "key-alpha").then(
        () => undefined,
        (e: ServiceError) => e,
      );
      return err?.code === status.UNAVAILABLE && /no decode worker/.test(err.details);
    });
    expect(err!.details).toMatch(/decode-2: block_size 32 != 16/);
    client.close();
  });
});
