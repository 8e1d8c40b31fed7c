// The store's identity and occupancy as an InfoResponse (without the data-plane part, which the
// service adds): top-level figures are the host tier's, as before SSD existed; the per-tier
// counts carry both tiers.
import type { InfoResponse, TierCounts } from "@kvtier/proto";
import type { StoreInfo, TierOccupancy } from "./block-store.js";

function countsOf(tiers: TierOccupancy[], pick: (o: TierOccupancy) => number): TierCounts {
  const counts: TierCounts = { device: 0, host: 0, ssd: 0 };
  for (const o of tiers) counts[o.tier] = pick(o);
  return counts;
}

/** `info` on the wire. */
export function infoToWire(info: StoreInfo): Omit<InfoResponse, "dataPlane"> {
  return {
    storeId: info.storeId,
    incarnation: info.incarnation,
    capacityBytes: info.capacityBytes,
    usedBytes: info.usedBytes,
    blocks: info.blocks,
    capacityBytesByTier: countsOf(info.tiers, (o) => o.capacityBytes),
    usedBytesByTier: countsOf(info.tiers, (o) => o.bytes),
    blocksByTier: countsOf(info.tiers, (o) => o.blocks),
  };
}
