// KV events as the index consumes them (DESIGN.md §7): the domain form of the wire's
// BlockStored / BlockRemoved / AllBlocksCleared, numbered in batches per announcer. Services parse
// the wire messages into these; the trace replay's simulated workers emit them directly, so both
// reach the index through the same IndexFeed. Types only.
import type { BlockHash } from "./block-hash.js";
import type { Tier } from "./tier.js";

/** One change to what an announcer holds. */
export type KvIndexEvent =
  /** The announcer now holds `hashes` (chain order) in `tier`, encoded with `codec`. */
  | { kind: "stored"; tier: Tier; codec: string; hashes: readonly BlockHash[]; parent?: BlockHash }
  /** The announcer no longer holds `hashes` in `tier` with `codec`. */
  | { kind: "removed"; tier: Tier; codec: string; hashes: readonly BlockHash[] }
  /** The announcer holds nothing in `tier` (every tier when absent). */
  | { kind: "cleared"; tier?: Tier };

/**
 * A numbered batch of one announcer's events. Deltas count `seq` from 1 within an incarnation; a
 * snapshot (`snapshot: true`) lists everything held as `stored` events and carries the seq of
 * the last delta it covers.
 */
export interface KvIndexBatch {
  announcerId: string;
  incarnation: string;
  seq: number;
  snapshot: boolean;
  events: readonly KvIndexEvent[];
}
