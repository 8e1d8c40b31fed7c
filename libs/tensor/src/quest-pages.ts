// Quest's pages fetched on demand (DESIGN.md section 5): the prompt's KV split into pages of one
// (block, layer, KV head) each, stored as ordinary one-layer one-head KV blocks under
// request-derived hashes, with every page's per-channel min/max of the rotated keys (the page
// metadata) handed off beside them. The decode side imports only the metadata (and the partial
// tail block); attention asks its QuestPageTable for the pages Quest selects, which fetches the
// missing ones once through a synchronous QuestPageSource and writes them into the sequence's own
// pool pages. A page is (block, layer, head), not a whole block: the 4 KV heads of 5 layers each
// select their own pages, and whole blocks would cover most of the prompt at the first token.
import { getCodec, resolveCodecId } from "./codecs/codec-registry.js";
import { EngineError } from "./engine-error.js";
import type { RopeTable } from "./kernels/rope.js";
import { decodeKvBlock, encodeKvBlock } from "./kv-block.js";
import type { KvPool, SequencePages } from "./kv-pool.js";
import type { LlamaModel } from "./llama-model.js";
import type { QuestPageCache, QuestPageRef } from "./quest-page-cache.js";
import { selectionBlockHash } from "./selection-transfer.js";

/**
 * Fetches pages for a sequence, synchronously (the engine's attention is synchronous per layer):
 * the encoded page objects in the order asked, or an error text when any cannot be had.
 */
export type QuestPageSource = (seqId: string, pages: QuestPageRef[]) => { pages: Uint8Array[] } | { error: string };

/** Page metadata of a prompt handed to the decode side (wire: QuestPages). */
export interface QuestPagesMeta {
  /** Canonical policy spec ("quest@25"). */
  policy: string;
  promptTokens: number;
  /** Per full block, layer and KV head: headDim channel minima then headDim maxima of the rotated keys. */
  bounds: Float32Array;
}

/** What the prefill side hands off: the metadata and every page object, in page-index order. */
export interface QuestPagesExport {
  meta: QuestPagesMeta;
  pages: Uint8Array[];
}

/** Index of a page among a prompt's pages (block-major, then layer, then KV head): its hash is selectionBlockHash(key, index). */
export function questPageIndex(ref: QuestPageRef, nLayers: number, nKvHeads: number): number {
  return (ref.block * nLayers + ref.layer) * nKvHeads + ref.head;
}

/** The 16-byte hash a page is stored under, from the request's 16-byte page key. */
export function questPageHash(key: Uint8Array, index: number): Uint8Array {
  return selectionBlockHash(key, index);
}

/**
 * Whether `codec` encodes each KV head independently (a head's page decodes to the same values as
 * that head's slice of the whole block). Codecs whose groups span heads (int4, KIVI values) do not:
 * their pages would not be exact, so Quest requests in them take the dense hand-off.
 */
export function codecSeparatesHeads(codec: string, nKvHeads: number, headDim: number, blockSize: number): boolean {
  const c = getCodec(resolveCodecId(codec));
  const channels = nKvHeads * headDim;
  const src = new Float32Array(blockSize * channels);
  // heads of very different magnitudes, so any scale shared across heads shows
  for (let i = 0; i < src.length; i++) src[i] = Math.sin(i * 0.7) * 10 ** ((i % channels) / headDim - 1);
  const seg = (heads: number, kind: "k" | "v") => ({ kind, tokens: blockSize, nKvHeads: heads, headDim });
  try {
    for (const kind of ["k", "v"] as const) {
      const whole = new Float32Array(src.length);
      const bytes = new Uint8Array(c.bytesFor(src.length, seg(nKvHeads, kind)));
      c.encode(src, bytes, seg(nKvHeads, kind));
      c.decode(bytes, whole, seg(nKvHeads, kind));
      for (let g = 0; g < nKvHeads; g++) {
        const one = new Float32Array(blockSize * headDim);
        for (let t = 0; t < blockSize; t++)
          one.set(src.subarray(t * channels + g * headDim, t * channels + (g + 1) * headDim), t * headDim);
        const b = new Uint8Array(c.bytesFor(one.length, seg(1, kind)));
        const back = new Float32Array(one.length);
        c.encode(one, b, seg(1, kind));
        c.decode(b, back, seg(1, kind));
        for (let t = 0; t < blockSize; t++) {
          for (let i = 0; i < headDim; i++) if (!Object.is(back[t * headDim + i], whole[t * channels + g * headDim + i])) return false;
        }
      }
    }
  } catch {
    return false;
  }
  return true;
}

/**
 * Prefill side: every page of the sequence's full prompt blocks in `codec`, and their metadata,
 * computed from the pages as the decode side will hold them (decoded, then rotated at their
 * positions), so the decode side selects exactly as it would over the dense prompt.
 */
export function exportQuestPages(
  model: LlamaModel,
  pool: KvPool,
  rope: RopeTable,
  seq: SequencePages,
  policy: string,
  codec: string,
  key: Uint8Array,
): QuestPagesExport {
  const { nLayers, nKvHeads, headDim } = model.config;
  const bs = pool.blockSize;
  const full = Math.floor(seq.length / bs);
  const bounds = new Float32Array(full * nLayers * nKvHeads * 2 * headDim);
  const pages: Uint8Array[] = [];
  const k = new Float32Array(bs * headDim);
  const v = new Float32Array(bs * headDim);
  const rot = new Float32Array(headDim);
  for (let b = 0; b < full; b++) {
    for (let l = 0; l < nLayers; l++) {
      for (let g = 0; g < nKvHeads; g++) {
        for (let t = 0; t < bs; t++) {
          const off = pool.tokenOffset(seq, b * bs + t) + g * headDim;
          k.set(pool.keysPre[l].subarray(off, off + headDim), t * headDim);
          v.set(pool.values[l].subarray(off, off + headDim), t * headDim);
        }
        const index = questPageIndex({ block: b, layer: l, head: g }, nLayers, nKvHeads);
        const page = encodeKvBlock(
          {
            modelId: model.modelId,
            codec,
            nLayers: 1,
            nKvHeads: 1,
            headDim,
            tokens: bs,
            blockSize: bs,
            blockHash: questPageHash(key, index),
          },
          k,
          v,
        );
        pages.push(page);
        const decoded = decodeKvBlock(page).k;
        const at = index * 2 * headDim;
        bounds.fill(Infinity, at, at + headDim).fill(-Infinity, at + headDim, at + 2 * headDim);
        for (let t = 0; t < bs; t++) {
          rope.rotate(decoded, t * headDim, rot, 0, 1, b * bs + t);
          for (let i = 0; i < headDim; i++) {
            if (rot[i] < bounds[at + i]) bounds[at + i] = rot[i];
            if (rot[i] > bounds[at + headDim + i]) bounds[at + headDim + i] = rot[i];
          }
        }
      }
    }
  }
  return { meta: { policy, promptTokens: seq.length, bounds }, pages };
}

/**
 * A Quest sequence's page cache: which (block, layer, head) pages of its prompt are in its pool
 * pages, fetching the missing ones through the engine's source. Bounded by the prompt (the pages
 * are the sequence's own, reserved with it); a page is fetched at most once. A failed fetch marks
 * the sequence broken: it never attends over missing data again, and its logits are NaN.
 */
export class QuestPageTable implements QuestPageCache {
  /** Pages fetched so far. */
  fetchedPages = 0;
  /** Why a fetch failed, or null. */
  broken: string | null = null;
  private readonly resident: Uint8Array;
  private readonly nLayers: number;
  private readonly nKvHeads: number;

  constructor(
    private readonly seqId: string,
    private readonly seq: SequencePages,
    private readonly model: LlamaModel,
    private readonly pool: KvPool,
    private readonly rope: RopeTable,
    private readonly source: QuestPageSource,
    candidateBlocks: number,
    residentBlocks: number,
  ) {
    this.nLayers = model.config.nLayers;
    this.nKvHeads = model.config.nKvHeads;
    this.resident = new Uint8Array(candidateBlocks * this.nLayers * this.nKvHeads);
    this.resident.fill(1, 0, residentBlocks * this.nLayers * this.nKvHeads);
  }

  /** Whether page (block, layer, head) is in the pool. */
  has(block: number, layer: number, head: number): boolean {
    return this.resident[questPageIndex({ block, layer, head }, this.nLayers, this.nKvHeads)] === 1;
  }

  /** Fetch the pages of `refs` not yet resident, in one source call; false if that failed (the table is then broken). */
  ensure(refs: QuestPageRef[]): boolean {
    if (this.broken !== null) return false;
    const missing = refs.filter((r) => !this.has(r.block, r.layer, r.head));
    if (missing.length === 0) return true;
    const got = this.source(this.seqId, missing);
    try {
      if ("error" in got) throw new Error(got.error);
      if (got.pages.length !== missing.length) throw new Error(`${got.pages.length} of ${missing.length} quest pages returned`);
      missing.forEach((ref, i) => this.write(ref, got.pages[i]));
    } catch (err) {
      this.broken = err instanceof Error ? err.message : String(err);
      return false;
    }
    this.fetchedPages += missing.length;
    return true;
  }

  private write(ref: QuestPageRef, bytes: Uint8Array): void {
    const { headDim } = this.model.config;
    const bs = this.pool.blockSize;
    const { header, k, v } = decodeKvBlock(bytes);
    if (
      header.modelId !== this.model.modelId ||
      header.nLayers !== 1 ||
      header.nKvHeads !== 1 ||
      header.headDim !== headDim ||
      header.tokens !== bs ||
      header.blockSize !== bs
    ) {
      throw new EngineError(
        "INVALID_ARGUMENT",
        `quest page (block ${ref.block}, layer ${ref.layer}, head ${ref.head}) has the wrong shape or model`,
      );
    }
    const l = ref.layer;
    for (let t = 0; t < bs; t++) {
      const off = this.pool.tokenOffset(this.seq, ref.block * bs + t) + ref.head * headDim;
      this.pool.keysPre[l].set(k.subarray(t * headDim, (t + 1) * headDim), off);
      this.pool.values[l].set(v.subarray(t * headDim, (t + 1) * headDim), off);
      // the page's bounds came with the metadata: the pool's are not widened here
      this.rope.rotate(this.pool.keysPre[l], off, this.pool.keysRot[l], off, 1, ref.block * bs + t);
    }
    this.resident[questPageIndex(ref, this.nLayers, this.nKvHeads)] = 1;
  }
}
