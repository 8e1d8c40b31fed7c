// End to end through router, prefill, kvstore and decode as separate processes over real gRPC,
// Redis and NATS (fp32 codec): the disaggregated path gives the single-process engine's tokens,
// a shared prefix is served from cache, batching is real, and bad input gets clear statuses.
import { status, type ServiceError } from "@grpc/grpc-js";
import type { KvTierServiceClient } from "@kvtier/proto";
import type { Stack } from "@kvtier/local-stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate, request, routerClient } from "./client.js";
import { referenceGreedy, referenceModel } from "./reference.js";
import { scrape, testStack } from "./stack.js";

const KEY = "key-alpha";
const STORY = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends";

let stack: Stack;
let client: KvTierServiceClient;

beforeAll(async () => {
  stack = await testStack({ prefillWorkers: 1, decodeWorkers: 1 });
  client = routerClient(stack.routerAddress);
});
afterAll(async () => {
  client?.close();
  await stack?.stop();
});

const statusOf = (p: Promise<unknown>): Promise<ServiceError> =>
  p.then(
    () => {
      throw new Error("expected a gRPC error");
    },
    (e: ServiceError) => e,
  );

describe("walking skeleton, end to end", () => {
  it("greedy output of the disaggregated path equals the single-process engine", async () => {
    const r = await generate(client, request(STORY, 40), KEY);
    const ref = referenceGreedy(STORY, 40);
    expect(r.tokens).toEqual(ref.tokens);
    expect(r.usage.disaggregated).toBe(true);
    expect(r.usage.prefillWorker).not.toBe(r.usage.decodeWorker);
    expect(r.usage.promptTokens).toBe(referenceModel().tokenizer.encode(STORY, { bos: true }).length);
    expect(r.usage.computedPromptTokens).toBe(r.usage.promptTokens - r.usage.cachedTokens);
    expect(r.usage.transferredBytes).toBeGreaterThan(0);
    expect(r.text.length).toBeGreaterThan(20);
  });

  it("a second request sharing the prompt prefix is served from cache and still gives identical output", async () => {
    const first = STORY + ". One day she found a shiny red ball";
    const second = first + " under a big tree and she was very happy";
    const { tokenizer } = referenceModel();
    const a = tokenizer.encode(first, { bos: true });
    const b = tokenizer.encode(second, { bos: true });
    let common = 0;
    while (common < a.length && a[common] === b[common]) common++;
    await generate(client, request(first, 8), KEY);
    const r = await generate(client, request(second, 30), KEY);
    const sharedFullBlocks = Math.floor(Math.min(common, b.length - 1) / 16);
    expect(sharedFullBlocks).toBeGreaterThan(0);
    expect(r.usage.cachedTokens).toBeGreaterThanOrEqual(sharedFullBlocks * 16);
    expect(r.usage.computedPromptTokens).toBe(r.usage.promptTokens - r.usage.cachedTokens);
    const tiers = r.usage.cachedByTier!;
    expect(tiers.device + tiers.host + tiers.ssd).toBe(r.usage.cachedTokens);
    const loaded = r.usage.loadedBytesByTier!;
    expect(loaded.device + loaded.host + loaded.ssd).toBeGreaterThan(0);
    expect(r.tokens).toEqual(referenceGreedy(second, 30).tokens);
  });

  it("two tenants with the same prompt never share cached blocks", async () => {
    const prompt = "The big brown dog ran to the old barn to look for his friend the cat and they played all day long";
    const a1 = await generate(client, request(prompt, 4), "key-alpha");
    const b1 = await generate(client, request(prompt, 4), "key-beta");
    const a2 = await generate(client, request(prompt, 4), "key-alpha");
    expect(a1.usage.cachedTokens).toBe(0);
    expect(b1.usage.cachedTokens).toBe(0);
    expect(a2.usage.cachedTokens).toBeGreaterThan(0);
    expect(b1.tokens).toEqual(a1.tokens);
  });

  it("continuous batching: 8 concurrent requests share decode steps and each output equals its run alone", async () => {
    const prompts = Array.from(
      { length: 8 },
      (_, i) => `Once upon a time there was a ${["cat", "dog", "bird", "fish", "frog", "bear", "duck", "fox"][i]} who`,
    );
    const results = await Promise.all(prompts.map((p) => generate(client, request(p, 48), KEY)));
    const decode = stack.processes.find((p) => p.service === "decode")!;
    expect(await scrape(decode.metricsPort!, "kvtier_decode_batch_size_max")).toBeGreaterThanOrEqual(4);
    results.forEach((r, i) => expect(r.tokens).toEqual(referenceGreedy(prompts[i], 48).tokens));
  });

  it("seeded sampling is reproducible and differs from greedy", async () => {
    const req = request(STORY, 30, { sampling: { temperature: 1, topP: 0.9, seed: 42 } });
    const a = await generate(client, req, KEY);
    const b = await generate(client, req, KEY);
    expect(a.tokens).toEqual(b.tokens);
    expect(a.tokens).not.toEqual(referenceGreedy(STORY, 30).tokens);
  });

  it("stop strings end the request without showing the stop string; logprobs come with each token", async () => {
    const full = await generate(client, request(STORY, 40), KEY);
    const cut = full.text.indexOf(" ", 10);
    const stop = full.text.slice(cut, cut + 4);
    const r = await generate(client, request(STORY, 40, { stop: [stop], logprobs: 3 }), KEY);
    expect(r.finishReason).toBe("stop");
    expect(r.text).toBe(full.text.slice(0, full.text.indexOf(stop)));
    expect(r.logprobs.length).toBe(r.tokens.length);
    expect(r.logprobs[0].top.length).toBe(3);
    expect(r.logprobs[0].chosen!.tokenId).toBe(r.tokens[0]);
  });

  it("bad input gets INVALID_ARGUMENT or UNAUTHENTICATED naming the problem", async () => {
    const cases: Array<[Promise<unknown>, number, RegExp]> = [
      [generate(client, request("", 5), KEY), status.INVALID_ARGUMENT, /prompt/],
      [generate(client, request("word ".repeat(600), 5), KEY), status.INVALID_ARGUMENT, /prompt.*context/],
      [generate(client, request(STORY, 500), KEY), status.INVALID_ARGUMENT, /max_tokens/],
      [generate(client, request(STORY, 0), KEY), status.INVALID_ARGUMENT, /max_tokens/],
      [
        generate(client, request(STORY, 5, { sampling: { temperature: 7, topP: 0, seed: 0 } }), KEY),
        status.INVALID_ARGUMENT,
        /sampling\.temperature/,
      ],
      [
        generate(client, request(STORY, 5, { sampling: { temperature: 1, topP: 1.5, seed: 0 } }), KEY),
        status.INVALID_ARGUMENT,
        /sampling\.top_p/,
      ],
      [generate(client, request(STORY, 5, { codec: "int3" }), KEY), status.INVALID_ARGUMENT, /codec/],
      [generate(client, request(STORY, 5, { logprobs: 99 }), KEY), status.INVALID_ARGUMENT, /logprobs/],
      [generate(client, request(STORY, 5), "wrong-key"), status.UNAUTHENTICATED, /API key/],
      [generate(client, request(STORY, 5)), status.UNAUTHENTICATED, /API key/],
    ];
    // every call's outcome is taken now: they all run at once, and may end before their turn below
    const outcomes = cases.map(([p, code, re]) => [statusOf(p), code, re] as const);
    for (const [p, code, re] of outcomes) {
      const err = await p;
      expect({ code: err.code, details: err.details }).toMatchObject({ code });
      expect(err.details).toMatch(re);
    }
    // the service still serves after the bad calls
    const ok = await generate(client, request(STORY, 3), KEY);
    expect(ok.tokens.length).toBeGreaterThan(0);
  });

  it("Tokenize gives the model's tokens and needs a key", async () => {
    const { Metadata } = await import("@grpc/grpc-js");
    const md = new Metadata();
    md.set("x-api-key", KEY);
    const ids = await new Promise<number[]>((resolve, reject) =>
      client.tokenize({ text: "Once upon a time", addBos: true }, md, (err, res) => (err ? reject(err) : resolve(res.tokenIds))),
    );
    expect(ids).toEqual([1, 403, 407, 261, 378]);
    const err = await statusOf(
      new Promise((resolve, reject) => client.tokenize({ text: "x", addBos: false }, (e, r) => (e ? reject(e) : resolve(r)))),
    );
    expect(err.code).toBe(status.UNAUTHENTICATED);
  });

  it("in-flight gauges return to zero when the load stops", async () => {
    await new Promise((r) => setTimeout(r, 300));
    for (const p of stack.processes) {
      const name = {
        router: "kvtier_router_inflight_requests",
        decode: "kvtier_decode_inflight_requests",
        prefill: "kvtier_prefill_inflight_requests",
      }[p.service as string];
      if (name) expect(await scrape(p.metricsPort!, name)).toBe(0);
    }
  });
});
