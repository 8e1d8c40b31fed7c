// Per-announcer sequencing of KV event batches (DESIGN.md §4, §7): tells the router whether a
// batch is the next one, old news, a gap (ask for a snapshot) or a new incarnation (the announcer
// restarted: its old state is void). Pure bookkeeping: applies no events and sends no requests.
import { PrefixIndexError } from "./errors.js";

/**
 * What the caller does with a batch:
 * - `apply`: apply it (a snapshot replaces the announcer's state, a delta updates it).
 * - `duplicate`: drop it (already seen, a stale snapshot, or from a retired incarnation).
 * - `gap`: batches were missed. Apply this one (its facts are current) and request a snapshot.
 * - `restart`: the incarnation is new (or the announcer was unknown): clear everything this
 *   announcer held, apply the batch, and request a snapshot unless `seq === 1` or the batch is a
 *   snapshot ({@link AnnouncerTracker.awaitingSnapshot} says which).
 */
export type AcceptVerdict = "apply" | "duplicate" | "gap" | "restart";

/** Earlier incarnations remembered per announcer, so their late batches count as old news. */
export const RETIRED_INCARNATIONS_KEPT = 4;
/** Longest accepted announcer id or incarnation id, in UTF-16 code units. */
export const MAX_ANNOUNCER_ID_CHARS = 256;

/** What the tracker knows of one announcer. */
export interface AnnouncerState {
  readonly incarnation: string;
  /** Sequence number of the last batch accepted (a snapshot's seq is the last delta it covers). */
  readonly lastSeq: number;
  /** A gap or a mid-stream restart was seen and no snapshot has arrived since. */
  readonly awaitingSnapshot: boolean;
}

interface MutableAnnouncerState {
  incarnation: string;
  lastSeq: number;
  awaitingSnapshot: boolean;
  retired: string[];
}

function assertId(value: string, field: string): void {
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_ANNOUNCER_ID_CHARS) {
    throw new PrefixIndexError("INVALID_ARGUMENT", field, `${field} must be a string of 1 to ${MAX_ANNOUNCER_ID_CHARS} characters`);
  }
}

/**
 * Tracks (incarnation, seq) per announcer. Deltas are numbered from 1 within an incarnation; a
 * snapshot carries the seq of the last delta it covers (0 before any), and resets the expected
 * seq to the one after it.
 */
export class AnnouncerTracker {
  private readonly announcers = new Map<string, MutableAnnouncerState>();

  /**
   * Classifies one batch and advances the announcer's state. After a `gap` the expected seq moves
   * past it, so a burst of later batches reports one gap, not many.
   * @throws {PrefixIndexError} `INVALID_ARGUMENT` for an empty id, or a seq that is not a safe
   * integer (>= 1 for a delta, >= 0 for a snapshot).
   */
  accept(announcerId: string, incarnation: string, seq: number, isSnapshot: boolean): AcceptVerdict {
    assertId(announcerId, "announcerId");
    assertId(incarnation, "incarnation");
    const minSeq = isSnapshot ? 0 : 1;
    if (!Number.isSafeInteger(seq) || seq < minSeq) {
      throw new PrefixIndexError("INVALID_ARGUMENT", "seq", `seq must be a safe integer >= ${minSeq}, got ${seq}`);
    }
    const st = this.announcers.get(announcerId);
    if (st === undefined || st.incarnation !== incarnation) {
      if (st !== undefined && st.retired.includes(incarnation)) return "duplicate";
      const retired = st === undefined ? [] : [st.incarnation, ...st.retired].slice(0, RETIRED_INCARNATIONS_KEPT);
      this.announcers.set(announcerId, { incarnation, lastSeq: seq, awaitingSnapshot: !isSnapshot && seq !== 1, retired });
      return "restart";
    }
    if (isSnapshot) {
      // Older than what we applied: stale, unless we are repairing a gap, where it is still the
      // best we have (a later delta then shows the remaining gap and asks again).
      if (seq < st.lastSeq && !st.awaitingSnapshot) return "duplicate";
      st.lastSeq = seq;
      st.awaitingSnapshot = false;
      return "apply";
    }
    if (seq <= st.lastSeq) return "duplicate";
    const contiguous = seq === st.lastSeq + 1;
    st.lastSeq = seq;
    if (contiguous) return "apply";
    st.awaitingSnapshot = true;
    return "gap";
  }

  /**
   * Adopts the state of a snapshot the caller applied: incarnation `incarnation` up to `seq`,
   * nothing owed. A new incarnation retires the current one. Returns false, changing nothing,
   * when `incarnation` is retired (the announcer restarted since: the snapshot is old news).
   * @throws {PrefixIndexError} `INVALID_ARGUMENT` as {@link accept} does for a snapshot.
   */
  resync(announcerId: string, incarnation: string, seq: number): boolean {
    assertId(announcerId, "announcerId");
    assertId(incarnation, "incarnation");
    if (!Number.isSafeInteger(seq) || seq < 0)
      throw new PrefixIndexError("INVALID_ARGUMENT", "seq", `seq must be a safe integer >= 0, got ${seq}`);
    const st = this.announcers.get(announcerId);
    if (st === undefined) {
      this.announcers.set(announcerId, { incarnation, lastSeq: seq, awaitingSnapshot: false, retired: [] });
      return true;
    }
    if (st.incarnation !== incarnation) {
      if (st.retired.includes(incarnation)) return false;
      st.retired = [st.incarnation, ...st.retired].slice(0, RETIRED_INCARNATIONS_KEPT);
      st.incarnation = incarnation;
    }
    st.lastSeq = seq;
    st.awaitingSnapshot = false;
    return true;
  }

  /** Marks a snapshot as owed for `announcerId` (e.g. a batch from it could not be used). No-op if unknown. */
  requireSnapshot(announcerId: string): void {
    const st = this.announcers.get(announcerId);
    if (st !== undefined) st.awaitingSnapshot = true;
  }

  /** Ids of the announcers owed a snapshot. */
  awaiting(): string[] {
    return [...this.announcers].filter(([, st]) => st.awaitingSnapshot).map(([id]) => id);
  }

  /** Whether a snapshot is owed for `announcerId` (after a gap or a mid-stream restart). */
  awaitingSnapshot(announcerId: string): boolean {
    return this.announcers.get(announcerId)?.awaitingSnapshot ?? false;
  }

  /** What is known of `announcerId`, or undefined if nothing. */
  state(announcerId: string): AnnouncerState | undefined {
    const st = this.announcers.get(announcerId);
    return st === undefined ? undefined : { incarnation: st.incarnation, lastSeq: st.lastSeq, awaitingSnapshot: st.awaitingSnapshot };
  }

  /** Forgets an announcer (deregistered); its next batch counts as a `restart`. */
  forget(announcerId: string): void {
    this.announcers.delete(announcerId);
  }

  /** Number of announcers tracked. */
  size(): number {
    return this.announcers.size;
  }
}
