// The replay itself: one policy over a trace, with simulated workers whose KV events reach the
// REAL PrefixIndex through the same IndexFeed the router uses, and production's placement (the
// router service's Placer, every policy) choosing workers with loads fed as the router feeds
// them (replay-router.ts). Time is simulated: requests are taken at their trace timestamps, no
// wall-clock pacing.
import {
  DEFAULT_ROUTING_WEIGHTS,
  DEVICE_CODEC,
  IndexFeed,
  ROUTING_POLICIES,
  assertRoutingWeights,
  matchForCodec,
  type RoutingPolicy,
  type RoutingWeights,
} from "@kvtier/kv-router";
import { IMBALANCE_PHASES, LoadImbalanceMeter } from "./load-imbalance.js";
import { LruBlockCache } from "./lru-block-cache.js";
import { TRACE_BLOCK_TOKENS, traceDurationS, type TraceRequest } from "./mooncake-trace.js";
import { PrefillQueueModel, RECENT_WORK_TAU_S } from "./prefill-queue-model.js";
import { ReplayError } from "./replay-error.js";
import { ReplayRouter } from "./replay-router.js";
import { SimulatedWorker } from "./simulated-worker.js";
import { TraceBlockHashes } from "./trace-block-hash.js";

/** Most simulated workers. */
const MAX_REPLAY_WORKERS = 4096;

/** Options of a replay. */
export interface ReplayOptions {
  /** Simulated workers. */
  workers: number;
  /** Device cache of each worker, in tokens (whole 512-token blocks are kept). */
  capacityTokens: number;
  /**
   * Prefill throughput of each worker, tokens/s. `"auto"`: the trace's prompt tokens per second
   * divided by the workers, i.e. a pool exactly busy if nothing were cached.
   * @default "auto"
   */
  prefillTokensPerS?: number | "auto";
  /** Weights of the kv policy. @default DEFAULT_ROUTING_WEIGHTS */
  weights?: RoutingWeights;
  /**
   * Time constant of the recent-work decay that the bounded-load terms read, s (the router's KVTIER_ROUTING_RECENT_WORK_TAU_MS). @default
   * RECENT_WORK_TAU_S
   */
  recentWorkTauS?: number;
  /** Seed of the random policy. @default 1 */
  seed?: number;
}

/** What one policy achieved. */
export interface PolicyResult {
  policy: RoutingPolicy;
  /** Prefix-hit prompt tokens over all prompt tokens. */
  hitRate: number;
  /** See load-imbalance.ts. */
  loadImbalance: number;
  /**
   * `loadImbalance` with the windows starting 0, 1/4, 1/2 and 3/4 of a window later (LoadImbalanceMeter.imbalanceAtPhase); [0] is
   * `loadImbalance`.
   */
  loadImbalanceByPhase: number[];
  /** The floor indivisible requests put under `loadImbalance` for this policy's work (see load-imbalance.ts). */
  loadImbalanceFloor: number;
  /** The busiest worker's uncached prompt tokens per 60-second window, averaged over the windows (see load-imbalance.ts). */
  peakWindowTokens: number;
  hitTokens: number;
  inputTokens: number;
  /** KV event batches the index applied. */
  eventBatches: number;
  /** Requests where the index's match for the chosen worker differed from its cache (must be 0). */
  indexMismatches: number;
}

/** Total prompt tokens of a trace. */
export function totalInputTokens(trace: readonly TraceRequest[]): number {
  let n = 0;
  for (const r of trace) n += r.inputTokens;
  return n;
}

/** The per-worker prefill throughput `options` asks for (resolving "auto" against `trace`). */
export function resolvePrefillRate(trace: readonly TraceRequest[], options: ReplayOptions): number {
  const p = options.prefillTokensPerS ?? "auto";
  if (p !== "auto") return p;
  return totalInputTokens(trace) / Math.max(traceDurationS(trace), 1) / options.workers;
}

/** Throws `INVALID_OPTION` naming the option unless every option is in its domain. */
export function assertReplayOptions(options: ReplayOptions): void {
  const { workers, capacityTokens, prefillTokensPerS } = options;
  if (!Number.isSafeInteger(workers) || workers < 1 || workers > MAX_REPLAY_WORKERS) {
    throw new ReplayError("INVALID_OPTION", "workers", `expected an integer in [1, ${MAX_REPLAY_WORKERS}], got ${workers}`);
  }
  if (!Number.isSafeInteger(capacityTokens) || capacityTokens < 0)
    throw new ReplayError("INVALID_OPTION", "capacityTokens", `expected an integer >= 0, got ${capacityTokens}`);
  if (prefillTokensPerS !== undefined && prefillTokensPerS !== "auto" && !(Number.isFinite(prefillTokensPerS) && prefillTokensPerS > 0)) {
    throw new ReplayError("INVALID_OPTION", "prefillTokensPerS", `expected a number > 0 or "auto", got ${prefillTokensPerS}`);
  }
  const tau = options.recentWorkTauS;
  if (tau !== undefined && !(Number.isFinite(tau) && tau > 0))
    throw new ReplayError("INVALID_OPTION", "recentWorkTauS", `expected a number > 0, got ${tau}`);
  if (options.weights) {
    try {
      assertRoutingWeights(options.weights);
    } catch (err) {
      throw new ReplayError("INVALID_OPTION", "weights", err instanceof Error ? err.message : String(err), { cause: err });
    }
  }
}

/** Prefix-hit tokens of a request whose first `hitBlocks` blocks hit (the last block may be partial). */
const hitTokensOf = (r: TraceRequest, hitBlocks: number): number => Math.min(hitBlocks * TRACE_BLOCK_TOKENS, r.inputTokens);

/** Replays `trace` under one policy. Deterministic for given options. */
export function replayPolicy(trace: readonly TraceRequest[], policy: RoutingPolicy, options: ReplayOptions): PolicyResult {
  if (!ROUTING_POLICIES.includes(policy))
    throw new ReplayError("INVALID_OPTION", "policy", `expected one of ${ROUTING_POLICIES.join(", ")}, got ${String(policy)}`);
  return replayRun(trace, policy, options);
}

function replayRun(trace: readonly TraceRequest[], policy: RoutingPolicy, options: ReplayOptions): PolicyResult {
  assertReplayOptions(options);
  const n = options.workers;
  const capacityBlocks = Math.floor(options.capacityTokens / TRACE_BLOCK_TOKENS);
  const hashes = new TraceBlockHashes();
  const feed = new IndexFeed();
  const workers = Array.from({ length: n }, (_, w) => new SimulatedWorker(`sim-${String(w).padStart(4, "0")}`, capacityBlocks, hashes));
  const queue = new PrefillQueueModel(n, resolvePrefillRate(trace, options), options.recentWorkTauS);
  const meter = new LoadImbalanceMeter(n);
  const router = new ReplayRouter(
    workers.map((w) => w.id),
    capacityBlocks,
    {
      policy,
      weights: options.weights ?? DEFAULT_ROUTING_WEIGHTS,
      recentWorkTauMs: (options.recentWorkTauS ?? RECENT_WORK_TAU_S) * 1000,
      blockSize: TRACE_BLOCK_TOKENS,
      seed: options.seed ?? 1,
    },
  );
  let hitTokens = 0;
  let inputTokens = 0;
  let eventBatches = 0;
  let indexMismatches = 0;

  for (const r of trace) {
    const tS = r.timestampMs / 1000;
    queue.advance(tS);
    router.advance(r.timestampMs, (w) => queue.queuedTokens(w));
    // the router matches every prompt against the index, whatever its policy
    const matches = matchForCodec(feed.index, hashes.chain(r.blockIds), DEVICE_CODEC);
    const { worker: chosen, sentTokens } = router.place(r.inputTokens, matches);
    const worker = workers[chosen];
    const served = worker.serve(r.blockIds);
    if ((matches.get(worker.id)?.device ?? 0) !== served.hitBlocks) indexMismatches += 1;
    if (served.batch !== null) {
      feed.accept(served.batch);
      eventBatches += 1;
    }
    const hit = hitTokensOf(r, served.hitBlocks);
    hitTokens += hit;
    inputTokens += r.inputTokens;
    const doneAtS = queue.enqueue(chosen, r.inputTokens - hit);
    router.sent(chosen, sentTokens, r.inputTokens, r.outputTokens, doneAtS * 1000);
    meter.add(tS, chosen, r.inputTokens - hit);
  }
  return {
    policy,
    hitRate: inputTokens === 0 ? 0 : hitTokens / inputTokens,
    loadImbalance: meter.imbalance(),
    loadImbalanceByPhase: phases(meter),
    loadImbalanceFloor: meter.indivisibleFloor(),
    peakWindowTokens: meter.meanPeakTokens(),
    hitTokens,
    inputTokens,
    eventBatches,
    indexMismatches,
  };
}

/** The meter's imbalance at every window phase. */
const phases = (meter: LoadImbalanceMeter): number[] => Array.from({ length: IMBALANCE_PHASES }, (_, k) => meter.imbalanceAtPhase(k));

/** Prefix-hit rate of one LRU cache of `capacityTokens` shared by every request (the pooled baseline). */
export function pooledLruHitRate(trace: readonly TraceRequest[], capacityTokens: number): number {
  const cache = new LruBlockCache(Math.floor(capacityTokens / TRACE_BLOCK_TOKENS));
  let hit = 0;
  let total = 0;
  for (const r of trace) {
    hit += hitTokensOf(r, cache.touch(r.blockIds).leadingHits);
    total += r.inputTokens;
  }
  return total === 0 ? 0 : hit / total;
}
