// The replay's router: production's placement (kv-router's Placer, the entry point the router
// service calls) over the simulated workers, with loads fed as the service feeds real ones. The
// simulated workers are prefill workers (their device caches are what the trace hits); one
// simulated decode worker admits every request, so placement's decode choice is fixed and its
// prefill choice is the one measured. Per request, as the router does: this replica's ledger
// takes the prefill tokens it sends (the prompt minus what the chosen worker has cached) and
// releases them when that prefill is done; every worker's own load report (its queued prefill
// tokens) is refreshed once per heartbeat period of simulated time, and the ledger hears of it.
import {
  LoadLedger,
  PeerLoads,
  Placer,
  RequestCharge,
  Roster,
  type LocationMatch,
  type RosterWorker,
  type RoutingPolicy,
  type RoutingWeights,
} from "@kvtier/kv-router";

/** Period of the simulated workers' load reports (the services' default KVTIER_HEARTBEAT_MS), ms. */
const REPORT_PERIOD_MS = 1_000;
/** Id of the one simulated decode worker. */
export const SIMULATED_DECODE_ID = "sim-decode";

/** A simulated worker as placement reads it (its load report changes in place, as a service's does). */
interface SimRosterWorker extends RosterWorker {
  load: { queuedPrefillTokens: number; activeDecodeBlocks: number };
}

/** How the replay's router places. */
export interface ReplayRouterOptions {
  policy: RoutingPolicy;
  weights: RoutingWeights;
  /** Time constant of the ledger's recent-work decay, ms (the router's KVTIER_ROUTING_RECENT_WORK_TAU_MS). */
  recentWorkTauMs: number;
  /** Tokens per trace block (placement's block size). */
  blockSize: number;
  /** Seed of the random policy. */
  seed: number;
}

/** A request's charge on the ledger, released once its prefill is done. */
interface InFlight {
  doneAtMs: number;
  charge: RequestCharge;
}

/** Places trace requests on simulated prefill workers through production's Placer. */
export class ReplayRouter {
  private nowMs = 0;
  private reportedAtMs = -Infinity;
  private readonly placer: Placer;
  private readonly ledger: LoadLedger;
  private readonly peers: PeerLoads;
  private readonly roster: Roster<SimRosterWorker>;
  private readonly inFlight: InFlight[][];
  /** Prefill workers by position (the decode worker is last in the roster). */
  private readonly prefills: SimRosterWorker[];

  constructor(
    workerIds: readonly string[],
    capacityBlocks: number,
    private readonly opts: ReplayRouterOptions,
  ) {
    this.prefills = workerIds.map((id) => ({
      info: { workerId: id, role: "prefill", kvstoreId: "", capacityBlocks },
      load: { queuedPrefillTokens: 0, activeDecodeBlocks: 0 },
    }));
    const decode: SimRosterWorker = {
      info: { workerId: SIMULATED_DECODE_ID, role: "decode", kvstoreId: "", capacityBlocks: Number.MAX_SAFE_INTEGER },
      load: { queuedPrefillTokens: 0, activeDecodeBlocks: 0 },
    };
    this.roster = new Roster([...this.prefills, decode]);
    this.inFlight = workerIds.map(() => []);
    const clock = (): number => this.nowMs;
    this.ledger = new LoadLedger(opts.recentWorkTauMs, clock);
    this.peers = new PeerLoads(REPORT_PERIOD_MS, clock); // one replica: no peer ever shares
    // every prompt has more uncached tokens than this: the simulated decode worker never prefills
    this.placer = new Placer({
      policy: opts.policy,
      weights: opts.weights,
      localPrefillMaxTokens: 0,
      blockSize: opts.blockSize,
      seed: opts.seed,
    });
  }

  /**
   * Moves simulated time to `ms`: prefills done by then leave the ledger, and the workers' load
   * reports are refreshed from `queuedTokens(worker)` when a report period has passed.
   */
  advance(ms: number, queuedTokens: (worker: number) => number): void {
    this.nowMs = Math.max(this.nowMs, ms);
    for (const list of this.inFlight) {
      let done = 0;
      while (done < list.length && list[done].doneAtMs <= this.nowMs) list[done++].charge.end();
      if (done > 0) list.splice(0, done);
    }
    if (this.nowMs - this.reportedAtMs < REPORT_PERIOD_MS) return;
    this.reportedAtMs = this.nowMs;
    this.prefills.forEach((p, w) => {
      p.load.queuedPrefillTokens = queuedTokens(w);
      this.ledger.noteReport(p.info.workerId, p.load.queuedPrefillTokens);
    });
  }

  /**
   * The prefill worker (its position) production's placement picks for a prompt of
   * `promptTokens` whose blocks matched `matches`, and the prefill tokens it sends there (the
   * prompt minus the blocks placement saw cached).
   */
  place(promptTokens: number, matches: ReadonlyMap<string, LocationMatch>): { worker: number; sentTokens: number } {
    // A trace block (512 tokens) stands for 32 of production's 16-token blocks: production
    // recomputes only the last of those (reusableBlocks), a sliver of a trace block, so every
    // matched trace block counts here, as the replay counts its hits.
    const placement = this.placer.place({
      roster: this.roster,
      matches,
      promptTokens,
      reusableBlocks: Math.ceil(promptTokens / this.opts.blockSize),
      loads: { ledger: this.ledger, peers: this.peers, nowMs: this.nowMs },
    });
    if (placement === null || !placement.disaggregated)
      throw new Error("the replay's decode worker refused a request or prefilled it itself");
    const worker = this.roster.positionOf.get(placement.prefill.info.workerId)!;
    return { worker, sentTokens: Math.max(0, promptTokens - placement.chosenCachedTokens) };
  }

  /**
   * Worker `worker` takes `sentTokens` of prefill of a `promptTokens` + `outputTokens` request
   * now, done at `doneAtMs`: charged to the ledger as the router charges a request, and released
   * then (the replay does not simulate decode: its charge ends with the prefill).
   */
  sent(worker: number, sentTokens: number, promptTokens: number, outputTokens: number, doneAtMs: number): void {
    const charge = new RequestCharge(this.ledger, {
      decodeWorker: SIMULATED_DECODE_ID,
      prefillWorker: this.prefills[worker].info.workerId,
      prefillTokens: sentTokens,
      decodeBlocks: Math.ceil((promptTokens + outputTokens) / this.opts.blockSize),
      decodeTokens: promptTokens + outputTokens,
    });
    this.inFlight[worker].push({ doneAtMs, charge });
  }
}
