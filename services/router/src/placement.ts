// Where a request runs: the decode worker and the prefill worker with the best cached overlap
// against load (this replica's in-flight work, its peers', and the workers' own reports), plus
// the session's last workers when the request names a session; and whether to disaggregate at
// all (a short uncached part prefills on the decode worker).
import { CandidateSet, chooseCandidate, shouldDisaggregate, type LocationMatch, type RoutingWeights, type WorkerLoad } from "@kvtier/prefix-index";
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

  constructor(readonly workers: readonly LiveWorker[]) {
    workers.forEach((w, pos) => {
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
  out.queuedPrefillTokens = Math.max(w.load?.queuedPrefillTokens ?? 0, (own?.prefillTokens ?? 0) + p.prefillTokens);
  out.activeDecodeBlocks = Math.max(w.load?.activeDecodeBlocks ?? 0, (own?.decodeBlocks ?? 0) + p.decodeBlocks);
  out.capacityBlocks = w.info.capacityBlocks;
  out.recentWorkTokens = ownRecent + p.recentWorkTokens;
  return out;
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

const lookups = new LoadLookups();
const NO_EXCLUSIONS: ReadonlySet<string> = new Set();
const loadScratch: WorkerLoad = { workerId: "", role: "decode", queuedPrefillTokens: 0, activeDecodeBlocks: 0, capacityBlocks: 0, recentWorkTokens: 0 };

/** Adds the worker at roster position `pos` with its load ({@link workerLoad}, from the synced lookups) to `set`; returns its index. */
function addCandidate(set: CandidateSet, w: LiveWorker, pos: number, ledger: LoadLedger, nowMs: number): number {
  const own = lookups.own[pos];
  const l = loadInto(w, own, ledger.recentOf(own, nowMs), lookups.peer[pos], loadScratch);
  return set.add(l.workerId, l.role, l.queuedPrefillTokens, l.activeDecodeBlocks, l.capacityBlocks, l.recentWorkTokens ?? 0);
}

// Placement scratch, reused by every call (place is synchronous and calls nothing that places).
const decodeSet = new CandidateSet();
const prefillSet = new CandidateSet();
/** Per roster position: its candidate index, as (index << 1) | 1 for the prefill set; -1 when not a candidate. */
let slotOf = new Int32Array(64);
/** Per candidate index of each set: its roster position. */
const decodePositions: number[] = [];
const prefillPositions: number[] = [];

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
  decodeSet.reset();
  prefillSet.reset();
  if (slotOf.length < workers.length) slotOf = new Int32Array(2 * workers.length);
  let sessionDecode = -1;
  let sessionPrefill = -1;
  const excluding = exclude.size > 0;
  lookups.sync(roster, loads);
  const { ledger, nowMs } = loads;
  for (let pos = 0; pos < workers.length; pos++) {
    const w = workers[pos];
    const id = w.info.workerId;
    const role = w.info.role;
    if ((excluding && exclude.has(id)) || (role !== "decode" && role !== "prefill")) {
      slotOf[pos] = -1;
      continue;
    }
    if (role === "decode") {
      const i = addCandidate(decodeSet, w, pos, ledger, nowMs);
      slotOf[pos] = i << 1;
      decodePositions[i] = pos;
      if (id === session?.decode) sessionDecode = i;
    } else {
      const i = addCandidate(prefillSet, w, pos, ledger, nowMs);
      slotOf[pos] = (i << 1) | 1;
      prefillPositions[i] = pos;
      if (id === session?.prefill) sessionPrefill = i;
    }
  }
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
