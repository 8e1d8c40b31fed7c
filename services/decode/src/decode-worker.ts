// The decode worker's core: admission (decode-first hand-off), sessions, the KV-ready hand-off,
// local prefill when the router chose not to disaggregate, and storing blocks filled by decode.
import { KvReady, KvReadyAck, LoadReport, type DecodeResponse } from "@kvtier/proto";
import {
  KvtierError,
  RETRY_AFTER_FULL_MS,
  RETRY_AFTER_SHUTDOWN_MS,
  endSpan,
  messageOf,
  requestKey,
  startSpan,
  type KvStoreClient,
  type KvtierErrorCode,
  type Logger,
  type PlannedRequest,
  type Redis,
} from "@kvtier/platform";
import type { Tracer } from "@opentelemetry/api";
import { QuestPageFetcher, cachedPrefill, hasPolicy, openReserved, putBlocks, writeHandoff } from "@kvtier/serving";
import type { EngineHost, SelectionSummary, Tokenizer } from "@kvtier/tensor";
import { BatchLoop } from "./batch-loop.js";
import type { DecodeConfig } from "./config.js";
import type { DecodeMetrics } from "./decode-metrics.js";
import { DecodeSession, type DecodeSink } from "./decode-session.js";
import { loadWithPolicy } from "./policy-handoff.js";

export interface DecodeWorkerDeps {
  cfg: DecodeConfig;
  engine: EngineHost;
  store: KvStoreClient;
  tokenizer: Tokenizer;
  redis: Redis;
  metrics: DecodeMetrics;
  log: Logger;
  seqLen: number;
  tracer: Tracer;
}

export class DecodeWorker {
  private readonly sessions = new Map<string, DecodeSession>();
  private readonly loop: BatchLoop;
  private readonly pendingPuts = new Set<Promise<unknown>>();
  /** Quest pages fetched on demand, for every quest request that fetches them. */
  private readonly questPages: QuestPageFetcher;
  /** Admissions reserving their KV room: request id → attempt. */
  private readonly admitting = new Map<string, number>();
  private accepting = true;

  constructor(private readonly d: DecodeWorkerDeps) {
    this.questPages = new QuestPageFetcher(d.store, d.engine.modelInfo.config, d.log);
    d.engine.setQuestPageFetcher(this.questPages.fetch);
    this.loop = new BatchLoop(
      d.engine,
      d.cfg.maxBatch,
      d.metrics,
      (s, i, h) => this.storeFilledBlock(s, i, h),
      d.log,
      (s) => this.questPages.failure(s.seqId),
    );
  }

  /** Admit a request (or throw RESOURCE_EXHAUSTED / INVALID_ARGUMENT); events go to `sink`. */
  async admit(plan: PlannedRequest, sink: DecodeSink): Promise<DecodeSession> {
    const { cfg, engine, metrics } = this.d;
    if (!this.accepting)
      throw new KvtierError("UNAVAILABLE", `decode worker ${cfg.workerId} is shutting down`, { retryAfterMs: RETRY_AFTER_SHUTDOWN_MS });
    if (plan.decodeWorker !== cfg.workerId)
      throw new KvtierError("FAILED_PRECONDITION", `plan.decode_worker: this is ${cfg.workerId}, not ${plan.decodeWorker}`, {
        field: "plan.decode_worker",
      });
    const total = plan.tokens.length + plan.maxTokens;
    if (total > this.d.seqLen)
      throw new KvtierError(
        "INVALID_ARGUMENT",
        `plan.max_tokens: prompt plus max_tokens (${total}) exceeds the model context of ${this.d.seqLen}`,
        { field: "plan.max_tokens" },
      );
    // an admission awaiting its KV room counts as running, so concurrent admissions cannot pass the limit or each other
    const existing = this.sessions.get(plan.requestId);
    const pending = this.admitting.get(plan.requestId);
    if (Math.max(existing?.plan.attempt ?? 0, pending ?? 0) >= plan.attempt) {
      throw new KvtierError("ABORTED", `request ${plan.requestId} attempt ${plan.attempt} is stale or already running`);
    }
    existing?.abort(new KvtierError("ABORTED", "superseded by a newer attempt"));
    if (pending === undefined && this.sessions.size + this.admitting.size >= cfg.maxRunning) {
      metrics.rejected.inc({ reason: "max_running" });
      throw new KvtierError(
        "RESOURCE_EXHAUSTED",
        `decode worker ${cfg.workerId} runs ${this.sessions.size + this.admitting.size} requests (limit ${cfg.maxRunning})`,
        { retryAfterMs: RETRY_AFTER_FULL_MS },
      );
    }
    this.admitting.set(plan.requestId, plan.attempt);
    const stillAdmitting = (): boolean => this.admitting.get(plan.requestId) === plan.attempt;
    let seqId: string;
    try {
      seqId = await openReserved(engine, plan, total);
    } catch (err) {
      if (stillAdmitting()) this.admitting.delete(plan.requestId);
      metrics.rejected.inc({ reason: "kv_pool" });
      throw err;
    }
    if (!stillAdmitting() || !this.accepting) {
      // a newer attempt arrived (or shutdown began) while the room was reserved
      if (stillAdmitting()) this.admitting.delete(plan.requestId);
      void engine.closeSequence(seqId).catch((e: unknown) => this.d.log.warn("close sequence failed", { err: messageOf(e) }));
      if (!this.accepting)
        throw new KvtierError("UNAVAILABLE", `decode worker ${cfg.workerId} is shutting down`, { retryAfterMs: RETRY_AFTER_SHUTDOWN_MS });
      throw new KvtierError("ABORTED", "superseded by a newer attempt");
    }
    this.admitting.delete(plan.requestId);
    const session = new DecodeSession(plan, seqId, sink, this.d.tokenizer, cfg.blockSize);
    const span = startSpan(this.d.tracer, "kvtier.decode", plan.traceParent, {
      "kvtier.request_id": plan.requestId,
      "kvtier.attempt": plan.attempt,
    });
    session.whenEnded(() => {
      span.setAttribute("kvtier.completion_tokens", session.generated);
      endSpan(span, session.failure);
    });
    this.sessions.set(plan.requestId, session);
    metrics.inflight.inc();
    const timer = setTimeout(
      () =>
        session.state === "awaiting-kv" &&
        session.abort(new KvtierError("UNAVAILABLE", `no KV from prefill worker ${plan.prefillWorker} within ${cfg.kvReadyTimeoutMs} ms`)),
      cfg.kvReadyTimeoutMs,
    );
    session.whenEnded(() => {
      clearTimeout(timer);
      if (this.sessions.get(plan.requestId) === session) this.sessions.delete(plan.requestId);
      metrics.inflight.dec();
      metrics.finished.inc({ reason: session.failure?.code ?? session.finishReason ?? "UNKNOWN" });
      metrics.transferredBytes.inc(this.questPages.fetchedBytes(seqId));
      void engine.closeSequence(seqId).catch((e: unknown) => this.d.log.warn("close sequence failed", { err: messageOf(e) }));
      this.track(this.questPages.release(seqId));
    });
    sink.write({
      event: { $case: "admitted", value: { workerId: cfg.workerId, reservedBlocks: Math.ceil(total / cfg.blockSize) } },
    } satisfies DecodeResponse);
    if (plan.prefillWorker === cfg.workerId) void this.prefillLocally(session);
    return session;
  }

  /**
   * A prefill worker says a request's KV is ready. The reply is sent before the KV is fetched.
   * `traceparent` (from the NATS headers) parents the hand-off span.
   */
  async onKvReady(ready: KvReady, traceparent?: string): Promise<KvReadyAck> {
    const session = this.sessions.get(ready.requestId);
    if (!session) return { accepted: false, reason: "unknown request" };
    // the router's current attempt; without Redis (an outage) only the attempt this request was opened with counts
    const stored = await this.d.redis.hget(requestKey(this.d.cfg.namespace, ready.requestId), "attempt").catch(() => null);
    // a Redis record behind the session (the router's write of a moved attempt failed) does not make the session's own attempt stale
    const current = Math.max(Number(stored ?? 0), session.plan.attempt);
    if (ready.attempt !== current) return { accepted: false, reason: `stale attempt ${ready.attempt} (current ${current})` };
    if (session.state !== "awaiting-kv") return { accepted: false, reason: `request is ${session.state}` };
    if (ready.error) {
      session.abort(
        new KvtierError((ready.errorCode || "UNAVAILABLE") as KvtierErrorCode, `prefill failed: ${ready.error}`, {
          retryAfterMs: ready.retryAfterMs || undefined,
        }),
      );
      return { accepted: true, reason: "" };
    }
    session.state = "loading";
    void this.loadAndRun(session, ready, traceparent);
    return { accepted: true, reason: "" };
  }

  /** Cancel a request wherever it is. */
  cancel(requestId: string, reason: string): void {
    this.sessions.get(requestId)?.abort(new KvtierError("CANCELLED", `cancelled: ${reason}`));
  }

  load(): LoadReport {
    let blocks = 0;
    for (const s of this.sessions.values()) blocks += Math.ceil(s.chain.length / this.d.cfg.blockSize);
    return {
      workerId: this.d.cfg.workerId,
      role: "decode",
      queuedPrefillTokens: 0,
      activeDecodeBlocks: blocks,
      freeBlocks: 0,
      runningRequests: this.sessions.size,
      unixMs: Date.now(),
      leaving: false,
    };
  }

  /** Stop admitting, let running requests finish (bounded by the caller), wait for block writes. */
  async drain(): Promise<void> {
    this.accepting = false;
    while (this.sessions.size > 0) await new Promise((r) => setTimeout(r, 50));
    await this.loop.drained();
    await Promise.allSettled([...this.pendingPuts]);
  }

  /** Abort every session (shutdown past its grace). */
  abortAll(reason: string): void {
    for (const s of [...this.sessions.values()]) s.abort(new KvtierError("UNAVAILABLE", reason));
  }

  private async loadAndRun(session: DecodeSession, ready: KvReady, traceparent: string | undefined): Promise<void> {
    const { engine, store, metrics, log, cfg } = this.d;
    const span = startSpan(this.d.tracer, "kvtier.handoff.load", traceparent || session.plan.traceParent, {
      "kvtier.request_id": session.plan.requestId,
    });
    try {
      const { loaded, summary, pagesOnDemand } = await loadWithPolicy(
        engine,
        store,
        session.plan,
        ready,
        log,
        () => this.registerPromptBlocks(session),
        this.questPages,
      );
      span.setAttributes({ "kvtier.transferred_bytes": loaded.transferredBytes, "kvtier.recomputed_tokens": loaded.recomputedTokens });
      endSpan(span);
      metrics.transferredBytes.inc(loaded.transferredBytes);
      metrics.recomputedTokens.inc(loaded.recomputedTokens);
      const first = {
        token: ready.firstToken,
        logprob: ready.firstLogprobs?.chosen?.logprob ?? 0,
        top: (ready.firstLogprobs?.top ?? []).map((t) => ({ token: t.tokenId, logprob: t.logprob })),
      };
      const goesOn = session.begin({
        first,
        samplerState: Uint32Array.from(ready.sampler?.rng ?? []),
        cachedTokens: ready.cachedTokens,
        cachedByTier: { device: ready.cachedByTier?.device ?? 0, host: ready.cachedByTier?.host ?? 0, ssd: ready.cachedByTier?.ssd ?? 0 },
        loadedBytesByTier: {
          device: ready.loadedBytesByTier?.device ?? 0,
          host: ready.loadedBytesByTier?.host ?? 0,
          ssd: ready.loadedBytesByTier?.ssd ?? 0,
        },
        transferredBytes: loaded.transferredBytes,
        disaggregated: true,
        selection: summary,
        laterTransferredBytes: pagesOnDemand ? () => this.questPages.fetchedBytes(session.seqId) : undefined,
      });
      if (goesOn) this.loop.add(session);
    } catch (err) {
      endSpan(span, err);
      log.error("hand-off failed", { requestId: session.plan.requestId, worker: cfg.workerId, err: messageOf(err) });
      session.abort(err instanceof KvtierError ? err : new KvtierError("INTERNAL", `hand-off failed: ${messageOf(err)}`));
    }
  }

  private async prefillLocally(session: DecodeSession): Promise<void> {
    const { engine, store, log, cfg } = this.d;
    session.state = "loading";
    try {
      const out = await cachedPrefill(engine, store, session.plan, cfg.blockSize, log);
      await this.registerPromptBlocks(session);
      const written = writeHandoff(engine, store, session.plan, out, cfg.blockSize, log, { residualWindow: false });
      let selection: SelectionSummary | null = null;
      if (hasPolicy(session.plan)) {
        // the shared blocks are exported from the dense prompt before it is compressed
        await written;
        selection = await engine.compress(session.seqId);
      } else this.track(written);
      const goesOn = session.begin({ ...out, first: out.first, transferredBytes: 0, disaggregated: false, selection });
      if (goesOn) this.loop.add(session);
    } catch (err) {
      session.abort(err instanceof KvtierError ? err : new KvtierError("INTERNAL", `prefill failed: ${messageOf(err)}`));
    }
  }

  private async registerPromptBlocks(session: DecodeSession): Promise<void> {
    const full = Math.floor(session.plan.tokens.length / this.d.cfg.blockSize);
    if (full > 0) await this.d.engine.registerBlocks(session.seqId, 0, session.plan.blockHashes.slice(0, full));
  }

  /** A block filled during decode: enter it in the device cache and write it to the kvstore. */
  private storeFilledBlock(session: DecodeSession, index: number, hash: Uint8Array): void {
    const { engine, store, log, metrics } = this.d;
    // a compressed request's KV depends on its selection: request-scoped, never shared
    if (hasPolicy(session.plan)) return;
    // both calls are queued to the engine thread now, before the session can close its sequence
    void engine.registerBlocks(session.seqId, index, [hash]).catch((e: unknown) => log.warn("register failed", { err: messageOf(e) }));
    // only exact KV is shared: a block computed over a lossy-coded prefix stays this request's
    const exported = engine.exportBlocks(session.seqId, index, 1, session.plan.codec, [hash], true);
    this.track(
      exported.then(async (blocks) => {
        if (blocks.length === 0) return;
        await putBlocks(store, blocks, log);
        metrics.storedBlocks.inc(blocks.length);
      }),
    );
  }

  private track(p: Promise<unknown>): void {
    const q = p.catch((e: unknown) => this.d.log.warn("background write failed", { err: messageOf(e) }));
    this.pendingPuts.add(q);
    void q.finally(() => this.pendingPuts.delete(q));
  }
}
