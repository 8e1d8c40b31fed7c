// SnapKV (Li et al., 2024): the last prompt tokens (the observation window) vote with their
// attention; each query head's votes are max-pooled so neighbours of a hit survive with it, the
// pooled votes of the query heads sharing a KV head are averaged (GQA, as kvpress's SnapKVPress
// does), and the top positions plus the window itself are kept.
import { SNAPKV_KERNEL_SIZE, SNAPKV_MIN_KERNEL_SIZE, SNAPKV_PAPER_VOTED_TOKENS, SNAPKV_WINDOW_TOKENS } from "./policy-defaults.js";
import { PolicyError } from "./policy-error.js";
import { maxPool1d, topKPositions } from "./selection-math.js";

/**
 * Positions always kept at the end of the prompt for a budget of `keep`: the paper's window,
 * but never more than half the budget (so small budgets still leave room for votes), at least 1.
 */
export function keptWindow(keep: number): number {
  return Math.max(1, Math.min(SNAPKV_WINDOW_TOKENS, Math.floor(keep / 2)));
}

/**
 * Pooling kernel for `voted` positions chosen by votes per head: the paper's kernel at its
 * budgets (SNAPKV_PAPER_VOTED_TOKENS or more), below that the largest odd kernel not above the
 * proportional one, never below SNAPKV_MIN_KERNEL_SIZE. A pooled hit spends `kernel` positions
 * of the voted budget; 7 of the 32 voted at 25% of a 256-token prompt leaves room for only ~5
 * hits (measured: kernel 7 loses isolated positions a last-layer head copies from).
 */
export function snapKvKernel(voted: number): number {
  const proportional = Math.floor((SNAPKV_KERNEL_SIZE * voted) / SNAPKV_PAPER_VOTED_TOKENS);
  const odd = proportional % 2 === 1 ? proportional : proportional - 1;
  return Math.max(SNAPKV_MIN_KERNEL_SIZE, Math.min(SNAPKV_KERNEL_SIZE, odd));
}

/**
 * Scores of positions 0..prefix-1 for one KV head: each of its query heads' window votes
 * max-pooled with `kernel`, then averaged over the query heads.
 */
export function snapKvScores(headVotes: readonly ArrayLike<number>[], prefix: number, kernel: number): Float64Array {
  if (headVotes.length === 0) throw new PolicyError("BAD_STATS", "SnapKV needs the votes of at least one query head");
  const scores = new Float64Array(prefix);
  for (const votes of headVotes) {
    const pooled = maxPool1d(votes, prefix, kernel);
    for (let t = 0; t < prefix; t++) scores[t] += pooled[t] / headVotes.length;
  }
  return scores;
}

/**
 * One KV head's kept positions (ascending): the last `window` positions, then the `keep - window`
 * best of the earlier ones by {@link snapKvScores} of its query heads' votes (`headVotes`, one
 * array per query head of the group). Keeps everything when `keep >= promptTokens`.
 */
export function selectSnapKvHead(
  headVotes: readonly ArrayLike<number>[],
  promptTokens: number,
  keep: number,
  window: number,
  kernel: number,
): Int32Array {
  if (keep >= promptTokens) return Int32Array.from({ length: promptTokens }, (_, i) => i);
  const w = Math.min(window, keep);
  const prefix = promptTokens - w;
  const voted = topKPositions(snapKvScores(headVotes, prefix, kernel), 0, prefix, keep - w);
  const out = new Int32Array(keep);
  out.set(voted);
  for (let i = 0; i < w; i++) out[voted.length + i] = prefix + i;
  return out;
}
