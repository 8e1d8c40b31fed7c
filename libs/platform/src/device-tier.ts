// The device tier as the rest of the system sees it: the engine's cached pages, announced as
// KV events (codec "raw": unencoded in the pool, exportable in any codec) and listed for snapshots.
import { DEVICE_CODEC } from "@kvtier/kv-router";
import { Tier } from "@kvtier/proto";
import type { EngineHost } from "@kvtier/tensor";

/** What announces a location's blocks (the platform's KvEventAnnouncer in the services). */
export interface BlockAnnouncer {
  stored(tier: Tier, codec: string, hashes: Uint8Array[]): void;
  removed(tier: Tier, codec: string, hashes: Uint8Array[]): void;
}

const hex = (h: Uint8Array): string => Buffer.from(h.buffer, h.byteOffset, h.byteLength).toString("hex");

/** Mirrors the engine's prefix cache and announces its changes as the device tier. */
export class DeviceTier {
  private readonly blocks = new Map<string, Uint8Array>();

  constructor(engine: EngineHost, announcer: BlockAnnouncer) {
    engine.onStored((hashes) => {
      for (const h of hashes) this.blocks.set(hex(h), h);
      announcer.stored(Tier.TIER_DEVICE, DEVICE_CODEC, hashes);
    });
    engine.onRemoved((hashes) => {
      for (const h of hashes) this.blocks.delete(hex(h));
      announcer.removed(Tier.TIER_DEVICE, DEVICE_CODEC, hashes);
    });
  }

  /** Every block the pool holds now. */
  held(): Uint8Array[] {
    return [...this.blocks.values()];
  }
}
