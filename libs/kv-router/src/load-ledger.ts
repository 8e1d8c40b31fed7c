// This replica's own account of the work it sent to each worker and has not seen finish, the
// prefill it sent since the worker's last load report (what the report cannot show yet), plus the
// work it sent recently (prefill tokens, and the tokens of requests a decode worker admitted),
// decayed: routing's bounded-load term compares it with the pool's mean, and it breaks ties.
// Shared with the other replicas by the router service.

/** One worker's share of this replica's in-flight work. */
export interface WorkerShare {
  workerId: string;
  prefillTokens: number;
  decodeBlocks: number;
  recentWorkTokens: number;
  /** Prefill tokens sent since the worker's last load report this replica received. */
  prefillTokensSinceReport: number;
}

/** A worker's in-flight work as placement reads it: the ledger updates it in place (read it, never write it). */
export interface LedgerEntry {
  /** Prompt tokens sent for prefill and not yet past their first token. */
  readonly prefillTokens: number;
  /** Of those, the ones sent since the worker's last load report (see {@link LoadLedger.noteReport}). */
  readonly prefillTokensSinceReport: number;
  readonly decodeBlocks: number;
  /** The queued prefill tokens the worker's last report gave (-1 before any). */
  readonly reportQueued: number;
  /** When that report arrived, ms (this replica's clock). */
  readonly reportAtMs: number;
  /** How fast the worker's queue drains, tokens/ms, as its reports show (0 until two reports showed it busy). */
  readonly drainPerMs: number;
}

/** One worker's entry: in-flight work, and recent work as of `recentAtMs`. */
interface Entry {
  prefillTokens: number;
  prefillTokensSinceReport: number;
  decodeBlocks: number;
  reportQueued: number;
  reportAtMs: number;
  drainPerMs: number;
  recentTokens: number;
  recentAtMs: number;
}
/** Weight of the newest report interval in a worker's drain rate (an exponential moving average). */
const DRAIN_RATE_SMOOTHING = 0.3;

/**
 * In-flight prefill tokens and decode blocks per worker, and decayed recent work (one entry per worker: placement keeps the entries it
 * looked up, see {@link LoadLedger.generation}).
 */
export class LoadLedger {
  private readonly entries = new Map<string, Entry>();
  private entriesGeneration = 0;

  constructor(
    /** Time constant of the recent-work decay, ms. */
    private readonly recentTauMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** `tokens` (negative to release) of prefill work on `workerId`; sending work also counts as recent work. */
  addPrefill(workerId: string, tokens: number): void {
    const e = this.entryOf(workerId);
    e.prefillTokens = Math.max(0, e.prefillTokens + tokens);
    if (tokens > 0) {
      e.prefillTokensSinceReport += tokens;
      this.addRecent(e, tokens);
    }
    this.dropIfIdle(workerId, e);
  }

  /** `tokens` of work just sent to `workerId` that is not prefill it queues (a request it admitted to decode). */
  noteWork(workerId: string, tokens: number): void {
    if (tokens > 0) this.addRecent(this.entryOf(workerId), tokens);
  }

  /**
   * `workerId`'s load report arrived, saying `queuedTokens` of prefill wait there: what this
   * replica sent before it is in it now. Two reports of a busy worker, and what was sent between
   * them, show how fast its queue drains; placement counts the queue as draining at that rate
   * until the next report ({@link queuedPrefill}).
   */
  noteReport(workerId: string, queuedTokens: number): void {
    const e = this.entryOf(workerId);
    const t = this.now();
    if (e.reportQueued >= 0 && queuedTokens > 0 && t > e.reportAtMs) {
      // busy at both ends of the interval: it drained all along
      const drained = e.reportQueued + e.prefillTokensSinceReport - queuedTokens;
      if (drained > 0) {
        const rate = drained / (t - e.reportAtMs);
        e.drainPerMs = e.drainPerMs === 0 ? rate : e.drainPerMs + DRAIN_RATE_SMOOTHING * (rate - e.drainPerMs);
      }
    }
    e.reportQueued = queuedTokens;
    e.reportAtMs = t;
    e.prefillTokensSinceReport = 0;
  }

  /**
   * The prefill queued on a worker at `t` as this replica sees it, from its entry (undefined:
   * none): the last report's queue drained at the worker's rate since, plus what this replica
   * sent since; undefined before any report.
   */
  queuedPrefill(entry: LedgerEntry | undefined, t: number): number | undefined {
    if (entry === undefined || entry.reportQueued < 0) return undefined;
    return Math.max(0, entry.reportQueued + entry.prefillTokensSinceReport - entry.drainPerMs * Math.max(0, t - entry.reportAtMs));
  }

  /** `blocks` (negative to release) of decode KV held on `workerId`. */
  addDecode(workerId: string, blocks: number): void {
    const e = this.entryOf(workerId);
    e.decodeBlocks = Math.max(0, e.decodeBlocks + blocks);
    this.dropIfIdle(workerId, e);
  }

  prefillTokens(workerId: string): number {
    return this.entries.get(workerId)?.prefillTokens ?? 0;
  }

  decodeBlocks(workerId: string): number {
    return this.entries.get(workerId)?.decodeBlocks ?? 0;
  }

  /** The ledger's clock, ms (read once per placement and passed to {@link recentWorkTokens}). */
  nowMs(): number {
    return this.now();
  }

  /** Work sent to `workerId` (tokens), each decayed by exp(-age / tau). `t`: now, ms (one reading for a whole placement). */
  recentWorkTokens(workerId: string, t: number = this.now()): number {
    return this.recentOf(this.entries.get(workerId), t);
  }

  /**
   * Changes whenever an entry is created or deleted (entries are otherwise updated in place): a
   * reader may keep the entries {@link entry} gave it until this changes.
   */
  get generation(): number {
    return this.entriesGeneration;
  }

  /** `workerId`'s entry, or undefined when the ledger holds nothing for it (see {@link generation}). */
  entry(workerId: string): LedgerEntry | undefined {
    return this.entries.get(workerId);
  }

  /** The recent work at `t` of an entry {@link entry} gave (0 for none): as {@link recentWorkTokens}, without the lookup. */
  recentOf(entry: LedgerEntry | undefined, t: number): number {
    return entry === undefined ? 0 : this.decayed(entry as Entry, t);
  }

  /** Every worker with in-flight or recent work, as shared with peers. Drops recent work decayed to nothing. */
  shares(): WorkerShare[] {
    const t = this.now();
    const out: WorkerShare[] = [];
    for (const [id, e] of this.entries) {
      const recent = this.decayed(e, t);
      if (recent < 1) e.recentTokens = 0;
      if (this.dropIfIdle(id, e) && recent < 1) continue;
      out.push({
        workerId: id,
        prefillTokens: e.prefillTokens,
        decodeBlocks: e.decodeBlocks,
        recentWorkTokens: recent,
        prefillTokensSinceReport: e.prefillTokensSinceReport,
      });
    }
    return out;
  }

  /** Forgets a worker that left. */
  forget(workerId: string): void {
    if (this.entries.delete(workerId)) this.entriesGeneration += 1;
  }

  private entryOf(workerId: string): Entry {
    let e = this.entries.get(workerId);
    if (e === undefined) {
      e = {
        prefillTokens: 0,
        prefillTokensSinceReport: 0,
        decodeBlocks: 0,
        reportQueued: -1,
        reportAtMs: 0,
        drainPerMs: 0,
        recentTokens: 0,
        recentAtMs: 0,
      };
      this.entries.set(workerId, e);
      this.entriesGeneration += 1;
    }
    return e;
  }

  private addRecent(e: Entry, tokens: number): void {
    const t = this.now();
    e.recentTokens = this.decayed(e, t) + tokens;
    e.recentAtMs = t;
  }

  /** `e`'s recent work at `t`: recentTokens × exp(-(t - recentAtMs) / tau), no decay before `recentAtMs`. */
  private decayed(e: Entry, t: number): number {
    if (e.recentTokens === 0) return 0;
    if (t <= e.recentAtMs) return e.recentTokens;
    return e.recentTokens * Math.exp((e.recentAtMs - t) / this.recentTauMs);
  }

  /** Deletes an entry with nothing in flight, no recent work and no report kept; returns whether it did. */
  private dropIfIdle(workerId: string, e: Entry): boolean {
    if (e.prefillTokens > 0 || e.prefillTokensSinceReport > 0 || e.decodeBlocks > 0 || e.recentTokens > 0 || e.reportQueued >= 0)
      return false;
    this.entries.delete(workerId);
    this.entriesGeneration += 1;
    return true;
  }
}
