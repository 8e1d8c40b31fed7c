// What the other router replicas last said they have in flight on each worker. A replica that
// stops sharing (crashed, partitioned) is forgotten after a few periods, so its load does not
// linger. Pure bookkeeping; router-peers.ts moves the shares over NATS.
import type { WorkerShare } from "./load-ledger.js";

/** Share periods a silent peer is kept for. */
export const PEER_SHARE_PERIODS_KEPT = 3;

interface PeerState {
  shares: Map<string, WorkerShare>;
  receivedMs: number;
}

/** The latest share of every live peer, summed per worker. */
export class PeerLoads {
  private readonly peers = new Map<string, PeerState>();

  constructor(
    /** The peers' share period, ms (a peer silent for PEER_SHARE_PERIODS_KEPT of them is gone). */
    private readonly periodMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Replaces `routerId`'s share. */
  update(routerId: string, shares: readonly WorkerShare[]): void {
    this.peers.set(routerId, { shares: new Map(shares.map((s) => [s.workerId, s])), receivedMs: this.now() });
  }

  /** Sum over live peers of their shares for `workerId`. */
  total(workerId: string): { prefillTokens: number; decodeBlocks: number; recentPrefillTokens: number } {
    const out = { prefillTokens: 0, decodeBlocks: 0, recentPrefillTokens: 0 };
    for (const p of this.live()) {
      const s = p.shares.get(workerId);
      if (s === undefined) continue;
      out.prefillTokens += s.prefillTokens;
      out.decodeBlocks += s.decodeBlocks;
      out.recentPrefillTokens += s.recentPrefillTokens;
    }
    return out;
  }

  /** Ids of the peers heard from recently, sorted. */
  liveIds(): string[] {
    this.live();
    return [...this.peers.keys()].sort();
  }

  private live(): PeerState[] {
    const cutoff = this.now() - PEER_SHARE_PERIODS_KEPT * this.periodMs;
    for (const [id, p] of this.peers) if (p.receivedMs < cutoff) this.peers.delete(id);
    return [...this.peers.values()];
  }
}
