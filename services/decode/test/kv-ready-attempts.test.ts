// The decode worker's KvReady handling over NATS (nats-adapter + DecodeWorker.onKvReady), with
// real hand-offs in a real kvstore: a KvReady (or failure notice) of an attempt that is not the
// current one (the newer of Redis's record and the session's own attempt) is answered `accepted: false` with a reason and leaves the
// session waiting; the current
// attempt's KvReady is then accepted and the request decodes to its end. A second KvReady of that
// attempt (a retried prefill job), unknown requests and undecodable notices are refused too.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DecodeHarness, LONG_MAX_TOKENS, SHORT_MAX_TOKENS } from "./support/decode-harness.js";
import { metricValue } from "../../../tests/support/worker-test-kit.js";

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

describe("DecodeWorker KvReady attempts", () => {
  it("refuses a KvReady of an attempt Redis no longer records, keeps waiting, and takes the current attempt's", async () => {
    const s = await h.scenario();
    const plan = s.plan("req-prefill-moved", { attempt: 1 });
    const { session, sink } = await s.admit(plan);
    // the router moved the prefill to another worker as attempt 2; attempt 1's worker finishes anyway
    await s.setCurrentAttempt(plan.requestId, 2);
    expect(await s.send(await s.handOff(plan))).toEqual({ accepted: false, reason: "stale attempt 1 (current 2)" });
    expect(await s.send(s.failureNotice(plan, "UNAVAILABLE", "lost its engine"))).toEqual({
      accepted: false,
      reason: "stale attempt 1 (current 2)",
    });
    expect(session.state).toBe("awaiting-kv");
    expect([sink.kinds, sink.failure]).toEqual([["admitted"], undefined]);

    expect(await s.send(await s.handOff({ ...plan, attempt: 2 }))).toEqual({ accepted: true, reason: "" });
    await sink.ended;
    expect(sink.failure).toBeUndefined();
    expect(sink.finished).toMatchObject({ finishReason: "length", completionTokens: SHORT_MAX_TOKENS, disaggregated: true });
    expect(sink.tokens).toHaveLength(SHORT_MAX_TOKENS);
    expect(await metricValue(s.metrics.recomputedTokens)).toBe(0); // the hand-off's blocks were all fetched
  });

  it("refuses a KvReady older than the session's own attempt even when Redis lags behind", async () => {
    const s = await h.scenario();
    const plan = s.plan("req-readmitted", { attempt: 2 });
    const { session, sink } = await s.admit(plan);
    await s.setCurrentAttempt(plan.requestId, 1);
    expect(await s.send(await s.handOff({ ...plan, attempt: 1 }))).toEqual({ accepted: false, reason: "stale attempt 1 (current 2)" });
    expect(session.state).toBe("awaiting-kv");
    expect([sink.kinds, sink.failure]).toEqual([["admitted"], undefined]);
  });

  it("takes the session's own attempt when Redis lags behind it (the router's write of the moved attempt failed)", async () => {
    const s = await h.scenario();
    const plan = s.plan("req-redis-behind", { attempt: 2 });
    const { sink } = await s.admit(plan);
    await s.setCurrentAttempt(plan.requestId, 1);
    expect(await s.send(await s.handOff(plan))).toEqual({ accepted: true, reason: "" });
    await sink.ended;
    expect(sink.failure).toBeUndefined();
    expect(sink.finished).toMatchObject({ finishReason: "length", completionTokens: SHORT_MAX_TOKENS });
  });

  it("takes the session's own attempt when Redis has no record of the request", async () => {
    const s = await h.scenario();
    const plan = s.plan("req-no-record", { attempt: 1 });
    const { sink } = await s.admit(plan);
    expect(await s.send(await s.handOff(plan))).toEqual({ accepted: true, reason: "" });
    await sink.ended;
    expect(sink.finished).toMatchObject({ finishReason: "length", completionTokens: SHORT_MAX_TOKENS });
  });

  it("refuses a second KvReady of the current attempt (a retried prefill job) while the first one is used", async () => {
    const s = await h.scenario();
    const plan = s.plan("req-ready-twice", { maxTokens: LONG_MAX_TOKENS });
    const { sink } = await s.admit(plan);
    const ready = await s.handOff(plan);
    expect(await s.send(ready)).toEqual({ accepted: true, reason: "" });
    const again = await s.send(ready);
    expect(again.accepted).toBe(false);
    expect(again.reason).toMatch(/^request is (loading|running)$/);
    await sink.ended;
    expect(sink.failure).toBeUndefined();
    expect(sink.finished).toMatchObject({ finishReason: "length", completionTokens: LONG_MAX_TOKENS });
  });

  it("ends the request with the failure notice's status and retry hint", async () => {
    const s = await h.scenario();
    const plan = s.plan("req-prefill-pool-full");
    const { sink } = await s.admit(plan);
    expect(await s.send(s.failureNotice(plan, "RESOURCE_EXHAUSTED", "KV pool cannot hold 40 tokens now", 500))).toEqual({
      accepted: true,
      reason: "",
    });
    await sink.ended;
    expect([sink.failure?.code, sink.failure?.retryAfterMs]).toEqual(["RESOURCE_EXHAUSTED", 500]);
  });

  it("refuses a KvReady for a request it does not hold, and one it cannot decode", async () => {
    const s = await h.scenario();
    expect(await s.send(await s.handOff(s.plan("req-never-admitted")))).toEqual({ accepted: false, reason: "unknown request" });
    const garbage = await s.send(Uint8Array.from([0xff, 0xff, 0xff, 0xff]));
    expect(garbage.accepted).toBe(false);
    expect(garbage.reason).toMatch(/^undecodable KvReady/);
  });
});
