// The router's view of the workers: live entries from the Redis registry, their latest load
// reports, and which are compatible with this router's KV layout. A worker whose heartbeat is
// too old is dropped, and the callers are told (index cleanup, moving its requests).
import type { KvLayout, LoadReport, WorkerInfo } from "@kvtier/proto";
import type { Logger, WorkerRegistry } from "@kvtier/platform";

export interface LiveWorker {
  info: WorkerInfo;
  load: LoadReport | undefined;
}

/** Why a worker's layout cannot be mixed with ours, or undefined if it can. */
export function layoutMismatch(ours: KvLayout, theirs: KvLayout | undefined): string | undefined {
  if (!theirs) return "no layout declared";
  const diffs: string[] = [];
  if (theirs.modelId !== ours.modelId) diffs.push(`model ${theirs.modelId} != ${ours.modelId}`);
  if (theirs.blockSize !== ours.blockSize) diffs.push(`block_size ${theirs.blockSize} != ${ours.blockSize}`);
  if (theirs.layoutVersion !== ours.layoutVersion) diffs.push(`layout v${theirs.layoutVersion} != v${ours.layoutVersion}`);
  if (theirs.hashScheme !== ours.hashScheme) diffs.push(`hash scheme ${theirs.hashScheme} != ${ours.hashScheme}`);
  return diffs.length ? diffs.join(", ") : undefined;
}

export class WorkerTable {
  private readonly workers = new Map<string, LiveWorker>();
  private readonly refused = new Map<string, string>();

  constructor(
    private readonly registry: WorkerRegistry,
    private readonly layout: KvLayout,
    private readonly timeoutMs: number,
    private readonly log: Logger,
    private readonly onDropped: (worker: WorkerInfo) => void,
  ) {}

  /** Re-read the registry; drop workers whose heartbeat is older than the timeout. */
  async refresh(now = Date.now()): Promise<void> {
    const entries = await this.registry.list();
    const seen = new Set<string>();
    for (const info of entries) {
      if (info.role !== "prefill" && info.role !== "decode") continue;
      if (now - info.heartbeatUnixMs > this.timeoutMs) continue;
      const mismatch = layoutMismatch(this.layout, info.layout);
      if (mismatch) {
        if (this.refused.get(info.workerId) !== mismatch) this.log.error("worker refused: incompatible KV layout", { worker: info.workerId, mismatch });
        this.refused.set(info.workerId, mismatch);
        continue;
      }
      seen.add(info.workerId);
      const prev = this.workers.get(info.workerId);
      if (prev && prev.info.incarnation !== info.incarnation) {
        this.log.info("worker restarted", { worker: info.workerId });
        this.onDropped(prev.info);
      }
      this.workers.set(info.workerId, { info, load: prev?.info.incarnation === info.incarnation ? prev.load : undefined });
    }
    for (const [id, w] of this.workers) {
      if (!seen.has(id)) {
        this.workers.delete(id);
        this.log.warn("worker dropped: heartbeat timed out or deregistered", { worker: id, role: w.info.role });
        this.onDropped(w.info);
      }
    }
  }

  onLoad(report: LoadReport): void {
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
