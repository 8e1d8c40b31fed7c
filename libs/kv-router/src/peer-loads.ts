// What the other router replicas last said they have in flight on each worker. A replica that
// stops sharing (crashed, partitioned) is forgotten after a few periods, so its load does not
// linger. Pure bookkeeping; router-peers.ts moves the shares over NATS.
import type { WorkerShare } from "./load-ledger.js";

/** Share periods a silent peer is kept for. */
export const PEER_SHARE_PERIODS_KEPT = 3;

interface PeerState {
  shares: readonly WorkerShare[];
  receivedMs: number;
}

/** Summed peer shares of one worker. */
export interface PeerTotal {
  prefillTokens: number;
  decodeBlocks: number;
  recentWorkTokens: number;
  prefillTokensSinceReport: number;
}

const NONE: PeerTotal = Object.freeze({ prefillTokens: 0, decodeBlocks: 0, recentWorkTokens: 0, prefillTokensSinceReport: 0 });

/** The latest share of every live peer, summed per worker (sums kept ready: routing reads them per request). */
export class PeerLoads {
  private readonly peers = new Map<string, PeerState>();
  private totals = new Map<string, PeerTotal>();
  /** When the sums stop being valid: the next peer expiry, or an update. */
  private validUntilMs = -Infinity;
  private totalsGeneration = 0;

  constructor(
    /** The peers' share period, ms (a peer silent for PEER_SHARE_PERIODS_KEPT of them is gone). */
    private readonly periodMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Replaces `routerId`'s share. */
  update(routerId: string, shares: readonly WorkerShare[]): void {
    this.peers.set(routerId, { shares, receivedMs: this.now() });
    this.validUntilMs = -Infinity;
  }

  /** Sum over live peers of their shares for `workerId` (do not modify the result). `t`: now, ms (one reading for a whole placement). */
  total(workerId: string, t: number = this.now()): PeerTotal {
    this.refresh(t);
    return this.totals.get(workerId) ?? NONE;
  }

  /** Recomputes the sums if an update came or a peer may have expired by `t` (placement calls it once, then reads sums it kept). */
  refresh(t: number = this.now()): void {
    if (t >= this.validUntilMs) this.recompute();
  }

  /** Changes whenever the sums are recomputed: a reader may keep the totals {@link total} gave it until then. */
  get generation(): number {
    return this.totalsGeneration;
  }

  /** Ids of the peers heard from recently, sorted. */
  liveIds(): string[] {
    this.recompute();
    return [...this.peers.keys()].sort();
  }

  /** Drops silent peers and sums the others' shares per worker. */
  private recompute(): void {
    const now = this.now();
    const keepMs = PEER_SHARE_PERIODS_KEPT * this.periodMs;
    const totals = new Map<string, PeerTotal>();
    let validUntil = Infinity;
    for (const [id, p] of this.peers) {
      if (p.receivedMs + keepMs <= now) {
        this.peers.delete(id);
        continue;
      }
      validUntil = Math.min(validUntil, p.receivedMs + keepMs);
      for (const s of p.shares) {
        const t = totals.get(s.workerId) ?? { prefillTokens: 0, decodeBlocks: 0, recentWorkTokens: 0, prefillTokensSinceReport: 0 };
        t.prefillTokens += s.prefillTokens;
        t.prefillTokensSinceReport += s.prefillTokensSinceReport;
        t.decodeBlocks += s.decodeBlocks;
        t.recentWorkTokens += s.recentWorkTokens;
        totals.set(s.workerId, t);
      }
    }
    this.totals = totals;
    this.validUntilMs = validUntil;
    this.totalsGeneration += 1;
  }
}
