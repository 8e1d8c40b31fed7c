// The kvstore's SSD tier against plain files on the same disk, in process: durable writes
// (two-phase, fsynced, as `ack=durable` does) and verified reads, beside write+fdatasync and
// readFile of the same bytes (store-bench-baselines.ts). Reads of both come from the page cache
// when the blocks were just written; that is the same for both.
import { promises as fsp } from "node:fs";
import { blockKey, SsdTier } from "@kvtier/kv-tiers";
import { readKvBlockHeader } from "@kvtier/tensor";
import type { WorkingSet } from "./store-bench-blocks.js";
import { measureOps, type Figure } from "./store-bench-measure.js";

/** A 16-byte hash naming round `r`. */
const roundParent = (r: number): Uint8Array => {
  const h = new Uint8Array(16);
  new DataView(h.buffer).setUint32(0, r + 1);
  return h;
};

/** SSD tier write (durable) in rounds over the working set, then verified reads, until `totalBytes` each. */
export async function measureSsdTier(
  dir: string,
  ws: WorkingSet,
  totalBytes: number,
  depth: number,
): Promise<{ write: Figure; read: Figure }> {
  await fsp.rm(dir, { recursive: true, force: true });
  const tier = await SsdTier.open({ dir, capacityBytes: 4 * ws.blocks.length * ws.blockBytes });
  const keys = ws.hashes.map((h) => blockKey(h, "fp32"));
  const checksums = ws.blocks.map((b) => readKvBlockHeader(b).checksum);
  try {
    const write = await measureOps({
      totalBytes,
      opBytes: ws.blockBytes,
      depth,
      roundOps: ws.blocks.length,
      beforeRound: async (round) => {
        if (round > 0) for (const k of keys) tier.delete(k);
      },
      op: async (i) => {
        const j = i % ws.blocks.length;
        // A parent per round gives each round's files their own names, so the previous round's
        // unlinks (in the background) never race this round's files.
        const parent = roundParent(Math.floor(i / ws.blocks.length));
        const outcome = await tier.write(keys[j], ws.blocks[j], { parent, checksum: checksums[j], durable: true });
        if (outcome !== "created") throw new Error(`SSD write ${j}: ${outcome}`);
      },
    });
    const read = await measureOps({
      totalBytes,
      opBytes: ws.blockBytes,
      depth,
      op: async (i) => {
        const r = await tier.read(keys[i % keys.length]);
        if (r.kind !== "hit") throw new Error(`SSD read ${i % keys.length}: ${r.kind}`);
      },
    });
    return { write, read };
  } finally {
    await tier.close();
    await fsp.rm(dir, { recursive: true, force: true });
  }
}
