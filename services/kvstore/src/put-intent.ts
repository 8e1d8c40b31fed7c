// What a client announced it is about to put (the domain form of a PutHeader).
import type { BlockKey } from "@kvtier/kv-tiers";

/** How safe a put must be before it is acknowledged (DESIGN.md section 4). */
export type AckLevelName = "memory" | "durable";

/** A put as announced before its bytes arrive. */
export interface PutIntent {
  key: BlockKey;
  /** Size of the encoded block, header included. */
  totalBytes: number;
  ack: AckLevelName;
  /** The hash of the block before this one in its chain, when the client said (eviction takes leaves first). */
  parent?: Uint8Array;
  /** A request's own object: stored and served, never announced (events, snapshots) nor written to SSD. */
  requestScoped?: boolean;
}
