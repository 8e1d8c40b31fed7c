// The router's view of the workers: live entries from the Redis registry, their latest load
// reports, and which are compatible with this router's KV layout (block size, layout version,
// hash scheme, model). A worker is alive while its registry heartbeat or its NATS load reports
// are recent: a Redis outage or restart (entries unreadable or lost) drops nobody whose reports
// keep coming. A worker silent on both, or one that said it is leaving, is dropped, and the
// callers are told (index cleanup, moving its requests); a new one is announced (catch up on its
// blocks); a mismatched one is refused, said in the log, the metrics and the UNAVAILABLE message.
import type { KvLayout, LoadReport, WorkerInfo } from "@kvtier/proto";
import type { Logger, WorkerRegistry } from "@kvtier/platform";
import { Roster } from "@kvtier/kv-router";

export interface LiveWorker {
  info: WorkerInfo;
  load: LoadReport | undefined;
}

/** Why a worker's layout cannot be mixed with ours, or undefined if it can. */
function layoutMismatch(ours: KvLayout, theirs: KvLayout | undefined): string | undefined {
  if (!theirs) return "no layout declared";
  const diffs: string[] = [];
  if (theirs.modelId !== ours.modelId) diffs.push(`model ${theirs.modelId} != ${ours.modelId}`);
  if (theirs.blockSize !== ours.blockSize) diffs.push(`block_size ${theirs.blockSize} != ${ours.blockSize}`);
  if (theirs.layoutVersion !== ours.layoutVersion) diffs.push(`layout v${theirs.layoutVersion} != v${ours.layoutVersion}`);
  if (theirs.hashScheme !== ours.hashScheme) diffs.push(`hash scheme ${theirs.hashScheme} != ${ours.hashScheme}`);
  return diffs.length ? diffs.join(", ") : undefined;
}

/** What the table tells its owner. */
export interface WorkerTableEvents {
  /** A worker left (heartbeat timed out, deregistered) or restarted (its old incarnation is gone). */
  onDropped(worker: WorkerInfo): void;
  /** A worker (or a new incarnation of one) joined. */
  onAdded?(worker: WorkerInfo): void;
  /** The set of workers refused for their layout changed. */
  onRefusedChanged?(refused: ReadonlyMap<string, string>): void;
  /** A kvstore that had been reporting went silent past the timeout, or said it is leaving. */
  onKvstoreLost?(kvstoreId: string): void;
}

/** Live, compatible workers by id, refreshed from the registry. */
export class WorkerTable {
  private readonly workers = new Map<string, LiveWorker>();
  private readonly refused = new Map<string, string>();
  /** This router's clock at each worker's last load report (NATS). */
  private readonly reportedAt = new Map<string, number>();
  /** Workers that said they are leaving (their last report), until they report again. */
  private readonly leaving = new Set<string>();
  /** This router's clock at each kvstore's last report; a leaving kvstore at -Infinity. */
  private readonly kvstoreReportedAt = new Map<string, number>();
  /** Whether the last registry read failed (logged once per outage). */
  private registryFailing = false;
  /** The workers as placement reads them; rebuilt after a refresh. */
  private currentRoster: Roster<LiveWorker> | undefined;

  constructor(
    private readonly registry: WorkerRegistry,
    private readonly layout: KvLayout,
    private readonly timeoutMs: number,
    private readonly log: Logger,
    private readonly events: WorkerTableEvents,
  ) {}

  /** Whether `id`'s load reports say it is alive at `now`. */
  private reportsAlive(id: string, now: number): boolean {
    const at = this.reportedAt.get(id);
    return at !== undefined && !this.leaving.has(id) && now - at <= this.timeoutMs;
  }

  /**
   * Re-read the registry and drop the workers neither it nor their load reports show alive. When
   * the registry cannot be read (Redis down), only the load reports decide.
   */
  async refresh(now = Date.now()): Promise<void> {
    let entries: WorkerInfo[] = [];
    try {
      entries = await this.registry.list();
      if (this.registryFailing) this.log.info("worker registry readable again");
      this.registryFailing = false;
    } catch (err) {
      if (!this.registryFailing)
        this.log.warn("worker registry unreadable: workers are kept alive by their load reports", { err: String(err) });
      this.registryFailing = true;
    }
    this.dropSilentKvstores(now);
    this.currentRoster = undefined; // the entries below are replaced (synchronously, whatever the callbacks do)
    const seen = new Set<string>();
    const refusedNow = new Map<string, string>();
    for (const info of entries) {
      if (info.role !== "prefill" && info.role !== "decode") continue;
      if (this.leaving.has(info.workerId) || (now - info.heartbeatUnixMs > this.timeoutMs && !this.reportsAlive(info.workerId, now)))
        continue;
      const mismatch = layoutMismatch(this.layout, info.layout);
      if (mismatch) {
        if (this.refused.get(info.workerId) !== mismatch)
          this.log.error("worker refused: incompatible KV layout", { worker: info.workerId, mismatch });
        refusedNow.set(info.workerId, mismatch);
        continue;
      }
      seen.add(info.workerId);
      const prev = this.workers.get(info.workerId);
      const restarted = prev !== undefined && prev.info.incarnation !== info.incarnation;
      if (restarted) {
        this.log.info("worker restarted", { worker: info.workerId });
        this.events.onDropped(prev.info);
      }
      this.workers.set(info.workerId, { info, load: restarted ? undefined : prev?.load });
      if (prev === undefined || restarted) this.events.onAdded?.(info);
    }
    for (const [id, w] of this.workers) {
      if (seen.has(id)) continue;
      // gone from the registry (or the registry unreadable) but still reporting: Redis lost it, not the worker
      if (this.reportsAlive(id, now)) continue;
      this.workers.delete(id);
      this.reportedAt.delete(id);
      this.log.warn("worker dropped: silent past the heartbeat timeout, or leaving", {
        worker: id,
        role: w.info.role,
        leaving: this.leaving.has(id),
      });
      this.events.onDropped(w.info);
    }
    const changed = refusedNow.size !== this.refused.size || [...refusedNow].some(([id, why]) => this.refused.get(id) !== why);
    if (entries.length === 0 && this.registryFailing) return; // refusals are only known from the registry
    this.refused.clear();
    for (const [id, why] of refusedNow) this.refused.set(id, why);
    if (changed) this.events.onRefusedChanged?.(this.refused);
  }

  /** Every live compatible worker. */
  all(): LiveWorker[] {
    return [...this.workers.values()];
  }

  /** Every live compatible worker, as placement reads them (the same object until the next refresh). */
  roster(): Roster<LiveWorker> {
    this.currentRoster ??= new Roster(this.all());
    return this.currentRoster;
  }

  /** Whether `id` is a worker refused for its layout. */
  isRefused(id: string): boolean {
    return this.refused.has(id);
  }

  /** Kvstores report over NATS only (they hold no registry entry): silent ones lose their index entries. */
  private dropSilentKvstores(now: number): void {
    for (const [id, at] of this.kvstoreReportedAt) {
      if (now - at <= this.timeoutMs) continue;
      this.kvstoreReportedAt.delete(id);
      this.log.warn("kvstore dropped: silent past the heartbeat timeout, or leaving", { kvstore: id });
      this.events.onKvstoreLost?.(id);
    }
  }

  /** A load report arrived (at `now`, this router's clock): the worker (or kvstore) is alive, or leaving. */
  onLoad(report: LoadReport, now = Date.now()): void {
    if (report.role === "kvstore") {
      this.kvstoreReportedAt.set(report.workerId, report.leaving ? -Infinity : now);
      return;
    }
    if (report.leaving) {
      this.leaving.add(report.workerId);
      this.reportedAt.delete(report.workerId);
      return;
    }
    this.leaving.delete(report.workerId);
    this.reportedAt.set(report.workerId, now);
    const w = this.workers.get(report.workerId);
    if (w) w.load = report;
  }

  get(id: string): LiveWorker | undefined {
    return this.workers.get(id);
  }

  byRole(role: "prefill" | "decode"): LiveWorker[] {
    return [...this.workers.values()].filter((w) => w.info.role === role);
  }

  /** Workers refused for their layout, with the reason (for errors and metrics). */
  refusedWorkers(): ReadonlyMap<string, string> {
    return this.refused;
  }
}
