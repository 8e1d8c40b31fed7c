// Keeps the prefix index equal to what every announcer holds: applies KV event batches in order,
// and asks an announcer for a snapshot when a gap or a restart is seen.
import { KvEventBatch, SnapshotRequest, Tier as WireTier, type KvEvent } from "@kvtier/proto";
import { kvEventsWildcard, kvSnapshotSubject, messageOf, type Logger, type NatsConnection } from "@kvtier/platform";
import { AnnouncerTracker, PrefixIndex, type Tier } from "@kvtier/prefix-index";
import type { Subscription } from "@nats-io/transport-node";

/** How long to wait for an announcer's snapshot reply. */
export const SNAPSHOT_TIMEOUT_MS = 2_000;

const TIER_OF: Record<number, Tier | undefined> = { [WireTier.TIER_DEVICE]: "device", [WireTier.TIER_HOST]: "host", [WireTier.TIER_SSD]: "ssd" };

export class KvIndexSync {
  readonly index = new PrefixIndex();
  private readonly tracker = new AnnouncerTracker();
  private sub: Subscription | undefined;
  private readonly snapshotting = new Set<string>();
  /** Batches applied, gaps seen, snapshots taken (metrics read these). */
  readonly counters = { batches: 0, gaps: 0, snapshots: 0, restarts: 0 };

  constructor(
    private readonly nc: NatsConnection,
    private readonly ns: string,
    private readonly requester: string,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.sub = this.nc.subscribe(kvEventsWildcard(this.ns), {
      callback: (err, msg) => {
        if (err) return this.log.warn("kv events subscription error", { err: messageOf(err) });
        try {
          this.onBatch(KvEventBatch.decode(msg.data));
        } catch (e) {
          this.log.warn("undecodable KV event batch", { subject: msg.subject, err: messageOf(e) });
        }
      },
    });
  }

  /** Forget an announcer (a dropped worker). */
  forget(announcerId: string): void {
    this.index.removeLocation(announcerId);
    this.tracker.forget(announcerId);
  }

  /** Ask an announcer for its state now (on start, for announcers known from the registry). */
  async snapshot(announcerId: string): Promise<void> {
    if (this.snapshotting.has(announcerId)) return;
    this.snapshotting.add(announcerId);
    try {
      const reply = await this.nc.request(kvSnapshotSubject(this.ns, announcerId), SnapshotRequest.encode({ requester: this.requester }).finish(), {
        timeout: SNAPSHOT_TIMEOUT_MS,
      });
      const batch = KvEventBatch.decode(reply.data);
      this.tracker.accept(batch.announcerId, batch.incarnation, batch.seq, true);
      this.index.removeLocation(announcerId);
      this.applyEvents(announcerId, batch.events);
      this.counters.snapshots += 1;
    } catch (e) {
      this.log.warn("snapshot request failed", { announcer: announcerId, err: messageOf(e) });
    } finally {
      this.snapshotting.delete(announcerId);
    }
  }

  close(): void {
    this.sub?.unsubscribe();
  }

  private onBatch(b: KvEventBatch): void {
    const verdict = this.tracker.accept(b.announcerId, b.incarnation, b.seq, b.snapshot);
    switch (verdict) {
      case "apply":
        this.counters.batches += 1;
        this.applyEvents(b.announcerId, b.events);
        return;
      case "duplicate":
        return;
      case "restart":
        this.counters.restarts += 1;
        this.index.removeLocation(b.announcerId);
        if (b.seq === 1) this.applyEvents(b.announcerId, b.events);
        else void this.snapshot(b.announcerId);
        return;
      case "gap":
        this.counters.gaps += 1;
        void this.snapshot(b.announcerId);
        return;
    }
  }

  private applyEvents(location: string, events: KvEvent[]): void {
    for (const e of events) {
      const ev = e.event;
      if (!ev) continue;
      if (ev.$case === "stored") {
        const tier = TIER_OF[ev.value.medium];
        if (tier) this.index.applyStored(location, tier, ev.value.codec, ev.value.blockHashes, ev.value.parentBlockHash.length ? ev.value.parentBlockHash : undefined);
      } else if (ev.$case === "removed") {
        const tier = TIER_OF[ev.value.medium];
        if (tier) this.index.applyRemoved(location, tier, ev.value.codec, ev.value.blockHashes);
      } else {
        this.index.applyCleared(location, TIER_OF[ev.value.medium]);
      }
    }
  }
}
