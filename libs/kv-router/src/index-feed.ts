// The one path from KV event batches to the prefix index (DESIGN.md §4, §7): sequencing per
// announcer, gap and restart handling, and snapshot repair that loses nothing published while
// the snapshot was in flight. The router feeds it batches parsed from NATS; the trace replay feeds
// it its simulated workers' batches. Pure: it sends no snapshot request, it says when one is owed.
import { AnnouncerTracker, MAX_ANNOUNCER_ID_CHARS, type AcceptVerdict, type AnnouncerState } from "./announcer-tracker.js";
import { assertBlockHashes } from "./block-hash.js";
import { PrefixIndexError } from "./errors.js";
import type { KvIndexBatch, KvIndexEvent } from "./kv-event.js";
import { MAX_ID_CHARS, PrefixIndex } from "./prefix-index.js";
import { TIERS } from "./tier.js";

/**
 * Delta batches kept per announcer while its snapshot is in flight, to replay over the snapshot.
 * Past this many the buffer is dropped and another snapshot is owed.
 */
export const MAX_BUFFERED_BATCHES = 4096;

/** What happened to a batch, and whether the caller should now ask its announcer for a snapshot. */
export interface FeedOutcome {
  /** The tracker's verdict, or `stale-snapshot` for a snapshot of a retired incarnation or one nobody asked for. */
  verdict: AcceptVerdict | "stale-snapshot";
  /** A snapshot is owed and none is in flight: request one (then call {@link IndexFeed.beginSnapshot}). */
  snapshotNeeded: boolean;
}

/** Counts of what the feed has seen (metrics read these). */
export interface FeedCounters {
  applied: number;
  duplicates: number;
  gaps: number;
  restarts: number;
  snapshots: number;
  staleSnapshots: number;
  bufferOverflows: number;
}

interface Pending {
  buffer: KvIndexBatch[];
  overflowed: boolean;
}

const bad = (field: string, problem: string): PrefixIndexError => new PrefixIndexError("INVALID_ARGUMENT", field, `${field}: ${problem}`);

/** Throws PrefixIndexError unless `batch` and every event of it is well formed, so nothing is half applied. */
function assertBatch(batch: KvIndexBatch): void {
  for (const f of ["announcerId", "incarnation"] as const) {
    const v = batch[f];
    if (typeof v !== "string" || v.length === 0 || v.length > MAX_ANNOUNCER_ID_CHARS)
      throw bad(f, `must be a string of 1 to ${MAX_ANNOUNCER_ID_CHARS} characters`);
  }
  if (!Number.isSafeInteger(batch.seq) || batch.seq < (batch.snapshot ? 0 : 1))
    throw bad("seq", `must be a safe integer >= ${batch.snapshot ? 0 : 1}, got ${batch.seq}`);
  if (!Array.isArray(batch.events)) throw bad("events", "must be an array");
  batch.events.forEach((e, i) => {
    if (e.tier !== undefined && !TIERS.includes(e.tier)) throw bad(`events[${i}].tier`, `must be one of ${TIERS.join(", ")}`);
    if (e.kind === "cleared") return;
    if (e.kind !== "stored" && e.kind !== "removed")
      throw bad(`events[${i}].kind`, `unknown event kind ${String((e as { kind: unknown }).kind)}`);
    if (e.tier === undefined) throw bad(`events[${i}].tier`, "required");
    if (typeof e.codec !== "string" || e.codec.length === 0 || e.codec.length > MAX_ID_CHARS)
      throw bad(`events[${i}].codec`, `must be a string of 1 to ${MAX_ID_CHARS} characters`);
    if (!Array.isArray(e.hashes)) throw bad(`events[${i}].hashes`, "must be an array");
    assertBlockHashes(e.hashes, `events[${i}].hashes`);
  });
}

/**
 * Keeps a {@link PrefixIndex} equal to what every announcer holds. Deltas are applied as they
 * come (even across a gap: their facts are current). While a snapshot is in flight
 * ({@link beginSnapshot}), deltas are also buffered; the snapshot then replaces the announcer's
 * state and the buffered deltas newer than it are applied again, so the index ends exactly at
 * the announcer's latest state, or another snapshot is owed.
 */
export class IndexFeed {
  readonly index: PrefixIndex;
  private readonly tracker = new AnnouncerTracker();
  private readonly pending = new Map<string, Pending>();
  readonly counters: FeedCounters = {
    applied: 0,
    duplicates: 0,
    gaps: 0,
    restarts: 0,
    snapshots: 0,
    staleSnapshots: 0,
    bufferOverflows: 0,
  };

  constructor(index: PrefixIndex = new PrefixIndex()) {
    this.index = index;
  }

  /**
   * A batch from the event stream. A snapshot batch here is treated as a reply nobody waited for:
   * it is applied when the tracker takes it as current.
   * @throws {PrefixIndexError} on a malformed batch, before anything changes.
   */
  accept(batch: KvIndexBatch): FeedOutcome {
    assertBatch(batch);
    const id = batch.announcerId;
    const pending = this.pending.get(id);
    if (pending !== undefined && !batch.snapshot) {
      if (pending.buffer.length >= MAX_BUFFERED_BATCHES) {
        if (!pending.overflowed) this.counters.bufferOverflows += 1;
        pending.overflowed = true;
        pending.buffer.length = 0;
      } else if (!pending.overflowed) pending.buffer.push(batch);
    }
    const verdict = this.tracker.accept(id, batch.incarnation, batch.seq, batch.snapshot);
    switch (verdict) {
      case "duplicate":
        this.counters.duplicates += 1;
        break;
      case "restart":
        this.counters.restarts += 1;
        this.index.removeLocation(id);
        if (batch.snapshot) this.counters.snapshots += 1;
        this.applyEvents(id, batch.events, !batch.snapshot);
        break;
      case "gap":
        this.counters.gaps += 1;
        this.applyEvents(id, batch.events, !batch.snapshot);
        break;
      case "apply":
        if (batch.snapshot) {
          this.counters.snapshots += 1;
          this.index.removeLocation(id);
        }
        this.applyEvents(id, batch.events, !batch.snapshot);
        break;
    }
    return { verdict, snapshotNeeded: this.snapshotNeeded(id) };
  }

  /** A snapshot request to `announcerId` is about to be sent: buffer its deltas until the reply. */
  beginSnapshot(announcerId: string): void {
    if (!this.pending.has(announcerId)) this.pending.set(announcerId, { buffer: [], overflowed: false });
  }

  /** Whether a snapshot request to `announcerId` is in flight. */
  snapshotInFlight(announcerId: string): boolean {
    return this.pending.has(announcerId);
  }

  /**
   * The reply to a snapshot request: replaces what `announcerId` held, then applies the deltas
   * buffered since {@link beginSnapshot} that are newer than the snapshot.
   * @throws {PrefixIndexError} on a malformed batch, before anything changes (the request stays in flight: call {@link abortSnapshot}).
   */
  applySnapshot(batch: KvIndexBatch): FeedOutcome {
    assertBatch(batch);
    const id = batch.announcerId;
    const pending = this.pending.get(id);
    if (pending === undefined || !batch.snapshot || !this.tracker.resync(id, batch.incarnation, batch.seq)) {
      // forgotten meanwhile, not a snapshot, or from an incarnation that has restarted since
      this.counters.staleSnapshots += 1;
      this.pending.delete(id);
      return { verdict: "stale-snapshot", snapshotNeeded: this.snapshotNeeded(id) };
    }
    this.pending.delete(id);
    this.counters.snapshots += 1;
    this.index.removeLocation(id);
    this.applyEvents(id, batch.events, !batch.snapshot);
    if (pending.overflowed) this.tracker.requireSnapshot(id);
    else for (const b of pending.buffer) this.accept(b);
    return { verdict: "apply", snapshotNeeded: this.snapshotNeeded(id) };
  }

  /** The snapshot request failed (timeout, no responder): stop buffering; the snapshot stays owed. */
  abortSnapshot(announcerId: string): FeedOutcome {
    this.pending.delete(announcerId);
    return { verdict: "duplicate", snapshotNeeded: this.snapshotNeeded(announcerId) };
  }

  /** A snapshot is owed for `announcerId` and none is in flight. */
  snapshotNeeded(announcerId: string): boolean {
    return this.tracker.awaitingSnapshot(announcerId) && !this.pending.has(announcerId);
  }

  /** Announcers owed a snapshot with none in flight (retry these). */
  announcersNeedingSnapshot(): string[] {
    return this.tracker.awaiting().filter((id) => !this.pending.has(id));
  }

  /** What the sequencing knows of `announcerId` (incarnation, last seq, snapshot owed), or undefined. */
  state(announcerId: string): AnnouncerState | undefined {
    return this.tracker.state(announcerId);
  }

  /** Whether any batch of `announcerId` was seen since it was last forgotten. */
  knows(announcerId: string): boolean {
    return this.tracker.state(announcerId) !== undefined;
  }

  /** Forgets an announcer (dropped worker): its blocks leave the index, its next batch is a restart. */
  forget(announcerId: string): void {
    this.pending.delete(announcerId);
    this.tracker.forget(announcerId);
    this.index.removeLocation(announcerId);
  }

  /** Announcers tracked. */
  announcerCount(): number {
    return this.tracker.size();
  }

  /** `links`: whether stored events are chains (deltas) or plain lists of held blocks (snapshots). */
  private applyEvents(location: string, events: readonly KvIndexEvent[], links: boolean): void {
    const index = this.index;
    for (const e of events) {
      if (e.kind === "stored") index.applyStored(location, e.tier, e.codec, e.hashes, e.parent, links);
      else if (e.kind === "removed") index.applyRemoved(location, e.tier, e.codec, e.hashes);
      else index.applyCleared(location, e.tier);
    }
    this.counters.applied += 1;
  }
}
