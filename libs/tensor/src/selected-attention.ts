// Attention of one row of a compressed sequence: each KV head reads its own kept entries
// (SnapKV family, H2O) or the pages Quest selects for this query, then H2O accumulates the
// attention each entry got and evicts down to its budget.
import type { AttentionScratch } from "./kernels/attention-scratch.js";
import type { AttentionObserver } from "./kernels/attention.js";
import { attendHeads, type AttentionShape } from "./kernels/head-attention.js";
import type { KvPool, SequencePages } from "./kv-pool.js";
import { h2oRecent, h2oVictim } from "./policies/h2o.js";
import { budgetTokens } from "./policies/policy-spec.js";
import { questPageBound, selectQuestPages } from "./policies/quest.js";
import type { HeadEntries, QuestSelection, SequenceSelection } from "./sequence-selection.js";

/** One query row of a compressed sequence. */
export interface SelectedRow {
  seqId: string;
  seq: SequencePages;
  selection: SequenceSelection;
  pos: number;
}

/** Runs selected attention; owns the per-head scratch lists Quest builds per query. */
export class SelectedAttention {
  private readonly pool: KvPool;
  private readonly shape: AttentionShape;
  private readonly scratch: AttentionScratch;
  private readonly lists: Int32Array[];
  private readonly positions: Int32Array[];
  private readonly counts: Int32Array;
  private bounds = new Float64Array(0);

  constructor(pool: KvPool, shape: AttentionShape, maxPositions: number, scratch: AttentionScratch) {
    this.pool = pool;
    this.shape = shape;
    this.scratch = scratch;
    this.lists = Array.from({ length: shape.nKvHeads }, () => new Int32Array(maxPositions));
    this.positions = Array.from({ length: shape.nKvHeads }, () => new Int32Array(maxPositions));
    this.counts = new Int32Array(shape.nKvHeads);
  }

  /** Record a token just written at `offset` (layer `layer`) as kept by every KV head of the layer. */
  append(selection: SequenceSelection, layer: number, offset: number, pos: number): void {
    if (selection.heads === null) return;
    const g0 = layer * this.shape.nKvHeads;
    for (let g = 0; g < this.shape.nKvHeads; g++) selection.heads[g0 + g].push(offset, pos);
  }

  /** Attend row `row` in `layer` with query q[qOff..] into out[outOff..]. */
  attend(
    row: SelectedRow,
    layer: number,
    q: Float32Array,
    qOff: number,
    out: Float32Array,
    outOff: number,
    observer: AttentionObserver | null,
  ): void {
    const { selection, pos } = row;
    const G = this.shape.nKvHeads;
    let heads: HeadEntries[] | null = null;
    let offsets: Int32Array[];
    let positions: Int32Array[];
    if (selection.heads !== null) {
      heads = selection.heads.slice(layer * G, (layer + 1) * G);
      offsets = heads.map((h) => h.offsets);
      positions = heads.map((h) => h.positions);
      heads.forEach((h, g) => (this.counts[g] = h.visible(pos)));
    } else {
      this.questLists(row, layer, q, qOff, selection.quest as QuestSelection);
      offsets = this.lists;
      positions = this.positions;
    }
    const kvMul = this.shape.nHeads / G;
    const observe =
      heads === null && observer === null
        ? undefined
        : (head: number, probs: Float64Array): void => {
            const g = (head / kvMul) | 0;
            const scores = heads?.[g].scores ?? null;
            if (scores !== null) for (let i = 0; i < probs.length; i++) scores[i] += probs[i];
            observer?.({ seqId: row.seqId, position: pos, layer, head, probs, positions: positions[g].subarray(0, probs.length) });
          };
    attendHeads(
      out,
      outOff,
      q,
      qOff,
      this.pool.keysRot[layer],
      this.pool.values[layer],
      offsets,
      this.counts,
      this.shape,
      this.scratch,
      observe,
    );
    if (heads !== null && selection.h2o !== null) {
      const budget = budgetTokens({ method: "h2o", budgetPercent: selection.h2o.budgetPercent }, pos + 1);
      const recent = h2oRecent(budget);
      heads.forEach((h, g) => {
        for (let visible = this.counts[g]; visible > budget; visible--) {
          const victim = h2oVictim(h.scores as Float64Array, visible, recent);
          if (victim < 0) break;
          h.removeAt(victim);
        }
      });
    }
  }

  /**
   * Quest: per KV head, the slots of the selected candidate pages, then every dense position up to
   * pos. With pages fetched on demand, the layer's missing selected pages are fetched in one call
   * before any is read; a sequence whose fetch failed attends only what it holds (its logits are
   * discarded: the engine returns NaN for it).
   */
  private questLists(row: SelectedRow, layer: number, q: Float32Array, qOff: number, quest: QuestSelection): void {
    const { seq, pos } = row;
    const { nHeads, nKvHeads, headDim } = this.shape;
    const pool = this.pool;
    const bs = pool.blockSize;
    const kvMul = nHeads / nKvHeads;
    const dense = layer < quest.denseLayers || quest.budgetPages >= quest.candidatePages;
    const table = quest.pages ?? null;
    if (this.bounds.length < quest.candidatePages) this.bounds = new Float64Array(quest.candidatePages);
    const chosen: Int32Array[] = [];
    if (!dense) {
      const mn = pool.keyBounds.min[layer];
      const mx = pool.keyBounds.max[layer];
      for (let g = 0; g < nKvHeads; g++) {
        for (let p = 0; p < quest.candidatePages; p++) {
          const off = seq.pages[p] * pool.kvDim + g * headDim;
          let b = 0;
          for (let h = g * kvMul; h < (g + 1) * kvMul; h++) b += questPageBound(q, qOff + h * headDim, mn, mx, off, headDim);
          this.bounds[p] = b;
        }
        chosen.push(selectQuestPages(this.bounds, quest.candidatePages, quest.budgetPages));
      }
    } else if (table !== null) {
      for (let g = 0; g < nKvHeads; g++) chosen.push(Int32Array.from({ length: quest.candidatePages }, (_, p) => p));
    }
    if (table !== null) table.ensure(chosen.flatMap((pages, head) => Array.from(pages, (block) => ({ block, layer, head }))));
    for (let g = 0; g < nKvHeads; g++) {
      const list = this.lists[g];
      const at = this.positions[g];
      let n = 0;
      let denseFrom = 0;
      if (!dense || table !== null) {
        for (const p of chosen[g]) {
          if (table !== null && !table.has(p, layer, g)) continue;
          for (let s = 0; s < bs; s++, n++) {
            list[n] = pool.slotOffset(seq.pages[p], s);
            at[n] = p * bs + s;
          }
        }
        denseFrom = quest.denseFrom;
      }
      for (let t = denseFrom; t <= pos; t++, n++) {
        list[n] = pool.tokenOffset(seq, t);
        at[n] = t;
      }
      this.counts[g] = n;
    }
  }
}
