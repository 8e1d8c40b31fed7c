// NATS adapter of the prefix index: KV event batches from every announcer go through IndexFeed
// (sequencing, gaps, restarts, snapshot repair); owed snapshots are requested, retried with
// backoff, and taken once more after an announcer falls quiet (a lost LAST batch shows no gap).
// At start, one broadcast discovers every announcer, kvstores included.
import { SnapshotRequest } from "@kvtier/proto";
import {
  decodeKvEventBatch,
  kvEventsWildcard,
  kvSnapshotBroadcastSubject,
  kvSnapshotSubject,
  messageOf,
  type Logger,
  type NatsConnection,
} from "@kvtier/platform";
import { IndexFeed, seededUniform, type FeedOutcome, type KvIndexBatch, type PrefixIndex } from "@kvtier/kv-router";
import type { Subscription } from "@nats-io/transport-node";

/** How long to wait for an announcer's snapshot reply. */
const SNAPSHOT_TIMEOUT_MS = 2_000;
/** How long discovery waits for snapshot replies, and how long after the last one it stops. */
const DISCOVERY_WAIT_MS = 1_000;
const DISCOVERY_STALL_MS = 250;
/** Period of the maintenance tick (owed snapshots, quiet resyncs). */
const SYNC_TICK_MS = 250;
/** Backoff of a failing announcer's snapshot requests: first retry, and the cap. */
const SNAPSHOT_RETRY_MIN_MS = 250;
const SNAPSHOT_RETRY_MAX_MS = 10_000;

/** Outcome labels counted by {@link SyncObserver.batch}. */
export type BatchOutcome = FeedOutcome["verdict"] | "undecodable" | "rejected" | "fault_dropped" | "refused_announcer";

/** Where the sync reports what it does (the router's metrics). */
export interface SyncObserver {
  batch(outcome: BatchOutcome): void;
  snapshot(result: "applied" | "stale" | "failed"): void;
}

/** Options of {@link KvIndexSync}. */
export interface KvIndexSyncOptions {
  /** Re-snapshot an announcer once this long after its last batch; 0 = never. */
  quietResyncMs: number;
  /** FAULT INJECTION: drop each received batch with probability 1/N (0 = off). */
  faultDropOneIn: number;
  /** Uniform [0, 1) draws deciding the fault-injection drops. @default a generator seeded with a constant */
  faultRandom?: () => number;
  /** Batches of announcers refused for their layout are ignored. */
  isRefused: (announcerId: string) => boolean;
}

/** Seed of the fault-injection drops. */
const FAULT_SEED = 0x5eed;

interface Retry {
  nextMs: number;
  delayMs: number;
}

/** Keeps `index` equal to what every announcer holds. */
export class KvIndexSync {
  readonly feed = new IndexFeed();
  private sub: Subscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Seeded, so a fault-injection run drops the same batches given the same arrival order. */
  private readonly faultRandom: () => number;
  private readonly retries = new Map<string, Retry>();
  /** Per announcer: when its last batch came, and whether the quiet resync after it was taken. */
  private readonly lastBatch = new Map<string, { atMs: number; resynced: boolean }>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly ns: string,
    private readonly requester: string,
    private readonly opts: KvIndexSyncOptions,
    private readonly observer: SyncObserver,
    private readonly log: Logger,
  ) {
    this.faultRandom = opts.faultRandom ?? seededUniform(FAULT_SEED);
  }

  get index(): PrefixIndex {
    return this.feed.index;
  }

  start(): void {
    this.sub = this.nc.subscribe(kvEventsWildcard(this.ns), {
      callback: (err, msg) => {
        if (err) return this.log.warn("kv events subscription error", { err: messageOf(err) });
        let batch: KvIndexBatch;
        try {
          batch = decodeKvEventBatch(msg.data);
        } catch (e) {
          this.observer.batch("undecodable");
          return this.log.warn("undecodable KV event batch", { subject: msg.subject, err: messageOf(e) });
        }
        this.onBatch(batch);
      },
    });
    this.timer = setInterval(() => this.tick(Date.now()), SYNC_TICK_MS);
  }

  /** Applies one batch from the stream (exposed for tests and benchmarks). */
  onBatch(batch: KvIndexBatch): void {
    if (this.opts.faultDropOneIn > 0 && this.faultRandom() * this.opts.faultDropOneIn < 1) {
      this.observer.batch("fault_dropped");
      return;
    }
    const id = batch.announcerId;
    if (this.opts.isRefused(id)) {
      this.observer.batch("refused_announcer");
      if (this.feed.knows(id)) this.forget(id);
      return;
    }
    let out: FeedOutcome;
    try {
      out = this.feed.accept(batch);
    } catch (e) {
      this.observer.batch("rejected");
      return this.log.warn("KV event batch refused", { announcer: id, seq: batch.seq, err: messageOf(e) });
    }
    this.observer.batch(out.verdict);
    this.lastBatch.set(id, { atMs: Date.now(), resynced: false });
    if (out.verdict === "gap" || out.verdict === "restart") this.log.info(`KV events: ${out.verdict}`, { announcer: id, seq: batch.seq });
    if (out.snapshotNeeded) void this.snapshot(id);
  }

  /** Asks one announcer for its state and applies it; failures leave the snapshot owed (retried). */
  async snapshot(announcerId: string): Promise<void> {
    if (this.feed.snapshotInFlight(announcerId) || this.opts.isRefused(announcerId)) return;
    this.feed.beginSnapshot(announcerId);
    let out: FeedOutcome;
    try {
      const reply = await this.nc.request(
        kvSnapshotSubject(this.ns, announcerId),
        SnapshotRequest.encode({ requester: this.requester }).finish(),
        {
          timeout: SNAPSHOT_TIMEOUT_MS,
        },
      );
      out = this.feed.applySnapshot(decodeKvEventBatch(reply.data));
      this.observer.snapshot(out.verdict === "stale-snapshot" ? "stale" : "applied");
      this.retries.delete(announcerId);
    } catch (e) {
      out = this.feed.abortSnapshot(announcerId);
      this.observer.snapshot("failed");
      const prev = this.retries.get(announcerId);
      const delayMs = Math.min(SNAPSHOT_RETRY_MAX_MS, prev ? 2 * prev.delayMs : SNAPSHOT_RETRY_MIN_MS);
      this.retries.set(announcerId, { nextMs: Date.now() + delayMs, delayMs });
      const fields = { announcer: announcerId, retryInMs: delayMs, err: messageOf(e) };
      if (prev === undefined) this.log.warn("snapshot request failed", fields);
      else this.log.debug("snapshot request failed again", fields);
      return;
    }
    if (out.snapshotNeeded) void this.snapshot(announcerId);
  }

  /**
   * Discovery at start: every announcer answers one broadcast with its snapshot. A reply is taken
   * unless a snapshot of that announcer is in flight or the deltas applied since are newer.
   * Returns the ids that answered.
   */
  async discover(): Promise<string[]> {
    const ids: string[] = [];
    try {
      const replies = await this.nc.requestMany(
        kvSnapshotBroadcastSubject(this.ns),
        SnapshotRequest.encode({ requester: this.requester }).finish(),
        {
          strategy: "stall",
          maxWait: DISCOVERY_WAIT_MS,
          stall: DISCOVERY_STALL_MS,
        },
      );
      for await (const msg of replies) {
        let b: KvIndexBatch;
        try {
          b = decodeKvEventBatch(msg.data);
        } catch (e) {
          this.log.warn("undecodable discovery reply", { err: messageOf(e) });
          continue;
        }
        ids.push(b.announcerId);
        const st = this.feed.state(b.announcerId);
        const newer = st !== undefined && st.incarnation === b.incarnation && st.lastSeq > b.seq && !st.awaitingSnapshot;
        if (this.feed.snapshotInFlight(b.announcerId) || newer || this.opts.isRefused(b.announcerId)) continue;
        this.feed.beginSnapshot(b.announcerId);
        try {
          const out = this.feed.applySnapshot(b);
          this.observer.snapshot(out.verdict === "stale-snapshot" ? "stale" : "applied");
          if (out.snapshotNeeded) void this.snapshot(b.announcerId);
        } catch (e) {
          this.feed.abortSnapshot(b.announcerId);
          this.log.warn("discovery reply refused", { announcer: b.announcerId, err: messageOf(e) });
        }
      }
    } catch (e) {
      // no responders at all is an empty deployment, not an error
      this.log.info("snapshot discovery ended", { announcers: ids.length, err: messageOf(e) });
    }
    return ids;
  }

  /** Forgets an announcer (a dropped or refused worker): its blocks leave the index. */
  forget(announcerId: string): void {
    this.feed.forget(announcerId);
    this.retries.delete(announcerId);
    this.lastBatch.delete(announcerId);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.sub?.unsubscribe();
  }

  /** Owed snapshots whose backoff has passed; one resync of each announcer gone quiet. */
  private tick(now: number): void {
    for (const id of this.feed.announcersNeedingSnapshot()) {
      const r = this.retries.get(id);
      if (r === undefined || r.nextMs <= now) void this.snapshot(id);
    }
    if (this.opts.quietResyncMs <= 0) return;
    for (const [id, last] of this.lastBatch) {
      if (last.resynced || now - last.atMs < this.opts.quietResyncMs) continue;
      last.resynced = true;
      void this.snapshot(id);
    }
  }
}
