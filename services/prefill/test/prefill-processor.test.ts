// PrefillProcessor.process on real jobs (BullMQ queue in Redis), with the real engine, kvstore,
// NATS and Redis: a stale attempt and a cancelled request are refused without work, a cancel
// arriving mid-way stops the job before anything is written or sent, a normal job writes its
// blocks and tail and sends a KvReady naming them (read back bit for bit), the decode worker's
// refusal is the job's outcome, a dead kvstore is a cache miss, and a full KV pool fails the job
// with only its last attempt reported to the decode worker.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { PlannedRequest } from "@kvtier/platform";
import { loadHandoff, openReserved, tailHashOf } from "@kvtier/serving";
import type { EngineHost } from "@kvtier/tensor";
import { startKvStore } from "../../kvstore/test/support/kvstore-process.js";
import { BLOCK_SIZE, CODEC, ENGINE_BLOCKS, PREFILL_WORKER, PROMPT_TOKENS, PrefillHarness } from "./support/prefill-harness.js";
import { metricValue, randomNamespace } from "../../../tests/support/worker-test-kit.js";

/** Full blocks of the scenarios' prompt. */
const FULL_BLOCKS = Math.floor(PROMPT_TOKENS / BLOCK_SIZE);
/** Sequence that takes the whole KV pool of the processor's engine. */
const POOL_HOG = "pool-hog";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** The whole prompt computed on `engine` in one go: its greedy first token and the logits of the step after it. */
async function reference(engine: EngineHost, plan: PlannedRequest): Promise<{ first: number; next: Float32Array }> {
  const seqId = `reference-${plan.requestId}`;
  await engine.openSequence(seqId);
  try {
    const logits = await engine.prefill(seqId, plan.tokens);
    const first = logits.indexOf(Math.max(...logits));
    const [next] = await engine.decodeStep([{ seqId, token: first }]);
    return { first, next };
  } finally {
    await engine.closeSequence(seqId);
  }
}

let h: PrefillHarness;
beforeAll(async () => {
  h = await PrefillHarness.start();
});
afterEach(async () => {
  await h?.closeScenarios();
});
afterAll(async () => {
  await h?.close();
});

describe("PrefillProcessor", () => {
  it("refuses an attempt older than the request's current one: no KV computed or written, no KvReady; the current attempt goes through", async () => {
    const s = await h.scenario();
    const stale = s.plan("req-stale", 1);
    await s.setCurrentAttempt(stale.requestId, 2);
    expect(await s.processor.process(await s.enqueue(stale))).toEqual({ outcome: "stale", reason: "attempt 1 < current 2" });
    expect(await s.decode!.notices()).toEqual([]);
    expect(await metricValue(s.metrics.computedTokens)).toBe(0);
    expect(await h.store.lookup(stale.blockHashes, CODEC)).toBe(0);

    const current = s.plan("req-stale", 2);
    expect(await s.processor.process(await s.enqueue(current))).toMatchObject({ outcome: "handed-off" });
    expect((await s.decode!.notices()).map((n) => [n.requestId, n.attempt])).toEqual([["req-stale", 2]]);
  });

  it("does no work for a request cancelled before its job starts", async () => {
    const s = await h.scenario();
    const plan = s.plan("req-cancelled-early");
    s.processor.cancel(plan.requestId);
    expect(await s.processor.process(await s.enqueue(plan))).toEqual({ outcome: "cancelled" });
    expect(await s.decode!.notices()).toEqual([]);
    expect(await metricValue(s.metrics.computedTokens)).toBe(0);
    expect(await h.store.lookup(plan.blockHashes, CODEC)).toBe(0);
    expect(await metricValue(s.metrics.jobs, { outcome: "cancelled" })).toBe(1);
  });

  it("stops a request cancelled while its prompt is computed: nothing written, no KvReady, its sequence closed", async () => {
    const s = await h.scenario();
    const plan = s.plan("req-cancelled-midway");
    const job = await s.enqueue(plan);
    const running = s.processor.process(job);
    // process() has passed its first cancel check synchronously; the next one follows the prefill
    s.processor.cancel(plan.requestId);
    expect(await running).toEqual({ outcome: "cancelled" });
    expect(await metricValue(s.metrics.computedTokens)).toBe(PROMPT_TOKENS); // it had started
    expect(await s.decode!.notices()).toEqual([]);
    expect(await h.store.lookup(plan.blockHashes, CODEC)).toBe(0);
    expect(await h.engine.freeBlocks()).toBe(ENGINE_BLOCKS);
    expect([s.processor.activeJobs, s.processor.activeTokens, await metricValue(s.metrics.inflight)]).toEqual([0, 0, 0]);
  });

  it("hands off a job: blocks and tail in the kvstore, a KvReady naming them with the first token, and the KV reads back exact", async () => {
    const s = await h.scenario();
    const plan = s.plan("req-normal");
    expect(await s.processor.process(await s.enqueue(plan))).toEqual({ outcome: "handed-off", cachedTokens: 0 });
    const notices = await s.decode!.notices();
    expect(notices).toHaveLength(1);
    const [ready] = notices;
    const tail = tailHashOf(plan, BLOCK_SIZE);
    expect(ready).toMatchObject({
      requestId: plan.requestId,
      attempt: 1,
      prefillWorker: PREFILL_WORKER,
      kvstoreEndpoint: h.kvstore.endpoint,
      codec: CODEC,
      tailTokens: PROMPT_TOKENS - FULL_BLOCKS * BLOCK_SIZE,
      cachedTokens: 0,
      error: "",
      errorCode: "",
    });
    expect(ready.blockHashes.map(hex)).toEqual(plan.blockHashes.slice(0, FULL_BLOCKS).map(hex));
    expect(hex(ready.tailHash)).toBe(hex(tail.hash));
    expect(await h.store.lookup([...plan.blockHashes, tail.hash], CODEC)).toBe(FULL_BLOCKS + 1);

    const ref = await reference(h.peer, plan);
    expect(ready.firstToken).toBe(ref.first);
    // the decode side of the hand-off, on another engine: everything fetched, nothing recomputed
    const seqId = await openReserved(h.peer, plan, PROMPT_TOKENS + 1);
    try {
      expect(await loadHandoff(h.peer, h.store, plan, ready, h.log)).toMatchObject({
        deviceBlocks: 0,
        fetchedBlocks: FULL_BLOCKS + 1,
        recomputedTokens: 0,
      });
      const [next] = await h.peer.decodeStep([{ seqId, token: ready.firstToken }]);
      expect(next).toEqual(ref.next);
    } finally {
      await h.peer.closeSequence(seqId);
    }
    expect(await h.engine.freeBlocks()).toBe(ENGINE_BLOCKS);
    expect([s.processor.activeJobs, await metricValue(s.metrics.inflight)]).toEqual([0, 0]);
    expect(await metricValue(s.metrics.jobs, { outcome: "handed-off" })).toBe(1);
  });

  it("ends the job with the decode worker's refusal as its outcome", async () => {
    const s = await h.scenario({ decode: { accepted: false, reason: "unknown request" } });
    expect(await s.processor.process(await s.enqueue(s.plan("req-refused")))).toEqual({ outcome: "refused", reason: "unknown request" });
    expect(await s.decode!.notices()).toHaveLength(1);
  });

  it("takes a dead kvstore for a cache miss: the prompt is recomputed and handed off with the same first token", async () => {
    const doomed = await startKvStore({ KVTIER_NAMESPACE: randomNamespace(), KVTIER_KVSTORE_ID: "kvstore-doomed" });
    const doomedClient = h.clientOf(doomed);
    try {
      const s = await h.scenario({ store: doomedClient });
      // another prefill worker (the peer engine) computed the prompt into that store earlier
      const seeder = await h.scenario({ engine: h.peer, store: doomedClient });
      const seedPlan = s.plan("req-seed");
      expect(await seeder.processor.process(await seeder.enqueue(seedPlan))).toMatchObject({ outcome: "handed-off" });
      expect(await doomedClient.lookup(seedPlan.blockHashes, CODEC)).toBe(FULL_BLOCKS);
      const [seeded] = await seeder.decode!.notices();

      await doomed.kill("SIGKILL");
      const plan = s.plan("req-after-crash");
      expect(await s.processor.process(await s.enqueue(plan))).toEqual({ outcome: "handed-off", cachedTokens: 0 });
      expect(await metricValue(s.metrics.computedTokens)).toBe(PROMPT_TOKENS);
      expect(await metricValue(s.metrics.writtenBytes)).toBe(0);
      const notices = await s.decode!.notices();
      expect(notices).toHaveLength(1);
      expect(notices[0]).toMatchObject({ requestId: plan.requestId, error: "", firstToken: seeded.firstToken });
      expect(notices[0].blockHashes.map(hex)).toEqual(seeded.blockHashes.map(hex));
    } finally {
      await doomedClient.close();
      await doomed.kill();
    }
  });

  it("fails the job when the KV pool is full; only the last attempt tells the decode worker, with the code", async () => {
    const s = await h.scenario();
    await h.engine.openSequence(POOL_HOG);
    try {
      expect(await h.engine.reserve(POOL_HOG, ENGINE_BLOCKS * BLOCK_SIZE)).toBe(true);
      // the first of three attempts: BullMQ retries it, the decode worker keeps waiting
      await expect(s.processor.process(await s.enqueue(s.plan("req-pool-full-retried"), { attempts: 3 }))).rejects.toMatchObject({
        code: "RESOURCE_EXHAUSTED",
      });
      expect(await s.decode!.notices()).toEqual([]);
      // the only attempt: the decode worker hears at once why the request ends
      const last = s.plan("req-pool-full-last");
      await expect(s.processor.process(await s.enqueue(last, { attempts: 1 }))).rejects.toMatchObject({ code: "RESOURCE_EXHAUSTED" });
      const notices = await s.decode!.notices();
      expect(notices).toHaveLength(1);
      expect(notices[0]).toMatchObject({
        requestId: last.requestId,
        attempt: 1,
        prefillWorker: PREFILL_WORKER,
        errorCode: "RESOURCE_EXHAUSTED",
        blockHashes: [],
      });
      expect(notices[0].retryAfterMs).toBeGreaterThan(0); // the pool's retry hint travels on to the client
      expect(notices[0].error).toMatch(/KV pool cannot hold/);
      expect(await metricValue(s.metrics.jobs, { outcome: "failed" })).toBe(2);
      expect([s.processor.activeJobs, await metricValue(s.metrics.inflight)]).toEqual([0, 0]);
    } finally {
      await h.engine.closeSequence(POOL_HOG);
    }
  });
});
