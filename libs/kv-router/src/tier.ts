// Storage tiers of a cached block (DESIGN.md §4), fastest first. Names follow vLLM's KV-event
// "medium" in lower case, as the wire enum does. No behaviour lives here.

/** Where a cached block lives: a worker's own KV pool, kvstore RAM, or kvstore files. */
export type Tier = "device" | "host" | "ssd";

/** Every tier, fastest first. */
export const TIERS: readonly Tier[] = ["device", "host", "ssd"];
