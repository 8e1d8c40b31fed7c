// Load imbalance as the issue defines it: cut trace time into windows (60 s), sum the uncached
// prompt tokens each worker prefilled in each window (attributed at the request's arrival), take
// max over mean per window, and average over the windows that saw any prefill work.

/** Window length of the load-imbalance measure, in seconds. */
export const IMBALANCE_WINDOW_S = 60;

/** Accumulates per-window, per-worker prefill tokens. */
export class LoadImbalanceMeter {
  private readonly windows = new Map<number, Float64Array>();

  constructor(
    readonly workers: number,
    readonly windowS: number = IMBALANCE_WINDOW_S,
  ) {}

  /** Worker `w` prefilled `tokens` uncached tokens for a request arriving at `tS`. */
  add(tS: number, w: number, tokens: number): void {
    const k = Math.floor(tS / this.windowS);
    let per = this.windows.get(k);
    if (per === undefined) {
      per = new Float64Array(this.workers);
      this.windows.set(k, per);
    }
    per[w] += tokens;
  }

  /** Mean over windows of max/mean per-worker tokens; 1 = perfectly even; 1 when there was no work. */
  imbalance(): number {
    let sum = 0;
    let n = 0;
    for (const per of this.windows.values()) {
      let total = 0;
      let max = 0;
      for (const x of per) {
        total += x;
        max = Math.max(max, x);
      }
      if (total === 0) continue;
      sum += max / (total / this.workers);
      n += 1;
    }
    return n === 0 ? 1 : sum / n;
  }
}
