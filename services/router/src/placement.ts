// Where a request runs: the decode worker and the prefill worker with the best cached overlap
// against load (this replica's in-flight work, its peers', and the workers' own reports), plus
// the session's last workers when the request names a session; and whether to disaggregate at
// all (a short uncached part prefills on the decode worker).
import { CandidateSet, chooseCandidate, shouldDisaggregate, type LocationMatch, type RoutingWeights, type WorkerLoad } from "@kvtier/kv-router";
import type { LedgerEntry, LoadLedger } from "./load-ledger.js";
import type { PeerLoads, PeerTotal } from "./peer-loads.js";
import type { SessionWorkers } from "./session-table.js";
import type { LiveWorker } from "./worker-table.js";

export interface Placement {
  decode: LiveWorker;
  prefill: LiveWorker;
  disaggregated: boolean;
  /** Cached prompt tokens at the best-placed worker of any role (what routing could capture). */
  bestCachedTokens: number;
  /** Cached prompt tokens the chosen prefilling worker can load (what routing captured). */
  chosenCachedTokens: number;
}

export interface PlacementOptions {
  weights: RoutingWeights;
  localPrefillMaxTokens: number;
  blockSize: number;
}

/** Where placement reads each worker's load: this replica's ledger, its peers' shares, and one clock reading for the whole placement. */
export interface LoadSources {
  ledger: LoadLedger;
  peers: PeerLoads;
  nowMs: number;
}

/**
 * The workers placement chooses among, and where each location's match lands: a worker's own
 * pool id and its node's kvstore id, each to the positions of the workers it serves. Built once
 * per change of the worker set ({@link WorkerTable.roster}), so a placement looks up each matched
 * location once instead of two locations per worker.
 */
export class Roster {
  /** Per location id (worker or kvstore), the positions in `workers` of the workers it serves. */
  readonly servedBy = new Map<string, number[]>();
  /** Per worker id, its position in `workers`. */
  readonly positionOf = new Map<string, number>();

  constructor(readonly workers: readonly LiveWorker[]) {
    workers.forEach((w, pos) => {
      this.positionOf.set(w.info.workerId, pos);
      for (const loc of w.info.kvstoreId === w.info.workerId ? [w.info.workerId] : [w.info.workerId, w.info.kvstoreId]) {
        if (loc === "") continue;
        const list = this.servedBy.get(loc);
        if (list === undefined) this.servedBy.set(loc, [pos]);
        else list.push(pos);
      }
    });
  }
}

/**
 * A worker's load as routing sees it: the larger of its own report (which lags) and the work the
 * replicas have sent it and not seen finish (this one's ledger plus its peers' shares).
 */
export function workerLoad(w: LiveWorker, { ledger, peers, nowMs }: LoadSources): WorkerLoad {
  const own = ledger.entry(w.info.workerId);
  const out: WorkerLoad = { workerId: "", role: "decode", queuedPrefillTokens: 0, activeDecodeBlocks: 0, capacityBlocks: 0, recentWorkTokens: 0 };
  return loadInto(w, own, ledger.recentOf(own, nowMs), peers.total(w.info.workerId, nowMs), out);
}

/** {@link workerLoad} from the worker's ledger entry (and its recent work) and peer total, written into `out`. */
function loadInto(w: LiveWorker, own: LedgerEntry | undefined, ownRecent: number, p: PeerTotal, out: WorkerLoad): WorkerLoad {
  out.workerId = w.info.workerId;
  out.role = w.info.role as "prefill" | "decode";
  out.queuedPrefillTokens = queuedOf(w, own, p);
  out.activeDecodeBlocks = activeOf(w, own, p);
  out.capacityBlocks = w.info.capacityBlocks;
  out.recentWorkTokens = ownRecent + p.recentWorkTokens;
  return out;
}

/** Prefill tokens queued on `w`: its own report, or the replicas' in-flight work when larger. */
function queuedOf(w: LiveWorker, own: LedgerEntry | undefined, p: PeerTotal): number {
  return Math.max(w.load?.queuedPrefillTokens ?? 0, (own?.prefillTokens ?? 0) + p.prefillTokens);
}

/** Decode blocks active on `w`, as {@link queuedOf}. */
function activeOf(w: LiveWorker, own: LedgerEntry | undefined, p: PeerTotal): number {
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

  /** Brings the lookups up to date for a placement over `roster` at `src.nowMs`. */
  sync(roster: Roster, { ledger, peers, nowMs }: LoadSources): void {
    peers.refresh(nowMs);
    const workers = roster.workers;
    const sameRoster = roster === this.roster;
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
  readonly decode = new CandidateSet();
  readonly prefill = new CandidateSet();
  /** Per roster position: its candidate index, as (index << 1) | 1 for the prefill set; -1 when not a candidate. */
  slotOf = new Int32Array(64);
  /** Per candidate index of each set: its roster position. */
  readonly decodePositions: number[] = [];
  readonly prefillPositions: number[] = [];

  /** Makes the sets hold `roster`'s workers minus `exclude`, matches cleared (set the loads next). */
  take(roster: Roster, exclude: ReadonlySet<string>): void {
    if (exclude.size === 0 && roster === this.roster) {
      this.decode.again();
      this.prefill.again();
      return;
    }
    this.roster = undefined; // until the sets are whole (add throws on a bad capacity)
    const workers = roster.workers;
    this.decode.reset();
    this.prefill.reset();
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

// Placement state, reused by every call (place is synchronous and calls nothing that places).
const lookups = new LoadLookups();
const members = new Members();
const NO_EXCLUSIONS: ReadonlySet<string> = new Set();

/** Sets each candidate's load in `set` ({@link workerLoad}, from the synced lookups). */
function setLoads(set: CandidateSet, positions: readonly number[], workers: readonly LiveWorker[], ledger: LoadLedger, nowMs: number): void {
  for (let i = 0; i < set.length; i++) {
    const pos = positions[i];
    const w = workers[pos];
    const own = lookups.own[pos];
    const p = lookups.peer[pos];
    set.setLoad(i, queuedOf(w, own, p), activeOf(w, own, p), ledger.recentOf(own, nowMs) + p.recentWorkTokens);
  }
}

/**
 * Choose workers among `roster`'s (minus `exclude`) for a prompt whose full-block hashes were
 * matched (`matches`, per location: each worker merges its own pool with its node's kvstore, as
 * mergeMatches, capped at `reusableBlocks`). Returns null when no decode worker can take it.
 * Allocates nothing per worker.
 */
export function place(
  roster: Roster,
  matches: ReadonlyMap<string, LocationMatch>,
  promptTokens: number,
  reusableBlocks: number,
  loads: LoadSources,
  opts: PlacementOptions,
  exclude: ReadonlySet<string> = NO_EXCLUSIONS,
  session?: SessionWorkers,
): Placement | null {
  const workers = roster.workers;
  lookups.sync(roster, loads);
  members.take(roster, exclude);
  const { decode: decodeSet, prefill: prefillSet, slotOf, decodePositions, prefillPositions } = members;
  setLoads(decodeSet, decodePositions, workers, loads.ledger, loads.nowMs);
  setLoads(prefillSet, prefillPositions, workers, loads.ledger, loads.nowMs);
  const sessionDecode = members.indexOf(roster, session?.decode, false);
  const sessionPrefill = members.indexOf(roster, session?.prefill, true);
  // each matched location raises the match of the workers it serves (the union of two leading runs is the longer)
  matches.forEach((m, location) => {
    const served = roster.servedBy.get(location);
    if (served === undefined) return;
    const device = Math.min(m.device, reusableBlocks);
    const host = Math.min(m.host, reusableBlocks);
    const ssd = Math.min(m.ssd, reusableBlocks);
    const best = Math.min(m.best, reusableBlocks);
    const shared = Math.min(m.shared, reusableBlocks);
    for (const pos of served) {
      const slot = slotOf[pos];
      if (slot >= 0) ((slot & 1) === 0 ? decodeSet : prefillSet).mergeMatch(slot >>> 1, device, host, ssd, best, shared);
    }
  });
  const bestCachedTokens = Math.max(decodeSet.bestMatch(), prefillSet.bestMatch()) * opts.blockSize;
  const d = chooseCandidate(decodeSet, promptTokens, opts.blockSize, opts.weights, { sessionIndex: sessionDecode });
  if (d < 0) return null;
  const decode = workers[decodePositions[d]];
  const decodeCached = decodeSet.best[d] * opts.blockSize;
  const p = prefillSet.length > 0 && shouldDisaggregate(promptTokens - decodeCached, opts.localPrefillMaxTokens)
    ? chooseCandidate(prefillSet, promptTokens, opts.blockSize, opts.weights, { sessionIndex: sessionPrefill })
    : -1;
  if (p < 0) return { decode, prefill: decode, disaggregated: false, bestCachedTokens, chosenCachedTokens: decodeCached };
  const prefill = workers[prefillPositions[p]];
  return { decode, prefill, disaggregated: true, bestCachedTokens, chosenCachedTokens: prefillSet.best[p] * opts.blockSize };
}
