// How the block store finds one block of a run: the host tier first, then the SSD tier, whose
// every read is verified. A verified SSD hit is promoted to host (when it fits); a corrupt one is
// deleted by the tier, counted, logged, announced as removed and served as a miss.
import type { Logger } from "@kvtier/platform";
import { type BlockKey, hashHex, type HostTier, type SsdTier, type TierName } from "@kvtier/kv-tiers";
import type { BlockEventSink, StoreObserver } from "./block-events.js";

/** A block of a served run. */
export interface HeldBlock {
  key: BlockKey;
  /** The tier it was found in. */
  tier: TierName;
  /** The stored bytes, verified if they came from SSD; do not mutate. */
  bytes: Uint8Array;
}

/** The tiers and outlets a get reaches. */
export interface GetContext {
  host: HostTier;
  ssd: SsdTier | undefined;
  events: BlockEventSink | undefined;
  observer: StoreObserver | undefined;
  log: Logger | undefined;
}

/** One block from the first tier that has it, counting a hit or the misses; undefined when none serves it. */
export async function findBlock(ctx: GetContext, key: BlockKey): Promise<HeldBlock | undefined> {
  const { host, ssd, observer } = ctx;
  const bytes = host.getNow(key);
  if (bytes) {
    observer?.hit("host");
    return { key, tier: "host", bytes };
  }
  observer?.miss("host");
  if (!ssd) return undefined;
  const parent = ssd.parentOf(key);
  const r = await ssd.read(key);
  if (r.kind !== "hit") {
    observer?.miss("ssd");
    if (r.kind === "corrupt") {
      observer?.checksumFailed?.("ssd_read");
      ctx.log?.warn("corrupt SSD block deleted and served as a miss", { block: `${hashHex(key.hash)}/${key.codec}`, problem: r.problem });
      ctx.events?.removed("ssd", key.codec, [key.hash]);
    }
    return undefined;
  }
  observer?.hit("ssd");
  observer?.tierIo?.("ssd", "read", r.bytes.byteLength);
  promote(ctx, key, r.bytes, parent);
  return { key, tier: "ssd", bytes: r.bytes };
}

/** Copy an SSD hit into host; skipped when it does not fit (host full of leased blocks). */
function promote(ctx: GetContext, key: BlockKey, bytes: Uint8Array, parent: Uint8Array | undefined): void {
  try {
    if (ctx.host.putNow(key, bytes, parent) !== "created") return;
  } catch {
    return;
  }
  ctx.observer?.promoted?.("ssd", "host");
  ctx.observer?.tierIo?.("host", "write", bytes.byteLength);
  ctx.events?.stored("host", key.codec, [key.hash], parent);
}
