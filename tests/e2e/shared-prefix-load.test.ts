// A block hash names one content per codec, under concurrent load: 200 requests with shared
// prefixes over 2 prefill and 2 decode workers (disaggregated and local prefills, fp32 and fp16,
// greedy and sampled) never write two different blocks under one hash, and every greedy fp32
// request for a prompt gets the same text. Before the fix, a local prefill's prompt tail was
// exported after decoding had appended to it, and blocks computed over fp16-decoded KV entered
// the device cache and the store as if exact: both showed as refused conflicting puts.
import { describe, expect, it } from "vitest";
import { generate, request, type GenerateResult } from "./client.js";
import { metricWithLabels } from "./index-probe.js";
import { stackForFile } from "./stack.js";

const REQUESTS = 200;
/** Requests in flight at once (the decode workers admit 64 each). */
const CONCURRENCY = 24;
const PREFIXES = [
  "Once upon a time there was a little girl named Lily. She liked to play outside with her friends in the park near her house.",
  "One day a boy named Tim went to the store with his mom. He saw a big red ball on a shelf and he wanted it very much.",
  "There was a small dog named Max who lived on a farm with a cow, a pig and a cat. Every morning Max ran around the barn.",
];
const ENDINGS = ["", " Then", " One day", " She was happy", " He said"];

const file = stackForFile({
  prefillWorkers: 2,
  decodeWorkers: 2,
  // short uncached parts prefill on the decode worker: both paths run
  serviceEnv: { router: { KVTIER_LOCAL_PREFILL_MAX_TOKENS: "32" } },
});

describe("shared prefixes under concurrent load", () => {
  it("200 concurrent requests write no conflicting block, and greedy fp32 requests for one prompt agree", async () => {
    const { stack, client } = file;
    const specs = Array.from({ length: REQUESTS }, (_, i) => ({
      prompt: PREFIXES[i % PREFIXES.length] + ENDINGS[Math.floor(i / PREFIXES.length) % ENDINGS.length],
      codec: i % 4 === 3 ? "fp16" : "fp32",
      temperature: i % 5 === 4 ? 0.8 : 0,
    }));
    const results: (GenerateResult | Error)[] = new Array<GenerateResult | Error>(REQUESTS);
    let next = 0;
    const lane = async (): Promise<void> => {
      for (let i = next++; i < REQUESTS; i = next++) {
        const s = specs[i];
        results[i] = await generate(
          client,
          request(s.prompt, 40, { codec: s.codec, sampling: { temperature: s.temperature, topP: 0, seed: 0 } }),
          "key-alpha",
        ).catch((e: Error) => e);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, lane));

    expect(results.filter((r) => r instanceof Error).map((e) => (e as Error).message)).toEqual([]);
    const kvstore = stack.process("kvstore-1").metricsPort!;
    expect(await metricWithLabels(kvstore, "kvtier_kvstore_puts_refused_total", { reason: "conflict" })).toBe(0);
    // the load did write the same blocks more than once (identical bytes: accepted as existing)
    expect(await metricWithLabels(kvstore, "kvtier_kvstore_puts_total", { result: "existing" })).toBeGreaterThan(0);
    const local = await metricWithLabels(stack.process("router").metricsPort!, "kvtier_router_placements_total", { mode: "local" });
    expect(local).toBeGreaterThan(0);

    const greedyTexts = new Map<string, string[]>();
    specs.forEach((s, i) => {
      if (s.codec !== "fp32" || s.temperature !== 0) return;
      greedyTexts.set(s.prompt, [...(greedyTexts.get(s.prompt) ?? []), (results[i] as GenerateResult).text]);
    });
    const repeated = [...greedyTexts.values()].filter((texts) => texts.length >= 5);
    expect(repeated.length).toBeGreaterThanOrEqual(10);
    for (const texts of repeated) expect(new Set(texts).size).toBe(1);
  });
});
