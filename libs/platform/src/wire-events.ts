// KV event batches from the generated wire type (protobuf KvEventBatch) into the prefix index's
// domain form: the reference for the router's direct decoder (kv-event-decoder.ts), which the
// hot path uses. The medium maps to a tier; an event with no medium is skipped, except
// AllBlocksCleared, where no medium means every tier. Validation of hashes and ids happens in
// IndexFeed, before anything is applied.
import { Tier as WireTier, type KvEventBatch } from "@kvtier/proto";
import type { KvIndexBatch, KvIndexEvent, Tier } from "@kvtier/kv-router";

const TIER_OF: Record<number, Tier | undefined> = { [WireTier.TIER_DEVICE]: "device", [WireTier.TIER_HOST]: "host", [WireTier.TIER_SSD]: "ssd" };

/** The domain form of a decoded KvEventBatch. */
export function batchFromWire(b: KvEventBatch): KvIndexBatch {
  const events: KvIndexEvent[] = [];
  for (const e of b.events) {
    const ev = e.event;
    if (!ev) continue;
    if (ev.$case === "cleared") {
      events.push({ kind: "cleared", tier: TIER_OF[ev.value.medium] });
      continue;
    }
    const tier = TIER_OF[ev.value.medium];
    if (tier === undefined) continue;
    if (ev.$case === "stored") {
      const parent = ev.value.parentBlockHash;
      events.push({ kind: "stored", tier, codec: ev.value.codec, hashes: ev.value.blockHashes, parent: parent.length > 0 ? parent : undefined });
    } else {
      events.push({ kind: "removed", tier, codec: ev.value.codec, hashes: ev.value.blockHashes });
    }
  }
  return { announcerId: b.announcerId, incarnation: b.incarnation, seq: b.seq, snapshot: b.snapshot, events };
}
