// Domain tier names to the wire enum (gRPC replies and KV events).
import { Tier } from "@kvtier/proto";
import type { TierName } from "@kvtier/kv-tiers";

const WIRE_TIER: Record<TierName, Tier> = { host: Tier.TIER_HOST, ssd: Tier.TIER_SSD };

/** The wire enum of a tier. */
export const tierToWire = (tier: TierName): Tier => WIRE_TIER[tier];
