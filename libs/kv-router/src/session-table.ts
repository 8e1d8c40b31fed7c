// Session affinity (optional): the workers that served a session's last request, per tenant, so
// the next request of the session can prefer them. Bounded (least recently used sessions go
// first) and expiring; replicas share new placements through router-peers.ts.

/** Most sessions remembered by one router. */
const MAX_SESSIONS = 100_000;

/** Where a session ran last. */
export interface SessionWorkers {
  decode: string;
  prefill: string;
}

interface Entry extends SessionWorkers {
  expiresMs: number;
}

/** Tenant-scoped session → last workers, LRU-bounded with a time to live. */
export class SessionTable {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
    private readonly capacity = MAX_SESSIONS,
  ) {}

  private static key(tenant: string, sessionId: string): string {
    return `${tenant}\u0000${sessionId}`;
  }

  /** The session's last workers, or undefined (unknown or expired). */
  get(tenant: string, sessionId: string): SessionWorkers | undefined {
    const k = SessionTable.key(tenant, sessionId);
    const e = this.entries.get(k);
    if (e === undefined) return undefined;
    if (e.expiresMs <= this.now()) {
      this.entries.delete(k);
      return undefined;
    }
    return { decode: e.decode, prefill: e.prefill };
  }

  /** Records where the session ran now. */
  set(tenant: string, sessionId: string, workers: SessionWorkers): void {
    const k = SessionTable.key(tenant, sessionId);
    this.entries.delete(k); // re-insert as most recent
    this.entries.set(k, { ...workers, expiresMs: this.now() + this.ttlMs });
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
  }

  get size(): number {
    return this.entries.size;
  }
}
