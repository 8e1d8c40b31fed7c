// Real dependencies for PrefillProcessor tests, started once per test file: the stories260K engine
// in its worker thread (the processor's), a peer engine standing for another worker (it seeds the
// kvstore and reads hand-offs back), a kvstore process, NATS and Redis. Each scenario has its own
// Redis key and NATS subject namespace, prompt namespace hash, metrics registry and BullMQ queue,
// and, unless told otherwise, a stand-in listening where the decode worker takes KvReady notices.
import { Queue, type Job, type JobsOptions } from "bullmq";
import { trace } from "@opentelemetry/api";
import { Registry } from "prom-client";
import { hashChain, namespaceHash } from "@kvtier/kv-router";
import {
  KvStoreClient,
  bullPrefix,
  closeNats,
  closeRedis,
  connectNats,
  connectRedis,
  createLogger,
  kvReadySubject,
  planToWire,
  prefillJobId,
  prefillQueueName,
  redisReady,
  requestKey,
  type Logger,
  type NatsConnection,
  type PlannedRequest,
  type Redis,
} from "@kvtier/platform";
import { PrefillJob } from "@kvtier/proto";
import { EngineHost, KV_BLOCK_LAYOUT_VERSION, Tokenizer } from "@kvtier/tensor";
import { startKvStore, type KvStoreProcess } from "../../../kvstore/test/support/kvstore-process.js";
import { STORY, deleteNamespace, randomNamespace } from "../../../../tests/support/worker-test-kit.js";
import { readPrefillConfig, type PrefillConfig } from "../../src/config.js";
import { PrefillMetrics } from "../../src/prefill-metrics.js";
import { PrefillProcessor } from "../../src/prefill-processor.js";
import { DecodeStandIn, type KvReadyAnswer } from "./decode-stand-in.js";

/** Tokens per KV block (the deployment default). */
export const BLOCK_SIZE = 16;
/** KV pool of each test engine, in blocks: the model's whole 512-token context. */
export const ENGINE_BLOCKS = 32;
/** Prompt length of the scenarios: two full blocks and an 8-token tail. */
export const PROMPT_TOKENS = 40;
/** Codec of the hand-off blocks (exact, so a hand-off reads back bit for bit). */
export const CODEC = "fp32";
/** max_tokens of the plans (the prefill worker only passes it on). */
const PLAN_MAX_TOKENS = 8;
/** The decode worker the plans name (a stand-in answers for it). */
const DECODE_WORKER = "decode-standin";
/** The prefill worker under test. */
export const PREFILL_WORKER = "prefill-under-test";
/** The processor's wait for the decode worker's KvReady reply in these tests, in ms (the config's minimum is 100). */
const KV_READY_TIMEOUT_MS = 200;
/** How long a kvstore call may take before it counts as failed, in ms (a dead store refuses at once; this bounds a hang). */
const KVSTORE_DEADLINE_MS = 3_000;

/** The environment a prefill worker of namespace `ns` would read (NATS_URL and REDIS_URL taken from this process's). */
function prefillEnv(ns: string, kvstore: KvStoreProcess, kvReadyTimeoutMs: number): Record<string, string | undefined> {
  return {
    REDIS_URL: process.env.REDIS_URL,
    NATS_URL: process.env.NATS_URL,
    KVTIER_SERVICE_TOKEN: kvstore.token.value,
    KVTIER_NAMESPACE: ns,
    KVTIER_WORKER_ID: PREFILL_WORKER,
    KVTIER_KVSTORE_ENDPOINT: kvstore.endpoint,
    KVTIER_DEVICE_BLOCKS: String(ENGINE_BLOCKS),
    KVTIER_BLOCK_SIZE: String(BLOCK_SIZE),
    KVTIER_KV_READY_TIMEOUT_MS: String(kvReadyTimeoutMs),
    KVTIER_LOG_LEVEL: "error",
  };
}

/** What a scenario may change. */
export interface ScenarioOptions {
  /** How the decode worker answers; null: nobody listens (the decode worker is gone). @default accepted */
  decode?: KvReadyAnswer | null;
  /** The processor's engine. @default the harness's engine */
  engine?: EngineHost;
  /** The processor's kvstore client. @default a client of the harness's kvstore */
  store?: KvStoreClient;
  /** KVTIER_KV_READY_TIMEOUT_MS. @default KV_READY_TIMEOUT_MS */
  kvReadyTimeoutMs?: number;
}

/** One test's processor, with its own namespace, metrics, queue and decode stand-in. */
export class PrefillScenario {
  readonly prefix: Uint8Array;

  constructor(
    private readonly h: PrefillHarness,
    readonly ns: string,
    readonly cfg: PrefillConfig,
    readonly metrics: PrefillMetrics,
    readonly processor: PrefillProcessor,
    readonly queue: Queue,
    readonly decode: DecodeStandIn | null,
  ) {
    this.prefix = namespaceHash({
      modelId: h.engine.modelInfo.modelId,
      layoutVersion: KV_BLOCK_LAYOUT_VERSION,
      blockSize: BLOCK_SIZE,
      tenantSalt: ns,
    });
  }

  /** A routed request as the router plans it: the story prompt, hashed in this scenario's namespace. */
  plan(requestId: string, attempt = 1, tokens = this.h.prompt): PlannedRequest {
    return {
      requestId,
      attempt,
      tenant: "tenant-a",
      tokens,
      blockHashes: [...hashChain(this.prefix, tokens, BLOCK_SIZE).hashes],
      namespaceHash: this.prefix,
      maxTokens: PLAN_MAX_TOKENS,
      sampling: { temperature: 0, topP: 1, seed: 1 },
      stop: [],
      logprobs: 0,
      codec: CODEC,
      policy: "none",
      decodeWorker: DECODE_WORKER,
      prefillWorker: PREFILL_WORKER,
      traceParent: "",
      deadlineUnixMs: 0,
    };
  }

  /** Put a job on this worker's queue as the router does (job id `requestId@attempt`, data the PrefillJob JSON). */
  async enqueue(plan: PlannedRequest, opts: JobsOptions = {}): Promise<Job> {
    const data = PrefillJob.toJSON({ plan: planToWire(plan) }) as Record<string, unknown>;
    return this.queue.add("prefill", data, { jobId: prefillJobId(plan.requestId, plan.attempt), ...opts });
  }

  /** The router's current attempt of a request, as it records it in Redis. */
  async setCurrentAttempt(requestId: string, attempt: number): Promise<void> {
    await this.h.redis.hset(requestKey(this.ns, requestId), "attempt", attempt);
  }

  async close(): Promise<void> {
    this.decode?.close();
    await this.queue.obliterate({ force: true });
    await this.queue.close();
    await deleteNamespace(this.h.redis, this.ns);
  }
}

export class PrefillHarness {
  private readonly scenarios: PrefillScenario[] = [];

  private constructor(
    readonly engine: EngineHost,
    readonly peer: EngineHost,
    readonly kvstore: KvStoreProcess,
    readonly store: KvStoreClient,
    /** The processors' NATS connection. */
    readonly nc: NatsConnection,
    /** The decode stand-ins' NATS connection. */
    readonly decodeNc: NatsConnection,
    readonly redis: Redis,
    readonly prompt: number[],
    readonly log: Logger,
  ) {}

  static async start(): Promise<PrefillHarness> {
    const kvstore = await startKvStore({ KVTIER_NAMESPACE: randomNamespace(), KVTIER_KVSTORE_ID: "kvstore-prefill-test" });
    const cfg = readPrefillConfig(prefillEnv("unused", kvstore, KV_READY_TIMEOUT_MS));
    const engineOpts = { checkpointPath: cfg.checkpointPath, blockSize: BLOCK_SIZE, capacityBlocks: ENGINE_BLOCKS };
    const [engine, peer] = await Promise.all([EngineHost.start(engineOpts), EngineHost.start(engineOpts)]);
    const nc = await connectNats(cfg.natsUrl, "prefill-test");
    const decodeNc = await connectNats(cfg.natsUrl, "prefill-test-decode");
    const redis = connectRedis(cfg.redisUrl, "prefill-test");
    await redisReady(redis);
    const store = new KvStoreClient(kvstore.endpoint, { serviceToken: kvstore.token, deadlineMs: KVSTORE_DEADLINE_MS });
    const tokenizer = Tokenizer.fromFile(cfg.tokenizerPath, engine.modelInfo.config.vocabSize);
    const prompt = tokenizer.encode(STORY, { bos: true }).slice(0, PROMPT_TOKENS);
    return new PrefillHarness(engine, peer, kvstore, store, nc, decodeNc, redis, prompt, createLogger("prefill-test", "error"));
  }

  /** A kvstore client of another store process. */
  clientOf(kvstore: KvStoreProcess): KvStoreClient {
    return new KvStoreClient(kvstore.endpoint, { serviceToken: kvstore.token, deadlineMs: KVSTORE_DEADLINE_MS });
  }

  /** A fresh processor in a fresh namespace, its decode stand-in listening (unless `decode` is null). */
  async scenario(opts: ScenarioOptions = {}): Promise<PrefillScenario> {
    const ns = randomNamespace();
    const cfg = readPrefillConfig(prefillEnv(ns, this.kvstore, opts.kvReadyTimeoutMs ?? KV_READY_TIMEOUT_MS));
    const metrics = new PrefillMetrics(new Registry());
    const processor = new PrefillProcessor({
      cfg,
      engine: opts.engine ?? this.engine,
      store: opts.store ?? this.store,
      nc: this.nc,
      redis: this.redis,
      metrics,
      log: this.log,
      tracer: trace.getTracer("prefill-test"),
    });
    const queue = new Queue(prefillQueueName(cfg.workerId), { connection: this.redis, prefix: bullPrefix(ns) });
    const answer = opts.decode === undefined ? { accepted: true, reason: "" } : opts.decode;
    const decode = answer === null ? null : await DecodeStandIn.listen(this.decodeNc, kvReadySubject(ns, DECODE_WORKER), answer);
    const s = new PrefillScenario(this, ns, cfg, metrics, processor, queue, decode);
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
    await closeNats(this.decodeNc);
    await closeRedis(this.redis);
    await Promise.all([this.engine.close(), this.peer.close()]);
    await this.kvstore.stop();
  }
}
