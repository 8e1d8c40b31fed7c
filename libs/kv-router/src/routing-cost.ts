// Worker choice (DESIGN.md §2 step 2): weighs the prefix a worker can load, by tier, against the
// work already waiting on it and two bounded-load terms on the work it was sent recently, all in
// one unit (tokens of prefill work), plus an optional session affinity, then takes the best or
// samples. Pure: reads no registry, holds no state; the router (and the trace replay) supply
// loads, matches and the session's last worker.
import { PrefixIndexError } from "./errors.js";
import { CandidateSet, assertNonNegative, isNonNegative } from "./candidate-set.js";
import { emptyMatch, type LocationMatch } from "./location-match.js";

/** A candidate worker's load, as its latest load report and the routers' own accounting state it. */
export interface WorkerLoad {
  workerId: string;
  role: "prefill" | "decode";
  /** Prompt tokens queued or running on the worker that still need prefill. */
  queuedPrefillTokens: number;
  /** KV blocks pinned by running requests (not the evictable prefix cache). */
  activeDecodeBlocks: number;
  /** KV pool size, in blocks. */
  capacityBlocks: number;
  /**
   * Tokens of work sent to the worker recently, exponentially decayed (prefill tokens; for a
   * decode worker, also the tokens of the requests it admitted). The bounded-load term compares
   * it with the candidates' mean (see {@link RoutingWeights.overload}), and it breaks ties: when
   * scores are equal (typically idle workers and an uncached prompt), the worker given the least
   * recent work wins, which spreads new prefixes evenly over the pool's caches. @default 0
   */
  recentWorkTokens?: number;
}

/** Weights of the routing score. Every term is in tokens of prefill work. */
export interface RoutingWeights {
  /** Value of one prompt token whose KV the worker has in its device pool. */
  device: number;
  /** Value of one prompt token loadable from host RAM (worker's node kvstore) at best. */
  host: number;
  /** Value of one prompt token loadable from SSD (worker's node kvstore) at best. */
  ssd: number;
  /** Cost of one prompt token already queued for prefill on the worker. */
  prefillLoad: number;
  /** Cost of one token resident in the worker's running requests (`activeDecodeBlocks × blockSize`). */
  decodeLoad: number;
  /** Bonus, in tokens, of the worker that served the request's session last (session affinity; 0 = off). */
  sessionAffinity: number;
  /** 0 = take the best score; > 0 = softmax over min–max normalised scores at this temperature. */
  temperature: number;
  /**
   * Bounded load: cost of one token of this request's uncached work that would take the worker's
   * recent work (`recentWorkTokens`) above `(1 + overloadSlack) ×` the candidates' mean recent
   * work, this request's uncached work included (0 = off). Only the part above the bound is
   * charged, so a worker already above it pays for all the new work it would take, one below it
   * pays nothing until it crosses. A continuation whose long prefix is cached where it is asked
   * stays there (its uncached work is small); a new prompt that shares only a short hot prefix
   * goes to a worker under the bound instead of piling onto the prefix's holder.
   */
  overload: number;
  /** Relative headroom of the bounded-load term over the candidates' mean recent work (0.1 = 10% above the mean). */
  overloadSlack: number;
  /**
   * Overload penalty, in tokens per 100% excess: a worker whose recent work already lies above
   * `(1 + overloadPenaltySlack) ×` the candidates' mean (this request's uncached work included)
   * by a fraction x of that bound loses `overloadPenalty × x` tokens of the value of the SHARED
   * part of its cached prefix ({@link LocationMatch.shared}: up to the deepest block that several
   * chains continue), never more than that part (0 = off). It moves the requests that are cheap
   * to move: a new session whose only cached part is a hot prefix (a tenant's system prompt)
   * leaves the prefix's overloaded holder, and the worker it goes to pays the prefix once and
   * then shares the prefix's new sessions (the prefix is replicated). A continuation keeps the
   * value of its own context (the blocks after the shared part), so it moves only when the
   * marginal term outweighs that. The marginal term ({@link RoutingWeights.overload}) cannot do
   * this: it charges only the request's own uncached work, less than the prefix it would
   * recompute elsewhere.
   */
  overloadPenalty: number;
  /** Relative headroom of the overload penalty over the candidates' mean recent work (0.05 = 5% above the mean). */
  overloadPenaltySlack: number;
}

/**
 * Default weights.
 * - `device` 1.0: a token in the worker's own pool saves one token of prefill outright.
 * - `host` 0.6, `ssd` 0.3: a token loaded from a lower tier saves less, since the load takes time
 *   (and may not overlap compute fully); the ratios are a starting point to calibrate per
 *   deployment against measured load and prefill throughput.
 * - `prefillLoad` 0.25: a queued token delays this request once; a cached token saves its own
 *   prefill and shortens the queue of every later request on that worker, so it is worth more.
 *   Calibrated with `kvtier replay` (Mooncake trace and generated ones): at 0.25 the token hit
 *   rate stays within a few percent of one pooled LRU cache while load imbalance stays below
 *   round-robin's; at 1.0 (the request's own time to first token alone) 5-10% of hits are lost.
 * - `decodeLoad` 0.25: a resident decode token weighs as a queued prefill token.
 * - `sessionAffinity` 512: a nudge towards the session's last worker (its newest blocks may not be
 *   indexed yet). It settles ties and near-ties, never more than 512 tokens of cached difference
 *   or 2048 queued tokens (at `prefillLoad` 0.25).
 * - `temperature` 0: deterministic argmax.
 * - `overload` 1, `overloadSlack` 0.3: see {@link RoutingWeights.overload}.
 * - `overloadPenalty` 262144 (256K tokens per 100% excess), `overloadPenaltySlack` 0.03: a worker
 *   10% above the bound loses up to 26.2K tokens of its shared prefix's value. Calibrated with
 *   `kvtier replay --sweep` (libs/trace-replay/README.md) on generated-trace seeds 1-2 and checked
 *   on seeds 3-6: 38, 39 and 39 of 44 rows meet both targets, and every row meets the hit-rate
 *   target. With the marginal term's bound at 1.1 × the mean (and 192K, the previous defaults)
 *   37, 35 and 38 rows met, and 5 rows at 625K tokens per worker missed the hit-rate target
 *   (0.942-0.949): the tighter bound moved requests off their cached context for little balance.
 */
export const DEFAULT_ROUTING_WEIGHTS: Readonly<RoutingWeights> = Object.freeze({
  device: 1.0,
  host: 0.6,
  ssd: 0.3,
  prefillLoad: 0.25,
  decodeLoad: 0.25,
  sessionAffinity: 512,
  temperature: 0,
  overload: 1,
  overloadSlack: 0.3,
  overloadPenalty: 262_144,
  overloadPenaltySlack: 0.03,
});

/**
 * Default threshold of conditional disaggregation, in uncached prompt tokens: up to this many,
 * prefill runs on the decode worker (a short prefill costs the running batch less than a KV
 * hand-off costs the request). A starting point; tune per model and hardware.
 */
export const DEFAULT_LOCAL_PREFILL_MAX_TOKENS = 32;

/** The chosen worker, its score and how many prompt tokens it has cached (any tier). */
export interface WorkerChoice {
  workerId: string;
  score: number;
  cachedTokens: number;
}

/** Per-call options of {@link chooseWorker}. */
export interface ChooseOptions {
  /** Uniform in [0, 1), for softmax sampling. @default Math.random */
  rng?: () => number;
  /** The worker that served this request's session last; gets `weights.sessionAffinity`. @default none */
  sessionWorkerId?: string;
}

const WEIGHT_KEYS = [
  "device",
  "host",
  "ssd",
  "prefillLoad",
  "decodeLoad",
  "sessionAffinity",
  "temperature",
  "overload",
  "overloadSlack",
  "overloadPenalty",
  "overloadPenaltySlack",
] as const;

/** Throws `INVALID_ARGUMENT` naming the weight unless every weight is a finite number >= 0. */
export function assertRoutingWeights(w: RoutingWeights): void {
  for (const k of WEIGHT_KEYS) if (!isNonNegative(w[k])) assertNonNegative(w[k], `weights.${k}`);
}

/**
 * Score of one worker, or null when it cannot take the request: a decode worker whose free
 * blocks (`capacityBlocks - activeDecodeBlocks`) are fewer than the prompt's blocks would refuse
 * admission, so it is not offered. Match counts are capped at the prompt's full blocks.
 * `poolRecentWorkTokens` and `poolWorkers` are the candidates' summed `recentWorkTokens` and their
 * number, for the bounded-load term (@default the worker alone).
 */
export function scoreWorker(
  load: WorkerLoad,
  match: LocationMatch | undefined,
  promptTokens: number,
  blockSize: number,
  weights: RoutingWeights = DEFAULT_ROUTING_WEIGHTS,
  sessionWorkerId?: string,
  poolRecentWorkTokens = load.recentWorkTokens ?? 0,
  poolWorkers = 1,
): WorkerChoice | null {
  const set = new CandidateSet();
  set.add(load.workerId, load.role, load.queuedPrefillTokens, load.activeDecodeBlocks, load.capacityBlocks, load.recentWorkTokens ?? 0);
  const m = match ?? EMPTY_MATCH;
  set.mergeMatch(0, m.device, m.host, m.ssd, m.best, m.shared);
  set.poolRecentWorkTokens = poolRecentWorkTokens;
  const score = scoreOf(
    set,
    0,
    promptTokens,
    blockSize,
    weights,
    sessionWorkerId !== undefined && sessionWorkerId === load.workerId,
    poolWorkers,
  );
  return Number.isNaN(score) ? null : { workerId: load.workerId, score, cachedTokens: cachedTokensOf(m.best, promptTokens, blockSize) };
}

/** Prompt tokens a worker whose match is `best` blocks has cached in any tier (its full blocks, capped at the prompt). */
function cachedTokensOf(best: number, promptTokens: number, blockSize: number): number {
  return Math.min(Math.min(best, Math.floor(promptTokens / blockSize)) * blockSize, promptTokens);
}

/** Tokens of prefill saved by nested leading runs `device <= host <= ssd` blocks long, each tier at its weight. */
function tierValue(device: number, host: number, ssd: number, blockSize: number, weights: RoutingWeights): number {
  return blockSize * (weights.device * device + weights.host * (host - device) + weights.ssd * (ssd - host));
}

/** Candidate `i`'s score, without allocating; NaN when it cannot take the request. */
function scoreOf(
  set: CandidateSet,
  i: number,
  promptTokens: number,
  blockSize: number,
  weights: RoutingWeights,
  session: boolean,
  poolWorkers: number,
): number {
  const promptBlocks = Math.floor(promptTokens / blockSize);
  const activeDecodeBlocks = set.activeDecodeBlocks[i];
  if (set.isDecode[i] === 1 && set.capacityBlocks[i] - activeDecodeBlocks < Math.ceil(promptTokens / blockSize)) return NaN;
  const device = Math.min(set.device[i], promptBlocks);
  const host = Math.min(set.host[i], promptBlocks);
  const ssd = Math.min(set.ssd[i], promptBlocks);
  const cachedTokens = cachedTokensOf(set.best[i], promptTokens, blockSize);
  const recent = set.recentWorkTokens[i];
  const poolRecent = set.poolRecentWorkTokens;
  const uncached = promptTokens - cachedTokens;
  let cachedValue = tierValue(device, host, ssd, blockSize, weights);
  const shared = Math.min(set.shared[i], promptBlocks);
  if (weights.overloadPenalty > 0 && shared > 0) {
    const x = excessFraction(recent, uncached, poolRecent, poolWorkers, weights.overloadPenaltySlack);
    if (x > 0)
      cachedValue -= Math.min(
        tierValue(Math.min(device, shared), Math.min(host, shared), Math.min(ssd, shared), blockSize, weights),
        weights.overloadPenalty * x,
      );
  }
  const loadCost = weights.prefillLoad * set.queuedPrefillTokens[i] + weights.decodeLoad * activeDecodeBlocks * blockSize;
  const affinity = session ? weights.sessionAffinity : 0;
  const overloadCost =
    weights.overload === 0 ? 0 : weights.overload * overloadTokens(recent, uncached, poolRecent, poolWorkers, weights.overloadSlack);
  return cachedValue - loadCost + affinity - overloadCost;
}

const EMPTY_MATCH: LocationMatch = Object.freeze(emptyMatch());

/** The bounded-load bound: (1 + slack) × the mean recent work of `workers`, this request's `uncached` work included. */
function overloadBound(uncached: number, poolRecent: number, workers: number, slack: number): number {
  return ((1 + slack) * (poolRecent + uncached)) / workers;
}

/**
 * How far, as a fraction of the bound, a worker's recent work `recent` already lies above
 * bound = (1 + slack) × (pool's recent work + uncached) / workers; 0 at or below it.
 */
function excessFraction(recent: number, uncached: number, poolRecent: number, workers: number, slack: number): number {
  const bound = overloadBound(uncached, poolRecent, workers, slack);
  return bound > 0 && recent > bound ? (recent - bound) / bound : 0;
}

/**
 * Tokens of `uncached` new work that would lie above the bounded-load bound on a worker whose
 * recent work is `recent`: bound = (1 + slack) × (pool's recent work + uncached) / workers.
 */
function overloadTokens(recent: number, uncached: number, poolRecent: number, workers: number, slack: number): number {
  const bound = overloadBound(uncached, poolRecent, workers, slack);
  return Math.max(0, recent + uncached - bound) - Math.max(0, recent - bound);
}

function assertPromptAndBlockSize(promptTokens: number, blockSize: number): void {
  if (!Number.isSafeInteger(promptTokens) || promptTokens < 0) {
    throw new PrefixIndexError("INVALID_ARGUMENT", "promptTokens", `promptTokens must be an integer >= 0, got ${promptTokens}`);
  }
  if (!Number.isSafeInteger(blockSize) || blockSize < 1) {
    throw new PrefixIndexError("INVALID_ARGUMENT", "blockSize", `blockSize must be an integer >= 1, got ${blockSize}`);
  }
}

/** Per-call options of {@link chooseCandidate}. */
export interface ChooseCandidateOptions {
  /** Uniform in [0, 1), for softmax sampling. @default Math.random */
  rng?: () => number;
  /** Index of the candidate that served this request's session last; gets `weights.sessionAffinity`. @default -1 (none) */
  sessionIndex?: number;
}

/**
 * {@link chooseWorker} over a {@link CandidateSet}: the index of the chosen candidate, or -1 when
 * none can take the request. Same score, tie-breaks and sampling; allocates nothing at
 * temperature 0.
 * @throws {PrefixIndexError} `INVALID_ARGUMENT` on a bad prompt length, block size or weight.
 */
export function chooseCandidate(
  set: CandidateSet,
  promptTokens: number,
  blockSize: number,
  weights: RoutingWeights = DEFAULT_ROUTING_WEIGHTS,
  options: ChooseCandidateOptions = {},
): number {
  assertPromptAndBlockSize(promptTokens, blockSize);
  assertRoutingWeights(weights);
  const session = options.sessionIndex ?? -1;
  const n = set.length;
  const ids = set.ids;
  const recentOf = set.recentWorkTokens;
  // every score is kept only for softmax sampling
  const scored: number[] | undefined = weights.temperature > 0 ? [] : undefined;
  let bestIndex = -1;
  let bestScore = 0;
  let bestRecent = 0;
  for (let i = 0; i < n; i++) {
    const score = scoreOf(set, i, promptTokens, blockSize, weights, i === session, n);
    if (Number.isNaN(score)) continue;
    if (scored !== undefined) scored.push(i);
    const recent = recentOf[i];
    if (
      bestIndex < 0 ||
      score > bestScore ||
      (score === bestScore && (recent < bestRecent || (recent === bestRecent && ids[i] < ids[bestIndex])))
    ) {
      bestIndex = i;
      bestScore = score;
      bestRecent = recent;
    }
  }
  if (bestIndex < 0 || scored === undefined) return bestIndex;
  scored.sort((a, b) => (ids[a] < ids[b] ? -1 : ids[a] > ids[b] ? 1 : 0));
  const scores = scored.map((i) => scoreOf(set, i, promptTokens, blockSize, weights, i === session, n));
  return scored[softmaxSample(scores, weights.temperature, options.rng ?? Math.random)];
}

/**
 * Picks a worker for a prompt of `promptTokens` tokens. `matches` maps worker id to what that
 * worker can load: for a worker, pass {@link mergeMatches} of its own device-pool match and its
 * node kvstore's match. score = cached value (tokens saved, weighted by the fastest tier holding
 * them, less the overload penalty of a worker already above its bound, see
 * {@link RoutingWeights.overloadPenalty}) − load cost (queued prefill tokens + resident decode
 * tokens, weighted) − overload cost (the request's uncached tokens that would take the worker's
 * recent work above `(1 + overloadSlack) ×` the candidates' mean, weighted by `overload`) +
 * session affinity.
 * Temperature 0 returns the highest score; ties go to the least `recentWorkTokens`, then the
 * smallest workerId, whatever the candidate order. Temperature T > 0 samples with probability
 * ∝ exp(normalised score / T), scores normalised to [0, 1] over the candidates (so T is relative
 * to their spread: at T = 1 the best is e times likelier than the worst), candidates taken in
 * workerId order, drawing from `options.rng`.
 * @returns null when no candidate can take the request.
 * @throws {PrefixIndexError} `INVALID_ARGUMENT` on a negative or non-finite number, a bad block
 * size, or a repeated worker id.
 */
export function chooseWorker(
  candidates: readonly WorkerLoad[],
  matches: ReadonlyMap<string, LocationMatch>,
  promptTokens: number,
  blockSize: number,
  weights: RoutingWeights = DEFAULT_ROUTING_WEIGHTS,
  options: ChooseOptions = {},
): WorkerChoice | null {
  assertPromptAndBlockSize(promptTokens, blockSize);
  const set = new CandidateSet();
  const seen = new Set<string>();
  let sessionIndex = -1;
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i];
    if (typeof c.workerId !== "string" || c.workerId.length === 0 || seen.has(c.workerId)) {
      throw new PrefixIndexError("INVALID_ARGUMENT", `candidates[${i}].workerId`, `candidates[${i}].workerId is empty or repeated`);
    }
    seen.add(c.workerId);
    set.add(c.workerId, c.role, c.queuedPrefillTokens, c.activeDecodeBlocks, c.capacityBlocks, c.recentWorkTokens ?? 0);
    const m = matches.get(c.workerId);
    if (m !== undefined) set.mergeMatch(i, m.device, m.host, m.ssd, m.best, m.shared);
    if (c.workerId === options.sessionWorkerId) sessionIndex = i;
  }
  const i = chooseCandidate(set, promptTokens, blockSize, weights, { rng: options.rng, sessionIndex });
  if (i < 0) return null;
  return {
    workerId: set.ids[i],
    score: scoreOf(set, i, promptTokens, blockSize, weights, i === sessionIndex, set.length),
    cachedTokens: cachedTokensOf(set.best[i], promptTokens, blockSize),
  };
}

/** Index in `scores` drawn with probability ∝ exp(normalised score / temperature). */
function softmaxSample(scores: readonly number[], temperature: number, rng: () => number): number {
  let min = Infinity;
  let max = -Infinity;
  for (const s of scores) {
    min = Math.min(min, s);
    max = Math.max(max, s);
  }
  const spread = max - min;
  // exp((norm - 1) / T) keeps every term in (0, 1], so large scores never overflow.
  const weights = scores.map((s) => (spread === 0 ? 1 : Math.exp(((s - min) / spread - 1) / temperature)));
  const total = weights.reduce((a, b) => a + b, 0);
  let r = rng() * total;
  for (let i = 0; i < scores.length; i++) {
    r -= weights[i];
    if (r < 0) return i;
  }
  return scores.length - 1; // rounding left r at ~0
}

/**
 * Conditional disaggregation: true when the uncached part of the prompt is long enough to send
 * to a prefill worker, false when the decode worker should prefill it itself
 * (`uncachedTokens <= threshold`).
 * @throws {PrefixIndexError} `INVALID_ARGUMENT` on a negative or non-finite input.
 */
export function shouldDisaggregate(uncachedTokens: number, threshold: number = DEFAULT_LOCAL_PREFILL_MAX_TOKENS): boolean {
  assertNonNegative(uncachedTokens, "uncachedTokens");
  assertNonNegative(threshold, "threshold");
  return uncachedTokens > threshold;
}
