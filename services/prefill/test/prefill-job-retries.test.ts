// A prefill job whose decode worker does not take its KvReady, run by a real BullMQ Worker as the
// prefill worker's main runs it: a decode worker that does not answer in time fails the attempt
// and BullMQ retries it, the last attempt also tells the decode worker why the request ends; a
// decode worker that is gone (nobody listens) fails the job for good at once, with no retry.
import { QueueEvents, Worker, type Job } from "bullmq";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { bullPrefix, closeRedis, connectRedis, prefillQueueName } from "@kvtier/platform";
import { PrefillHarness, type PrefillScenario } from "./support/prefill-harness.js";
import { metricValue } from "../../../tests/support/worker-test-kit.js";

/** Attempts the job is given when the decode worker does not answer. */
const ATTEMPTS_WHEN_SILENT = 2;
/** Attempts the job is given when no decode worker listens (it must use only one). */
const ATTEMPTS_WHEN_GONE = 3;

/** The scenario's processor behind a BullMQ Worker on its queue, and the queue's events. */
async function runWorker(s: PrefillScenario): Promise<{ events: QueueEvents; close(): Promise<void> }> {
  const name = prefillQueueName(s.cfg.workerId);
  const prefix = bullPrefix(s.ns);
  const workerRedis = connectRedis(s.cfg.redisUrl, "prefill-test-worker", "queue-worker");
  const eventsRedis = connectRedis(s.cfg.redisUrl, "prefill-test-events", "queue-worker");
  const worker = new Worker(name, (job) => s.processor.process(job), {
    connection: workerRedis,
    prefix,
    concurrency: 1,
    lockDuration: s.cfg.jobLockMs,
    stalledInterval: s.cfg.jobLockMs,
  });
  const events = new QueueEvents(name, { connection: eventsRedis, prefix });
  await Promise.all([worker.waitUntilReady(), events.waitUntilReady()]);
  return {
    events,
    close: async () => {
      await worker.close();
      await events.close();
      await closeRedis(workerRedis);
      await closeRedis(eventsRedis);
    },
  };
}

/** Wait for the job to fail for good; its final record. */
async function finalFailure(s: PrefillScenario, job: Job, events: QueueEvents): Promise<Job> {
  await expect(job.waitUntilFinished(events)).rejects.toThrow();
  const final = await s.queue.getJob(job.id!);
  expect(await final!.getState()).toBe("failed");
  return final!;
}

let h: PrefillHarness;
const stops: Array<() => Promise<void>> = [];
beforeAll(async () => {
  h = await PrefillHarness.start();
});
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  await h?.closeScenarios();
});
afterAll(async () => {
  await h?.close();
});

describe("prefill jobs under BullMQ when the decode worker does not take the KvReady", () => {
  it("retries a job whose KvReady times out; after the last attempt the decode worker is told the request failed", async () => {
    const s = await h.scenario({ decode: "silent" });
    const w = await runWorker(s);
    stops.push(w.close);
    const plan = s.plan("req-decode-hung");
    const final = await finalFailure(s, await s.enqueue(plan, { attempts: ATTEMPTS_WHEN_SILENT }), w.events);
    expect(final.attemptsMade).toBe(ATTEMPTS_WHEN_SILENT);
    const notices = await s.decode!.notices();
    // one hand-off per attempt, then the failure notice, all for the same attempt of the request
    expect(notices.map((n) => [n.requestId, n.attempt, n.errorCode])).toEqual([
      [plan.requestId, 1, ""],
      [plan.requestId, 1, ""],
      [plan.requestId, 1, "UNAVAILABLE"],
    ]);
    expect(notices[0].blockHashes.length).toBeGreaterThan(0);
    expect(notices[2].error).not.toBe("");
    expect(await metricValue(s.metrics.jobs, { outcome: "failed" })).toBe(ATTEMPTS_WHEN_SILENT);
    expect([s.processor.activeJobs, await metricValue(s.metrics.inflight)]).toEqual([0, 0]);
  });

  it("fails a job for good, without retrying, when no decode worker listens", async () => {
    const s = await h.scenario({ decode: null });
    const w = await runWorker(s);
    stops.push(w.close);
    const plan = s.plan("req-decode-gone");
    const final = await finalFailure(s, await s.enqueue(plan, { attempts: ATTEMPTS_WHEN_GONE }), w.events);
    expect(final.attemptsMade).toBe(1);
    expect(final.failedReason).toBe(`decode worker ${plan.decodeWorker} is not listening`);
    expect(await metricValue(s.metrics.jobs, { outcome: "failed" })).toBe(1);
  });
});
