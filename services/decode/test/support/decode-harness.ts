// Real dependencies for DecodeWorker tests, started once per test file: the stories260K engine in
// its worker thread (the decode worker's, with a small KV pool), a second engine standing for the
// prefill worker (it computes real hand-offs into the kvstore), a kvstore process, NATS and Redis.
// Each scenario has its own DecodeWorker, Redis key and NATS subject namespace, prompt namespace
// hash and metrics registry; its KvReady notices go over NATS to the worker's real subscription.
import { trace } from "@opentelemetry/api";
import { expect } from "vitest";
import { Registry } from "prom-client";
import { hashChain, namespaceHash } from "@kvtier/kv-router";
import {
  KvStoreClient,
  KvtierError,
  closeNats,
  closeRedis,
  connectNats,
  connectRedis,
  createLogger,
  kvReadySubject,
  redisReady,
  requestKey,
  type Logger,
  type NatsConnection,
  type PlannedRequest,
  type Redis,
} from "@kvtier/platform";
import { KvReady, KvReadyAck } from "@kvtier/proto";
import { cachedPrefill, openReserved, writeHandoff } from "@kvtier/serving";
import { EngineHost, KV_BLOCK_LAYOUT_VERSION, Tokenizer } from "@kvtier/tensor";
import { startKvStore, type KvStoreProcess } from "../../../kvstore/test/support/kvstore-process.js";
import { STORY, deleteNamespace, metricValue, randomNamespace } from "../../../../tests/support/worker-test-kit.js";
import { readDecodeConfig, type DecodeConfig } from "../../src/config.js";
import { DecodeMetrics } from "../../src/decode-metrics.js";
import type { DecodeSession } from "../../src/decode-session.js";
import { DecodeWorker } from "../../src/decode-worker.js";
import { subscribeKvReady } from "../../src/nats-adapter.js";
import { RecordingSink } from "./recording-sink.js";

/** Tokens per KV block (the deployment default). */
export const BLOCK_SIZE = 16;
/** The decode engine's KV pool, in blocks: room for one long request (LONG_MAX_TOKENS) but not two. */
export const DECODE_BLOCKS = 10;
/** KV pool of the engine standing for the prefill worker, in blocks. */
const PREFILL_BLOCKS = 32;
/** Prompt length of the scenarios: two full blocks and an 8-token tail. */
export const PROMPT_TOKENS = 40;
/** max_tokens of a short request: prompt + 8 tokens take 3 blocks. */
export const SHORT_MAX_TOKENS = 8;
/** max_tokens of a long request: prompt + 60 tokens take 7 of the pool's 10 blocks. */
export const LONG_MAX_TOKENS = 60;
/** Codec of the hand-off blocks. */
const CODEC = "fp32";
/** The decode worker under test. */
export const DECODE_WORKER = "decode-under-test";
/** The prefill worker the plans name (the harness computes its hand-offs). */
const PREFILL_WORKER = "prefill-standin";
/** How long an admitted request waits for its KV unless a test says otherwise, in ms (longer than any test). */
const DEFAULT_KV_READY_TIMEOUT_MS = 60_000;
/** Upper bound on a scenario's worker draining once its sessions are aborted, in ms (it drains at once unless broken). */
const DRAIN_WITHIN_MS = 5_000;
/** How long the prefill side waits for the decode worker's KvReadyAck, in ms. */
const KV_READY_REPLY_TIMEOUT_MS = 5_000;

/** What a scenario may change. */
export interface ScenarioOptions {
  /** KVTIER_MAX_RUNNING. @default the config's default */
  maxRunning?: number;
  /** KVTIER_KV_READY_TIMEOUT_MS. @default DEFAULT_KV_READY_TIMEOUT_MS */
  kvReadyTimeoutMs?: number;
}

/** One test's decode worker, in its own namespace, taking KvReady notices over NATS. */
export class DecodeScenario {
  readonly prefix: Uint8Array;

  constructor(
    private readonly h: DecodeHarness,
    readonly ns: string,
    readonly cfg: DecodeConfig,
    readonly metrics: DecodeMetrics,
    readonly worker: DecodeWorker,
    private readonly subscription: { unsubscribe(): void },
  ) {
    this.prefix = namespaceHash({
      modelId: h.engine.modelInfo.modelId,
      layoutVersion: KV_BLOCK_LAYOUT_VERSION,
      blockSize: BLOCK_SIZE,
      tenantSalt: ns,
    });
  }

  /** A routed, disaggregated request as the router plans it: the story prompt, hashed in this scenario's namespace, greedy. */
  plan(requestId: string, opts: { attempt?: number; maxTokens?: number; prefillWorker?: string } = {}): PlannedRequest {
    const tokens = this.h.prompt;
    return {
      requestId,
      attempt: opts.attempt ?? 1,
      tenant: "tenant-a",
      tokens,
      blockHashes: [...hashChain(this.prefix, tokens, BLOCK_SIZE).hashes],
      namespaceHash: this.prefix,
      maxTokens: opts.maxTokens ?? SHORT_MAX_TOKENS,
      sampling: { temperature: 0, topP: 1, seed: 1 },
      stop: [],
      logprobs: 0,
      codec: CODEC,
      policy: "none",
      decodeWorker: DECODE_WORKER,
      prefillWorker: opts.prefillWorker ?? PREFILL_WORKER,
      traceParent: "",
      deadlineUnixMs: 0,
    };
  }

  /** Admit `plan`; the session and what its caller saw. */
  async admit(plan: PlannedRequest): Promise<{ session: DecodeSession; sink: RecordingSink }> {
    const sink = new RecordingSink();
    return { session: await this.worker.admit(plan, sink), sink };
  }

  /** Admission's refusal of `plan`; fails the test if it was admitted. The caller saw nothing. */
  async refusal(plan: PlannedRequest): Promise<KvtierError> {
    const sink = new RecordingSink();
    const err = await this.worker.admit(plan, sink).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, `${plan.requestId} attempt ${plan.attempt} was admitted`).toBeInstanceOf(KvtierError);
    expect(sink.events).toEqual([]);
    return err as KvtierError;
  }

  /** The router's current attempt of a request, as it records it in Redis. */
  async setCurrentAttempt(requestId: string, attempt: number): Promise<void> {
    await this.h.redis.hset(requestKey(this.ns, requestId), "attempt", attempt);
  }

  /** Send a KvReady as a prefill worker does (NATS request/reply); the decode worker's answer. */
  async send(ready: KvReady | Uint8Array): Promise<KvReadyAck> {
    const data = ready instanceof Uint8Array ? ready : KvReady.encode(ready).finish();
    const reply = await this.h.prefillNc.request(kvReadySubject(this.ns, DECODE_WORKER), data, { timeout: KV_READY_REPLY_TIMEOUT_MS });
    return KvReadyAck.decode(reply.data);
  }

  /**
   * The hand-off a prefill worker running `plan` sends: its prompt computed on the prefill engine, blocks and tail written to the kvstore.
   */
  async handOff(plan: PlannedRequest): Promise<KvReady> {
    const { prefillEngine: engine, store, log } = this.h;
    const seqId = await openReserved(engine, plan, plan.tokens.length);
    try {
      const out = await cachedPrefill(engine, store, plan, BLOCK_SIZE, log);
      const handoff = await writeHandoff(engine, store, plan, out, BLOCK_SIZE, log);
      return KvReady.fromPartial({
        requestId: plan.requestId,
        attempt: plan.attempt,
        prefillWorker: plan.prefillWorker,
        blockHashes: handoff.blockHashes,
        tailHash: handoff.tailHash,
        tailTokens: handoff.tailTokens,
        kvstoreEndpoint: this.h.kvstore.endpoint,
        codec: plan.codec,
        firstToken: out.first.token,
        firstLogprobs: { chosen: { tokenId: out.first.token, logprob: out.first.logprob }, top: [] },
        sampler: { rng: [...out.samplerState] },
        cachedTokens: out.cachedTokens,
        cachedByTier: out.cachedByTier,
        loadedBytesByTier: out.loadedBytesByTier,
      });
    } finally {
      await engine.closeSequence(seqId);
    }
  }

  /** The notice a prefill worker sends when `plan`'s prefill failed for good. */
  failureNotice(plan: PlannedRequest, errorCode: string, error: string, retryAfterMs = 0): KvReady {
    return KvReady.fromPartial({
      requestId: plan.requestId,
      attempt: plan.attempt,
      prefillWorker: plan.prefillWorker,
      error,
      errorCode,
      retryAfterMs,
    });
  }

  /** Nothing admitted, nothing in flight, every block of the pool free again. */
  async expectIdle(): Promise<void> {
    const load = this.worker.load();
    expect([load.runningRequests, load.activeDecodeBlocks, await metricValue(this.metrics.inflight)]).toEqual([0, 0, 0]);
    expect(await this.h.engine.freeBlocks()).toBe(DECODE_BLOCKS);
  }

  async close(): Promise<void> {
    this.worker.abortAll("test over");
    // bounded, so a worker that never lets go of a session fails the test instead of hanging it
    let timer: NodeJS.Timeout | undefined;
    const stuck = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`decode worker still holds ${this.worker.load().runningRequests} sessions after abortAll`)),
        DRAIN_WITHIN_MS,
      );
    });
    await Promise.race([this.worker.drain(), stuck]).finally(() => clearTimeout(timer));
    this.subscription.unsubscribe();
    await deleteNamespace(this.h.redis, this.ns);
  }
}

export class DecodeHarness {
  private readonly scenarios: DecodeScenario[] = [];

  private constructor(
    readonly engine: EngineHost,
    readonly prefillEngine: EngineHost,
    readonly kvstore: KvStoreProcess,
    readonly store: KvStoreClient,
    /** The decode workers' NATS connection. */
    readonly nc: NatsConnection,
    /** The prefill side's NATS connection. */
    readonly prefillNc: NatsConnection,
    readonly redis: Redis,
    readonly tokenizer: Tokenizer,
    readonly prompt: number[],
    readonly log: Logger,
  ) {}

  static async start(): Promise<DecodeHarness> {
    const kvstore = await startKvStore({ KVTIER_NAMESPACE: randomNamespace(), KVTIER_KVSTORE_ID: "kvstore-decode-test" });
    const base = readDecodeConfig(decodeEnv("unused", kvstore, {}));
    const [engine, prefillEngine] = await Promise.all([
      EngineHost.start({ checkpointPath: base.checkpointPath, blockSize: BLOCK_SIZE, capacityBlocks: DECODE_BLOCKS }),
      EngineHost.start({ checkpointPath: base.checkpointPath, blockSize: BLOCK_SIZE, capacityBlocks: PREFILL_BLOCKS }),
    ]);
    const nc = await connectNats(base.natsUrl, "decode-test");
    const prefillNc = await connectNats(base.natsUrl, "decode-test-prefill");
    const redis = connectRedis(base.redisUrl, "decode-test");
    await redisReady(redis);
    const store = new KvStoreClient(kvstore.endpoint, { serviceToken: kvstore.token });
    const tokenizer = Tokenizer.fromFile(base.tokenizerPath, engine.modelInfo.config.vocabSize);
    const prompt = tokenizer.encode(STORY, { bos: true }).slice(0, PROMPT_TOKENS);
    return new DecodeHarness(
      engine,
      prefillEngine,
      kvstore,
      store,
      nc,
      prefillNc,
      redis,
      tokenizer,
      prompt,
      createLogger("decode-test", "error"),
    );
  }

  /** A fresh decode worker in a fresh namespace, taking KvReady notices over NATS. */
  async scenario(opts: ScenarioOptions = {}): Promise<DecodeScenario> {
    const ns = randomNamespace();
    const cfg = readDecodeConfig(decodeEnv(ns, this.kvstore, opts));
    const metrics = new DecodeMetrics(new Registry());
    const worker = new DecodeWorker({
      cfg,
      engine: this.engine,
      store: this.store,
      tokenizer: this.tokenizer,
      redis: this.redis,
      metrics,
      log: this.log,
      seqLen: this.engine.modelInfo.config.seqLen,
      tracer: trace.getTracer("decode-test"),
    });
    const subscription = subscribeKvReady(this.nc, ns, cfg.workerId, worker, this.log);
    await this.nc.flush(); // subscribed before anyone sends
    const s = new DecodeScenario(this, ns, cfg, metrics, worker, subscription);
    this.scenarios.push(s);
    return s;
  }

  /** Close the scenarios (each test's afterEach). */
  async closeScenarios(): Promise<void> {
    for (const s of this.scenarios.splice(0)) await s.close();
  }

  async close(): Promise<void> {
    await this.closeScenarios();
    await this.store.close();
    await closeNats(this.nc);
    await closeNats(this.prefillNc);
    await closeRedis(this.redis);
    await Promise.all([this.engine.close(), this.prefillEngine.close()]);
    await this.kvstore.stop();
  }
}

/** The environment a decode worker of namespace `ns` would read (NATS_URL and REDIS_URL taken from this process's). */
function decodeEnv(ns: string, kvstore: KvStoreProcess, opts: ScenarioOptions): Record<string, string | undefined> {
  return {
    REDIS_URL: process.env.REDIS_URL,
    NATS_URL: process.env.NATS_URL,
    KVTIER_SERVICE_TOKEN: kvstore.token.value,
    KVTIER_NAMESPACE: ns,
    KVTIER_WORKER_ID: DECODE_WORKER,
    KVTIER_KVSTORE_ENDPOINT: kvstore.endpoint,
    KVTIER_DEVICE_BLOCKS: String(DECODE_BLOCKS),
    KVTIER_BLOCK_SIZE: String(BLOCK_SIZE),
    KVTIER_MAX_RUNNING: opts.maxRunning === undefined ? undefined : String(opts.maxRunning),
    KVTIER_KV_READY_TIMEOUT_MS: String(opts.kvReadyTimeoutMs ?? DEFAULT_KV_READY_TIMEOUT_MS),
    KVTIER_LOG_LEVEL: "error",
  };
}
