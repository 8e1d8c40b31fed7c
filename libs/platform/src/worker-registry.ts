// The worker registry in Redis: one hash field per worker, refreshed by its heartbeat. A worker
// whose heartbeat is older than the timeout counts as dead, whether or not its field remains.
import { WorkerInfo } from "@kvtier/proto";
import type { Redis } from "ioredis";
import { registryKey } from "./naming.js";

/** Reads and writes the registry of one namespace. */
export class WorkerRegistry {
  constructor(
    private readonly redis: Redis,
    private readonly ns: string,
  ) {}

  /** Write (or refresh) a worker's entry with the current time as its heartbeat. */
  async heartbeat(info: WorkerInfo, now = Date.now()): Promise<void> {
    const entry = WorkerInfo.toJSON({ ...info, heartbeatUnixMs: now });
    await this.redis.hset(registryKey(this.ns), info.workerId, JSON.stringify(entry));
  }

  /** Remove a worker's entry (clean shutdown, or the router dropping a dead worker). */
  async remove(workerId: string): Promise<void> {
    await this.redis.hdel(registryKey(this.ns), workerId);
  }

  /** Every entry; entries that do not parse are skipped. */
  async list(): Promise<WorkerInfo[]> {
    const all = await this.redis.hgetall(registryKey(this.ns));
    const out: WorkerInfo[] = [];
    for (const json of Object.values(all)) {
      try {
        out.push(WorkerInfo.fromJSON(JSON.parse(json)));
      } catch {
        // a half-written or foreign entry is not a worker
      }
    }
    return out;
  }

  /** Entries whose heartbeat is within `timeoutMs` of `now`. */
  async live(timeoutMs: number, now = Date.now()): Promise<WorkerInfo[]> {
    return (await this.list()).filter((w) => now - w.heartbeatUnixMs <= timeoutMs);
  }
}

/**
 * Calls `beat` every `intervalMs` until stopped. A beat still running when the next is due is
 * not overlapped (an outage does not pile up writes). Errors do not stop it: `onError` hears the
 * first failure of a run of them, `onRecovered` the first success after.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private failing = false;
  constructor(
    private readonly beat: () => Promise<void>,
    private readonly intervalMs: number,
    private readonly onError: (err: unknown) => void,
    private readonly onRecovered: () => void = () => undefined,
  ) {}

  /** The first beat (awaited: a failure here is thrown), then one per interval. */
  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    if (this.running) return;
    this.running = true;
    this.beat()
      .then(
        () => {
          if (!this.failing) return;
          this.failing = false;
          this.onRecovered();
        },
        (err: unknown) => {
          if (this.failing) return;
          this.failing = true;
          this.onError(err);
        },
      )
      .finally(() => (this.running = false));
  }
}
