// LlamaEngine: the synchronous reference engine (paged KV pool, chunked prefill, continuous batching, KV import/export).
import { EngineError, KvImportError } from "./engine-error.js";
import { ForwardPass, type ForwardRow } from "./forward.js";
import type { AttentionObserver } from "./kernels/attention.js";
import { RopeTable } from "./kernels/rope.js";
import { checkShareable, EngineSelection, type SelectionExport, type SelectionMeta } from "./engine-selection.js";
import { codecWriteTransform } from "./codecs/codec-transform.js";
import { getCodec } from "./codecs/codec-registry.js";
import { decodeBlocksForImport, exportSequenceBlock, writeBlocks } from "./kv-block-transfer.js";
import { KvPool, type KvCacheListener, type SequencePages } from "./kv-pool.js";
import { residualTokensOf, rewritesLater, type KvWriteTransform } from "./kv-write-transform.js";
import type { LlamaModel } from "./llama-model.js";
import { checkModelConfig } from "./model-config.js";
import type { QuestPageSource, QuestPagesExport, QuestPagesMeta } from "./quest-pages.js";
import type { SelectionSummary } from "./sequence-selection.js";

/** Prefill chunk size when none is given, in tokens. */
const DEFAULT_PREFILL_CHUNK_TOKENS = 64;

/** Engine construction options. */
export interface LlamaEngineOptions {
  /** Tokens per KV page and per shared block. */
  blockSize: number;
  /** KV pages in the device pool. */
  capacityBlocks: number;
  /** Tokens per batched prefill forward. @default DEFAULT_PREFILL_CHUNK_TOKENS */
  prefillChunkTokens?: number;
  /**
   * Rewrite K (pre-RoPE) and V as they are written, e.g. a codec's quantize-dequantize for the
   * quality harness. A `block` transform makes prefill run one token per forward. @default none
   */
  kvTransform?: KvWriteTransform;
}

/** Per-call prefill options. */
export interface PrefillOptions {
  /** Tokens per batched forward; any value gives bit-identical results. @default the engine's */
  chunkTokens?: number;
}

/** One sequence's next token in a decode batch. */
export interface DecodeRequest {
  seqId: string;
  token: number;
}

/** A Llama forward pass over a paged KV pool. Synchronous: run it off the event loop (EngineHost). */
export class LlamaEngine {
  readonly model: LlamaModel;
  readonly blockSize: number;
  private readonly pool: KvPool;
  private readonly forward: ForwardPass;
  private readonly selection: EngineSelection;
  private readonly chunkTokens: number;
  private questPageSource: QuestPageSource | null = null;

  constructor(model: LlamaModel, opts: LlamaEngineOptions) {
    checkModelConfig(model.config);
    this.model = model;
    this.blockSize = opts.blockSize;
    this.chunkTokens = opts.prefillChunkTokens ?? DEFAULT_PREFILL_CHUNK_TOKENS;
    checkPositive("prefillChunkTokens", this.chunkTokens);
    const { nLayers, nKvHeads, headDim, seqLen } = model.config;
    const rope = new RopeTable(headDim, seqLen);
    this.pool = new KvPool({ nLayers, nKvHeads, headDim, blockSize: opts.blockSize, capacityBlocks: opts.capacityBlocks }, rope);
    this.forward = new ForwardPass(model, this.pool, rope);
    this.forward.kvTransform = opts.kvTransform ?? null;
    this.selection = new EngineSelection(model, this.pool, rope);
  }

  /** Pages that can still be reserved: free plus unreferenced cached (evictable) pages. */
  get freeBlocks(): number {
    return this.pool.availableBlocks;
  }

  /** Pages in the prefix cache. */
  get cachedBlocks(): number {
    return this.pool.cachedBlocks;
  }

  /** Called with block hashes that entered the device-tier cache. Returns an unsubscribe function. */
  onStored(listener: KvCacheListener): () => void {
    return this.pool.onStored(listener);
  }

  /** Called with block hashes evicted from the device-tier cache. Returns an unsubscribe function. */
  onRemoved(listener: KvCacheListener): () => void {
    return this.pool.onRemoved(listener);
  }

  /** Opt in (or out, with null) to attention probabilities of every row, layer and head. */
  setAttentionObserver(observer: AttentionObserver | null): void {
    this.forward.observer = observer;
  }

  /** Start an empty sequence; throws DUPLICATE_SEQUENCE if the id is open. */
  openSequence(seqId: string): void {
    this.pool.openSequence(seqId);
  }

  /**
   * Give an empty sequence the residual window of `codec` (KIVI: its last 128 positions stay as
   * computed, older ones are quantize-dequantized as they leave the window, as a single-process
   * engine with codecWriteTransform holds them). Returns the window in tokens; 0 (nothing set)
   * for codecs without one. Throws UNKNOWN_CODEC, or INVALID_ARGUMENT for a non-empty sequence.
   */
  setResidualCodec(seqId: string, codec: string): number {
    const seq = this.pool.sequence(seqId);
    if (seq.length !== 0) throw new EngineError("INVALID_ARGUMENT", `sequence ${seqId} is not empty: its residual codec must be set first`);
    const { nKvHeads, headDim } = this.model.config;
    const transform = codecWriteTransform(codec, { nKvHeads, headDim });
    const window = residualTokensOf(transform);
    seq.kvTransform = window > 0 ? transform : null;
    return window;
  }

  /** Release the sequence's pages; its cached full pages stay cached, subject to LRU eviction. */
  closeSequence(seqId: string): void {
    this.pool.closeSequence(seqId);
  }

  /** Tokens whose KV the sequence holds. */
  length(seqId: string): number {
    return this.pool.sequence(seqId).length;
  }

  /** Leading tokens whose KV is exact (SequencePages.exactTokens): what may be shared under the tokens' block hashes. */
  exactTokens(seqId: string): number {
    return this.pool.sequence(seqId).exactTokens;
  }

  /** Hold pages for the sequence to reach `totalTokens`; false (nothing reserved) if the pool cannot. */
  reserve(seqId: string, totalTokens: number): boolean {
    const seq = this.pool.sequence(seqId);
    this.checkContext(totalTokens);
    return this.withEvents(() => this.pool.tryGrow(seq, totalTokens));
  }

  /** For an empty sequence, share the longest leading run of cached blocks; returns blocks attached. */
  attachCached(seqId: string, hashes: Uint8Array[]): number {
    const seq = this.pool.sequence(seqId);
    const maxBlocks = Math.floor(this.model.config.seqLen / this.blockSize);
    return this.pool.attachCached(seq, hashes.slice(0, maxBlocks));
  }

  /** Append tokens (in batched chunks) and return the last token's logits. */
  prefill(seqId: string, tokens: number[], opts?: PrefillOptions): Float32Array {
    const all = this.runPrefill(seqId, tokens, opts, false);
    return all[all.length - 1];
  }

  /** Like prefill, but returns the logits after every token (perplexity, equivalence tests). */
  prefillWithLogits(seqId: string, tokens: number[], opts?: PrefillOptions): Float32Array[] {
    return this.runPrefill(seqId, tokens, opts, true);
  }

  /** One token for each of several sequences in one batched forward; returns each row's logits. */
  decodeStep(batch: DecodeRequest[]): Float32Array[] {
    if (batch.length === 0) return [];
    const seen = new Set<string>();
    const rows: ForwardRow[] = batch.map(({ seqId, token }) => {
      if (seen.has(seqId)) throw new EngineError("INVALID_ARGUMENT", `sequence ${seqId} appears twice in one decode batch`);
      seen.add(seqId);
      this.checkToken(token);
      const seq = this.pool.sequence(seqId);
      this.checkContext(seq.length + 1);
      return { seqId, seq, pos: seq.length, token };
    });
    const need = rows.reduce((sum, r) => sum + this.pool.pagesNeeded(r.seq, r.pos + 1), 0);
    if (need > this.pool.availableBlocks) {
      throw new EngineError("POOL_EXHAUSTED", `decode batch needs ${need} new KV pages, ${this.pool.availableBlocks} available`);
    }
    return this.withEvents(() => {
      for (const r of rows) this.pool.tryGrow(r.seq, r.pos + 1);
      const exact = rows.map((r) => this.extendsExactly(r.seq));
      const logits = this.forward.run(
        rows,
        rows.map((_, i) => i),
      );
      rows.forEach((r, i) => {
        r.seq.length++;
        if (exact[i]) r.seq.exactTokens = r.seq.length;
        // a quest sequence that could not fetch a selected page attended over less than it should
        if (r.seq.policy?.selection?.quest?.pages?.broken != null) logits[i].fill(NaN);
      });
      return logits;
    });
  }

  /**
   * Enter full blocks [firstBlock, firstBlock + hashes.length) into the prefix cache under these
   * hashes. With a residual window (KIVI), blocks not yet wholly out of the window stay private
   * (they are still to be rewritten): only the leading ones that have left it are entered. A
   * sequence given a residual codec (setResidualCodec) enters none: its pages are codec-rewritten.
   */
  registerBlocks(seqId: string, firstBlock: number, hashes: Uint8Array[]): void {
    const seq = this.pool.sequence(seqId);
    this.checkFullBlocks(seq, firstBlock, hashes.length);
    // a sequence with its own codec transform (serving) holds codec-rewritten KV, and the device
    // cache is keyed by block hash alone, shared by requests of every codec: it enters nothing
    if (seq.kvTransform !== null) return;
    // only exact KV enters the cache: requests of every codec share it, an fp32 one included
    const settled = Math.floor(Math.min(seq.length - residualTokensOf(this.transformOf(seq)), seq.exactTokens) / this.blockSize);
    const count = Math.max(0, Math.min(hashes.length, settled - firstBlock));
    this.withEvents(() => hashes.slice(0, count).forEach((hash, i) => this.pool.register(seq.pages[firstBlock + i], hash, i > 0)));
  }

  /**
   * Encode full blocks [firstBlock, firstBlock + count) with `codec`, keys pre-RoPE. With
   * `exactOnly`, only the leading ones whose KV is exact (see SequencePages.exactTokens): what may
   * be shared under the tokens' hashes.
   */
  exportBlocks(seqId: string, firstBlock: number, count: number, codec: string, hashes: Uint8Array[], exactOnly = false): Uint8Array[] {
    const seq = this.pool.sequence(seqId);
    if (hashes.length !== count) throw new EngineError("INVALID_ARGUMENT", `${count} blocks need ${count} hashes, got ${hashes.length}`);
    this.checkFullBlocks(seq, firstBlock, count);
    const bs = this.blockSize;
    const n = exactOnly ? Math.max(0, Math.min(count, Math.floor(seq.exactTokens / bs) - firstBlock)) : count;
    return hashes.slice(0, n).map((hash, i) => exportSequenceBlock(this.model, this.pool, seq, (firstBlock + i) * bs, bs, codec, hash));
  }

  /**
   * Encode the partial block that ends the sequence's first `length` tokens (a prompt's tail,
   * however far decoding has gone since: the hash names those tokens, so the block must hold
   * exactly them), or null when `length` is block-aligned.
   */
  exportTail(seqId: string, codec: string, hash: Uint8Array, length: number): Uint8Array | null {
    const seq = this.pool.sequence(seqId);
    if (!Number.isInteger(length) || length < 0 || length > seq.length) {
      throw new EngineError("INVALID_ARGUMENT", `tail end ${length} is outside the sequence (length ${seq.length})`);
    }
    const tail = length % this.blockSize;
    if (tail === 0) return null;
    const block = Math.floor(length / this.blockSize);
    checkShareable(seq, this.blockSize, block, block + 1);
    return exportSequenceBlock(this.model, this.pool, seq, length - tail, tail, codec, hash);
  }

  /**
   * Append verified blocks at the sequence's end, rotating keys at their new positions. All blocks are
   * checked (KvBlockError, KvImportError) and pages obtained before anything is written.
   */
  importBlocks(seqId: string, blocks: Uint8Array[]): void {
    const seq = this.pool.sequence(seqId);
    if (blocks.length === 0) return;
    if (seq.policy?.selection) throw new EngineError("INVALID_ARGUMENT", `sequence ${seqId} is compressed: blocks cannot be appended`);
    if (seq.length % this.blockSize !== 0) {
      throw new KvImportError("MISALIGNED", `sequence ${seqId} has ${seq.length} tokens, not a multiple of ${this.blockSize}`);
    }
    const decoded = decodeBlocksForImport(this.model, this.blockSize, blocks);
    const total = seq.length + decoded.reduce((sum, b) => sum + b.header.tokens, 0);
    this.checkContext(total);
    // a lossy codec's blocks (and all KV computed over them) are not the exact KV of their tokens
    const exact = this.extendsExactly(seq) && decoded.every((b) => getCodec(b.header.codec).lossless === true);
    this.withEvents(() => {
      if (!this.pool.tryGrow(seq, total)) {
        throw new EngineError("POOL_EXHAUSTED", `importing into ${seqId} needs ${this.pool.pagesNeeded(seq, total)} more KV pages`);
      }
      seq.length = writeBlocks(this.pool, seq, seq.length, decoded);
      if (exact) seq.exactTokens = seq.length;
    });
  }

  /**
   * Give an empty sequence a policy ("snapkv@25"; "" / "none" clears it) for a `promptTokens` prompt:
   * the prefill collects what it needs, {@link compress} applies it. Throws PolicyError on a bad spec.
   */
  setSelectionPolicy(seqId: string, policy: string, promptTokens: number): void {
    this.selection.setPolicy(this.pool.sequence(seqId), policy, promptTokens);
  }

  /**
   * Apply the policy to the prompt: per (layer, KV head) kept entries copied into private pages
   * (prompt pages released; shared ones stay cached), or Quest's per-query page selection. Blocks
   * of a compressed sequence are request-scoped: never exported or registered.
   */
  compress(seqId: string): SelectionSummary {
    return this.withEvents(() => this.selection.compress(this.pool.sequence(seqId)));
  }

  /** What the sequence's compression kept, or null if it is not compressed. */
  selectionSummary(seqId: string): SelectionSummary | null {
    return this.selection.summary(this.pool.sequence(seqId));
  }

  /** Sparse hand-off of a sequence compressed just now: meta plus blocks in `codec`, hashed from `key`. */
  exportSelection(seqId: string, codec: string, key: Uint8Array): SelectionExport {
    return this.selection.exportSparse(this.pool.sequence(seqId), codec, key);
  }

  /** Import a sparse hand-off into an empty (reserved) sequence; blocks are verified first. */
  importSelection(seqId: string, meta: SelectionMeta, codec: string, blocks: Uint8Array[]): SelectionSummary {
    return this.withEvents(() => this.selection.importSparse(this.pool.sequence(seqId), meta, codec, blocks));
  }

  /** Apply a compression computed elsewhere to a sequence holding its prompt densely. */
  applySelection(seqId: string, meta: SelectionMeta): SelectionSummary {
    return this.withEvents(() => this.selection.apply(this.pool.sequence(seqId), meta));
  }

  /** Where quest sequences imported with {@link importQuestPages} fetch their pages (synchronously, during attention). */
  setQuestPageSource(source: QuestPageSource | null): void {
    this.questPageSource = source;
  }

  /** Quest's page metadata and per-(block, layer, KV head) page objects of a quest sequence holding its prompt, uncompressed. */
  exportQuestPages(seqId: string, codec: string, key: Uint8Array): QuestPagesExport {
    return this.selection.exportQuestPages(this.pool.sequence(seqId), codec, key);
  }

  /**
   * Bring a sequence (empty, or holding attached cached blocks) to a quest prompt whose other full
   * blocks are fetched page by page on demand through the page source; `tail` is the partial
   * last block (null when the prompt is block-aligned). A sequence whose page fetch fails gets NaN logits.
   */
  importQuestPages(seqId: string, meta: QuestPagesMeta, tail: Uint8Array | null): SelectionSummary {
    const source = this.questPageSource;
    if (source === null) throw new EngineError("INVALID_ARGUMENT", "no quest page source is set");
    return this.withEvents(() => this.selection.importQuestPages(seqId, this.pool.sequence(seqId), meta, tail, source));
  }

  /** Quest pages fetched on demand so far by the sequence, its failure if one failed; null when it fetches none. */
  questPageStatus(seqId: string): { fetchedPages: number; broken: string | null } | null {
    const table = this.pool.sequence(seqId).policy?.selection?.quest?.pages;
    return table ? { fetchedPages: table.fetchedPages, broken: table.broken } : null;
  }

  private runPrefill(seqId: string, tokens: number[], opts: PrefillOptions | undefined, allLogits: boolean): Float32Array[] {
    const seq = this.pool.sequence(seqId);
    if (tokens.length === 0) throw new EngineError("INVALID_ARGUMENT", "prefill needs at least one token");
    const chunk = rewritesLater(this.transformOf(seq)) ? 1 : (opts?.chunkTokens ?? this.chunkTokens);
    checkPositive("chunkTokens", chunk);
    tokens.forEach((t) => this.checkToken(t));
    const total = seq.length + tokens.length;
    this.checkContext(total);
    return this.withEvents(() => {
      if (!this.pool.tryGrow(seq, total)) {
        throw new EngineError("POOL_EXHAUSTED", `prefill of ${seqId} needs ${this.pool.pagesNeeded(seq, total)} more KV pages`);
      }
      const exact = this.extendsExactly(seq);
      const out: Float32Array[] = [];
      for (let from = 0; from < tokens.length; from += chunk) {
        const n = Math.min(chunk, tokens.length - from);
        const rows: ForwardRow[] = [];
        for (let i = 0; i < n; i++) rows.push({ seqId, seq, pos: seq.length + i, token: tokens[from + i] });
        const last = from + n === tokens.length;
        const want = allLogits ? rows.map((_, i) => i) : last ? [n - 1] : [];
        out.push(...this.forward.run(rows, want));
        seq.length += n;
      }
      if (exact) seq.exactTokens = seq.length;
      return out;
    });
  }

  /**
   * Whether KV computed or imported next extends the sequence's exact prefix: it is exact up to
   * its end, and no codec of its own rewrites it. (An engine-wide transform, the quality
   * harness's, is every sequence's rule: its device cache stays consistent.)
   */
  private extendsExactly(seq: SequencePages): boolean {
    return seq.exactTokens === seq.length && seq.kvTransform === null;
  }

  private transformOf(seq: SequencePages): KvWriteTransform | null {
    return seq.kvTransform ?? this.forward.kvTransform;
  }

  private withEvents<T>(fn: () => T): T {
    try {
      return fn();
    } finally {
      this.pool.flushEvents();
    }
  }

  private checkFullBlocks(seq: SequencePages, firstBlock: number, count: number): void {
    if (!Number.isInteger(firstBlock) || firstBlock < 0 || !Number.isInteger(count) || count < 0) {
      throw new EngineError("INVALID_ARGUMENT", `bad block range ${firstBlock}+${count}`);
    }
    if ((firstBlock + count) * this.blockSize > seq.length) {
      throw new EngineError("INVALID_ARGUMENT", `blocks ${firstBlock}..${firstBlock + count - 1} are not all full (length ${seq.length})`);
    }
    checkShareable(seq, this.blockSize, firstBlock, firstBlock + count);
  }

  private checkToken(token: number): void {
    if (!Number.isInteger(token) || token < 0 || token >= this.model.config.vocabSize) {
      throw new EngineError("INVALID_ARGUMENT", `token ${token} outside vocabulary of ${this.model.config.vocabSize}`);
    }
  }

  private checkContext(tokens: number): void {
    if (tokens > this.model.config.seqLen) {
      throw new EngineError("CONTEXT_OVERFLOW", `${tokens} tokens exceed the model context of ${this.model.config.seqLen}`);
    }
  }
}

function checkPositive(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new EngineError("INVALID_ARGUMENT", `${name} must be a positive integer`);
}
