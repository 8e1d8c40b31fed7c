// One prefill job: refuse stale attempts and cancelled requests, run the cached prefill, write
// the blocks to the kvstore, and tell the decode worker the KV is ready (NATS request/reply).
import { UnrecoverableError, type Job } from "bullmq";
import { RequestError, headers } from "@nats-io/transport-node";
import type { Span, Tracer } from "@opentelemetry/api";
import { KvReady, KvReadyAck, PrefillJob } from "@kvtier/proto";
import {
  KvtierError,
  endSpan,
  kvReadySubject,
  messageOf,
  planFromWire,
  requestKey,
  startSpan,
  traceparentOf,
  type KvStoreClient,
  type Logger,
  type NatsConnection,
  type PlannedRequest,
  type Redis,
} from "@kvtier/platform";
import { cachedPrefill, openReserved, writeHandoff, writeQuestPages, writeSelection } from "@kvtier/serving";
import type { EngineHost } from "@kvtier/tensor";
import type { PrefillConfig } from "./config.js";
import type { PrefillMetrics } from "./prefill-metrics.js";

/** How long a cancel notice is remembered (a job may still be queued behind others). */
const CANCEL_MEMORY_MS = 10 * 60_000;

export interface PrefillDeps {
  cfg: PrefillConfig;
  engine: EngineHost;
  store: KvStoreClient;
  nc: NatsConnection;
  redis: Redis;
  metrics: PrefillMetrics;
  log: Logger;
  tracer: Tracer;
}

/** What a job returns (kept by BullMQ as its return value). */
export interface PrefillResult {
  outcome: "handed-off" | "stale" | "cancelled" | "refused";
  reason?: string;
  cachedTokens?: number;
}

export class PrefillProcessor {
  private readonly cancelled = new Map<string, number>();
  private queuedTokens = 0;
  private active = 0;

  constructor(private readonly d: PrefillDeps) {}

  /** Remember a cancel; a job of that request that has not finished stops at its next step. */
  cancel(requestId: string): void {
    const now = Date.now();
    this.cancelled.set(requestId, now);
    for (const [id, t] of this.cancelled) if (now - t > CANCEL_MEMORY_MS) this.cancelled.delete(id);
  }

  /** Prompt tokens of jobs being processed now (for load reports). */
  get activeTokens(): number {
    return this.queuedTokens;
  }

  /** Jobs being processed now. */
  get activeJobs(): number {
    return this.active;
  }

  async process(job: Job): Promise<PrefillResult> {
    const { metrics } = this.d;
    let plan: PlannedRequest;
    try {
      plan = planFromWire(PrefillJob.fromJSON(job.data).plan);
    } catch (err) {
      metrics.jobs.inc({ outcome: "invalid" });
      throw new UnrecoverableError(`invalid job data: ${messageOf(err)}`);
    }
    metrics.queueWait.observe((Date.now() - job.timestamp) / 1000);
    const span = startSpan(this.d.tracer, "kvtier.prefill", plan.traceParent, {
      "kvtier.request_id": plan.requestId,
      "kvtier.attempt": plan.attempt,
    });
    const stopTimer = metrics.duration.startTimer();
    metrics.inflight.inc();
    this.active += 1;
    this.queuedTokens += plan.tokens.length;
    try {
      const result = await this.run(plan, job, span);
      metrics.jobs.inc({ outcome: result.outcome });
      span.setAttribute("kvtier.outcome", result.outcome);
      endSpan(span);
      return result;
    } catch (err) {
      endSpan(span, err);
      metrics.jobs.inc({ outcome: "failed" });
      const last = err instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      if (last) await this.notifyFailure(plan, err);
      throw err;
    } finally {
      this.queuedTokens -= plan.tokens.length;
      this.active -= 1;
      metrics.inflight.dec();
      stopTimer();
    }
  }

  private async run(plan: PlannedRequest, job: Job, span: Span): Promise<PrefillResult> {
    const { cfg, engine, store, log, metrics } = this.d;
    if (this.cancelled.has(plan.requestId)) return { outcome: "cancelled" };
    const current = await this.currentAttempt(plan);
    if (current > plan.attempt) return { outcome: "stale", reason: `attempt ${plan.attempt} < current ${current}` };
    const seqId = await openReserved(engine, plan, plan.tokens.length);
    try {
      const out = await cachedPrefill(engine, store, plan, cfg.blockSize, log);
      span.setAttributes({ "kvtier.cached_tokens": out.cachedTokens, "kvtier.computed_tokens": plan.tokens.length - out.cachedTokens });
      metrics.computedTokens.inc(plan.tokens.length - out.cachedTokens);
      metrics.cachedTokens.inc({ tier: "device" }, out.cachedByTier.device);
      metrics.cachedTokens.inc({ tier: "host" }, out.cachedByTier.host);
      metrics.loadedBytes.inc({ tier: "host" }, out.loadedBytesByTier.host);
      if (this.cancelled.has(plan.requestId)) return { outcome: "cancelled" };
      const full = Math.floor(plan.tokens.length / cfg.blockSize);
      if (full > 0) await engine.registerBlocks(seqId, 0, plan.blockHashes.slice(0, full));
      const handoff = await writeHandoff(engine, store, plan, out, cfg.blockSize, log);
      metrics.writtenBytes.inc(handoff.bytesWritten);
      // quest: every page and its key bounds, so the decode worker fetches only the pages it selects
      const questPages = await writeQuestPages(engine, store, plan, cfg.blockSize, log);
      if (questPages) metrics.writtenBytes.inc(questPages.bytesWritten);
      // after the shared blocks are out: compress the request's own copy and hand off its kept entries
      const selection = await writeSelection(engine, store, plan, log);
      if (selection) {
        metrics.writtenBytes.inc(selection.bytesWritten);
        span.setAttributes({
          "kvtier.policy": plan.policy,
          "kvtier.kept_kv_entries": selection.summary.keptEntries,
          "kvtier.selection_bytes": selection.bytesWritten,
        });
      }
      await job.updateProgress(50);
      const ready: KvReady = {
        requestId: plan.requestId,
        attempt: plan.attempt,
        prefillWorker: cfg.workerId,
        blockHashes: handoff.blockHashes,
        tailHash: handoff.tailHash,
        tailTokens: handoff.tailTokens,
        kvstoreEndpoint: cfg.kvstoreEndpoint,
        codec: plan.codec,
        firstToken: out.first.token,
        firstLogprobs: {
          chosen: { tokenId: out.first.token, logprob: out.first.logprob },
          top: out.first.top.map((t) => ({ tokenId: t.token, logprob: t.logprob })),
        },
        sampler: { rng: [...out.samplerState] },
        cachedTokens: out.cachedTokens,
        cachedByTier: out.cachedByTier,
        loadedBytesByTier: out.loadedBytesByTier,
        error: "",
        errorCode: "",
        retryAfterMs: 0,
        selection: selection?.wire,
        questPages: questPages?.wire,
      };
      const ack = await this.tellDecode(plan, ready, traceparentOf(span));
      if (!ack.accepted) return { outcome: "refused", reason: ack.reason };
      return { outcome: "handed-off", cachedTokens: out.cachedTokens };
    } finally {
      await engine.closeSequence(seqId);
    }
  }

  /** The router's current attempt of the request; the job's own when Redis cannot say (the decode worker checks again). */
  private async currentAttempt(plan: PlannedRequest): Promise<number> {
    const v = await this.d.redis.hget(requestKey(this.d.cfg.namespace, plan.requestId), "attempt").catch(() => null);
    return v === null ? plan.attempt : Number(v);
  }

  private async tellDecode(plan: PlannedRequest, ready: KvReady, traceparent: string): Promise<KvReadyAck> {
    const h = headers();
    if (traceparent) h.set("traceparent", traceparent);
    try {
      const reply = await this.d.nc.request(kvReadySubject(this.d.cfg.namespace, plan.decodeWorker), KvReady.encode(ready).finish(), {
        timeout: this.d.cfg.kvReadyTimeoutMs,
        headers: h,
      });
      return KvReadyAck.decode(reply.data);
    } catch (err) {
      if (err instanceof RequestError && err.isNoResponders()) {
        // the decode worker is gone: the router ends or moves the request; retrying here is useless
        throw new UnrecoverableError(`decode worker ${plan.decodeWorker} is not listening`);
      }
      throw err;
    }
  }

  /** Final failure: tell the decode worker so the client gets a status now, not at a timeout. */
  private async notifyFailure(plan: PlannedRequest, err: unknown): Promise<void> {
    const code = err instanceof KvtierError ? err.code : "UNAVAILABLE";
    const retryAfterMs = err instanceof KvtierError ? (err.retryAfterMs ?? 0) : 0;
    const notice = KvReady.fromPartial({
      requestId: plan.requestId,
      attempt: plan.attempt,
      prefillWorker: this.d.cfg.workerId,
      error: messageOf(err),
      errorCode: code,
      retryAfterMs,
    });
    try {
      await this.d.nc.request(kvReadySubject(this.d.cfg.namespace, plan.decodeWorker), KvReady.encode(notice).finish(), {
        timeout: this.d.cfg.kvReadyTimeoutMs,
      });
    } catch (e) {
      this.d.log.warn("could not report prefill failure to decode", { requestId: plan.requestId, err: messageOf(e) });
    }
  }
}
