// Small deterministic building blocks of the selection policies: top-k, max pooling, and an
// exact integer split of a budget in proportion to weights under per-part caps.

/**
 * The `k` positions in [from, to) with the highest scores, ascending. Ties go to the lower
 * position, so the result depends only on the scores.
 */
export function topKPositions(scores: ArrayLike<number>, from: number, to: number, k: number): Int32Array {
  const n = Math.max(0, to - from);
  const take = Math.max(0, Math.min(k, n));
  if (take === n) return Int32Array.from({ length: n }, (_, i) => from + i);
  const idx = Array.from({ length: n }, (_, i) => from + i);
  idx.sort((a, b) => scores[b] - scores[a] || a - b);
  return Int32Array.from(idx.slice(0, take)).sort();
}

/** 1-D max pooling with stride 1 and "same" padding (SnapKV's clustering of votes). */
export function maxPool1d(src: ArrayLike<number>, n: number, kernel: number): Float64Array {
  const half = Math.floor(kernel / 2);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let m = -Infinity;
    const lo = Math.max(0, i - half);
    const hi = Math.min(n - 1, i - half + kernel - 1);
    for (let j = lo; j <= hi; j++) if (src[j] > m) m = src[j];
    out[i] = m;
  }
  return out;
}

/**
 * Split `total` into integers in proportion to `weights` (non-negative), none above its cap:
 * parts that would exceed their cap are fixed at it and the rest is shared again (water filling);
 * rounding goes by largest remainder, ties to the lower index. The parts sum to
 * min(total, sum of caps) exactly.
 */
export function distributeBudget(weights: readonly number[], total: number, caps: readonly number[]): number[] {
  const n = weights.length;
  const out = new Array<number>(n).fill(0);
  const capSum = caps.reduce((a, b) => a + b, 0);
  let remaining = Math.min(total, capSum);
  const active = new Set<number>(Array.from({ length: n }, (_, i) => i).filter((i) => caps[i] > 0));
  const share = new Array<number>(n).fill(0);
  for (;;) {
    const wSum = [...active].reduce((s, i) => s + Math.max(0, weights[i]), 0);
    let capped = false;
    for (const i of active) {
      share[i] = wSum > 0 ? (remaining * Math.max(0, weights[i])) / wSum : remaining / active.size;
      if (share[i] >= caps[i]) {
        out[i] = caps[i];
        remaining -= caps[i];
        active.delete(i);
        capped = true;
      }
    }
    if (!capped) break;
  }
  const rest = [...active];
  let given = 0;
  for (const i of rest) {
    out[i] = Math.floor(share[i]);
    given += out[i];
  }
  const order = rest.sort((a, b) => share[b] - Math.floor(share[b]) - (share[a] - Math.floor(share[a])) || a - b);
  for (let left = remaining - given, j = 0; left > 0 && order.length > 0; j = (j + 1) % order.length) {
    const i = order[j];
    if (out[i] < caps[i]) {
      out[i]++;
      left--;
    }
  }
  return out;
}
