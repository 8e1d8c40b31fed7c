// The engine's selection operations on one sequence: set a policy before the prompt's prefill,
// compress after it (plan, per-head slot maps, compaction into private pages), move a
// compression between engines (sparse export / import) or re-apply a known one to a dense
// prompt. Shared prefix pages are never written: kept entries are copied out of them.
import { EngineError } from "./engine-error.js";
import type { RopeTable } from "./kernels/rope.js";
import { RELEASED_PAGE, type KvPool, type SequencePages } from "./kv-pool.js";
import type { LlamaModel } from "./llama-model.js";
import { AttentionStatsCollector, statsNeeds } from "./policies/attention-stats.js";
import { planSelection } from "./policies/plan-selection.js";
import { QUEST_DENSE_LAYERS } from "./policies/policy-defaults.js";
import { budgetTokens, formatPolicySpec, parsePolicySpec } from "./policies/policy-spec.js";
import { questBudgetPages } from "./policies/quest.js";
import { exportQuestPages, QuestPageTable, type QuestPageSource, type QuestPagesExport, type QuestPagesMeta } from "./quest-pages.js";
import { decodeBlocksForImport, writeBlocks } from "./kv-block-transfer.js";
import { decodeSelectionBlocks, encodeSelectionBlocks, type RowEntries } from "./selection-transfer.js";
import { HeadEntries, type PolicyState, type SelectionSummary, type SequenceSelection } from "./sequence-selection.js";

/** Positions and scores of a compression, beside its sparse blocks (wire: SelectionHandoff). */
export interface SelectionMeta {
  /** Canonical policy spec, e.g. "snapkv@25". */
  policy: string;
  promptTokens: number;
  /** Kept entries per row (layer * nKvHeads + kvHead). */
  counts: number[];
  /** Every row's kept positions, concatenated in row order. */
  positions: Int32Array;
  /** H2O: every kept entry's accumulated attention, aligned with positions; null otherwise. */
  scores: Float64Array | null;
}

/** A compression ready to hand off: its meta and its sparse blocks. */
export interface SelectionExport {
  meta: SelectionMeta;
  blocks: Uint8Array[];
}

/** Throw unless blocks [from, to) are shareable: a compressed sequence shares only intact pages before compression. */
export function checkShareable(seq: SequencePages, blockSize: number, from: number, to: number): void {
  const selection = seq.policy?.selection;
  if (!selection) return;
  for (let b = from; b < to; b++) {
    if (seq.pages[b] === RELEASED_PAGE || (b + 1) * blockSize > selection.compressedAt) {
      throw new EngineError("INVALID_ARGUMENT", `block ${b} of a compressed sequence is request-scoped (not exportable or shareable)`);
    }
  }
}

/** Selection operations over one engine's model and pool. */
export class EngineSelection {
  constructor(
    private readonly model: LlamaModel,
    private readonly pool: KvPool,
    private readonly rope: RopeTable,
  ) {}

  /** Give an empty sequence a policy ("" / "none" clears it); statistics are collected from now on. */
  setPolicy(seq: SequencePages, policy: string, promptTokens: number): void {
    const spec = parsePolicySpec(policy);
    if (seq.length !== 0 || seq.policy?.selection)
      throw new EngineError("INVALID_ARGUMENT", "a policy is set before the prompt is prefilled");
    if (!Number.isInteger(promptTokens) || promptTokens < 1 || promptTokens > this.model.config.seqLen) {
      throw new EngineError("INVALID_ARGUMENT", `promptTokens ${promptTokens} outside 1..${this.model.config.seqLen}`);
    }
    if (spec === null) {
      seq.policy = null;
      return;
    }
    const { nLayers, nHeads, nKvHeads } = this.model.config;
    const needs = statsNeeds(spec);
    const collector =
      needs.windowRows > 0 || needs.cumulative ? new AttentionStatsCollector({ nLayers, nHeads, nKvHeads }, promptTokens, needs) : null;
    seq.policy = { spec, promptTokens, collector, selection: null };
  }

  /** Compress a sequence holding exactly its prompt; returns what was kept. */
  compress(seq: SequencePages): SelectionSummary {
    const state = this.pendingState(seq);
    if (state.spec.method === "quest") {
      const keep = budgetTokens(state.spec, state.promptTokens);
      const bs = this.pool.blockSize;
      const candidatePages = Math.floor(state.promptTokens / bs);
      state.selection = {
        compressedAt: state.promptTokens,
        heads: null,
        h2o: null,
        layerBudgets: [],
        quest: { budgetPages: questBudgetPages(keep, bs), candidatePages, denseFrom: candidatePages * bs, denseLayers: QUEST_DENSE_LAYERS },
      };
      state.collector = null;
      return this.summary(seq) as SelectionSummary;
    }
    if (state.collector === null) {
      const plan = planSelection(state.spec, {
        nLayers: this.model.config.nLayers,
        nKvHeads: this.model.config.nKvHeads,
        promptTokens: state.promptTokens,
        votes: null,
        voteRows: 0,
        cumulative: null,
        cumulativeRows: 0,
      });
      return this.adopt(seq, state, plan.kept, null, plan.layerBudgets);
    }
    const plan = planSelection(state.spec, state.collector.stats);
    return this.adopt(seq, state, plan.kept, plan.scores, plan.layerBudgets);
  }

  /** Apply a known compression (from another engine) to a sequence holding its whole prompt densely. */
  apply(seq: SequencePages, meta: SelectionMeta): SelectionSummary {
    const state = this.stateFor(seq, meta, meta.promptTokens);
    const { kept, scores } = this.split(meta);
    return this.adopt(seq, state, kept, scores, this.layerBudgetsOf(meta));
  }

  /** Import a compression into an empty sequence from its meta and sparse blocks (checked first). */
  importSparse(seq: SequencePages, meta: SelectionMeta, codec: string, blocks: readonly Uint8Array[]): SelectionSummary {
    if (seq.length !== 0) throw new EngineError("INVALID_ARGUMENT", "a selection is imported into an empty sequence");
    const rows = decodeSelectionBlocks(this.model, this.pool.blockSize, meta.counts, codec, blocks);
    const state = this.stateFor(seq, meta, 0);
    const { kept, scores } = this.split(meta);
    if (!this.pool.tryGrow(seq, meta.promptTokens))
      throw new EngineError("POOL_EXHAUSTED", `importing a selection needs ${this.pool.pagesNeeded(seq, meta.promptTokens)} more KV pages`);
    // the prompt's dense pages hold nothing yet: give them back before taking the packed ones
    const need = Math.ceil(Math.max(...meta.counts) / this.pool.blockSize);
    const freed = Math.floor(meta.promptTokens / this.pool.blockSize);
    if (need > this.pool.availableBlocks + freed)
      throw new EngineError("POOL_EXHAUSTED", `a selection needs ${need} KV pages, ${this.pool.availableBlocks + freed} available`);
    this.releasePromptPages(seq, meta.promptTokens);
    const heads = kept.map((pos) => new HeadEntries(pos.length + this.model.config.seqLen - meta.promptTokens, scores !== null));
    const pages = this.packedPages(kept, true) as number[];
    const d = this.model.config.headDim;
    const G = this.model.config.nKvHeads;
    kept.forEach((pos, r) => {
      const l = (r / G) | 0;
      const go = (r % G) * d;
      for (let i = 0; i < pos.length; i++) {
        const off = this.pool.slotOffset(pages[(i / this.pool.blockSize) | 0], i % this.pool.blockSize);
        this.pool.keysPre[l].set(rows.k[r].subarray(i * d, (i + 1) * d), off + go);
        this.pool.values[l].set(rows.v[r].subarray(i * d, (i + 1) * d), off + go);
        this.rope.rotate(this.pool.keysPre[l], off + go, this.pool.keysRot[l], off + go, 1, pos[i]);
        heads[r].push(off, pos[i], scores?.[r][i] ?? 0);
      }
    });
    seq.extraPages.push(...pages);
    seq.length = meta.promptTokens;
    return this.install(seq, state, heads, this.layerBudgetsOf(meta));
  }

  /** The sparse hand-off of a sequence compressed just now (nothing decoded since). */
  exportSparse(seq: SequencePages, codec: string, key: Uint8Array): SelectionExport {
    const selection = seq.policy?.selection;
    if (!selection || selection.heads === null)
      throw new EngineError("INVALID_ARGUMENT", "only a compressed sequence with kept entries (not Quest) has a sparse export");
    if (seq.length !== selection.compressedAt)
      throw new EngineError("INVALID_ARGUMENT", `sequence decoded ${seq.length - selection.compressedAt} tokens since compression`);
    const d = this.model.config.headDim;
    const G = this.model.config.nKvHeads;
    const rows: RowEntries = { k: [], v: [] };
    const counts = selection.heads.map((h) => h.count);
    selection.heads.forEach((h, r) => {
      const l = (r / G) | 0;
      const go = (r % G) * d;
      const k = new Float32Array(h.count * d);
      const v = new Float32Array(h.count * d);
      for (let i = 0; i < h.count; i++) {
        k.set(this.pool.keysPre[l].subarray(h.offsets[i] + go, h.offsets[i] + go + d), i * d);
        v.set(this.pool.values[l].subarray(h.offsets[i] + go, h.offsets[i] + go + d), i * d);
      }
      rows.k.push(k);
      rows.v.push(v);
    });
    const positions = new Int32Array(counts.reduce((a, b) => a + b, 0));
    const scores = selection.h2o !== null ? new Float64Array(positions.length) : null;
    let at = 0;
    for (const h of selection.heads) {
      positions.set(h.positions.subarray(0, h.count), at);
      if (scores !== null) scores.set((h.scores as Float64Array).subarray(0, h.count), at);
      at += h.count;
    }
    const meta: SelectionMeta = {
      policy: formatPolicySpec((seq.policy as PolicyState).spec),
      promptTokens: selection.compressedAt,
      counts,
      positions,
      scores,
    };
    return { meta, blocks: encodeSelectionBlocks(this.model, this.pool.blockSize, counts, rows, codec, key) };
  }

  /**
   * Quest's page metadata and page objects of a sequence holding exactly its prompt (before it is
   * compressed), for a decode side that fetches pages on demand.
   */
  exportQuestPages(seq: SequencePages, codec: string, key: Uint8Array): QuestPagesExport {
    const state = seq.policy;
    if (!state || state.spec.method !== "quest" || state.selection)
      throw new EngineError("INVALID_ARGUMENT", "quest pages are exported from an uncompressed quest sequence");
    if (seq.length !== state.promptTokens)
      throw new EngineError("INVALID_ARGUMENT", `the sequence holds ${seq.length} tokens, its prompt ${state.promptTokens}`);
    return exportQuestPages(this.model, this.pool, this.rope, seq, formatPolicySpec(state.spec), codec, key);
  }

  /**
   * Bring a sequence to a Quest prompt whose full blocks stay in the store: it holds leading
   * blocks already (attached from the device cache, all resident) or nothing; the other full
   * blocks get pool pages with the metadata's key bounds and no contents, the partial `tail`
   * block is written, and Quest's read-time selection fetches pages through `source`.
   */
  importQuestPages(
    seqId: string,
    seq: SequencePages,
    meta: QuestPagesMeta,
    tail: Uint8Array | null,
    source: QuestPageSource,
  ): SelectionSummary {
    const spec = parsePolicySpec(meta.policy);
    if (spec === null || spec.method !== "quest")
      throw new EngineError("INVALID_ARGUMENT", `quest pages meta policy "${meta.policy}" is not quest`);
    if (seq.policy?.selection) throw new EngineError("INVALID_ARGUMENT", "the sequence is already compressed");
    const { nLayers, nKvHeads, headDim, seqLen } = this.model.config;
    const bs = this.pool.blockSize;
    if (!Number.isInteger(meta.promptTokens) || meta.promptTokens < 1 || meta.promptTokens > seqLen)
      throw new EngineError("INVALID_ARGUMENT", `quest pages promptTokens ${meta.promptTokens} outside 1..${seqLen}`);
    const full = Math.floor(meta.promptTokens / bs);
    const perBlock = nLayers * nKvHeads * 2 * headDim;
    if (meta.bounds.length !== full * perBlock)
      throw new EngineError(
        "INVALID_ARGUMENT",
        `quest pages bounds hold ${meta.bounds.length} floats, ${full} blocks need ${full * perBlock}`,
      );
    if (seq.length % bs !== 0 || seq.length > full * bs)
      throw new EngineError("INVALID_ARGUMENT", `the sequence holds ${seq.length} tokens, not a run of the prompt's full blocks`);
    const tailTokens = meta.promptTokens - full * bs;
    if ((tail === null) !== (tailTokens === 0))
      throw new EngineError("INVALID_ARGUMENT", `a ${tailTokens}-token tail needs ${tailTokens === 0 ? "no" : "a"} tail block`);
    const decodedTail = tail === null ? [] : decodeBlocksForImport(this.model, bs, [tail]);
    if (decodedTail.length > 0 && decodedTail[0].header.tokens !== tailTokens)
      throw new EngineError(
        "INVALID_ARGUMENT",
        `the tail block holds ${decodedTail[0].header.tokens} tokens, the prompt's tail ${tailTokens}`,
      );
    const resident = seq.length / bs;
    if (!this.pool.tryGrow(seq, meta.promptTokens))
      throw new EngineError("POOL_EXHAUSTED", `a quest prompt needs ${this.pool.pagesNeeded(seq, meta.promptTokens)} more KV pages`);
    const kvd = this.pool.kvDim;
    for (let b = resident; b < full; b++) {
      for (let l = 0; l < nLayers; l++) {
        for (let g = 0; g < nKvHeads; g++) {
          const src = ((b * nLayers + l) * nKvHeads + g) * 2 * headDim;
          const dst = seq.pages[b] * kvd + g * headDim;
          this.pool.keyBounds.min[l].set(meta.bounds.subarray(src, src + headDim), dst);
          this.pool.keyBounds.max[l].set(meta.bounds.subarray(src + headDim, src + 2 * headDim), dst);
        }
      }
    }
    if (decodedTail.length > 0) writeBlocks(this.pool, seq, full * bs, decodedTail);
    seq.length = meta.promptTokens;
    seq.policy = { spec, promptTokens: meta.promptTokens, collector: null, selection: null };
    const summary = this.compress(seq);
    const quest = seq.policy.selection?.quest;
    if (quest) quest.pages = new QuestPageTable(seqId, seq, this.model, this.pool, this.rope, source, full, resident);
    return summary;
  }

  /** What the sequence's compression kept, or null if it has none. */
  summary(seq: SequencePages): SelectionSummary | null {
    const state = seq.policy;
    const selection = state?.selection;
    if (!state || !selection) return null;
    const { nLayers, nKvHeads } = this.model.config;
    const totalEntries = nLayers * nKvHeads * selection.compressedAt;
    let keptEntries = 0;
    let layerBudgets = selection.layerBudgets;
    if (selection.quest !== null) {
      const q = selection.quest;
      const perHead = Math.min(q.budgetPages, q.candidatePages) * this.pool.blockSize + (selection.compressedAt - q.denseFrom);
      layerBudgets = Array.from({ length: nLayers }, (_, l) => (l < q.denseLayers ? selection.compressedAt : perHead));
      keptEntries = layerBudgets.reduce((a, b) => a + b, 0) * nKvHeads;
    } else {
      keptEntries = layerBudgets.reduce((a, b) => a + b, 0) * nKvHeads;
    }
    return { policy: formatPolicySpec(state.spec), promptTokens: selection.compressedAt, keptEntries, totalEntries, layerBudgets };
  }

  private pendingState(seq: SequencePages): PolicyState {
    const state = seq.policy;
    if (!state) throw new EngineError("INVALID_ARGUMENT", "the sequence has no selection policy");
    if (state.selection) throw new EngineError("INVALID_ARGUMENT", "the sequence is already compressed");
    if (seq.length !== state.promptTokens)
      throw new EngineError(
        "INVALID_ARGUMENT",
        `compress needs exactly the ${state.promptTokens}-token prompt, the sequence holds ${seq.length}`,
      );
    return state;
  }

  private stateFor(seq: SequencePages, meta: SelectionMeta, expectLength: number): PolicyState {
    const spec = parsePolicySpec(meta.policy);
    if (spec === null || spec.method === "quest")
      throw new EngineError("INVALID_ARGUMENT", `selection meta policy "${meta.policy}" carries no kept entries`);
    if (seq.policy?.selection) throw new EngineError("INVALID_ARGUMENT", "the sequence is already compressed");
    if (seq.length !== expectLength)
      throw new EngineError("INVALID_ARGUMENT", `the sequence holds ${seq.length} tokens, expected ${expectLength}`);
    const { nLayers, nKvHeads, seqLen } = this.model.config;
    const total = meta.counts.reduce((a, b) => a + b, 0);
    const bad =
      meta.counts.length !== nLayers * nKvHeads ||
      meta.promptTokens < 1 ||
      meta.promptTokens > seqLen ||
      total !== meta.positions.length ||
      (meta.scores !== null && meta.scores.length !== total) ||
      meta.counts.some((c) => !Number.isInteger(c) || c < 1 || c > meta.promptTokens);
    if (bad) throw new EngineError("INVALID_ARGUMENT", "selection meta does not fit this model (row counts, positions or scores)");
    const state: PolicyState = { spec, promptTokens: meta.promptTokens, collector: null, selection: null };
    return state;
  }

  /** Per-row position (and score) arrays out of a meta; positions must ascend within 0..promptTokens-1. */
  private split(meta: SelectionMeta): { kept: Int32Array[]; scores: Float64Array[] | null } {
    const kept: Int32Array[] = [];
    const scores: Float64Array[] | null = meta.scores === null ? null : [];
    let at = 0;
    for (const c of meta.counts) {
      const pos = meta.positions.slice(at, at + c);
      for (let i = 0; i < c; i++) {
        if (pos[i] < 0 || pos[i] >= meta.promptTokens || (i > 0 && pos[i] <= pos[i - 1]))
          throw new EngineError("INVALID_ARGUMENT", "selection meta positions must ascend within the prompt");
      }
      kept.push(pos);
      scores?.push((meta.scores as Float64Array).slice(at, at + c));
      at += c;
    }
    return { kept, scores };
  }

  private layerBudgetsOf(meta: SelectionMeta): number[] {
    const G = this.model.config.nKvHeads;
    return Array.from({ length: this.model.config.nLayers }, (_, l) => meta.counts[l * G]);
  }

  /** Kept entries in the sequence's own pages become per-head slot maps, then are compacted. */
  private adopt(
    seq: SequencePages,
    state: PolicyState,
    kept: Int32Array[],
    scores: Float64Array[] | null,
    layerBudgets: number[],
  ): SelectionSummary {
    if (seq.length !== state.promptTokens)
      throw new EngineError("INVALID_ARGUMENT", `the sequence holds ${seq.length} tokens, the selection is of ${state.promptTokens}`);
    const room = this.model.config.seqLen - state.promptTokens;
    const heads = kept.map((pos, r) => {
      const h = new HeadEntries(pos.length + room, scores !== null);
      for (let i = 0; i < pos.length; i++) h.push(this.pool.tokenOffset(seq, pos[i]), pos[i], scores?.[r][i] ?? 0);
      return h;
    });
    const pages = this.packedPages(kept, false);
    if (pages !== null) {
      const d = this.model.config.headDim;
      const G = this.model.config.nKvHeads;
      heads.forEach((h, r) => {
        const l = (r / G) | 0;
        const go = (r % G) * d;
        for (let i = 0; i < h.count; i++) {
          const dst = this.pool.slotOffset(pages[(i / this.pool.blockSize) | 0], i % this.pool.blockSize);
          for (const arr of [this.pool.keysPre[l], this.pool.keysRot[l], this.pool.values[l]])
            arr.copyWithin(dst + go, h.offsets[i] + go, h.offsets[i] + go + d);
          h.offsets[i] = dst;
        }
      });
      seq.extraPages.push(...pages);
      this.releasePromptPages(seq, state.promptTokens);
    }
    return this.install(seq, state, heads, layerBudgets);
  }

  private install(seq: SequencePages, state: PolicyState, heads: HeadEntries[], layerBudgets: number[]): SelectionSummary {
    const selection: SequenceSelection = { compressedAt: state.promptTokens, heads, h2o: null, quest: null, layerBudgets };
    if (state.spec.method === "h2o") selection.h2o = { budgetPercent: state.spec.budgetPercent };
    state.selection = selection;
    state.collector = null;
    seq.policy = state;
    return this.summary(seq) as SelectionSummary;
  }

  /**
   * Private pages for packing rows' entries rank-major (entry i of every row in slot i), or null
   * when the pool cannot spare them now (`must` turns that into POOL_EXHAUSTED). Compaction is
   * what returns memory; without it entries stay where they are.
   */
  private packedPages(kept: Int32Array[], must: boolean): number[] | null {
    const max = kept.reduce((m, p) => Math.max(m, p.length), 0);
    const need = Math.ceil(max / this.pool.blockSize);
    if (need > this.pool.availableBlocks) {
      if (must) throw new EngineError("POOL_EXHAUSTED", `a selection needs ${need} KV pages, ${this.pool.availableBlocks} available`);
      return null;
    }
    return Array.from({ length: need }, () => this.pool.takePage());
  }

  /** Give back the page-table pages wholly before `promptTokens` (their kept entries were copied). */
  private releasePromptPages(seq: SequencePages, promptTokens: number): void {
    const full = Math.floor(promptTokens / this.pool.blockSize);
    for (let i = 0; i < full; i++) {
      if (seq.pages[i] !== RELEASED_PAGE) this.pool.dropPage(seq.pages[i]);
      seq.pages[i] = RELEASED_PAGE;
    }
  }
}
