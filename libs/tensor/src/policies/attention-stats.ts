// Attention statistics a selection policy decides from, collected while the prompt is prefilled:
// observation-window votes (SnapKV family), per query head and summed per KV head over the query
// heads that share it (GQA), and accumulated attention (H2O), summed per KV head.
import { PolicyError } from "./policy-error.js";
import { SNAPKV_WINDOW_TOKENS } from "./policy-defaults.js";
import type { PolicySpec } from "./policy-spec.js";

/** Shape of the attention being observed. */
export interface AttentionGeometry {
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
}

/** What a method needs observed during prefill. */
export interface StatsNeeds {
  /** Trailing prompt rows whose attention votes (0: none). */
  windowRows: number;
  /** Accumulate every prompt row's attention per position (H2O). */
  cumulative: boolean;
}

/** Statistics of one prompt, per (layer, KV head) at index layer * nKvHeads + kvHead. */
export interface AttentionStats {
  nLayers: number;
  nKvHeads: number;
  promptTokens: number;
  /** Sum over the window rows and the group's query heads of the attention each position got; null if not collected. */
  votes: Float64Array[] | null;
  /**
   * The same window votes per query head, at index layer * nHeads + head (so a KV head's query
   * heads are contiguous); SnapKV pools each before averaging over the group. Absent or null if
   * not collected.
   */
  headVotes?: Float64Array[] | null;
  /** Window rows actually observed (fewer when they came from cache). */
  voteRows: number;
  /** Sum over every observed prompt row (and the group's query heads); null if not collected. */
  cumulative: Float64Array[] | null;
  /** Prompt rows observed for `cumulative`. */
  cumulativeRows: number;
}

/** What `spec` needs observed. */
export function statsNeeds(spec: PolicySpec): StatsNeeds {
  switch (spec.method) {
    case "snapkv":
    case "pyramidkv":
    case "chunkkv":
    case "adaptivekv":
      return { windowRows: SNAPKV_WINDOW_TOKENS, cumulative: false };
    case "h2o":
      return { windowRows: 0, cumulative: true };
    case "streamingllm":
    case "quest":
      return { windowRows: 0, cumulative: false };
  }
}

/**
 * Trailing prompt tokens whose forward pass the policy must observe, so a cached prefix may
 * cover only the tokens before them: the window for the SnapKV family, the whole prompt for H2O.
 */
export function rowsToCompute(spec: PolicySpec, promptTokens: number): number {
  const needs = statsNeeds(spec);
  return needs.cumulative ? promptTokens : Math.min(promptTokens, needs.windowRows);
}

/** Accumulates the statistics of one prompt from attention probabilities. */
export class AttentionStatsCollector {
  private readonly geometry: AttentionGeometry;
  private readonly promptTokens: number;
  private readonly windowStart: number;
  private readonly votes: Float64Array[] | null;
  private readonly headVotes: Float64Array[] | null;
  private readonly cumulative: Float64Array[] | null;
  private voteRows = 0;
  private cumulativeRows = 0;

  constructor(geometry: AttentionGeometry, promptTokens: number, needs: StatsNeeds) {
    if (geometry.nHeads % geometry.nKvHeads !== 0)
      throw new PolicyError("BAD_STATS", `${geometry.nHeads} heads do not group into ${geometry.nKvHeads} KV heads`);
    this.geometry = geometry;
    this.promptTokens = promptTokens;
    this.windowStart = Math.max(0, promptTokens - needs.windowRows);
    const alloc = (rows: number): Float64Array[] => Array.from({ length: rows }, () => new Float64Array(promptTokens));
    const kvRows = geometry.nLayers * geometry.nKvHeads;
    this.votes = needs.windowRows > 0 ? alloc(kvRows) : null;
    this.headVotes = needs.windowRows > 0 ? alloc(geometry.nLayers * geometry.nHeads) : null;
    this.cumulative = needs.cumulative ? alloc(kvRows) : null;
  }

  /** Whether rows at `position` are of interest (saves the caller a call per head). */
  wants(position: number): boolean {
    if (position >= this.promptTokens) return false;
    return this.cumulative !== null || (this.votes !== null && position >= this.windowStart);
  }

  /** One query head's probabilities over positions 0..position (probs.length === position + 1). */
  observe(layer: number, head: number, position: number, probs: Float64Array): void {
    if (!this.wants(position)) return;
    const g = (head / (this.geometry.nHeads / this.geometry.nKvHeads)) | 0;
    const row = layer * this.geometry.nKvHeads + g;
    const n = Math.min(probs.length, position + 1);
    if (layer === 0 && head === 0) {
      if (this.cumulative !== null) this.cumulativeRows++;
      if (this.votes !== null && position >= this.windowStart) this.voteRows++;
    }
    if (this.cumulative !== null) {
      const c = this.cumulative[row];
      for (let t = 0; t < n; t++) c[t] += probs[t];
    }
    if (this.votes !== null && this.headVotes !== null && position >= this.windowStart) {
      const v = this.votes[row];
      const hv = this.headVotes[layer * this.geometry.nHeads + head];
      for (let t = 0; t < n; t++) {
        v[t] += probs[t];
        hv[t] += probs[t];
      }
    }
  }

  /** The statistics so far. */
  get stats(): AttentionStats {
    const { nLayers, nKvHeads } = this.geometry;
    return {
      nLayers,
      nKvHeads,
      promptTokens: this.promptTokens,
      votes: this.votes,
      headVotes: this.headVotes,
      voteRows: this.voteRows,
      cumulative: this.cumulative,
      cumulativeRows: this.cumulativeRows,
    };
  }
}
