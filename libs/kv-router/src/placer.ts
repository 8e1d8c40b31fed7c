// Where a request runs: the decode worker and the prefill worker chosen by a routing policy (kv:
// the best cached overlap against load, counting this replica's in-flight work, its peers' and
// the workers' own reports, plus the session's last workers), and whether to disaggregate at all
// (a short uncached part prefills on the decode worker). The one placement entry point: the
// router service, `kvtier replay` and `pnpm bench router` all call Placer.place.
import { CandidateSet } from "./candidate-set.js";
import type { LedgerEntry, LoadLedger } from "./load-ledger.js";
import type { LocationMatch } from "./location-match.js";
import type { PeerLoads, PeerTotal } from "./peer-loads.js";
import type { Roster, RosterWorker } from "./roster.js";
import { DEFAULT_ROUTING_WEIGHTS, chooseCandidate, shouldDisaggregate, type RoutingWeights, type WorkerLoad } from "./routing-cost.js";
import { seededUniform } from "./seeded-uniform.js";
import type { SessionWorkers } from "./session-table.js";

/** Routing policies: kv (prefix-aware, the default), and the baselines it is measured against. */
export const ROUTING_POLICIES = ["kv", "round-robin", "random", "least-loaded"] as const;
/** One of {@link ROUTING_POLICIES}. */
export type RoutingPolicy = (typeof ROUTING_POLICIES)[number];

/** least-loaded: the kv score with every cache, session and bounded-load term at zero. */
const LEAST_LOADED_WEIGHTS: Readonly<RoutingWeights> = Object.freeze({
  device: 0,
  host: 0,
  ssd: 0,
  prefillLoad: 1,
  decodeLoad: 1,
  sessionAffinity: 0,
  temperature: 0,
  overload: 0,
  overloadSlack: 0,
  overloadPenalty: 0,
  overloadPenaltySlack: 0,
});

export interface Placement<W extends RosterWorker = RosterWorker> {
  decode: W;
  prefill: W;
  disaggregated: boolean;
  /** Cached prompt tokens at the best-placed worker of any role (what routing could capture). */
  bestCachedTokens: number;
  /** Cached prompt tokens the chosen prefilling worker can load (what routing captured). */
  chosenCachedTokens: number;
}

/**
 * Placement's hot-path tricks that {@link PlacerOptions.plainForms} can replace by their plain
 * forms, for the A/B figures of `pnpm bench router`:
 * - `roster-sets`: the candidate sets of the last roster are kept (plain: new sets per placement);
 * - `load-lookups`: each worker's ledger entry and peer total are kept while their generations
 *   hold (plain: looked up per worker per placement);
 * - `served-by`: each matched location raises the workers it serves (Roster.servedBy) (plain:
 *   each worker looks up its pool's and its kvstore's match);
 * - `load-checks`: a load check builds its field's name only when it fails (plain: always).
 */
export type PlacerTrick = "roster-sets" | "load-lookups" | "served-by" | "load-checks";

/** How a {@link Placer} chooses. */
export interface PlacerOptions {
  /** @default "kv" */
  policy?: RoutingPolicy;
  /** Weights of the kv policy. @default DEFAULT_ROUTING_WEIGHTS */
  weights?: RoutingWeights;
  /** Conditional disaggregation: more uncached tokens than this on the decode worker go to a prefill worker. */
  localPrefillMaxTokens: number;
  /** Tokens per block of the deployment (matches are in blocks). */
  blockSize: number;
  /** Seed of the random policy and of softmax sampling (weights.temperature > 0). @default 1 */
  seed?: number;
  /**
   * For A/B benchmarks only (`pnpm bench router`): these tricks run in their plain forms (see
   * {@link PlacerTrick}). Placements are the same; only the speed differs.
   * @default none
   */
  plainForms?: readonly PlacerTrick[];
}

/** Where placement reads each worker's load: this replica's ledger, its peers' shares, and one clock reading for the whole placement. */
export interface LoadSources {
  ledger: LoadLedger;
  peers: PeerLoads;
  nowMs: number;
}

/** One request to place. */
export interface PlacementRequest<W extends RosterWorker = RosterWorker> {
  roster: Roster<W>;
  /**
   * The prompt's full-block hashes matched per location (each worker merges its own pool's match
   * with its node's kvstore's, as mergeMatches), capped at `reusableBlocks` here.
   */
  matches: ReadonlyMap<string, LocationMatch>;
  promptTokens: number;
  /** Blocks of the prompt that may be reused (the last token's block is always computed). */
  reusableBlocks: number;
  loads: LoadSources;
  /** Workers not to place on (one that refused, or was lost). @default none */
  exclude?: ReadonlySet<string>;
  /** The session's last workers, when the request names a session. */
  session?: SessionWorkers;
}

/**
 * A worker's load as routing sees it: the larger of its own report (which lags) and the work the
 * replicas have sent it and not seen finish (this one's ledger plus its peers' shares).
 */
export function workerLoad(w: RosterWorker, { ledger, peers, nowMs }: LoadSources): WorkerLoad {
  const own = ledger.entry(w.info.workerId);
  const p = peers.total(w.info.workerId, nowMs);
  return {
    workerId: w.info.workerId,
    role: w.info.role as "prefill" | "decode",
    queuedPrefillTokens: queuedOf(w, own, p, ledger, nowMs),
    activeDecodeBlocks: activeOf(w, own, p),
    capacityBlocks: w.info.capacityBlocks,
    recentWorkTokens: ledger.recentOf(own, nowMs) + p.recentWorkTokens,
  };
}

/**
 * Prefill tokens queued on `w` at `nowMs`: this replica's view of it from the worker's reports
 * (the last one's queue drained at the worker's rate since, plus what this replica sent since;
 * LoadLedger.queuedPrefill) and what the peer replicas sent since; before any report, the
 * worker's own report if placement has one, or the replicas' in-flight work. A sent prefill
 * counts until its first token in the in-flight work, which overstates a busy worker's queue:
 * the reports show its progress.
 */
function queuedOf(w: RosterWorker, own: LedgerEntry | undefined, p: PeerTotal, ledger: LoadLedger, nowMs: number): number {
  const seen = ledger.queuedPrefill(own, nowMs);
  if (seen !== undefined) return seen + p.prefillTokensSinceReport;
  if (w.load === undefined) return (own?.prefillTokens ?? 0) + p.prefillTokens;
  return w.load.queuedPrefillTokens + (own?.prefillTokensSinceReport ?? 0) + p.prefillTokensSinceReport;
}

/** Decode blocks active on `w`, as {@link queuedOf}. */
function activeOf(w: RosterWorker, own: LedgerEntry | undefined, p: PeerTotal): number {
  return Math.max(w.load?.activeDecodeBlocks ?? 0, (own?.decodeBlocks ?? 0) + p.decodeBlocks);
}

/**
 * Per roster position, the ledger entry and the peers' total that placement looked up last
 * (string-keyed lookups per worker were a fifth of a placement's time). Kept while the roster and
 * the ledger's and peers' generations stay the same: between those changes entries and totals are
 * updated in place, never replaced.
 */
class LoadLookups {
  private roster: Roster | undefined;
  private ledger: LoadLedger | undefined;
  private peers: PeerLoads | undefined;
  private ledgerGeneration = -1;
  private peersGeneration = -1;
  readonly own: Array<LedgerEntry | undefined> = [];
  readonly peer: PeerTotal[] = [];

  /** `keep` false: look every worker up again on every placement (the plain form, for A/B figures only). */
  constructor(private readonly keep: boolean) {}

  /** Brings the lookups up to date for a placement over `roster` at `src.nowMs`. */
  sync(roster: Roster, { ledger, peers, nowMs }: LoadSources): void {
    peers.refresh(nowMs);
    const workers = roster.workers;
    // A/B (pnpm bench router, ab_load_lookups_route_p50_ratio): route p50 x1.20-1.25 over looking every worker up
    const sameRoster = this.keep && roster === this.roster;
    if (!sameRoster || ledger !== this.ledger || ledger.generation !== this.ledgerGeneration) {
      this.own.length = workers.length;
      for (let pos = 0; pos < workers.length; pos++) this.own[pos] = ledger.entry(workers[pos].info.workerId);
      this.ledger = ledger;
      this.ledgerGeneration = ledger.generation;
    }
    if (!sameRoster || peers !== this.peers || peers.generation !== this.peersGeneration) {
      this.peer.length = workers.length;
      for (let pos = 0; pos < workers.length; pos++) this.peer[pos] = peers.total(workers[pos].info.workerId, nowMs);
      this.peers = peers;
      this.peersGeneration = peers.generation;
    }
    this.roster = roster;
  }
}

/**
 * The candidate sets of a placement: the roster's decode and prefill workers minus the excluded
 * ones, with their ids, roles and capacities. Kept while the roster is the same and nothing is
 * excluded (rebuilding them per placement was most of its per-worker cost); only the loads and
 * matches are set again.
 */
class Members {
  private roster: Roster | undefined;
  decode: CandidateSet;
  prefill: CandidateSet;
  /** Per roster position: its candidate index, as (index << 1) | 1 for the prefill set; -1 when not a candidate. */
  slotOf = new Int32Array(64);
  /** Per candidate index of each set: its roster position. */
  readonly decodePositions: number[] = [];
  readonly prefillPositions: number[] = [];

  /** `keep` false: new sets on every placement; `namedChecks`: see CandidateSet (the plain forms, for A/B figures only). */
  constructor(
    private readonly keep: boolean,
    private readonly namedChecks: boolean,
  ) {
    this.decode = new CandidateSet(namedChecks);
    this.prefill = new CandidateSet(namedChecks);
  }

  /** Makes the sets hold `roster`'s workers minus `exclude`, matches cleared (set the loads next). */
  take(roster: Roster, exclude: ReadonlySet<string>): void {
    // A/B (pnpm bench router, ab_roster_sets_route_p50_ratio): route p50 x5.4-6.5 over new sets per placement
    if (this.keep && exclude.size === 0 && roster === this.roster) {
      this.decode.again();
      this.prefill.again();
      return;
    }
    this.roster = undefined; // until the sets are whole (add throws on a bad capacity)
    const workers = roster.workers;
    if (this.keep) {
      this.decode.reset();
      this.prefill.reset();
    } else {
      this.decode = new CandidateSet(this.namedChecks);
      this.prefill = new CandidateSet(this.namedChecks);
    }
    if (this.slotOf.length < workers.length) this.slotOf = new Int32Array(2 * workers.length);
    for (let pos = 0; pos < workers.length; pos++) {
      const { workerId, role, capacityBlocks } = workers[pos].info;
      if (exclude.has(workerId) || (role !== "decode" && role !== "prefill")) {
        this.slotOf[pos] = -1;
        continue;
      }
      const set = role === "decode" ? this.decode : this.prefill;
      const i = set.add(workerId, role, 0, 0, capacityBlocks, 0);
      this.slotOf[pos] = (i << 1) | (role === "decode" ? 0 : 1);
      (role === "decode" ? this.decodePositions : this.prefillPositions)[i] = pos;
    }
    if (exclude.size === 0) this.roster = roster;
  }

  /** The candidate index of worker `id` in the decode (`prefill` false) or prefill set, or -1. */
  indexOf(roster: Roster, id: string | undefined, prefill: boolean): number {
    const pos = id === undefined ? undefined : roster.positionOf.get(id);
    const slot = pos === undefined ? -1 : this.slotOf[pos];
    return slot >= 0 && (slot & 1) === (prefill ? 1 : 0) ? slot >>> 1 : -1;
  }
}

const NO_EXCLUSIONS: ReadonlySet<string> = new Set();

/**
 * Places requests. Holds what it reuses between placements (the candidate sets of the last
 * roster, the load lookups, the baselines' turn and random generator): one per caller that
 * places (a router, a replay), never shared between threads of control.
 */
export class Placer {
  private readonly lookups: LoadLookups;
  private readonly members: Members;
  private readonly servedBy: boolean;
  private readonly policy: RoutingPolicy;
  private readonly weights: RoutingWeights;
  private readonly rng: () => number;
  /** round-robin: the next turn of the decode (0) and prefill (1) candidates. */
  private readonly turns = [0, 0];

  constructor(private readonly opts: PlacerOptions) {
    this.policy = opts.policy ?? "kv";
    if (!ROUTING_POLICIES.includes(this.policy))
      throw new RangeError(`policy: expected one of ${ROUTING_POLICIES.join(", ")}, got ${String(this.policy)}`);
    this.weights = opts.weights ?? DEFAULT_ROUTING_WEIGHTS;
    this.rng = seededUniform(opts.seed ?? 1);
    const plain = new Set(opts.plainForms ?? []);
    this.lookups = new LoadLookups(!plain.has("load-lookups"));
    this.members = new Members(!plain.has("roster-sets"), plain.has("load-checks"));
    this.servedBy = !plain.has("served-by");
  }

  /**
   * Choose the decode worker, then (unless the uncached part is short enough to prefill on it)
   * the prefill worker, among `req.roster`'s workers minus the excluded ones. Null when no decode
   * worker can take the request. Allocates nothing per worker.
   */
  place<W extends RosterWorker>(req: PlacementRequest<W>): Placement<W> | null {
    const { roster, loads, reusableBlocks, promptTokens } = req;
    const { blockSize } = this.opts;
    const workers = roster.workers;
    const { lookups, members } = this;
    lookups.sync(roster, loads);
    members.take(roster, req.exclude ?? NO_EXCLUSIONS);
    const { decode: decodeSet, prefill: prefillSet, slotOf, decodePositions, prefillPositions } = members;
    setLoads(lookups, decodeSet, decodePositions, workers, loads.ledger, loads.nowMs);
    setLoads(lookups, prefillSet, prefillPositions, workers, loads.ledger, loads.nowMs);
    // each matched location raises the match of the workers it serves (the union of two leading runs is the longer)
    const raise = (pos: number, m: LocationMatch): void => {
      const slot = slotOf[pos];
      if (slot < 0) return;
      const set = (slot & 1) === 0 ? decodeSet : prefillSet;
      set.mergeMatch(
        slot >>> 1,
        Math.min(m.device, reusableBlocks),
        Math.min(m.host, reusableBlocks),
        Math.min(m.ssd, reusableBlocks),
        Math.min(m.best, reusableBlocks),
        Math.min(m.shared, reusableBlocks),
      );
    };
    // A/B (pnpm bench router, ab_served_by_route_p50_ratio): route p50 x1.16-1.28 over two lookups per worker
    if (this.servedBy) {
      req.matches.forEach((m, location) => {
        const served = roster.servedBy.get(location);
        if (served !== undefined) for (const pos of served) raise(pos, m);
      });
    } else {
      for (let pos = 0; pos < workers.length; pos++) {
        const { workerId, kvstoreId } = workers[pos].info;
        const own = req.matches.get(workerId);
        const store = kvstoreId === "" || kvstoreId === workerId ? undefined : req.matches.get(kvstoreId);
        if (own !== undefined) raise(pos, own);
        if (store !== undefined) raise(pos, store);
      }
    }
    const bestCachedTokens = Math.max(decodeSet.bestMatch(), prefillSet.bestMatch()) * blockSize;
    const d = this.choose(decodeSet, 0, promptTokens, members.indexOf(roster, req.session?.decode, false));
    if (d < 0) return null;
    const decode = workers[decodePositions[d]];
    const decodeCached = decodeSet.best[d] * blockSize;
    const p =
      prefillSet.length > 0 && shouldDisaggregate(promptTokens - decodeCached, this.opts.localPrefillMaxTokens)
        ? this.choose(prefillSet, 1, promptTokens, members.indexOf(roster, req.session?.prefill, true))
        : -1;
    if (p < 0) return { decode, prefill: decode, disaggregated: false, bestCachedTokens, chosenCachedTokens: decodeCached };
    const prefill = workers[prefillPositions[p]];
    return { decode, prefill, disaggregated: true, bestCachedTokens, chosenCachedTokens: prefillSet.best[p] * blockSize };
  }

  /** The policy's candidate in `set` (`role` 0 decode, 1 prefill), or -1 when there is none. */
  private choose(set: CandidateSet, role: 0 | 1, promptTokens: number, sessionIndex: number): number {
    switch (this.policy) {
      case "kv":
        return chooseCandidate(set, promptTokens, this.opts.blockSize, this.weights, { sessionIndex, rng: this.rng });
      case "least-loaded":
        return chooseCandidate(set, promptTokens, this.opts.blockSize, LEAST_LOADED_WEIGHTS, { rng: this.rng });
      case "round-robin":
        return set.length === 0 ? -1 : this.turns[role]++ % set.length;
      case "random":
        // a lone candidate draws nothing, so the sequence over a role's candidates does not depend on the other role's
        return set.length <= 1 ? set.length - 1 : Math.floor(this.rng() * set.length);
    }
  }
}

/** Sets each candidate's load in `set` ({@link workerLoad}, from the synced lookups). */
function setLoads(
  lookups: LoadLookups,
  set: CandidateSet,
  positions: readonly number[],
  workers: readonly RosterWorker[],
  ledger: LoadLedger,
  nowMs: number,
): void {
  for (let i = 0; i < set.length; i++) {
    const pos = positions[i];
    const w = workers[pos];
    const own = lookups.own[pos];
    const p = lookups.peer[pos];
    set.setLoad(i, queuedOf(w, own, p, ledger, nowMs), activeOf(w, own, p), ledger.recentOf(own, nowMs) + p.recentWorkTokens);
  }
}
