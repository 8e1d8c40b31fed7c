// Moves KV between pool pages and encoded blocks: gathers pre-RoPE keys out, rotates keys in.
import { KvImportError } from "./engine-error.js";
import { decodeKvBlock, encodeKvBlock, type KvBlockHeader } from "./kv-block.js";
import type { KvPool, SequencePages } from "./kv-pool.js";
import type { LlamaModel } from "./llama-model.js";

/** A verified, decoded block ready to be written into a sequence. */
export interface DecodedBlock {
  header: KvBlockHeader;
  k: Float32Array;
  v: Float32Array;
}

/** Encode tokens [first, first + tokens) of a sequence as one block (keys pre-RoPE). */
export function exportSequenceBlock(
  model: LlamaModel,
  pool: KvPool,
  seq: SequencePages,
  first: number,
  tokens: number,
  codec: string,
  blockHash: Uint8Array,
): Uint8Array {
  const { nLayers, nKvHeads, headDim } = model.config;
  const kvd = pool.kvDim;
  const k = new Float32Array(nLayers * tokens * kvd);
  const v = new Float32Array(nLayers * tokens * kvd);
  for (let t = 0; t < tokens; t++) {
    const off = pool.tokenOffset(seq, first + t);
    for (let l = 0; l < nLayers; l++) {
      const dst = (l * tokens + t) * kvd;
      k.set(pool.keysPre[l].subarray(off, off + kvd), dst);
      v.set(pool.values[l].subarray(off, off + kvd), dst);
    }
  }
  const shape = { modelId: model.modelId, codec, nLayers, nKvHeads, headDim, tokens, blockSize: pool.blockSize, blockHash };
  return encodeKvBlock(shape, k, v);
}

/**
 * Verify (checksum included) and decode blocks, and check they fit this model and pool:
 * same model id and KV shape and block size, and only the last block may be partial.
 */
export function decodeBlocksForImport(model: LlamaModel, blockSize: number, blocks: readonly Uint8Array[]): DecodedBlock[] {
  const { nLayers, nKvHeads, headDim } = model.config;
  const decoded = blocks.map((bytes) => decodeKvBlock(bytes));
  decoded.forEach(({ header: h }, i) => {
    if (h.modelId !== model.modelId) {
      throw new KvImportError("MODEL_MISMATCH", `block ${i} was computed by model "${h.modelId}", this engine runs "${model.modelId}"`);
    }
    const got = `nLayers=${h.nLayers} nKvHeads=${h.nKvHeads} headDim=${h.headDim} blockSize=${h.blockSize}`;
    const want = `nLayers=${nLayers} nKvHeads=${nKvHeads} headDim=${headDim} blockSize=${blockSize}`;
    if (got !== want) throw new KvImportError("SHAPE_MISMATCH", `block ${i} has ${got}, this engine needs ${want}`);
    if (h.tokens < blockSize && i !== decoded.length - 1) {
      throw new KvImportError("MISALIGNED", `block ${i} is partial (${h.tokens}/${blockSize} tokens) but not last`);
    }
  });
  return decoded;
}

/** Write decoded blocks at positions [start, ...) of a sequence whose pages are already allocated. */
export function writeBlocks(pool: KvPool, seq: SequencePages, start: number, blocks: readonly DecodedBlock[]): number {
  const kvd = pool.kvDim;
  let pos = start;
  for (const { header, k, v } of blocks) {
    for (let t = 0; t < header.tokens; t++, pos++) {
      const off = pool.tokenOffset(seq, pos);
      for (let l = 0; l < header.nLayers; l++) {
        const src = (l * header.tokens + t) * kvd;
        pool.writeToken(l, off, pos, k, src, v, src);
      }
    }
  }
  return pos;
}
