// NATS adapter of replica cooperation: every period this router publishes its in-flight load
// (LoadLedger) and the session placements it made since the last share; it merges the other
// replicas' shares into PeerLoads and their placements into its SessionTable.
import { RouterLoadShare, type SessionPlacement } from "@kvtier/proto";
import { messageOf, routerLoadSubject, routerLoadWildcard, type Logger, type NatsConnection } from "@kvtier/platform";
import type { Subscription } from "@nats-io/transport-node";
import type { LoadLedger, PeerLoads, SessionTable, SessionWorkers } from "@kvtier/kv-router";

/** Session placements carried by one share at most (older ones wait for the next share). */
const MAX_SESSIONS_PER_SHARE = 2_000;

/** Shares this replica's load with its peers and takes in theirs. */
export class RouterPeers {
  private sub: Subscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  private placements: SessionPlacement[] = [];

  constructor(
    private readonly nc: NatsConnection,
    private readonly ns: string,
    readonly routerId: string,
    private readonly ledger: LoadLedger,
    private readonly peers: PeerLoads,
    private readonly sessions: SessionTable,
    private readonly periodMs: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.sub = this.nc.subscribe(routerLoadWildcard(this.ns), {
      callback: (err, msg) => {
        if (err) return this.log.warn("router load subscription error", { err: messageOf(err) });
        try {
          const share = RouterLoadShare.decode(msg.data);
          if (share.routerId === this.routerId || share.routerId === "") return;
          this.peers.update(
            share.routerId,
            share.workers.map((w) => ({ ...w })),
          );
          for (const p of share.sessions) this.sessions.set(p.tenant, p.sessionId, { decode: p.decodeWorker, prefill: p.prefillWorker });
        } catch (e) {
          this.log.warn("undecodable router load share", { subject: msg.subject, err: messageOf(e) });
        }
      },
    });
    this.timer = setInterval(() => this.publish(), this.periodMs);
    this.publish();
  }

  /** A session was just placed here; peers hear of it with the next share. */
  notePlacement(tenant: string, sessionId: string, workers: SessionWorkers): void {
    this.placements.push({ tenant, sessionId, decodeWorker: workers.decode, prefillWorker: workers.prefill });
  }

  /** Publishes the share now. */
  publish(): void {
    if (this.nc.isClosed()) return;
    const sessions = this.placements.splice(0, MAX_SESSIONS_PER_SHARE);
    const share: RouterLoadShare = { routerId: this.routerId, unixMs: Date.now(), workers: this.ledger.shares(), sessions };
    this.nc.publish(routerLoadSubject(this.ns, this.routerId), RouterLoadShare.encode(share).finish());
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.sub?.unsubscribe();
  }
}
