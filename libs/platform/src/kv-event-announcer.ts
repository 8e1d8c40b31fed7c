// Announces what one location (a worker's device pool, a kvstore's tiers) holds, as numbered
// KvEventBatch messages on its own NATS subject, and answers snapshot requests.
// Events raised in the same tick are sent as one batch; seq rises by one per batch.
import { randomUUID } from "node:crypto";
import { KvEvent, KvEventBatch, SnapshotRequest, type Tier } from "@kvtier/proto";
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import { kvEventsSubject, kvSnapshotBroadcastSubject, kvSnapshotSubject } from "./naming.js";

/** What an announcer holds, per tier and codec, for snapshots. */
export interface HeldBlocks {
  tier: Tier;
  codec: string;
  /** In chain order where known (parents before children). */
  hashes: Uint8Array[];
}

/** Hashes per BlockStored event in a snapshot (keeps each message well under NATS' 1 MiB). */
const SNAPSHOT_HASHES_PER_EVENT = 4096;
/** A snapshot reply larger than this is refused (NATS max payload is 1 MiB by default). */
const MAX_SNAPSHOT_BYTES = 900 * 1024;

/** Publishes one announcer's KV events. */
export class KvEventAnnouncer {
  /** New at every start, so a restart is never mistaken for a gap or for old news. */
  readonly incarnation = randomUUID();
  private seq = 0;
  private pending: KvEvent[] = [];
  private flushScheduled = false;
  private snapshotSubs: Subscription[] = [];

  constructor(
    private readonly nc: NatsConnection,
    private readonly ns: string,
    readonly announcerId: string,
    private readonly blockSize: number,
  ) {}

  stored(tier: Tier, codec: string, hashes: Uint8Array[], parent?: Uint8Array): void {
    if (hashes.length === 0) return;
    this.push({
      event: {
        $case: "stored",
        value: { blockHashes: hashes, parentBlockHash: parent ?? new Uint8Array(0), blockSize: this.blockSize, medium: tier, codec },
      },
    });
  }

  removed(tier: Tier, codec: string, hashes: Uint8Array[]): void {
    if (hashes.length === 0) return;
    this.push({ event: { $case: "removed", value: { blockHashes: hashes, medium: tier, codec } } });
  }

  cleared(tier: Tier): void {
    this.push({ event: { $case: "cleared", value: { medium: tier } } });
  }

  /** Answer snapshot requests with the state `held()` returns at that moment. */
  serveSnapshots(held: () => HeldBlocks[], onError: (err: unknown) => void): void {
    const answer = (err: Error | null, msg: Msg): void => {
      if (err) return onError(err);
      try {
        SnapshotRequest.decode(msg.data);
        this.flush(); // events raised before the snapshot go out first, with their own seq
        const events: KvEvent[] = [];
        for (const h of held()) {
          for (let i = 0; i < h.hashes.length; i += SNAPSHOT_HASHES_PER_EVENT) {
            const part = h.hashes.slice(i, i + SNAPSHOT_HASHES_PER_EVENT);
            events.push({
              event: {
                $case: "stored",
                value: { blockHashes: part, parentBlockHash: new Uint8Array(0), blockSize: this.blockSize, medium: h.tier, codec: h.codec },
              },
            });
          }
        }
        const batch = KvEventBatch.encode(this.batch(events, this.seq, true)).finish();
        if (batch.length > MAX_SNAPSHOT_BYTES) throw new Error(`snapshot of ${batch.length} bytes exceeds ${MAX_SNAPSHOT_BYTES}`);
        msg.respond(batch);
      } catch (e) {
        onError(e);
      }
    };
    // its own subject, and the broadcast a starting router uses to discover every announcer
    this.snapshotSubs = [
      this.nc.subscribe(kvSnapshotSubject(this.ns, this.announcerId), { callback: answer }),
      this.nc.subscribe(kvSnapshotBroadcastSubject(this.ns), { callback: answer }),
    ];
  }

  /** Send what is pending now. */
  flush(): void {
    this.flushScheduled = false;
    if (this.pending.length === 0) return;
    const events = this.pending;
    this.pending = [];
    this.seq += 1;
    this.nc.publish(kvEventsSubject(this.ns, this.announcerId), KvEventBatch.encode(this.batch(events, this.seq, false)).finish());
  }

  close(): void {
    this.flush();
    for (const sub of this.snapshotSubs) sub.unsubscribe();
  }

  private batch(events: KvEvent[], seq: number, snapshot: boolean): KvEventBatch {
    return { announcerId: this.announcerId, incarnation: this.incarnation, seq, ts: Date.now() / 1000, events, snapshot };
  }

  private push(e: KvEvent): void {
    this.pending.push(e);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }
}
