// The router's side of the prefill job queues: one BullMQ queue per prefill worker. Job id is
// `requestId@attempt` (see platform naming); job data is the PrefillJob JSON, never KV bytes.
import { Queue } from "bullmq";
import { PrefillJob } from "@kvtier/proto";
import {
  bullPrefix,
  messageOf,
  planToWire,
  prefillJobId,
  prefillQueueName,
  type Logger,
  type PlannedRequest,
  type Redis,
} from "@kvtier/platform";

/** Completed/failed prefill jobs kept for inspection, per queue. */
const KEEP_FINISHED_JOBS = 1000;
/** Backoff between attempts of a failed prefill job. */
const PREFILL_RETRY_BACKOFF_MS = 200;

export class PrefillQueues {
  private readonly queues = new Map<string, Queue>();

  constructor(
    private readonly redis: Redis,
    private readonly ns: string,
    private readonly attempts: number,
    private readonly log: Logger,
  ) {}

  private queue(workerId: string): Queue {
    let q = this.queues.get(workerId);
    if (!q) {
      q = new Queue(prefillQueueName(workerId), { connection: this.redis, prefix: bullPrefix(this.ns) });
      this.queues.set(workerId, q);
    }
    return q;
  }

  async enqueue(plan: PlannedRequest): Promise<void> {
    const data = PrefillJob.toJSON({ plan: planToWire(plan) }) as Record<string, unknown>;
    await this.queue(plan.prefillWorker).add("prefill", data, {
      jobId: prefillJobId(plan.requestId, plan.attempt),
      attempts: this.attempts,
      backoff: { type: "fixed", delay: PREFILL_RETRY_BACKOFF_MS },
      removeOnComplete: KEEP_FINISHED_JOBS,
      removeOnFail: KEEP_FINISHED_JOBS,
    });
  }

  /** Remove a job that has not started (cancel, reassignment); an active job is cancelled over NATS. */
  async removeIfWaiting(workerId: string, requestId: string, attempt: number): Promise<boolean> {
    try {
      const job = await this.queue(workerId).getJob(prefillJobId(requestId, attempt));
      if (!job) return false;
      const state = await job.getState();
      if (state === "waiting" || state === "delayed" || state === "prioritized") {
        await job.remove();
        return true;
      }
    } catch (err) {
      this.log.warn("could not remove prefill job", { workerId, requestId, err: messageOf(err) });
    }
    return false;
  }

  /** State of a job ("waiting", "active", "completed", "failed", ... or "unknown"). */
  async state(workerId: string, requestId: string, attempt: number): Promise<string> {
    const job = await this.queue(workerId).getJob(prefillJobId(requestId, attempt));
    return job ? job.getState() : "unknown";
  }

  /** Remove a lost worker's queue with every job in it (active ones included). */
  async retire(workerId: string): Promise<void> {
    try {
      await this.queue(workerId).obliterate({ force: true });
      this.log.info("retired the queue of a lost prefill worker", { workerId });
    } catch (err) {
      this.log.warn("could not retire a prefill queue", { workerId, err: messageOf(err) });
    } finally {
      await this.queues.get(workerId)?.close();
      this.queues.delete(workerId);
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
  }
}
