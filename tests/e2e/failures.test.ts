// Failure semantics end to end: the loaded KV is really used (a replaced block changes the
// result), and a killed decode worker ends its streams with UNAVAILABLE in bounded time.
import { status, type ServiceError } from "@grpc/grpc-js";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { KvStoreClient, ServiceToken, bullPrefix, internalRequestId, prefillQueueName, requestKey } from "@kvtier/platform";
import { chainBlockHashes, namespaceHash, tenantSalt } from "@kvtier/kv-router";
import { KV_BLOCK_LAYOUT_VERSION, decodeKvBlock, encodeKvBlock } from "@kvtier/tensor";
import { afterEach, describe, expect, it } from "vitest";
import type { Stack } from "@kvtier/local-stack";
import { generate, request, routerClient } from "./client.js";
import { routerIndex } from "./index-probe.js";
import { referenceGreedy, referenceModel } from "./reference.js";
import { scrape, testStack } from "./stack.js";

const HEARTBEAT_TIMEOUT_MS = 1000;
const SECRET = "e2e-secret";
const PROMPT = "Once upon a time, there was a little boy named Tim. Tim had a big red ball that he liked to kick in the yard every day";

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

const waitFor = async (cond: () => Promise<boolean>, ms: number): Promise<void> => {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("condition not met in time");
};

/** Largest difference between returned log-probabilities and the log-softmax of reference logits. */
function logprobGap(top: { tokenId: number; logprob: number }[], logits: Float32Array): number {
  const max = Math.max(...logits);
  const lse = max + Math.log(logits.reduce((s, x) => s + Math.exp(x - max), 0));
  return Math.max(...top.map((t) => Math.abs(t.logprob - (logits[t.tokenId] - lse))));
}

describe("failures, end to end", () => {
  it("the loaded KV is really used: a replaced block (valid checksum) changes the continuation's logits", async () => {
    stack = await testStack({ prefillWorkers: 2, decodeWorkers: 1, tenantSecret: SECRET, heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS });
    const client = routerClient(stack.routerAddress);
    const first = await generate(client, request(PROMPT, 4, { logprobs: 5 }), "key-alpha");
    // take the prefill worker holding the prompt in its device pool out, so the next one loads from the kvstore
    await stack.kill(first.usage.prefillWorker);
    await new Promise((r) => setTimeout(r, HEARTBEAT_TIMEOUT_MS * 2));

    const { model, tokenizer } = referenceModel();
    const ns = namespaceHash({
      modelId: model.modelId,
      layoutVersion: KV_BLOCK_LAYOUT_VERSION,
      blockSize: 16,
      tenantSalt: tenantSalt("alpha", SECRET),
    });
    const hashes = chainBlockHashes(ns, tokenizer.encode(PROMPT, { bos: true }), 16);
    const store = new KvStoreClient(stack.kvstoreEndpoint, { serviceToken: new ServiceToken(stack.serviceToken) });
    const run = await store.getRun(hashes.slice(0, 1), "fp32");
    expect(run.blocks).toHaveLength(1);
    const { header, k, v } = decodeKvBlock(run.blocks[0]);
    const altered = encodeKvBlock(
      header,
      k,
      v.map((x, i) => (i % 2 === 0 ? -x : x)),
    );
    expect(await store.delete(hashes.slice(0, 1), "fp32")).toBe(1);
    await store.put(altered);
    store.close();

    const second = await generate(client, request(PROMPT + " and", 4, { logprobs: 5 }), "key-alpha");
    client.close();
    expect(second.usage.prefillWorker).not.toBe(first.usage.prefillWorker);
    expect(second.usage.cachedByTier!.host).toBeGreaterThanOrEqual(16);
    expect(second.usage.loadedBytesByTier!.host).toBeGreaterThan(0);
    // control: the unaltered first request matches the reference's log-probabilities
    expect(logprobGap(first.logprobs[0].top, referenceGreedy(PROMPT, 1).firstLogits)).toBeLessThan(1e-4);
    expect(logprobGap(second.logprobs[0].top, referenceGreedy(PROMPT + " and", 1).firstLogits)).toBeGreaterThan(1e-3);
  });

  it("a killed decode worker ends its streams with UNAVAILABLE within twice the heartbeat timeout and leaves no job active", async () => {
    stack = await testStack({ prefillWorkers: 1, decodeWorkers: 1, heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS });
    const client = routerClient(stack.routerAddress);
    let killedAt = 0;
    const s = stack;
    const err = await generate(client, request(PROMPT, 400, { sampling: { temperature: 1, topP: 1, seed: 7 } }), "key-alpha", (n) => {
      if (n === 3 && !killedAt) {
        killedAt = Date.now();
        void s.kill("decode-1");
      }
    }).then(
      () => undefined,
      (e: ServiceError) => e,
    );
    client.close();
    expect(killedAt).toBeGreaterThan(0);
    expect(err?.code).toBe(status.UNAVAILABLE);
    expect(Date.now() - killedAt).toBeLessThan(2 * HEARTBEAT_TIMEOUT_MS);
    const redis = new Redis(stack.redisUrl, { maxRetriesPerRequest: null });
    const queue = new Queue(prefillQueueName("prefill-1"), { connection: redis, prefix: bullPrefix(stack.namespace) });
    await waitFor(async () => (await queue.getActiveCount()) === 0 && (await queue.getWaitingCount()) === 0, 2 * HEARTBEAT_TIMEOUT_MS);
    await queue.close();
    await redis.quit();
  });

  it("a request whose decode worker dies before its KV arrives still ends with a status, and its job does not stay active", async () => {
    stack = await testStack({
      prefillWorkers: 1,
      decodeWorkers: 1,
      heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS,
      serviceEnv: { prefill: { KVTIER_PREFILL_CONCURRENCY: "1" } },
    });
    const client = routerClient(stack.routerAddress);
    const s = stack;
    const pending = Array.from({ length: 4 }, (_, i) =>
      generate(client, request(`${PROMPT} number ${i}`, 50), "key-alpha").then(
        () => "ok",
        (e: ServiceError) => e.code,
      ),
    );
    setTimeout(() => void s.kill("decode-1"), 30);
    const outcomes = await Promise.all(pending);
    client.close();
    for (const o of outcomes) expect(o === "ok" || o === status.UNAVAILABLE).toBe(true);
    const redis = new Redis(stack.redisUrl, { maxRetriesPerRequest: null });
    const queue = new Queue(prefillQueueName("prefill-1"), { connection: redis, prefix: bullPrefix(stack.namespace) });
    await waitFor(async () => (await queue.getActiveCount()) === 0 && (await queue.getWaitingCount()) === 0, 4 * HEARTBEAT_TIMEOUT_MS);
    await queue.close();
    await redis.quit();
  });

  it("requests whose decode worker dies before their first token start over on another decode worker and complete", async () => {
    stack = await testStack({ prefillWorkers: 1, decodeWorkers: 2, heartbeatTimeoutMs: 5_000 });
    const client = routerClient(stack.routerAddress);
    const prefillPid = stack.process("prefill-1").pid;
    // no KV arrives meanwhile: every request is admitted on a decode worker and waits there
    process.kill(prefillPid, "SIGSTOP");
    let pending: Promise<string[]>;
    try {
      pending = Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          generate(client, request(`${PROMPT} and number ${i}`, 12), "key-alpha").then(
            (r) => r.finishReason,
            (e: ServiceError) => `${e.code} ${e.details}`,
          ),
        ),
      );
      const decode1 = stack.process("decode-1").metricsPort!;
      await waitFor(async () => (await scrape(decode1, "kvtier_decode_inflight_requests")) > 0, 5_000);
      await stack.kill("decode-1");
    } finally {
      process.kill(prefillPid, "SIGCONT");
    }
    expect(await pending).toEqual(Array<string>(6).fill("length"));
    client.close();
  });

  it("a killed kvstore's blocks leave the router's index once it stops reporting, and requests go on without it", async () => {
    stack = await testStack({ prefillWorkers: 1, decodeWorkers: 1, heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS });
    const client = routerClient(stack.routerAddress);
    const s = stack;
    const routerMetrics = stack.process("router").metricsPort!;
    await generate(client, request(PROMPT, 4), "key-alpha");
    const held = async (): Promise<number> => (await routerIndex(routerMetrics, s.serviceToken)).locations["kvstore-1"]?.entries ?? 0;
    await waitFor(async () => (await held()) > 0, 5_000);
    await stack.kill("kvstore-1");
    await waitFor(async () => (await held()) === 0, 4 * HEARTBEAT_TIMEOUT_MS);
    const again = await generate(client, request(`${PROMPT} again`, 4), "key-alpha");
    expect(again.finishReason).toBe("length");
    client.close();
  });

  it("a prefill worker that stops heartbeating has its job moved to another worker with the next attempt; the output is unchanged and no job stays active", async () => {
    stack = await testStack({ prefillWorkers: 2, decodeWorkers: 1, heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS });
    const client = routerClient(stack.routerAddress);
    const frozen = stack.process("prefill-1");
    process.kill(frozen.pid, "SIGSTOP"); // alive but silent: no heartbeat, no progress
    try {
      const r = await generate(client, request(PROMPT, 12), "key-alpha");
      expect(r.usage.prefillWorker).toBe("prefill-2");
      expect(r.tokens).toEqual(referenceGreedy(PROMPT, 12).tokens);
      const redis = new Redis(stack.redisUrl, { maxRetriesPerRequest: null });
      expect(await redis.hget(requestKey(stack.namespace, internalRequestId("alpha", r.requestId)), "attempt")).toBe("2");
      // the frozen worker never comes back: its queue must not keep an active or waiting job
      const queue = new Queue(prefillQueueName("prefill-1"), { connection: redis, prefix: bullPrefix(stack.namespace) });
      await waitFor(async () => (await queue.getActiveCount()) + (await queue.getWaitingCount()) === 0, 4 * HEARTBEAT_TIMEOUT_MS);
      await queue.close();
      await redis.quit();
    } finally {
      process.kill(frozen.pid, "SIGKILL");
      client.close();
    }
  });
});
