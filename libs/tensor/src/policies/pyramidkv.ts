// PyramidKV (Cai et al., 2024): per-layer budgets in a pyramid (many positions low, few high)
// that sum to the uniform total; within a layer, SnapKV's window and pooled votes select.
import { PYRAMID_BETA } from "./policy-defaults.js";
import { distributeBudget } from "./selection-math.js";

/**
 * Kept positions per KV head for each layer, window included. The voted part follows the
 * paper's arithmetic progression from (2C - C/beta) at layer 0 to C/beta at the last layer
 * (C = keep - window), capped at the prompt; the budgets sum to nLayers * keep exactly
 * (or to every position when that is less).
 */
export function pyramidBudgets(nLayers: number, keep: number, window: number, promptTokens: number, beta = PYRAMID_BETA): number[] {
  const w = Math.min(window, keep);
  const c = keep - w;
  const minNum = c / beta;
  const maxNum = 2 * c - minNum;
  const weights = Array.from({ length: nLayers }, (_, l) => (nLayers === 1 ? c : maxNum - (l * (maxNum - minNum)) / (nLayers - 1)));
  const caps = new Array<number>(nLayers).fill(promptTokens - w);
  return distributeBudget(weights, nLayers * c, caps).map((b) => b + w);
}
