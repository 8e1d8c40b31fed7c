// Quest with pages fetched on demand, end to end (router -> prefill -> kvstore -> decode as
// separate processes): a quest@25 request's decode worker loads the page metadata and the tail,
// then fetches only the pages Quest selects; its output equals the single-process engine's quest
// over the dense prompt, and it moves far fewer KV bytes than the dense request of the same prompt
// (the dense figure is computed from the block sizes and checked against a dense request).
import { createHash, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { status, type ServiceError } from "@grpc/grpc-js";
import type { KvTierServiceClient } from "@kvtier/proto";
import type { Stack } from "@kvtier/local-stack";
import { internalRequestId, KvStoreClient, ServiceToken } from "@kvtier/platform";
import { namespaceHash, tenantSalt } from "@kvtier/kv-router";
import { budgetTokens, KV_BLOCK_LAYOUT_VERSION, LlamaEngine, questPageHash } from "@kvtier/tensor";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate, request, routerClient } from "./client.js";
import { blockBytes, greedyFrom, referenceModel } from "./reference.js";
import { testStack } from "./stack.js";

const KEY = "key-alpha";
/** The router's tenant secret, known here so the test can name a request's quest pages. */
const TENANT_SECRET = "quest-pages-test-secret";
const BLOCK = 16;
const MAX_TOKENS = 8;
const HELD_OUT = readFileSync(new URL("../../libs/quality/data/held-out.txt", import.meta.url), "utf8");
/** About 390 tokens of the committed held-out text: 24 candidate pages per (layer, KV head). */
const PROMPT = HELD_OUT.slice(0, 850);
/** Another stretch of it (no block shared with PROMPT, so nothing comes from the device cache). */
const OTHER_PROMPT = HELD_OUT.slice(4000, 4800);

let stack: Stack;
let client: KvTierServiceClient;
let store: KvStoreClient;

beforeAll(async () => {
  stack = await testStack({
    prefillWorkers: 1,
    decodeWorkers: 1,
    blockSize: BLOCK,
    tenantSecret: TENANT_SECRET,
    serviceEnv: { router: { KVTIER_DEFAULT_CODEC: "fp32" } },
  });
  client = routerClient(stack.routerAddress);
  store = new KvStoreClient(stack.kvstoreEndpoint, { serviceToken: new ServiceToken(stack.serviceToken) });
});
afterAll(async () => {
  client?.close();
  await store?.close();
  await stack?.stop();
});

/** Greedy tokens of the single-process engine, quest applied over the dense prompt in its pool. */
function denseQuestGreedy(ids: number[], maxTokens: number): number[] {
  const engine = new LlamaEngine(referenceModel().model, { blockSize: BLOCK, capacityBlocks: 64 });
  engine.openSequence("ref");
  engine.setSelectionPolicy("ref", "quest@25", ids.length);
  const logits = engine.prefill("ref", ids);
  engine.compress("ref");
  return greedyFrom(engine, "ref", logits, maxTokens);
}

/**
 * The hashes a request's quest pages are stored under: questPagesKey in libs/serving (sha256 of a
 * label, the namespace and "requestId@attempt"), then questPageHash per page index. Tests cannot
 * import @kvtier/serving, so the key's derivation is restated here.
 */
function questPageHashes(clientRequestId: string, pages: number): Uint8Array[] {
  const { model } = referenceModel();
  const ns = namespaceHash({
    modelId: model.modelId,
    layoutVersion: KV_BLOCK_LAYOUT_VERSION,
    blockSize: BLOCK,
    tenantSalt: tenantSalt("alpha", TENANT_SECRET),
  });
  const requestId = internalRequestId("alpha", clientRequestId);
  const key = new Uint8Array(
    createHash("sha256").update("kvtier-quest-pages-key-v1").update(ns).update(`${requestId}@1`).digest().subarray(0, 16),
  );
  return Array.from({ length: pages }, (_, i) => questPageHash(key, i));
}

const fp32BlockBytes = (tokens: number, nLayers: number, nKvHeads: number, headDim: number): number =>
  blockBytes("fp32", tokens, { nLayers, nKvHeads, headDim });

describe("quest pages fetched on demand", () => {
  it("quest@25 fetches only selected pages: same output as quest over the dense pool, under half the dense bytes", async () => {
    const { model, tokenizer } = referenceModel();
    const { nLayers, nKvHeads, headDim } = model.config;
    const ids = tokenizer.encode(PROMPT, { bos: true });
    const full = Math.floor(ids.length / BLOCK);
    const tail = ids.length - full * BLOCK;
    expect(full).toBeGreaterThanOrEqual(20);

    const quest = await generate(client, request(PROMPT, MAX_TOKENS, { policy: "quest@25" }), KEY);
    expect(quest.tokens).toEqual(denseQuestGreedy(ids, MAX_TOKENS));
    expect(quest.usage.policy).toBe("quest@25");
    expect(quest.usage.disaggregated).toBe(true);

    const denseBytes =
      full * fp32BlockBytes(BLOCK, nLayers, nKvHeads, headDim) + (tail > 0 ? fp32BlockBytes(tail, nLayers, nKvHeads, headDim) : 0);
    const pageBytes = fp32BlockBytes(BLOCK, 1, 1, headDim);
    const metaBytes = full * nLayers * nKvHeads * 2 * headDim * 4;
    const tailBytes = tail > 0 ? fp32BlockBytes(tail, nLayers, nKvHeads, headDim) : 0;
    // every (layer, KV head) reads its budget of pages at the first step: at least that many are fetched
    const budgetPages = Math.round(budgetTokens({ method: "quest", budgetPercent: 25 }, ids.length) / BLOCK);
    const moved = quest.usage.transferredBytes;
    expect(moved).toBeGreaterThanOrEqual(tailBytes + metaBytes + budgetPages * nLayers * nKvHeads * pageBytes);
    expect((moved - tailBytes - metaBytes) % pageBytes).toBe(0); // whole pages, nothing else
    expect(moved).toBeLessThan(0.5 * denseBytes);

    // the dense request of the same prompt moves every block: the figure above is what it moves
    // (the quest request entered nothing in the decode worker's device cache)
    const dense = await generate(client, request(PROMPT, MAX_TOKENS), KEY);
    expect(dense.usage.transferredBytes).toBe(denseBytes);
    expect(dense.tokens).not.toEqual([]);
  });

  it("pages evicted while the request decodes: it ends UNAVAILABLE naming the page, or (if it needed none of them) with the right answer; never a wrong one", async () => {
    const { model, tokenizer } = referenceModel();
    const prompt = HELD_OUT.slice(2000, 2800);
    const ids = tokenizer.encode(prompt, { bos: true });
    const maxTokens = 512 - ids.length;
    const pages = Math.floor(ids.length / BLOCK) * model.config.nLayers * model.config.nKvHeads;
    const requestId = randomUUID();
    let deleted: Promise<number> | undefined;
    // as soon as the first tokens stream, every page of the request leaves the store
    const run = generate(client, request(prompt, maxTokens, { policy: "quest@25", requestId }), KEY, (n) => {
      if (n >= 2 && !deleted) deleted = store.delete(questPageHashes(requestId, pages), "fp32");
    });
    const outcome = await run.then(
      (r) => ({ tokens: r.tokens, err: undefined }),
      (err: ServiceError) => ({ tokens: [] as number[], err }),
    );
    // the pages were there to delete: the key derivation above matches the workers'
    expect(await deleted).toBeGreaterThan(0);
    if (outcome.err) {
      expect(outcome.err.code).toBe(status.UNAVAILABLE);
      expect(outcome.err.details).toMatch(/quest page \(block \d+, layer \d+, kv head \d+\).*no longer in the kvstore/);
    } else {
      expect(outcome.tokens).toEqual(denseQuestGreedy(ids, maxTokens));
    }
  });

  it("a codec whose groups span KV heads (int4) cannot cut exact pages: the request takes the dense hand-off", async () => {
    const { model, tokenizer } = referenceModel();
    const { nLayers, nKvHeads, headDim } = model.config;
    const prompt = OTHER_PROMPT;
    const ids = tokenizer.encode(prompt, { bos: true });
    const full = Math.floor(ids.length / BLOCK);
    const tail = ids.length - full * BLOCK;
    const r = await generate(client, request(prompt, MAX_TOKENS, { policy: "quest@25", codec: "int4" }), KEY);
    expect(r.usage.policy).toBe("quest@25");
    expect(r.tokens.length).toBeGreaterThan(0);
    const dense =
      full * blockBytes("int4", BLOCK, { nLayers, nKvHeads, headDim }) +
      (tail > 0 ? blockBytes("int4", tail, { nLayers, nKvHeads, headDim }) : 0);
    expect(r.usage.transferredBytes).toBe(dense);
  });
});
