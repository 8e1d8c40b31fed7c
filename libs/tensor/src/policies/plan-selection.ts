// From a spec and the prompt's attention statistics to the positions each (layer, KV head)
// keeps: the one entry point the engine calls for every method that selects at compression
// time (all but Quest, which selects pages per query at read time).
import { adaptiveBudgets } from "./adaptive-kv.js";
import type { AttentionStats } from "./attention-stats.js";
import { chunkSourceLayer, selectChunkKvHead } from "./chunkkv.js";
import { selectH2oHead } from "./h2o.js";
import { PolicyError } from "./policy-error.js";
import { budgetTokens, type PolicySpec } from "./policy-spec.js";
import { pyramidBudgets } from "./pyramidkv.js";
import { keptWindow, selectSnapKvHead, snapKvKernel } from "./snapkv.js";
import { selectStreamingHead } from "./streaming-llm.js";

/** Kept positions of one prompt, per (layer, KV head) at index layer * nKvHeads + kvHead. */
export interface SelectionPlan {
  nLayers: number;
  nKvHeads: number;
  promptTokens: number;
  /** Ascending kept positions. */
  kept: Int32Array[];
  /** H2O only: each kept position's accumulated attention, aligned with `kept`; else null. */
  scores: Float64Array[] | null;
  /** Kept positions per KV head of each layer. */
  layerBudgets: number[];
}

function need<T>(value: T | null, what: string, spec: PolicySpec): T {
  if (value === null) throw new PolicyError("BAD_STATS", `${spec.method} needs ${what}, which were not collected`);
  return value;
}

/** Layer budgets of `spec` for this prompt (uniform unless the method allocates per layer). */
function layerBudgets(spec: PolicySpec, stats: AttentionStats, keep: number): number[] {
  const { nLayers, nKvHeads, promptTokens } = stats;
  if (spec.method === "pyramidkv") return pyramidBudgets(nLayers, keep, keptWindow(keep), promptTokens);
  if (spec.method === "adaptivekv") {
    return adaptiveBudgets(need(stats.votes, "window votes", spec), nLayers, nKvHeads, promptTokens, keep, keptWindow(keep));
  }
  return new Array<number>(nLayers).fill(keep);
}

/** The window votes of one (layer, KV head)'s query heads (`row` = layer * nKvHeads + kvHead). */
function groupVotes(stats: AttentionStats, spec: PolicySpec, row: number): Float64Array[] {
  const headVotes = need(stats.headVotes ?? null, "per-query-head window votes", spec);
  const group = headVotes.length / (stats.nLayers * stats.nKvHeads);
  if (!Number.isInteger(group) || group < 1)
    throw new PolicyError(
      "BAD_STATS",
      `${headVotes.length} query-head vote rows do not group into ${stats.nLayers} layers x ${stats.nKvHeads} KV heads`,
    );
  return headVotes.slice(row * group, (row + 1) * group);
}

/** Select every (layer, KV head)'s kept positions. Quest is refused (it selects at read time). */
export function planSelection(spec: PolicySpec, stats: AttentionStats): SelectionPlan {
  const { nLayers, nKvHeads, promptTokens } = stats;
  if (spec.method === "quest") throw new PolicyError("BAD_SELECTION", "quest selects pages at read time; it has no compression-time plan");
  const keep = budgetTokens(spec, promptTokens);
  const budgets = layerBudgets(spec, stats, keep);
  // one kernel for every layer, from the uniform voted budget (PyramidKV's and adaptivekv's differ per layer)
  const kernel = spec.kernel ?? snapKvKernel(keep - Math.min(keptWindow(keep), keep));
  const kept: Int32Array[] = [];
  for (let l = 0; l < nLayers; l++) {
    const k = budgets[l];
    for (let g = 0; g < nKvHeads; g++) {
      const row = l * nKvHeads + g;
      switch (spec.method) {
        case "snapkv":
        case "pyramidkv":
        case "adaptivekv":
          kept.push(selectSnapKvHead(groupVotes(stats, spec, row), promptTokens, k, keptWindow(keep), kernel));
          break;
        case "chunkkv": {
          const src = chunkSourceLayer(l);
          kept.push(
            src === l
              ? selectChunkKvHead(need(stats.votes, "window votes", spec)[row], promptTokens, k, keptWindow(keep))
              : kept[src * nKvHeads + g].slice(),
          );
          break;
        }
        case "streamingllm":
          kept.push(selectStreamingHead(promptTokens, k));
          break;
        case "h2o":
          kept.push(selectH2oHead(need(stats.cumulative, "accumulated attention", spec)[row], promptTokens, k));
          break;
      }
    }
  }
  let scores: Float64Array[] | null = null;
  if (spec.method === "h2o") {
    const cumulative = need(stats.cumulative, "accumulated attention", spec);
    scores = kept.map((pos, row) => Float64Array.from(pos, (p) => cumulative[row][p]));
  }
  return { nLayers, nKvHeads, promptTokens, kept, scores, layerBudgets: budgets };
}
