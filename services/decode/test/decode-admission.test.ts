// DecodeWorker admission and release, on the real engine's KV pool with real hand-offs: admission
// reserves prompt + max_tokens and refuses RESOURCE_EXHAUSTED with a retry hint when the pool or
// KVTIER_MAX_RUNNING is full; the same request and attempt is refused ABORTED and a newer attempt
// supersedes the older session; a session that finishes, fails, times out or is cancelled gives
// its room back (nothing in flight, and the admission that needed the room succeeds); cancel
// before and after the KV arrives ends the session CANCELLED.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { KvtierError, PlannedRequest } from "@kvtier/platform";
import {
  BLOCK_SIZE,
  DECODE_BLOCKS,
  DECODE_WORKER,
  DecodeHarness,
  LONG_MAX_TOKENS,
  PROMPT_TOKENS,
  SHORT_MAX_TOKENS,
  type DecodeScenario,
} from "./support/decode-harness.js";
import { metricValue } from "../../../tests/support/worker-test-kit.js";

/** Blocks a long request reserves (prompt + LONG_MAX_TOKENS). */
const LONG_BLOCKS = Math.ceil((PROMPT_TOKENS + LONG_MAX_TOKENS) / BLOCK_SIZE);
/** Blocks a short request reserves (prompt + SHORT_MAX_TOKENS). */
const SHORT_BLOCKS = Math.ceil((PROMPT_TOKENS + SHORT_MAX_TOKENS) / BLOCK_SIZE);
/** KVTIER_MAX_RUNNING of the running-limit test: two short requests, with room in the pool for a third. */
const MAX_RUNNING = 2;
/** KVTIER_KV_READY_TIMEOUT_MS of the scenario whose KV never comes, in ms (the config's minimum). */
const SHORT_KV_READY_TIMEOUT_MS = 100;

let h: DecodeHarness;
beforeAll(async () => {
  h = await DecodeHarness.start();
});
afterEach(async () => {
  await h?.closeScenarios();
});
afterAll(async () => {
  await h?.close();
});

/** How each ending is brought about, and the status the caller sees (undefined: finished). */
const ENDINGS: Record<string, { end(s: DecodeScenario, plan: PlannedRequest): Promise<void>; status: string | undefined }> = {
  finished: {
    end: async (s, plan) => expect(await s.send(await s.handOff(plan))).toEqual({ accepted: true, reason: "" }),
    status: undefined,
  },
  "failed in prefill": {
    end: async (s, plan) =>
      expect(await s.send(s.failureNotice(plan, "INTERNAL", "engine worker died"))).toEqual({ accepted: true, reason: "" }),
    status: "INTERNAL",
  },
  "never given its KV": { end: async () => undefined, status: "UNAVAILABLE" },
  cancelled: { end: async (s, plan) => s.worker.cancel(plan.requestId, "client went away"), status: "CANCELLED" },
};

describe("DecodeWorker admission", () => {
  it("reserves prompt + max_tokens in the KV pool, and refuses RESOURCE_EXHAUSTED with a retry hint when the pool cannot hold more", async () => {
    const s = await h.scenario();
    const { sink } = await s.admit(s.plan("req-long-a", { maxTokens: LONG_MAX_TOKENS }));
    expect(sink.events).toEqual([{ event: { $case: "admitted", value: { workerId: DECODE_WORKER, reservedBlocks: LONG_BLOCKS } } }]);
    expect(await h.engine.freeBlocks()).toBe(DECODE_BLOCKS - LONG_BLOCKS);

    const refused = await s.refusal(s.plan("req-long-b", { maxTokens: LONG_MAX_TOKENS }));
    expect(refused.code).toBe("RESOURCE_EXHAUSTED");
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(await metricValue(s.metrics.rejected, { reason: "kv_pool" })).toBe(1);
    expect([s.worker.load().runningRequests, await metricValue(s.metrics.inflight)]).toEqual([1, 1]);
    // a request that fits the room left is admitted
    await s.admit(s.plan("req-short", { maxTokens: SHORT_MAX_TOKENS }));
    expect(await h.engine.freeBlocks()).toBe(DECODE_BLOCKS - LONG_BLOCKS - SHORT_BLOCKS);
  });

  it("refuses RESOURCE_EXHAUSTED with a retry hint past KVTIER_MAX_RUNNING, though the pool has room", async () => {
    const s = await h.scenario({ maxRunning: MAX_RUNNING });
    for (let i = 0; i < MAX_RUNNING; i++) await s.admit(s.plan(`req-${i}`));
    const refused = await s.refusal(s.plan("req-one-too-many"));
    expect(refused.code).toBe("RESOURCE_EXHAUSTED");
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(await metricValue(s.metrics.rejected, { reason: "max_running" })).toBe(1);
    expect(await h.engine.freeBlocks()).toBeGreaterThanOrEqual(SHORT_BLOCKS);
    expect(s.worker.load().runningRequests).toBe(MAX_RUNNING);
  });

  it("refuses the same request and attempt again (ABORTED); a newer attempt supersedes the older session and takes its KV", async () => {
    const s = await h.scenario();
    const plan = s.plan("req-twice");
    const first = await s.admit(plan);
    expect((await s.refusal(plan)).code).toBe("ABORTED");
    expect([first.session.state, first.sink.failure]).toEqual(["awaiting-kv", undefined]);

    const second = await s.admit({ ...plan, attempt: 2 });
    expect(first.sink.failure?.code).toBe("ABORTED");
    expect(first.session.state).toBe("ended");
    expect((await s.refusal(plan)).code).toBe("ABORTED"); // older than the running attempt
    expect([s.worker.load().runningRequests, await metricValue(s.metrics.inflight)]).toEqual([1, 1]);
    expect(await h.engine.freeBlocks()).toBe(DECODE_BLOCKS - SHORT_BLOCKS); // the superseded session's room went back

    expect(await s.send(await s.handOff({ ...plan, attempt: 2 }))).toEqual({ accepted: true, reason: "" });
    await second.sink.ended;
    expect(second.sink.finished).toMatchObject({ finishReason: "length", completionTokens: SHORT_MAX_TOKENS });
    await s.expectIdle();
  });
});

describe("DecodeWorker concurrent admission", () => {
  it("holds KVTIER_MAX_RUNNING when admissions arrive together: the one past the limit is refused RESOURCE_EXHAUSTED", async () => {
    const s = await h.scenario({ maxRunning: 1 });
    const outcomes = await Promise.allSettled([s.admit(s.plan("req-together-a")), s.admit(s.plan("req-together-b"))]);
    expect(outcomes.map((o) => o.status).sort()).toEqual(["fulfilled", "rejected"]);
    const refused = outcomes.find((o) => o.status === "rejected")!.reason as KvtierError;
    expect([refused.code, refused.retryAfterMs! > 0]).toEqual(["RESOURCE_EXHAUSTED", true]);
    expect(await metricValue(s.metrics.rejected, { reason: "max_running" })).toBe(1);
    expect(s.worker.load().runningRequests).toBe(1);
    expect(await h.engine.freeBlocks()).toBe(DECODE_BLOCKS - SHORT_BLOCKS);
  });

  it("refuses a duplicate admitted at the same moment ABORTED, and lets the newer of two attempts arriving together win", async () => {
    const s = await h.scenario();
    const plan = s.plan("req-dup-together");
    const dup = await Promise.allSettled([s.admit(plan), s.admit(plan)]);
    expect(dup.map((o) => o.status).sort()).toEqual(["fulfilled", "rejected"]);
    expect((dup.find((o) => o.status === "rejected")!.reason as KvtierError).code).toBe("ABORTED");
    expect(await metricValue(s.metrics.rejected, { reason: "kv_pool" })).toBe(0);
    s.worker.cancel(plan.requestId, "next case");
    await s.expectIdle();

    const racing = s.plan("req-attempts-together");
    const [older, newer] = await Promise.allSettled([s.admit(racing), s.admit({ ...racing, attempt: 2 })]);
    expect(newer.status).toBe("fulfilled");
    // the older attempt either lost before it was admitted or was superseded once the newer one was
    if (older.status === "rejected") expect((older.reason as KvtierError).code).toBe("ABORTED");
    else expect(older.value.sink.failure?.code).toBe("ABORTED");
    expect(s.worker.load().runningRequests).toBe(1);
    expect(await h.engine.freeBlocks()).toBe(DECODE_BLOCKS - SHORT_BLOCKS);
  });
});

describe("DecodeWorker release", () => {
  it.each(Object.keys(ENDINGS))(
    "gives back the room of a session %s: nothing in flight, and the admission that needed it succeeds",
    async (ending) => {
      const { end, status } = ENDINGS[ending];
      const s = await h.scenario(ending === "never given its KV" ? { kvReadyTimeoutMs: SHORT_KV_READY_TIMEOUT_MS } : {});
      const plan = s.plan("req-holder", { maxTokens: LONG_MAX_TOKENS });
      const holder = await s.admit(plan);
      const waiting = s.plan("req-waiting", { maxTokens: LONG_MAX_TOKENS });
      expect((await s.refusal(waiting)).code).toBe("RESOURCE_EXHAUSTED");

      await end(s, plan);
      await holder.sink.ended;
      expect(holder.session.state).toBe("ended");
      expect(holder.sink.failure?.code).toBe(status);
      expect(holder.sink.finished === undefined).toBe(status !== undefined);
      expect(await metricValue(s.metrics.finished, { reason: status ?? "length" })).toBe(1);
      await s.expectIdle();
      const admitted = await s.admit(waiting);
      expect(admitted.sink.kinds).toEqual(["admitted"]);
    },
  );

  it("ends a session cancelled before its KV arrives CANCELLED, and refuses the KvReady that comes late", async () => {
    const s = await h.scenario();
    const plan = s.plan("req-cancel-early");
    const { session, sink } = await s.admit(plan);
    s.worker.cancel(plan.requestId, "client went away");
    expect(sink.failure?.code).toBe("CANCELLED");
    expect([session.state, sink.kinds]).toEqual(["ended", ["admitted"]]);
    expect(await s.send(await s.handOff(plan))).toEqual({ accepted: false, reason: "unknown request" });
    await s.expectIdle();
  });

  it("ends a session cancelled while it decodes CANCELLED, before its last token", async () => {
    const s = await h.scenario();
    const plan = s.plan("req-cancel-decoding", { maxTokens: LONG_MAX_TOKENS });
    const { session, sink } = await s.admit(plan);
    expect(await s.send(await s.handOff(plan))).toEqual({ accepted: true, reason: "" });
    await sink.firstToken;
    expect(session.state).toBe("running");
    s.worker.cancel(plan.requestId, "client went away");
    await sink.ended;
    expect(sink.failure?.code).toBe("CANCELLED");
    expect(sink.finished).toBeUndefined();
    expect(sink.tokens.length).toBeLessThan(LONG_MAX_TOKENS);
    await s.worker.drain(); // the step in flight at the cancel has returned
    // every token counted as decoded reached the caller (the first came from prefill): the cancelled row of that step was dropped
    expect(await metricValue(s.metrics.tokens)).toBe(sink.tokens.length - 1);
    await s.expectIdle();
  });
});
