// One batched Llama forward over arbitrary rows (tokens of any sequences at any positions).
import { AttentionScratch } from "./kernels/attention-scratch.js";
import { attendRow, type AttentionObserver } from "./kernels/attention.js";
import { addInPlace, matmulRows, rmsNormRows, swiGlu } from "./kernels/math-kernels.js";
import type { RopeTable } from "./kernels/rope.js";
import type { KvPool, SequencePages } from "./kv-pool.js";
import type { LlamaModel } from "./llama-model.js";
import { writeTokenTransformed } from "./kv-transformed-write.js";
import type { KvWriteTransform } from "./kv-write-transform.js";
import { SelectedAttention } from "./selected-attention.js";

/** One token to run: its sequence (pages already allocated), position and id. */
export interface ForwardRow {
  seqId: string;
  seq: SequencePages;
  pos: number;
  token: number;
}

/**
 * Runs rows through all layers. Every kernel is row-wise with a fixed reduction order, so a row's
 * output is the same whether it runs alone, in a prefill chunk, or in a decode batch. Rows of the
 * same sequence must be in position order: each layer writes all rows' K/V before any row attends.
 */
export class ForwardPass {
  private readonly model: LlamaModel;
  private readonly pool: KvPool;
  private readonly rope: RopeTable;
  private readonly attn = new AttentionScratch();
  private readonly selected: SelectedAttention;
  private capacity = 0;
  private x = new Float32Array(0);
  private xb = new Float32Array(0);
  private xb2 = new Float32Array(0);
  private q = new Float32Array(0);
  private k = new Float32Array(0);
  private v = new Float32Array(0);
  private hb = new Float32Array(0);
  private hb2 = new Float32Array(0);
  private logits = new Float32Array(0);
  /** Optional hook receiving attention probabilities (costs a call per row, layer and head). */
  observer: AttentionObserver | null = null;
  /** Optional rewrite of K/V as they are written (quality harness); null keeps the plain path. */
  kvTransform: KvWriteTransform | null = null;

  constructor(model: LlamaModel, pool: KvPool, rope: RopeTable) {
    this.model = model;
    this.pool = pool;
    this.rope = rope;
    this.attn.ensure(model.config.seqLen, model.config.headDim);
    const { nHeads, nKvHeads, headDim, seqLen } = model.config;
    this.selected = new SelectedAttention(pool, { nHeads, nKvHeads, headDim }, seqLen, this.attn);
  }

  /** Run `rows`; returns fresh logits for the rows listed in `logitRows`, in that order. */
  run(rows: readonly ForwardRow[], logitRows: readonly number[]): Float32Array[] {
    const { dim, hiddenDim, nLayers, nHeads, nKvHeads, headDim, vocabSize } = this.model.config;
    const kvd = nKvHeads * headDim;
    const w = this.model.weights;
    const n = rows.length;
    this.ensure(n);
    const { x, xb, xb2, q, k, v, hb, hb2 } = this;
    for (let r = 0; r < n; r++) x.set(w.tokenEmbedding.subarray(rows[r].token * dim, (rows[r].token + 1) * dim), r * dim);
    const shape = { nHeads, nKvHeads, headDim };
    const offsets = this.attn.offsets;

    for (let l = 0; l < nLayers; l++) {
      const lw = w.layers[l];
      rmsNormRows(xb, x, lw.rmsAtt, n, dim);
      matmulRows(q, xb, lw.wq, n, dim, dim);
      matmulRows(k, xb, lw.wk, n, dim, kvd);
      matmulRows(v, xb, lw.wv, n, dim, kvd);
      for (let r = 0; r < n; r++) {
        const { seq, pos } = rows[r];
        const offset = this.pool.tokenOffset(seq, pos);
        const transform = seq.kvTransform ?? this.kvTransform;
        if (transform === null) this.pool.writeToken(l, offset, pos, k, r * kvd, v, r * kvd);
        else writeTokenTransformed(this.pool, transform, l, seq, pos, k, v, r * kvd);
        this.rope.rotate(q, r * dim, q, r * dim, nHeads, pos);
        const selection = seq.policy?.selection;
        if (selection) this.selected.append(selection, l, offset, pos);
      }
      for (let r = 0; r < n; r++) {
        const { seq, pos, seqId } = rows[r];
        const observer = this.observer;
        const selection = seq.policy?.selection;
        if (selection) {
          this.selected.attend({ seqId, seq, selection, pos }, l, q, r * dim, xb, r * dim, observer);
          continue;
        }
        for (let t = 0; t <= pos; t++) offsets[t] = this.pool.tokenOffset(seq, t);
        const collector = seq.policy?.collector ?? null;
        const collect = collector !== null && collector.wants(pos) ? collector : null;
        const observe =
          observer === null && collect === null
            ? undefined
            : (head: number, probs: Float64Array) => {
                collect?.observe(l, head, pos, probs);
                observer?.({ seqId, position: pos, layer: l, head, probs });
              };
        attendRow(xb, r * dim, q, r * dim, this.pool.keysRot[l], this.pool.values[l], offsets, pos + 1, shape, this.attn, observe);
      }
      matmulRows(xb2, xb, lw.wo, n, dim, dim);
      addInPlace(x, xb2, n * dim);
      rmsNormRows(xb, x, lw.rmsFfn, n, dim);
      matmulRows(hb, xb, lw.w1, n, dim, hiddenDim);
      matmulRows(hb2, xb, lw.w3, n, dim, hiddenDim);
      swiGlu(hb, hb2, n * hiddenDim);
      matmulRows(xb, hb, lw.w2, n, hiddenDim, dim);
      addInPlace(x, xb, n * dim);
    }

    const m = logitRows.length;
    if (m === 0) return [];
    for (let i = 0; i < m; i++) xb.set(x.subarray(logitRows[i] * dim, (logitRows[i] + 1) * dim), i * dim);
    rmsNormRows(xb, xb, w.rmsFinal, m, dim);
    if (this.logits.length < m * vocabSize) this.logits = new Float32Array(m * vocabSize);
    matmulRows(this.logits, xb, w.classifier, m, dim, vocabSize);
    return Array.from({ length: m }, (_, i) => this.logits.slice(i * vocabSize, (i + 1) * vocabSize));
  }

  private ensure(rows: number): void {
    if (rows <= this.capacity) return;
    const { dim, hiddenDim, nKvHeads, headDim } = this.model.config;
    this.capacity = rows;
    this.x = new Float32Array(rows * dim);
    this.xb = new Float32Array(rows * dim);
    this.xb2 = new Float32Array(rows * dim);
    this.q = new Float32Array(rows * dim);
    this.k = new Float32Array(rows * nKvHeads * headDim);
    this.v = new Float32Array(rows * nKvHeads * headDim);
    this.hb = new Float32Array(rows * hiddenDim);
    this.hb2 = new Float32Array(rows * hiddenDim);
  }
}
