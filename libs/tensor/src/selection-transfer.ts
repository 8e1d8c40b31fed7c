// The sparse per-request transfer format of a compressed prompt: every layer carries its KV
// heads' kept entries (pre-RoPE key and value) in rank order -- entry i of a layer is the i-th
// kept position of each of its KV heads, which differ per head -- packed into ordinary KV blocks
// (layout v1, any codec, the same [token][kvHead][headDim] geometry as dense blocks so a codec
// costs the same per entry) and stored, verified and served like any other block, under
// request-derived hashes no prefix chain can produce. Block j's slot range holds entries
// [j * blockSize, (j + 1) * blockSize) of every layer that has them, its "layers" being those
// layers; layers ending mid-range go to one block per distinct remainder. Every KV head of a
// layer keeps the same number of entries (all policies here do). Positions (and H2O scores)
// travel beside the blocks (SelectionMeta).
import { createHash } from "node:crypto";
import { BLOCK_HASH_BYTES } from "@kvtier/core";
import { resolveCodecId } from "./codecs/codec-registry.js";
import { KvImportError } from "./engine-error.js";
import { decodeKvBlock, encodeKvBlock } from "./kv-block.js";
import type { LlamaModel } from "./llama-model.js";

/** Which layers and which entry range one sparse block holds. */
export interface SparseBlockLayout {
  /** Layer indices, ascending. */
  rows: number[];
  /** First entry index of the range. */
  first: number;
  /** Entries per layer (and KV head) in this block. */
  tokens: number;
}

/** The blocks a set of per-layer entry counts packs into, in transfer order. */
export function sparseLayout(counts: ArrayLike<number>, blockSize: number): SparseBlockLayout[] {
  let max = 0;
  for (let r = 0; r < counts.length; r++) max = Math.max(max, counts[r]);
  const out: SparseBlockLayout[] = [];
  for (let first = 0; first < max; first += blockSize) {
    const byTokens = new Map<number, number[]>();
    for (let r = 0; r < counts.length; r++) {
      const t = Math.min(blockSize, counts[r] - first);
      if (t <= 0) continue;
      const rows = byTokens.get(t);
      if (rows) rows.push(r);
      else byTokens.set(t, [r]);
    }
    for (const t of [...byTokens.keys()].sort((a, b) => b - a)) out.push({ rows: byTokens.get(t) as number[], first, tokens: t });
  }
  return out;
}

/** Entries per layer from per-(layer, KV head) counts; every head of a layer must keep as many. */
function layerCounts(counts: ArrayLike<number>, nKvHeads: number): number[] {
  const out: number[] = [];
  for (let l = 0; l * nKvHeads < counts.length; l++) {
    for (let g = 1; g < nKvHeads; g++) {
      if (counts[l * nKvHeads + g] !== counts[l * nKvHeads]) {
        throw new KvImportError(
          "SHAPE_MISMATCH",
          `layer ${l} keeps different entry counts per KV head; the sparse format needs one count per layer`,
        );
      }
    }
    out.push(counts[l * nKvHeads]);
  }
  return out;
}

/** Hash of sparse block `index` of the selection keyed `key` (16 bytes, request-derived). */
export function selectionBlockHash(key: Uint8Array, index: number): Uint8Array {
  const i = Buffer.alloc(4);
  i.writeUInt32LE(index);
  return new Uint8Array(createHash("sha256").update("kvtier-selection-v1").update(key).update(i).digest().subarray(0, BLOCK_HASH_BYTES));
}

/** Per (layer, KV head) row, its entries' pre-RoPE keys and values, each [count][headDim]. */
export interface RowEntries {
  k: Float32Array[];
  v: Float32Array[];
}

/** Encode rows' entries (keys pre-RoPE) as sparse blocks in `codec` (an id or an alias). */
export function encodeSelectionBlocks(
  model: LlamaModel,
  blockSize: number,
  counts: ArrayLike<number>,
  rows: RowEntries,
  codec: string,
  key: Uint8Array,
): Uint8Array[] {
  const { headDim: d, nKvHeads: G } = model.config;
  return sparseLayout(layerCounts(counts, G), blockSize).map((b, index) => {
    const k = new Float32Array(b.rows.length * b.tokens * G * d);
    const v = new Float32Array(b.rows.length * b.tokens * G * d);
    b.rows.forEach((l, i) => {
      for (let t = 0; t < b.tokens; t++) {
        for (let g = 0; g < G; g++) {
          const dst = ((i * b.tokens + t) * G + g) * d;
          const src = (b.first + t) * d;
          k.set(rows.k[l * G + g].subarray(src, src + d), dst);
          v.set(rows.v[l * G + g].subarray(src, src + d), dst);
        }
      }
    });
    const shape = {
      modelId: model.modelId,
      codec: resolveCodecId(codec),
      nLayers: b.rows.length,
      nKvHeads: G,
      headDim: d,
      tokens: b.tokens,
      blockSize,
      blockHash: selectionBlockHash(key, index),
    };
    return encodeKvBlock(shape, k, v);
  });
}

/**
 * Verify (checksum included) and decode sparse blocks back into rows' entries. Every block must
 * be the model's, in `codec`, and have exactly the shape the counts imply (KvImportError if not).
 */
export function decodeSelectionBlocks(
  model: LlamaModel,
  blockSize: number,
  counts: ArrayLike<number>,
  codec: string,
  blocks: readonly Uint8Array[],
): RowEntries {
  const { headDim: d, nKvHeads: G } = model.config;
  const layout = sparseLayout(layerCounts(counts, G), blockSize);
  if (blocks.length !== layout.length)
    throw new KvImportError("SHAPE_MISMATCH", `selection needs ${layout.length} sparse blocks, got ${blocks.length}`);
  const rows: RowEntries = { k: [], v: [] };
  for (let r = 0; r < counts.length; r++) {
    rows.k.push(new Float32Array(counts[r] * d));
    rows.v.push(new Float32Array(counts[r] * d));
  }
  layout.forEach((b, index) => {
    const { header: h, k, v } = decodeKvBlock(blocks[index]);
    if (h.modelId !== model.modelId)
      throw new KvImportError("MODEL_MISMATCH", `sparse block ${index} is of model "${h.modelId}", this engine runs "${model.modelId}"`);
    const got = `layers=${h.nLayers} heads=${h.nKvHeads} headDim=${h.headDim} tokens=${h.tokens} blockSize=${h.blockSize} codec=${h.codec}`;
    const want = `layers=${b.rows.length} heads=${G} headDim=${d} tokens=${b.tokens} blockSize=${blockSize} codec=${resolveCodecId(codec)}`;
    if (got !== want) throw new KvImportError("SHAPE_MISMATCH", `sparse block ${index} has ${got}, expected ${want}`);
    b.rows.forEach((l, i) => {
      for (let t = 0; t < b.tokens; t++) {
        for (let g = 0; g < G; g++) {
          const src = ((i * b.tokens + t) * G + g) * d;
          const dst = (b.first + t) * d;
          rows.k[l * G + g].set(k.subarray(src, src + d), dst);
          rows.v[l * G + g].set(v.subarray(src, src + d), dst);
        }
      }
    });
  });
  return rows;
}
