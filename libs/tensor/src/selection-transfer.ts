// The sparse per-request transfer format of a compressed prompt: every (layer, KV head) "row"
// carries its kept entries (pre-RoPE key and value) in position order, packed into ordinary KV
// blocks (layout v1, any codec) so the kvstore stores, verifies and serves them like any other
// block, under request-derived hashes no prefix chain can produce. Block j-th slot range holds
// entries [j * blockSize, (j + 1) * blockSize) of every row that has them, with the block's
// "layers" being those rows, one KV head each; rows ending mid-range go to one block per
// distinct remainder. Positions (and H2O scores) travel beside the blocks (SelectionMeta).
import { createHash } from 'node:crypto';
import { resolveCodecId } from './codecs/codec-registry.js';
import { KvImportError } from './engine-error.js';
import { decodeKvBlock, encodeKvBlock, KV_BLOCK_HASH_BYTES } from './kv-block.js';
import type { LlamaModel } from './llama-model.js';

/** Which rows and which entry range one sparse block holds. */
export interface SparseBlockLayout {
  /** Row indices (layer * nKvHeads + kvHead), ascending. */
  rows: number[];
  /** First entry index of the range. */
  first: number;
  /** Entries per row in this block. */
  tokens: number;
}

/** The blocks a set of per-row entry counts packs into, in transfer order. */
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

/** Hash of sparse block `index` of the selection keyed `key` (16 bytes, request-derived). */
export function selectionBlockHash(key: Uint8Array, index: number): Uint8Array {
  const i = Buffer.alloc(4);
  i.writeUInt32LE(index);
  return new Uint8Array(createHash('sha256').update('kvtier-selection-v1').update(key).update(i).digest().subarray(0, KV_BLOCK_HASH_BYTES));
}

/** Per row, its entries' pre-RoPE keys and values, each [count][headDim]. */
export interface RowEntries {
  k: Float32Array[];
  v: Float32Array[];
}

/** Encode rows' entries (keys pre-RoPE) as sparse blocks in `codec` (an id or an alias). */
export function encodeSelectionBlocks(model: LlamaModel, blockSize: number, counts: ArrayLike<number>, rows: RowEntries, codec: string, key: Uint8Array): Uint8Array[] {
  const d = model.config.headDim;
  return sparseLayout(counts, blockSize).map((b, index) => {
    const k = new Float32Array(b.rows.length * b.tokens * d);
    const v = new Float32Array(b.rows.length * b.tokens * d);
    b.rows.forEach((r, i) => {
      k.set(rows.k[r].subarray(b.first * d, (b.first + b.tokens) * d), i * b.tokens * d);
      v.set(rows.v[r].subarray(b.first * d, (b.first + b.tokens) * d), i * b.tokens * d);
    });
    const shape = { modelId: model.modelId, codec: resolveCodecId(codec), nLayers: b.rows.length, nKvHeads: 1, headDim: d, tokens: b.tokens, blockSize, blockHash: selectionBlockHash(key, index) };
    return encodeKvBlock(shape, k, v);
  });
}

/**
 * Verify (checksum included) and decode sparse blocks back into rows' entries. Every block must
 * be the model's, in `codec`, and have exactly the shape the counts imply (KvImportError if not).
 */
export function decodeSelectionBlocks(model: LlamaModel, blockSize: number, counts: ArrayLike<number>, codec: string, blocks: readonly Uint8Array[]): RowEntries {
  const d = model.config.headDim;
  const layout = sparseLayout(counts, blockSize);
  if (blocks.length !== layout.length) throw new KvImportError('SHAPE_MISMATCH', `selection needs ${layout.length} sparse blocks, got ${blocks.length}`);
  const rows: RowEntries = { k: [], v: [] };
  for (let r = 0; r < counts.length; r++) {
    rows.k.push(new Float32Array(counts[r] * d));
    rows.v.push(new Float32Array(counts[r] * d));
  }
  layout.forEach((b, index) => {
    const { header: h, k, v } = decodeKvBlock(blocks[index]);
    if (h.modelId !== model.modelId) throw new KvImportError('MODEL_MISMATCH', `sparse block ${index} is of model "${h.modelId}", this engine runs "${model.modelId}"`);
    const got = `rows=${h.nLayers} heads=${h.nKvHeads} headDim=${h.headDim} tokens=${h.tokens} blockSize=${h.blockSize} codec=${h.codec}`;
    const want = `rows=${b.rows.length} heads=1 headDim=${d} tokens=${b.tokens} blockSize=${blockSize} codec=${resolveCodecId(codec)}`;
    if (got !== want) throw new KvImportError('SHAPE_MISMATCH', `sparse block ${index} has ${got}, expected ${want}`);
    b.rows.forEach((r, i) => {
      rows.k[r].set(k.subarray(i * b.tokens * d, (i + 1) * b.tokens * d), b.first * d);
      rows.v[r].set(v.subarray(i * b.tokens * d, (i + 1) * b.tokens * d), b.first * d);
    });
  });
  return rows;
}
