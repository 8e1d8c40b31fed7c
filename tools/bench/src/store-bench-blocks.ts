// Working sets of real encoded KV blocks (fp32, 16 tokens, valid CRC) of a target size, so the
// store verifies exactly what it would verify in production.
import { randomBytes, randomFillSync } from "node:crypto";
import { encodeKvBlock, readKvBlockHeader } from "@kvtier/tensor";

/** Tokens per block (the kvstore's default KVTIER_BLOCK_SIZE). */
const BENCH_BLOCK_TOKENS = 16;

/** A working set: blocks and their hashes. */
export interface WorkingSet {
  blocks: Uint8Array[];
  hashes: Uint8Array[];
  /** Bytes of one block (header included). */
  blockBytes: number;
}

/**
 * `count` distinct blocks whose payload is `payloadBytes` rounded to whole layers (fp32, 16
 * tokens, 16 KV heads x 128 dims: 256 KiB per layer), plus the 112-byte header. Same K/V
 * values, different hashes.
 */
export function makeWorkingSet(payloadBytes: number, count: number): WorkingSet {
  const perLayer = 2 * BENCH_BLOCK_TOKENS * 16 * 128 * 4;
  const layers = Math.max(1, Math.round(payloadBytes / perLayer));
  const values = layers * BENCH_BLOCK_TOKENS * 16 * 128;
  const k = new Float32Array(values);
  const v = new Float32Array(values);
  randomFillSync(new Uint8Array(k.buffer));
  randomFillSync(new Uint8Array(v.buffer));
  // Random bits include NaN patterns; fp32 stores them as is, which is all the store needs.
  const blocks: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const shape = {
      modelId: "bench",
      codec: "fp32",
      nLayers: layers,
      nKvHeads: 16,
      headDim: 128,
      tokens: BENCH_BLOCK_TOKENS,
      blockSize: BENCH_BLOCK_TOKENS,
      blockHash: new Uint8Array(randomBytes(16)),
    };
    blocks.push(encodeKvBlock(shape, k, v));
  }
  return { blocks, hashes: blocks.map((b) => readKvBlockHeader(b).blockHash), blockBytes: blocks[0].length };
}
