// SnapKV (Li et al., 2024): the last prompt tokens (the observation window) vote with their
// attention; votes are max-pooled so neighbours of a hit survive with it; the top positions
// plus the window itself are kept.
import { SNAPKV_KERNEL_SIZE, SNAPKV_WINDOW_TOKENS } from './policy-defaults.js';
import { maxPool1d, topKPositions } from './selection-math.js';

/**
 * Positions always kept at the end of the prompt for a budget of `keep`: the paper's window,
 * but never more than half the budget (so small budgets still leave room for votes), at least 1.
 */
export function keptWindow(keep: number): number {
  return Math.max(1, Math.min(SNAPKV_WINDOW_TOKENS, Math.floor(keep / 2)));
}

/**
 * One KV head's kept positions (ascending): the last `window` positions, then the `keep - window`
 * best of the earlier ones by max-pooled votes. Keeps everything when `keep >= promptTokens`.
 */
export function selectSnapKvHead(votes: ArrayLike<number>, promptTokens: number, keep: number, window: number, kernel = SNAPKV_KERNEL_SIZE): Int32Array {
  if (keep >= promptTokens) return Int32Array.from({ length: promptTokens }, (_, i) => i);
  const w = Math.min(window, keep);
  const prefix = promptTokens - w;
  const pooled = maxPool1d(votes, prefix, kernel);
  const voted = topKPositions(pooled, 0, prefix, keep - w);
  const out = new Int32Array(keep);
  out.set(voted);
  for (let i = 0; i < w; i++) out[voted.length + i] = prefix + i;
  return out;
}
