// Wires the block store's events to the KV-event announcer (NATS): the kvstore announces its own
// tiers, with codec, and answers snapshot requests from what the store holds at that moment.
import type { HeldBlocks, KvEventAnnouncer } from "@kvtier/platform";
import type { BlockEventSink } from "./block-events.js";
import type { KvBlockStore } from "./block-store.js";
import { tierToWire } from "./wire-tier.js";

/** A BlockEventSink that announces on NATS. */
export function announcerSink(announcer: KvEventAnnouncer): BlockEventSink {
  return {
    stored: (tier, codec, hashes, parent) => announcer.stored(tierToWire(tier), codec, hashes, parent),
    removed: (tier, codec, hashes) => announcer.removed(tierToWire(tier), codec, hashes),
  };
}

/** What `store` holds, in the announcer's snapshot form. */
export function snapshotOf(store: KvBlockStore): HeldBlocks[] {
  return store.held().map((h) => ({ tier: tierToWire(h.tier), codec: h.codec, hashes: h.hashes }));
}
