// Leases: blocks a Get served for an in-flight request stay pinned (never evicted) until the
// client releases the lease or its TTL ends. A lease is named by the client (GetRequest.lease_id);
// several Gets may add to one lease, each extending its TTL.
import { KvtierError } from "@kvtier/platform";
import type { BlockKey } from "@kvtier/kv-tiers";

/** Default lease TTL when a Get does not give one. */
export const DEFAULT_LEASE_TTL_MS = 30_000;
/** Longest lease TTL a Get may ask for. */
export const MAX_LEASE_TTL_MS = 10 * 60_000;
/** Most leases held at once. */
const MAX_LEASES = 65_536;
/** Longest lease id. */
export const MAX_LEASE_ID_CHARS = 128;
/** Retry hint when the lease table is full. */
const LEASES_FULL_RETRY_AFTER_MS = 1_000;

/** A lease asked for by a Get. */
export interface LeaseRequest {
  id: string;
  /** Milliseconds until the lease ends by itself. @default the table's default TTL */
  ttlMs?: number;
}

interface Lease {
  keys: Map<string, BlockKey>;
  timer: NodeJS.Timeout | undefined;
}

/** Pins and unpins blocks on behalf of leases. */
export class LeaseTable {
  private readonly leases = new Map<string, Lease>();

  constructor(
    private readonly pin: (key: BlockKey) => void,
    private readonly unpin: (key: BlockKey) => void,
    /** TTL of a lease whose request gives none. */
    private readonly defaultTtlMs = DEFAULT_LEASE_TTL_MS,
  ) {}

  /** Leases held now. */
  get size(): number {
    return this.leases.size;
  }

  /** Blocks pinned by leases now (a block in two leases counts twice). */
  get pinnedBlocks(): number {
    let n = 0;
    for (const l of this.leases.values()) n += l.keys.size;
    return n;
  }

  /** Add `keys` to lease `req.id` (created if new) and restart its TTL. */
  add(req: LeaseRequest, keys: readonly BlockKey[]): void {
    let lease = this.leases.get(req.id);
    if (!lease) {
      if (this.leases.size >= MAX_LEASES) {
        throw new KvtierError("RESOURCE_EXHAUSTED", `lease_id: ${MAX_LEASES} leases are held; release some`, {
          field: "lease_id",
          retryAfterMs: LEASES_FULL_RETRY_AFTER_MS,
        });
      }
      lease = { keys: new Map(), timer: undefined };
      this.leases.set(req.id, lease);
    }
    clearTimeout(lease.timer);
    lease.timer = setTimeout(() => this.release(req.id), req.ttlMs ?? this.defaultTtlMs).unref();
    for (const k of keys) {
      if (lease.keys.has(k.id)) continue;
      lease.keys.set(k.id, k);
      this.pin(k);
    }
  }

  /** End a lease; returns how many blocks it held (0 when unknown or already ended). */
  release(id: string): number {
    const lease = this.leases.get(id);
    if (!lease) return 0;
    this.leases.delete(id);
    clearTimeout(lease.timer);
    for (const k of lease.keys.values()) this.unpin(k);
    return lease.keys.size;
  }

  /** End every lease. Idempotent. */
  close(): void {
    for (const id of [...this.leases.keys()]) this.release(id);
  }
}
