// Tenants over a real stack whose one prefill and one decode worker serve everybody (so both
// tenants' blocks sit in the same pools): a prompt cached for one tenant is never matched for
// another, and nothing but the API key chooses the tenant — not x-tenant / tenant metadata, not
// a second key in x-api-key, not another tenant's request_id or session_id.
import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import type { GenerateRequest, GenerateResponse, KvTierServiceClient, Usage } from "@kvtier/proto";
import type { Stack } from "@kvtier/local-stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate, request, routerClient } from "./client.js";
import { metricWithLabels } from "./index-probe.js";
import { testStack } from "./stack.js";

let stack: Stack;
let client: KvTierServiceClient;
const prompt = (topic: string): string =>
  `Once upon a time there was a ${topic} who lived near the big river and every morning it went out to look for something new to do with its friends`;

/** One Generate with arbitrary metadata; resolves with the usage or rejects with the status. */
function generateWith(req: GenerateRequest, md: Record<string, string>): Promise<{ usage: Usage; requestId: string }> {
  const meta = new Metadata();
  for (const [k, v] of Object.entries(md)) meta.set(k, v);
  return new Promise((resolve, reject) => {
    let usage: Usage | undefined;
    let requestId = "";
    const call = client.generate(req, meta);
    call.on("data", (m: GenerateResponse) => {
      if (m.event?.$case === "started") requestId = m.event.value.requestId;
      if (m.event?.$case === "finished") usage = m.event.value.usage;
    });
    call.on("error", (e: ServiceError) => reject(e));
    call.on("end", () => (usage ? resolve({ usage, requestId }) : reject(new Error("no Finished"))));
  });
}

/** Prompt tokens the router saw cached anywhere for this request ("available"), and what the worker loaded. */
async function cachedFor(run: () => Promise<{ usage: Usage }>): Promise<{ available: number; loaded: number }> {
  const port = stack.process("router").metricsPort!;
  const before = await metricWithLabels(port, "kvtier_router_prefix_hit_tokens_total", { kind: "available" });
  const { usage } = await run();
  const after = await metricWithLabels(port, "kvtier_router_prefix_hit_tokens_total", { kind: "available" });
  return { available: after - before, loaded: usage.cachedTokens };
}

beforeAll(async () => {
  stack = await testStack({ prefillWorkers: 1, decodeWorkers: 1 });
  client = routerClient(stack.routerAddress);
});
afterAll(async () => {
  client?.close();
  await stack?.stop();
});

describe("tenant isolation", () => {
  const topics = ["cat", "dog", "bird", "fish", "frog", "bear", "duck"];
  const alphaIds = new Map<string, string>();

  it("alpha's prompts are cached for alpha", async () => {
    for (const t of topics)
      alphaIds.set(t, (await generate(client, request(prompt(t), 2, { sessionId: `alpha-${t}` }), "key-alpha")).requestId);
    const again = await cachedFor(() => generate(client, request(prompt("cat"), 2), "key-alpha"));
    expect(again.available).toBeGreaterThan(0);
    expect(again.loaded).toBeGreaterThan(0);
  });

  it("beta never matches alpha's blocks, however it dresses the request", async () => {
    const tricks: Array<[string, () => Promise<{ usage: Usage }>]> = [
      ["plain key", () => generate(client, request(prompt("dog"), 2), "key-beta")],
      ["x-tenant: alpha", () => generateWith(request(prompt("bird"), 2), { authorization: "Bearer key-beta", "x-tenant": "alpha" })],
      [
        "tenant metadata",
        () =>
          generateWith(request(prompt("fish"), 2), {
            authorization: "Bearer key-beta",
            tenant: "alpha",
            "x-kvtier-tenant": "alpha",
            "kvtier-tenant": "alpha",
          }),
      ],
      [
        "alpha's key in x-api-key",
        () => generateWith(request(prompt("frog"), 2), { authorization: "Bearer key-beta", "x-api-key": "key-alpha" }),
      ],
      ["alpha's session_id", () => generate(client, request(prompt("bear"), 2, { sessionId: "alpha-bear" }), "key-beta")],
      ["tenant in the prompt's text", () => generate(client, request(`tenant: alpha. ${prompt("duck")}`, 2), "key-beta")],
    ];
    for (const [name, run] of tricks) {
      const got = await cachedFor(run);
      expect({ trick: name, ...got }).toEqual({ trick: name, available: 0, loaded: 0 });
    }
  });

  it("request ids are scoped to the tenant: alpha's id neither lets beta in nor is refused to beta; alpha reusing it is refused", async () => {
    const id = alphaIds.get("cat")!;
    const beta = await generate(client, request(prompt("cat"), 2, { requestId: id }), "key-beta");
    expect(beta.requestId).toBe(id);
    expect(beta.usage.cachedTokens).toBe(0);
    const again = await generate(client, request(prompt("cat"), 2, { requestId: id }), "key-alpha").then(
      () => undefined,
      (e: ServiceError) => e,
    );
    expect(again?.code).toBe(status.ALREADY_EXISTS);
  });

  it("a tenant claimed without a key is refused", async () => {
    const err = await generateWith(request(prompt("owl"), 2), { "x-tenant": "alpha", tenant: "alpha" }).then(
      () => undefined,
      (e: ServiceError) => e,
    );
    expect(err?.code).toBe(status.UNAUTHENTICATED);
  });

  it("the same prompt for both tenants gives two sets of blocks in the same worker's pool", async () => {
    const a = await generate(client, request(prompt("cow"), 2), "key-alpha");
    const b = await generate(client, request(prompt("cow"), 2), "key-beta");
    expect(a.usage.decodeWorker).toBe(b.usage.decodeWorker);
    expect(b.usage.cachedTokens).toBe(0);
    expect(b.tokens).toEqual(a.tokens); // same model, same prompt: same greedy output
    const a2 = await generate(client, request(prompt("cow"), 2), "key-alpha");
    const b2 = await generate(client, request(prompt("cow"), 2), "key-beta");
    expect(a2.usage.cachedTokens).toBeGreaterThan(0);
    expect(b2.usage.cachedTokens).toBe(a2.usage.cachedTokens); // each tenant hits its own copy
  });
});
