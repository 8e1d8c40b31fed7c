// A trace block id as a block hash for the prefix index. Trace ids are already
// prefix-chained (an id names its whole prefix), so the id itself is the identity; the fixed tag
// bytes only keep these hashes visibly apart from SHA-256 ones in dumps.
import { BLOCK_HASH_BYTES } from "@kvtier/core";
import type { BlockHash } from "@kvtier/kv-router";

const TAG = 0x7e;

/** Memoises the hash of each id (a trace reuses ids across requests). */
export class TraceBlockHashes {
  private readonly cache = new Map<number, BlockHash>();

  /** The hash standing for trace block `id` (a safe integer >= 0). */
  of(id: number): BlockHash {
    let h = this.cache.get(id);
    if (h === undefined) {
      h = new Uint8Array(BLOCK_HASH_BYTES);
      const view = new DataView(h.buffer);
      view.setUint32(0, id >>> 0, true);
      view.setUint32(4, Math.floor(id / 2 ** 32), true);
      h.fill(TAG, 8);
      this.cache.set(id, h);
    }
    return h;
  }

  /** Hashes of a request's ids, in order. */
  chain(ids: readonly number[]): BlockHash[] {
    return ids.map((id) => this.of(id));
  }
}
