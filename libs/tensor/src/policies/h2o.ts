// H2O (Zhang et al., 2023): keep the heavy hitters (highest accumulated attention) and a
// recent window; during decode each new token enters, every kept position accumulates the
// attention it gets, and the lightest position outside the recent window is evicted.
import { H2O_RECENT_SHARE } from "./policy-defaults.js";
import { topKPositions } from "./selection-math.js";

/** Recent positions protected from eviction for a budget of `keep` (at least 1). */
export function h2oRecent(keep: number): number {
  return Math.max(1, Math.min(keep, Math.floor(keep * H2O_RECENT_SHARE)));
}

/** Kept positions after the prompt (ascending): the recent window and the heaviest earlier positions. */
export function selectH2oHead(cumulative: ArrayLike<number>, promptTokens: number, keep: number): Int32Array {
  if (keep >= promptTokens) return Int32Array.from({ length: promptTokens }, (_, i) => i);
  const recent = h2oRecent(keep);
  const prefix = promptTokens - recent;
  const heavy = topKPositions(cumulative, 0, prefix, keep - recent);
  const out = new Int32Array(keep);
  out.set(heavy);
  for (let i = 0; i < recent; i++) out[heavy.length + i] = prefix + i;
  return out;
}

/**
 * Index of the entry to evict from a head's kept list of `count` entries (in position order,
 * with accumulated `scores`): the lowest score among all but the last `recent`, the oldest on
 * ties; -1 if every entry is recent.
 */
export function h2oVictim(scores: ArrayLike<number>, count: number, recent: number): number {
  let victim = -1;
  let best = Infinity;
  for (let i = 0; i < count - recent; i++) {
    if (scores[i] < best) {
      best = scores[i];
      victim = i;
    }
  }
  return victim;
}
