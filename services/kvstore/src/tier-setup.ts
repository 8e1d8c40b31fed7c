// Builds the store's tiers from the configuration: the host tier with its watermarks, and the SSD
// tier when KVTIER_SSD_DIR is set (opening it rebuilds its index from the directory).
import type { Logger } from "@kvtier/platform";
import type { EvictionPolicyName, KvStoreConfig } from "./config.js";
import { type EvictionPolicy, HostTier, LruPolicy, PrefixAwarePolicy, SsdTier } from "@kvtier/kv-tiers";

/** A new policy instance of the named kind. */
const policyOf = (name: EvictionPolicyName): EvictionPolicy => (name === "lru" ? new LruPolicy() : new PrefixAwarePolicy());

/** The host tier, and the SSD tier if configured (opened, index rebuilt). */
export async function openTiers(cfg: KvStoreConfig, log: Logger): Promise<{ host: HostTier; ssd: SsdTier | undefined }> {
  const host = new HostTier({
    capacityBytes: cfg.hostCapacityBytes,
    highWatermark: cfg.hostHighWatermarkPct / 100,
    lowWatermark: cfg.hostLowWatermarkPct / 100,
    policy: policyOf(cfg.evictionPolicy),
  });
  if (cfg.ssdDir === undefined) return { host, ssd: undefined };
  const ssd = await SsdTier.open({
    dir: cfg.ssdDir,
    capacityBytes: cfg.ssdCapacityBytes,
    policy: policyOf(cfg.evictionPolicy),
    onError: (err, what) => log.warn("SSD tier background operation failed", { what, err: String(err) }),
  });
  const s = ssd.startup;
  log.info("SSD tier opened", {
    dir: cfg.ssdDir,
    blocks: ssd.blockCount,
    usedBytes: ssd.usedBytes,
    capacityBytes: ssd.capacityBytes,
    removedTemp: s.removedTemp,
    removedPartial: s.removedPartial,
    foreign: s.foreign,
  });
  return { host, ssd };
}
