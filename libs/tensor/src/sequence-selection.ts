// Per-sequence selection state: the policy, the statistics collected while the prompt is
// prefilled, and after compression the kept entries of every (layer, KV head) — per-head slot
// maps — or, for Quest, the page budget applied at read time.
import type { AttentionStatsCollector } from "./policies/attention-stats.js";
import type { PolicySpec } from "./policies/policy-spec.js";
import type { QuestPageCache } from "./quest-page-cache.js";

/** One (layer, KV head)'s kept entries in position order: slot offsets, positions, H2O scores. */
export class HeadEntries {
  offsets: Int32Array;
  positions: Int32Array;
  /** Accumulated attention per entry (H2O); null for other methods. */
  scores: Float64Array | null;
  count = 0;

  constructor(capacity: number, withScores: boolean) {
    this.offsets = new Int32Array(Math.max(1, capacity));
    this.positions = new Int32Array(Math.max(1, capacity));
    this.scores = withScores ? new Float64Array(Math.max(1, capacity)) : null;
  }

  /** Append an entry (positions must increase). */
  push(offset: number, position: number, score = 0): void {
    if (this.count === this.offsets.length) this.grow();
    this.offsets[this.count] = offset;
    this.positions[this.count] = position;
    if (this.scores !== null) this.scores[this.count] = score;
    this.count++;
  }

  /** Drop entry `i`, keeping the order of the rest. */
  removeAt(i: number): void {
    this.offsets.copyWithin(i, i + 1, this.count);
    this.positions.copyWithin(i, i + 1, this.count);
    this.scores?.copyWithin(i, i + 1, this.count);
    this.count--;
  }

  /** Entries at positions <= `position` (what a query at `position` may attend). */
  visible(position: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.positions[mid] <= position) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private grow(): void {
    const n = this.offsets.length * 2;
    const o = new Int32Array(n);
    o.set(this.offsets);
    this.offsets = o;
    const p = new Int32Array(n);
    p.set(this.positions);
    this.positions = p;
    if (this.scores !== null) {
      const s = new Float64Array(n);
      s.set(this.scores);
      this.scores = s;
    }
  }
}

/** Quest's read-time selection of one sequence. */
export interface QuestSelection {
  /** Pages attended per KV head and query, among the candidates. */
  budgetPages: number;
  /** Candidate pages: the full pages before the compression point (page-table indices 0..n-1). */
  candidatePages: number;
  /** Positions from here on are always attended (the partial page and everything written later). */
  denseFrom: number;
  /** Leading layers attended densely. */
  denseLayers: number;
  /** Set when the prompt's pages are fetched on demand (quest-pages.ts); absent: all in the pool. */
  pages?: QuestPageCache;
}

/** A compressed sequence's selection. */
export interface SequenceSelection {
  /** Prompt length when compressed; later positions are always kept (H2O: subject to eviction). */
  compressedAt: number;
  /** Kept entries per (layer, KV head) at layer * nKvHeads + kvHead; null for Quest. */
  heads: HeadEntries[] | null;
  /**
   * H2O: the budget as a share of the context; after the row at position p each head keeps
   * budgetTokens(spec, p + 1) entries (at 100% nothing is evicted). Null for other methods.
   */
  h2o: { budgetPercent: number } | null;
  quest: QuestSelection | null;
  /** Kept positions per KV head of each layer at compression. */
  layerBudgets: number[];
}

/** A sequence's policy from setSelectionPolicy on. */
export interface PolicyState {
  spec: PolicySpec;
  /** Prompt length the policy compresses at. */
  promptTokens: number;
  /** Collects statistics until compression; null once compressed or if none are needed. */
  collector: AttentionStatsCollector | null;
  /** Set by compression (or a selection import). */
  selection: SequenceSelection | null;
}

/** What compression kept, for accounting (ratio = totalEntries / keptEntries). */
export interface SelectionSummary {
  policy: string;
  promptTokens: number;
  /** Kept (layer, KV head, position) entries at compression (Quest: entries attended per step). */
  keptEntries: number;
  /** nLayers * nKvHeads * promptTokens. */
  totalEntries: number;
  /** Kept positions per KV head of each layer. */
  layerBudgets: number[];
}
