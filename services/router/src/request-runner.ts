// One Generate request end to end, from the router's side: plan, admit on a decode worker
// (decode first), enqueue the prefill job, relay tokens as text, and end exactly once: completed
// or with a status. Cancels reach every stage; a lost worker is handled here too.
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { Metadata, type ClientReadableStream } from "@grpc/grpc-js";
import { CancelRequest, type DecodeResponse, type GenerateResponse, type WorkerInfo } from "@kvtier/proto";
import {
  KvtierError,
  RETRY_AFTER_DEPENDENCY_MS,
  RETRY_AFTER_NO_WORKER_MS,
  RETRY_AFTER_POOL_MS,
  RETRY_NOW_MS,
  STATUS_ORIGIN_TRAILER,
  cancelSubject,
  codeNameOf,
  internalRequestId,
  endSpan,
  isGrpcError,
  messageOf,
  planToWire,
  requestKey,
  startSpan,
  traceparentOf,
  type Logger,
  type NatsConnection,
  type PlannedRequest,
  type Redis,
} from "@kvtier/platform";
import type { Tracer } from "@opentelemetry/api";
import {
  RequestCharge,
  hashChain,
  matchForCodec,
  reusableBlocks,
  type LoadLedger,
  type PackedHashes,
  type PeerLoads,
  type Placement as PlacementOf,
  type Placer,
  type SessionTable,
} from "@kvtier/kv-router";
import type { Tokenizer } from "@kvtier/tensor";
import { REQUEST_STATE_TTL_S, type RouterConfig } from "./config.js";
import type { DecodeClients } from "./decode-clients.js";
import { checkContext, seedFor, type GenerateParams } from "./generate-params.js";
import type { KvIndexSync } from "./kv-index-sync.js";
import type { PrefillQueues } from "./prefill-queues.js";
import type { RouterMetrics } from "./router-metrics.js";
import type { RouterPeers } from "./router-peers.js";
import { TenantNamespaces } from "./tenant-namespaces.js";
import { relayTokens } from "./token-relay.js";
import type { LiveWorker, WorkerTable } from "./worker-table.js";

type Placement = PlacementOf<LiveWorker>;

/** The error of a request whose caller went away. */
const cancelledByClient = (): KvtierError => new KvtierError("CANCELLED", "client cancelled");

/** Run a Redis call the request cannot go on without; any failure is UNAVAILABLE with a retry hint. */
async function needRedis<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw new KvtierError("UNAVAILABLE", `the request state store (Redis) is unavailable: ${messageOf(err)}`, {
      retryAfterMs: RETRY_AFTER_DEPENDENCY_MS,
      cause: err,
    });
  }
}

/** Times a request's prefill may move to another worker when its worker is lost. */
const MAX_PREFILL_MOVES = 2;
/** Times a request may start over on another decode worker when its own is lost before the first token. */
const MAX_DECODE_MOVES = 1;

export interface RunnerDeps {
  cfg: RouterConfig;
  tokenizer: Tokenizer;
  modelId: string;
  seqLen: number;
  table: WorkerTable;
  /** Places requests (the routing policy; kv-router's one placement entry point). */
  placer: Placer;
  /** This replica's in-flight accounting, its peers' shares, session placements (shared with peers). */
  ledger: LoadLedger;
  peers: PeerLoads;
  sessions: SessionTable;
  routerPeers: RouterPeers;
  sync: KvIndexSync;
  queues: PrefillQueues;
  decodeClients: DecodeClients;
  redis: Redis;
  nc: NatsConnection;
  metrics: RouterMetrics;
  log: Logger;
  tracer: Tracer;
}

/** A request between admission and its end. */
interface Running {
  plan: PlannedRequest;
  placement: Placement;
  call: ClientReadableStream<DecodeResponse>;
  firstTokenSeen: boolean;
  prefillMoves: number;
  /** Set before the decode call is cancelled, so the relay ends with this status. */
  failure: KvtierError | undefined;
  /** The failure is the loss of the decode worker (the request may start over elsewhere before its first token). */
  decodeLost: boolean;
  /** What it adds to this replica's load ledger (set once admitted). */
  charge: RequestCharge | undefined;
}

export class RequestRunner {
  private readonly running = new Map<string, Running>();
  private readonly namespaces: TenantNamespaces;

  constructor(private readonly d: RunnerDeps) {
    this.namespaces = new TenantNamespaces(d.modelId, d.cfg.blockSize, d.cfg.tenantSecret);
  }

  /** Token ids of `text`; long texts give the event loop back every few milliseconds while they are tokenized. */
  tokenize(text: string, bos: boolean): Promise<number[]> {
    return this.d.tokenizer.encodeAsync(text, { bos });
  }

  /**
   * The prompt's tokens, refused (INVALID_ARGUMENT) if they cannot fit the context with room for
   * `maxTokens`: first from a bound on its byte length (no token covers more than the longest
   * piece), so an oversized prompt is refused before it is tokenized at all.
   */
  private async promptTokens(prompt: string, bos: boolean, maxTokens: number): Promise<number[]> {
    checkContext(this.d.tokenizer.minTokens(Buffer.byteLength(prompt), { bos }), maxTokens, this.d.seqLen, true);
    const tokens = await this.tokenize(prompt, bos);
    checkContext(tokens.length, maxTokens, this.d.seqLen);
    return tokens;
  }

  /** Each token's vocabulary piece (with its leading space, as the tokenizer stores it). */
  pieces(ids: readonly number[]): string[] {
    return ids.map((id) => Buffer.from(this.d.tokenizer.piece(id)).toString("utf8"));
  }

  /**
   * Run one request; events go to `write`. Resolves when completed, rejects with a KvtierError.
   * The request is one trace: its span continues the caller's `traceparent` when one came in.
   * `signal` aborts when the caller goes away: the request stops wherever it is (CANCELLED).
   */
  async generate(
    tenant: string,
    params: GenerateParams,
    write: (ev: GenerateResponse) => void,
    signal: AbortSignal,
    deadline?: Date,
    traceparent?: string,
  ): Promise<void> {
    const span = startSpan(this.d.tracer, "kvtier.generate", traceparent, { "kvtier.tenant": tenant });
    try {
      await this.run(tenant, params, write, signal, deadline, traceparentOf(span), (k, v) => span.setAttribute(k, v));
      endSpan(span);
    } catch (err) {
      endSpan(span, err);
      throw err;
    }
  }

  private async run(
    tenant: string,
    params: GenerateParams,
    write: (ev: GenerateResponse) => void,
    signal: AbortSignal,
    deadline: Date | undefined,
    traceParent: string,
    annotate: (key: string, value: string | number | boolean) => void,
  ): Promise<void> {
    const { cfg, redis } = this.d;
    const t0 = performance.now();
    const tokens = await this.promptTokens(params.prompt, params.addBos, params.maxTokens);
    if (signal.aborted) throw cancelledByClient();
    const ns = this.namespaces.of(tenant);
    // packed for the index as it is hashed (PrefixIndex.match walks the packed words)
    const chain = hashChain(ns, tokens, cfg.blockSize);
    const hashes = [...chain.hashes];
    const clientRequestId = params.requestId ?? randomUUID();
    const requestId = internalRequestId(tenant, clientRequestId);
    annotate("kvtier.request_id", requestId);
    annotate("kvtier.prompt_tokens", tokens.length);
    const key = requestKey(cfg.namespace, requestId);
    const fresh = await needRedis(async () => {
      const created = await redis.hsetnx(key, "tenant", tenant);
      if (created) await redis.expire(key, REQUEST_STATE_TTL_S);
      return created;
    });
    if (!fresh) throw new KvtierError("ALREADY_EXISTS", `request_id: "${clientRequestId}" was already used`, { field: "request_id" });
    if (signal.aborted) throw cancelledByClient();

    const plan: PlannedRequest = {
      requestId,
      attempt: 1,
      tenant,
      tokens,
      blockHashes: hashes,
      namespaceHash: ns,
      maxTokens: params.maxTokens,
      sampling: { temperature: params.temperature, topP: params.topP, seed: params.seed || seedFor(requestId) },
      stop: params.stop,
      logprobs: params.logprobs,
      codec: params.codec,
      policy: params.policy,
      decodeWorker: "",
      prefillWorker: "",
      traceParent,
      deadlineUnixMs: deadline ? deadline.getTime() : 0,
    };
    // a decode worker lost before the request's first token: the request starts over on another one
    const exclude = new Set<string>();
    const started = (): void => write({ event: { $case: "started", value: { requestId: clientRequestId, promptTokens: tokens.length } } });
    for (let moves = 0; ; moves++) {
      const lost = await this.runPlaced(plan, chain, params, deadline, tenant, signal, exclude, t0, write, annotate, {
        started: moves === 0 ? started : undefined,
        mayMove: moves < MAX_DECODE_MOVES,
      });
      if (lost === undefined) return;
      exclude.add(lost.worker);
      plan.attempt += 1;
      this.d.log.info("request moved to another decode worker before its first token", {
        requestId,
        from: lost.worker,
        why: lost.why,
        attempt: plan.attempt,
      });
    }
  }

  /**
   * Place and admit the request, enqueue its prefill, relay its tokens. Resolves undefined when
   * done, or, when `mayMove`, to the decode worker it lost before its first token and why (the
   * caller places it again). Any other failure, a cancel included, is thrown.
   */
  private async runPlaced(
    plan: PlannedRequest,
    chain: PackedHashes,
    params: GenerateParams,
    deadline: Date | undefined,
    tenant: string,
    signal: AbortSignal,
    exclude: Set<string>,
    t0: number,
    write: (ev: GenerateResponse) => void,
    annotate: (key: string, value: string | number | boolean) => void,
    step: { started: (() => void) | undefined; mayMove: boolean },
  ): Promise<{ worker: string; why: string } | undefined> {
    const { cfg, redis, metrics } = this.d;
    const { tokens, requestId } = plan;
    const key = requestKey(cfg.namespace, requestId);
    // admission cancels its decode call itself when the caller goes away; after it, the running request is aborted
    const { run, it } = await this.admit(plan, chain, tokens.length, deadline, tenant, params.sessionId, signal, exclude);
    const onAbort = (): void => this.abort(run, cancelledByClient());
    signal.addEventListener("abort", onAbort, { once: true });
    if (signal.aborted) onAbort();
    this.running.set(requestId, run);
    metrics.inflight.inc();
    const pl = run.placement;
    annotate("kvtier.decode_worker", pl.decode.info.workerId);
    annotate("kvtier.prefill_worker", pl.prefill.info.workerId);
    annotate("kvtier.cached_tokens_available", pl.bestCachedTokens);
    const charge = RequestCharge.forPlacement(this.d.ledger, pl, tokens.length, params.maxTokens, cfg.blockSize);
    run.charge = charge;
    metrics.disaggregated.inc({ mode: pl.disaggregated ? "disaggregated" : "local" });
    metrics.prefixTokens.inc({ kind: "available" }, pl.bestCachedTokens);
    metrics.prefixTokens.inc({ kind: "captured" }, pl.chosenCachedTokens);
    step.started?.();
    try {
      // best effort: without it the workers take the request's first attempt as its current one
      await redis
        .hset(key, this.stateOf(run))
        .catch((e: unknown) => this.d.log.warn("request state not written", { requestId, err: messageOf(e) }));
      if (run.failure) throw run.failure; // cancelled meanwhile: no prefill job for nobody
      if (pl.disaggregated) await needRedis(() => this.d.queues.enqueue(plan));
      await relayTokens(run, it, tokens, params.stop, t0, write, {
        tokenizer: this.d.tokenizer,
        metrics,
        onFirstToken: () => charge.prefillDone(),
      });
      await redis.hset(key, "status", "completed").catch(() => undefined); // the client has its answer either way
      return undefined;
    } catch (err) {
      if (step.mayMove && this.decodeLostBeforeFirstToken(run, err, signal)) {
        // nothing reached the client but "started": the old attempt's job goes, no cancel is broadcast (it would reach the next attempt)
        if (pl.disaggregated) await this.d.queues.removeIfWaiting(plan.prefillWorker, requestId, plan.attempt);
        return { worker: pl.decode.info.workerId, why: this.mapFailure(run, err).message };
      }
      await this.cleanupAfterFailure(run);
      await redis.hset(key, "status", "failed").catch(() => undefined);
      throw this.mapFailure(run, err);
    } finally {
      signal.removeEventListener("abort", onAbort);
      this.running.delete(requestId);
      metrics.inflight.dec();
      charge.end();
    }
  }

  /** Whether `err` ended a request because its decode worker went away, before any token reached the client. */
  private decodeLostBeforeFirstToken(run: Running, err: unknown, signal: AbortSignal): boolean {
    if (run.firstTokenSeen || signal.aborted) return false;
    if (run.failure) return run.decodeLost;
    // the stream broke (a status no kvtier service sent): the worker's process or connection is gone
    if (!isGrpcError(err) || (codeNameOf(err.code) !== "UNAVAILABLE" && codeNameOf(err.code) !== "CANCELLED")) return false;
    const trailers = (err as { metadata?: Metadata }).metadata;
    return trailers === undefined || trailers.get(STATUS_ORIGIN_TRAILER).length === 0;
  }

  /** A worker left the registry: end (decode) or move (prefill) the requests it held. */
  onWorkerDropped(info: WorkerInfo): void {
    this.d.sync.forget(info.workerId);
    if (info.endpoint) this.d.decodeClients.drop(info.endpoint);
    const moves: Promise<void>[] = [];
    for (const run of this.running.values()) {
      if (run.plan.decodeWorker === info.workerId) {
        this.abort(
          run,
          new KvtierError("UNAVAILABLE", `decode worker ${info.workerId} was lost (heartbeat timed out)`, { retryAfterMs: RETRY_NOW_MS }),
          true,
        );
      } else if (run.plan.prefillWorker === info.workerId && run.placement.disaggregated && !run.firstTokenSeen) {
        moves.push(this.movePrefill(run));
      }
    }
    if (info.role === "prefill") {
      // Nobody consumes a lost worker's queue any more, so BullMQ's stalled-job check never runs
      // there: once its requests have moved, its queue (active jobs included) is removed, unless
      // the worker came back meanwhile.
      void Promise.allSettled(moves).then(() => {
        if (!this.d.table.get(info.workerId)) return this.d.queues.retire(info.workerId);
      });
    }
  }

  /**
   * Redis is reachable again after an outage. If it lost its data (a restart without
   * persistence), the running requests' state and their waiting prefill jobs went with it: the
   * state is written again, and a request still waiting for a prefill whose job is gone gets it
   * enqueued again as its next attempt (an old attempt a worker may still run is then stale).
   */
  async recoverAfterRedisOutage(): Promise<void> {
    const { cfg, redis, log } = this.d;
    let restored = 0;
    let requeued = 0;
    for (const run of [...this.running.values()]) {
      if (run.failure) continue;
      const key = requestKey(cfg.namespace, run.plan.requestId);
      try {
        if (!(await redis.exists(key))) {
          await redis.hset(key, { tenant: run.plan.tenant, ...this.stateOf(run) });
          await redis.expire(key, REQUEST_STATE_TTL_S);
          restored++;
        }
        if (
          run.placement.disaggregated &&
          !run.firstTokenSeen &&
          (await this.d.queues.state(run.plan.prefillWorker, run.plan.requestId, run.plan.attempt)) === "unknown"
        ) {
          run.plan.attempt += 1;
          await redis.hset(key, "attempt", run.plan.attempt);
          await this.d.queues.enqueue(run.plan);
          requeued++;
        }
      } catch (err) {
        log.warn("could not restore a request after the Redis outage", { requestId: run.plan.requestId, err: messageOf(err) });
      }
    }
    if (restored + requeued > 0) log.info("requests restored after Redis lost its data", { restored, requeued });
  }

  /** The request-state fields of a running request. */
  private stateOf(run: Running): Record<string, string | number> {
    return { attempt: run.plan.attempt, decode: run.plan.decodeWorker, prefill: run.plan.prefillWorker, status: "running" };
  }

  /** Requests in progress (shutdown waits for this to reach zero). */
  get size(): number {
    return this.running.size;
  }

  /**
   * Place and admit on a decode worker; another worker is tried when one is full. The decision
   * (prefix lookup and scoring) is timed on its own: tokenizing and hashing are not in it.
   */
  private async admit(
    plan: PlannedRequest,
    chain: PackedHashes,
    promptTokens: number,
    deadline: Date | undefined,
    tenant: string,
    sessionId: string | undefined,
    signal: AbortSignal,
    exclude: Set<string>,
  ): Promise<{ run: Running; it: AsyncIterator<DecodeResponse> }> {
    const { cfg, sync, table, metrics, ledger, peers } = this.d;
    const session = sessionId === undefined ? undefined : this.d.sessions.get(tenant, sessionId);
    const t0 = performance.now();
    const matches = matchForCodec(sync.index, chain, plan.codec);
    for (let tryNo = 1; ; tryNo++) {
      const loads = { ledger, peers, nowMs: ledger.nowMs() }; // one clock reading per placement
      const placement = this.d.placer.place({
        roster: table.roster(),
        matches,
        promptTokens,
        reusableBlocks: reusableBlocks(promptTokens, cfg.blockSize),
        loads,
        exclude,
        session,
      });
      if (tryNo === 1) metrics.decisionSeconds.observe((performance.now() - t0) / 1000);
      if (!placement) {
        const refused = [...table.refusedWorkers()].map(([id, why]) => `${id}: ${why}`).join("; ");
        throw new KvtierError(
          "UNAVAILABLE",
          `no decode worker available${refused ? ` (refused for an incompatible KV layout: ${refused})` : ""}`,
          { retryAfterMs: RETRY_AFTER_NO_WORKER_MS },
        );
      }
      plan.decodeWorker = placement.decode.info.workerId;
      plan.prefillWorker = placement.prefill.info.workerId;
      const md = new Metadata();
      if (plan.traceParent) md.set("traceparent", plan.traceParent);
      const call = this.d.decodeClients
        .get(placement.decode.info.endpoint)
        .decode({ plan: planToWire(plan) }, md, deadline ? { deadline } : {});
      const it = call[Symbol.asyncIterator]() as AsyncIterator<DecodeResponse>;
      const onAbort = (): void => call.cancel();
      signal.addEventListener("abort", onAbort, { once: true });
      try {
        if (signal.aborted) throw cancelledByClient();
        const first = await it.next();
        if (signal.aborted) throw cancelledByClient();
        if (first.done || first.value.event?.$case !== "admitted")
          throw new KvtierError("INTERNAL", `decode worker ${plan.decodeWorker} did not admit the request`);
        if (sessionId !== undefined) {
          const workers = { decode: plan.decodeWorker, prefill: plan.prefillWorker };
          this.d.sessions.set(tenant, sessionId, workers);
          this.d.routerPeers.notePlacement(tenant, sessionId, workers);
        }
        return {
          run: { plan, placement, call, firstTokenSeen: false, prefillMoves: 0, failure: undefined, decodeLost: false, charge: undefined },
          it,
        };
      } catch (err) {
        call.cancel();
        if (signal.aborted) throw cancelledByClient();
        const code = isGrpcError(err) ? codeNameOf(err.code) : undefined;
        if ((code === "RESOURCE_EXHAUSTED" || code === "UNAVAILABLE") && tryNo < cfg.decodeAdmitTries) {
          exclude.add(plan.decodeWorker);
          continue;
        }
        throw isGrpcError(err)
          ? new KvtierError(codeNameOf(err.code), `decode worker ${plan.decodeWorker}: ${err.details ?? err.message}`, {
              retryAfterMs: code === "RESOURCE_EXHAUSTED" ? RETRY_AFTER_POOL_MS : undefined,
            })
          : err;
      } finally {
        signal.removeEventListener("abort", onAbort);
      }
    }
  }

  private abort(run: Running, err: KvtierError, decodeLost = false): void {
    if (run.failure) return;
    run.failure = err;
    run.decodeLost = decodeLost;
    run.call.cancel();
  }

  /** After a failure: the prefill job must not stay queued, and every stage hears the cancel. */
  private async cleanupAfterFailure(run: Running): Promise<void> {
    const { plan } = run;
    this.d.nc.publish(
      cancelSubject(this.d.cfg.namespace),
      CancelRequest.encode({ requestId: plan.requestId, reason: run.failure?.message ?? "failed" }).finish(),
    );
    if (run.placement.disaggregated) await this.d.queues.removeIfWaiting(plan.prefillWorker, plan.requestId, plan.attempt);
  }

  private mapFailure(run: Running, err: unknown): KvtierError {
    if (run.failure) return run.failure;
    if (err instanceof KvtierError) return err;
    if (isGrpcError(err)) {
      const code = codeNameOf(err.code);
      return new KvtierError(
        code === "CANCELLED" ? "UNAVAILABLE" : code,
        `decode worker ${run.plan.decodeWorker}: ${err.details ?? err.message}`,
      );
    }
    return new KvtierError("INTERNAL", messageOf(err));
  }

  /** The prefill worker was lost before the KV was ready: the next attempt goes elsewhere. */
  private async movePrefill(run: Running): Promise<void> {
    const { cfg, table, redis, log } = this.d;
    if (run.prefillMoves >= MAX_PREFILL_MOVES) {
      this.abort(run, new KvtierError("UNAVAILABLE", `prefill failed on ${run.prefillMoves + 1} workers`));
      return;
    }
    const next = table.byRole("prefill").find((w) => w.info.workerId !== run.plan.prefillWorker);
    if (!next) {
      this.abort(run, new KvtierError("UNAVAILABLE", `prefill worker ${run.plan.prefillWorker} was lost and no other is available`));
      return;
    }
    const old = { worker: run.plan.prefillWorker, attempt: run.plan.attempt };
    run.prefillMoves += 1;
    run.plan.attempt += 1;
    run.plan.prefillWorker = next.info.workerId;
    run.charge?.movePrefill(next.info.workerId);
    try {
      await redis.hset(requestKey(cfg.namespace, run.plan.requestId), { attempt: run.plan.attempt, prefill: run.plan.prefillWorker });
      await this.d.queues.removeIfWaiting(old.worker, run.plan.requestId, old.attempt);
      await this.d.queues.enqueue(run.plan);
      log.info("prefill moved", { requestId: run.plan.requestId, from: old.worker, to: run.plan.prefillWorker, attempt: run.plan.attempt });
    } catch (err) {
      this.abort(run, new KvtierError("UNAVAILABLE", `could not move prefill: ${messageOf(err)}`));
    }
  }
}
