// Quest (Tang et al., 2024): query-aware page selection at read time. Each page keeps the
// per-channel min and max of its rotated keys; for a query q the page's upper bound is
// sum_i max(q_i * min_i, q_i * max_i) >= max over the page's keys of q.k. The top pages by
// bound are attended; nothing is evicted.
import { topKPositions } from "./selection-math.js";

/** Upper bound of q.k over a page: q at q[qOff..qOff+d), channel bounds at min/max[off..off+d). */
export function questPageBound(
  q: ArrayLike<number>,
  qOff: number,
  min: ArrayLike<number>,
  max: ArrayLike<number>,
  off: number,
  d: number,
): number {
  let s = 0;
  for (let i = 0; i < d; i++) {
    const qi = q[qOff + i];
    const a = qi * min[off + i];
    const b = qi * max[off + i];
    s += a > b ? a : b;
  }
  return s;
}

/** Pages attended for a budget of `keep` positions with pages of `pageTokens` (at least 1). */
export function questBudgetPages(keep: number, pageTokens: number): number {
  return Math.max(1, Math.round(keep / pageTokens));
}

/** The `budget` candidate pages (indices 0..candidates-1) with the highest bounds, ascending. */
export function selectQuestPages(bounds: ArrayLike<number>, candidates: number, budget: number): Int32Array {
  return topKPositions(bounds, 0, candidates, budget);
}
