// Hashing a 4096-token prompt into 16-token blocks: chainBlockHashes against a straightforward
// baseline (a fresh Buffer per block, per-token writeUInt32LE, createHash). Run:
//   pnpm exec vitest bench --run libs/kv-router
import { createHash } from "node:crypto";
import { bench, describe } from "vitest";
import { chainBlockHashes, namespaceHash } from "../src/block-hash.js";

const BLOCK = 16;
const ns = namespaceHash({ modelId: "bench", layoutVersion: 1, blockSize: BLOCK, tenantSalt: "s" });
const tokens = Array.from({ length: 4096 }, (_, i) => (i * 7919) % 32000);

function baseline(root: Uint8Array, toks: number[], blockSize: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let parent = Buffer.from(root);
  for (let b = 0; b + blockSize <= toks.length; b += blockSize) {
    const body = Buffer.alloc(16 + 4 * blockSize);
    parent.copy(body, 0);
    for (let j = 0; j < blockSize; j++) body.writeUInt32LE(toks[b + j], 16 + 4 * j);
    parent = createHash("sha256").update(body).digest().subarray(0, 16);
    out.push(parent);
  }
  return out;
}

describe("chain 4096 tokens into 256 blocks", () => {
  bench("baseline (Buffer per block, createHash)", () => {
    baseline(ns, tokens, BLOCK);
  });
  bench("chainBlockHashes", () => {
    chainBlockHashes(ns, tokens, BLOCK);
  });
});
