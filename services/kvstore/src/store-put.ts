// The two ways the block store keeps a verified block: in memory (the host tier) or durably (an
// fsynced SSD file, then the host tier if it fits). Both tell identical re-puts (idempotent) from
// different bytes under the same key (a conflict), across tiers, and turn tier failures into put
// refusals with stable reasons.
import { KvtierError } from "@kvtier/platform";
import type { BlockEventSink, StoreObserver } from "./block-events.js";
import type { PutIntent } from "./put-intent.js";
import { BlockConflictError, PutRefusedError } from "./put-refusal.js";
import { type HostTier, type SsdTier, SsdWriteError, type TierName } from "@kvtier/kv-tiers";

/** What a put did. */
export interface PutResult {
  /** False when the same block was already stored in some tier. */
  created: boolean;
  /** The tier the acknowledgement stands for: host for `memory`, ssd for `durable`. */
  tier: TierName;
}

/** The tiers and outlets a put reaches. */
export interface PutContext {
  host: HostTier;
  ssd: SsdTier | undefined;
  events: BlockEventSink | undefined;
  observer: StoreObserver | undefined;
}

/** A host-tier refusal as a put refusal: host_full (leased; retry) or no_room. */
function hostRefusal(err: unknown): unknown {
  if (!(err instanceof KvtierError) || err.code !== "RESOURCE_EXHAUSTED") return err;
  const reason = err.retryAfterMs === undefined ? "no_room" : "host_full";
  return new PutRefusedError(reason, "RESOURCE_EXHAUSTED", "header.total_bytes", err.message, {
    retryAfterMs: err.retryAfterMs,
    cause: err,
  });
}

/** An SSD write failure as a put refusal: disk_full (device full or no room) or disk_error. */
function ssdRefusal(err: unknown): unknown {
  if (!(err instanceof SsdWriteError)) return err;
  if (err.code === "io")
    return new PutRefusedError("disk_error", "UNAVAILABLE", "header.ack", `ack=durable: ${err.message}`, { cause: err });
  return new PutRefusedError("disk_full", "RESOURCE_EXHAUSTED", "header.ack", `ack=durable: ${err.message}; the block was not stored`, {
    cause: err,
  });
}

/** Store in the host tier (ack `memory`). */
export function storeInMemory(ctx: PutContext, intent: PutIntent, bytes: Uint8Array, checksum: number): PutResult {
  const { key, parent } = intent;
  if (ctx.ssd?.differs(key, bytes.byteLength, checksum)) throw new BlockConflictError(key);
  const inSsd = ctx.ssd?.has(key) ?? false;
  let outcome;
  try {
    outcome = ctx.host.putNow(key, bytes, parent);
  } catch (err) {
    throw hostRefusal(err);
  }
  if (outcome === "conflict") throw new BlockConflictError(key);
  if (outcome === "created") {
    ctx.observer?.tierIo?.("host", "write", bytes.byteLength);
    ctx.events?.stored("host", key.codec, [key.hash], parent);
  }
  return { created: outcome === "created" && !inSsd, tier: "host" };
}

/** Write to SSD and fsync (ack `durable`), then keep a copy in host when it fits. */
export async function storeDurably(
  ctx: PutContext & { ssd: SsdTier },
  intent: PutIntent,
  bytes: Uint8Array,
  checksum: number,
): Promise<PutResult> {
  const { key, parent } = intent;
  if (ctx.host.conflicts(key, bytes)) throw new BlockConflictError(key);
  const heldBefore = ctx.host.has(key) || ctx.ssd.has(key);
  let outcome;
  try {
    outcome = await ctx.ssd.write(key, bytes, { parent, checksum, durable: true });
  } catch (err) {
    throw ssdRefusal(err);
  }
  if (outcome === "conflict") throw new BlockConflictError(key);
  if (outcome === "created") {
    ctx.observer?.tierIo?.("ssd", "write", bytes.byteLength);
    ctx.events?.stored("ssd", key.codec, [key.hash], parent);
  }
  try {
    if (ctx.host.putNow(key, bytes, parent) === "created") {
      ctx.observer?.tierIo?.("host", "write", bytes.byteLength);
      ctx.events?.stored("host", key.codec, [key.hash], parent);
    }
  } catch {
    // durable in SSD already; the host copy is an optimisation (host full of leased blocks)
  }
  return { created: !heldBefore, tier: "ssd" };
}
