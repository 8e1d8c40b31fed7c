// adaptivekv: per-layer budgets that follow each layer's measured attention spread (in the
// spirit of CAKE and DynamicKV). A layer's candidates are its positions ranked by the share of
// the observation window's attention they hold (mean over KV heads); the total budget goes to
// the highest shares across all layers, so a sharp layer is served by few positions and a
// broad one gets many. Within a layer SnapKV's window and pooled votes select.
import { ADAPTIVE_MIN_LAYER_SHARE } from "./policy-defaults.js";

/**
 * Kept positions per KV head for each layer, window included, summing to nLayers * keep
 * (or every position when that is less). `votes[l * nKvHeads + g]` are the window's votes.
 * Every layer keeps at least ADAPTIVE_MIN_LAYER_SHARE of the uniform voted budget.
 */
export function adaptiveBudgets(
  votes: readonly ArrayLike<number>[],
  nLayers: number,
  nKvHeads: number,
  promptTokens: number,
  keep: number,
  window: number,
  minShare = ADAPTIVE_MIN_LAYER_SHARE,
): number[] {
  const w = Math.min(window, keep);
  const prefix = promptTokens - w;
  const c = keep - w;
  const floor = Math.min(prefix, Math.ceil(minShare * c));
  // curves[l][r]: mean over heads of the r-th largest attention share among the layer's earlier positions
  const curves = Array.from({ length: nLayers }, (_, l) => {
    const mean = new Float64Array(prefix);
    for (let g = 0; g < nKvHeads; g++) {
      const v = votes[l * nKvHeads + g];
      let total = 0;
      for (let t = 0; t < promptTokens; t++) total += v[t];
      const shares = Float64Array.from({ length: prefix }, (_, t) => (total > 0 ? v[t] / total : 0))
        .sort()
        .reverse();
      for (let r = 0; r < prefix; r++) mean[r] += shares[r] / nKvHeads;
    }
    return mean;
  });
  const budgets = new Array<number>(nLayers).fill(floor);
  const candidates: { l: number; r: number; share: number }[] = [];
  for (let l = 0; l < nLayers; l++) for (let r = floor; r < prefix; r++) candidates.push({ l, r, share: curves[l][r] });
  candidates.sort((a, b) => b.share - a.share || a.r - b.r || a.l - b.l);
  const extra = Math.max(0, nLayers * c - nLayers * floor);
  for (let i = 0; i < Math.min(extra, candidates.length); i++) budgets[candidates[i].l]++;
  return budgets.map((b) => b + w);
}
