// Load imbalance as the issue defines it: cut trace time into windows (60 s), sum the uncached
// prompt tokens each worker prefilled in each window (attributed at the request's arrival), take
// max over mean per window, and average over the windows that saw any prefill work. Also the
// floor that indivisible requests put under it: no placement of the same requests can bring a
// window's max below its largest single request.

/** Window length of the load-imbalance measure, in seconds. */
export const IMBALANCE_WINDOW_S = 60;
/**
 * Phases of the measure's windows {@link LoadImbalanceMeter.imbalanceAtPhase} can report: the
 * windows start at 0, 1/4, 1/2 and 3/4 of a window after the trace's time origin (0, 15, 30
 * and 45 s). The measure is phase 0; the others show how much a ratio owes to where the
 * windows happen to start.
 */
export const IMBALANCE_PHASES = 4;

interface Window {
  perWorker: Float64Array;
  largestRequest: number;
}

/** Accumulates per-window, per-worker prefill tokens. */
export class LoadImbalanceMeter {
  private readonly windows = new Map<number, Window>();
  /** Per-worker tokens per 1/IMBALANCE_PHASES of a window, by bucket index from time 0. */
  private readonly buckets = new Map<number, Float64Array>();

  constructor(
    readonly workers: number,
    readonly windowS: number = IMBALANCE_WINDOW_S,
  ) {}

  /** Worker `w` prefilled `tokens` uncached tokens for a request arriving at `tS`. */
  add(tS: number, w: number, tokens: number): void {
    const k = Math.floor(tS / this.windowS);
    let win = this.windows.get(k);
    if (win === undefined) {
      win = { perWorker: new Float64Array(this.workers), largestRequest: 0 };
      this.windows.set(k, win);
    }
    win.perWorker[w] += tokens;
    win.largestRequest = Math.max(win.largestRequest, tokens);
    tokensOf(this.buckets, Math.floor((tS * IMBALANCE_PHASES) / this.windowS), this.workers)[w] += tokens;
  }

  /** Tokens worker `w` has prefilled so far in the window holding `tS` (0 in a window with no work yet). */
  windowTokens(tS: number, w: number): number {
    return this.windows.get(Math.floor(tS / this.windowS))?.perWorker[w] ?? 0;
  }

  /** Mean over windows of max/mean per-worker tokens; 1 = perfectly even; 1 when there was no work. */
  imbalance(): number {
    return meanOverWindows(
      this.windows.values(),
      (win) => win.perWorker,
      (max) => max,
    );
  }

  /**
   * {@link imbalance} with every window starting `phase` quarters of a window later (phase 0 is
   * {@link imbalance}, up to rounding): the same placements judged by windows that start elsewhere.
   * A policy whose ratio holds only at one phase fits the windows' edges, not the load.
   */
  imbalanceAtPhase(phase: number): number {
    if (!Number.isSafeInteger(phase) || phase < 0 || phase >= IMBALANCE_PHASES)
      throw new RangeError(`phase must be an integer in [0, ${IMBALANCE_PHASES}), got ${phase}`);
    const shifted = new Map<number, Float64Array>();
    for (const [b, bucket] of this.buckets) {
      const win = tokensOf(shifted, Math.floor((b - phase) / IMBALANCE_PHASES), this.workers);
      for (let w = 0; w < this.workers; w++) win[w] += bucket[w];
    }
    return meanOverWindows(
      shifted.values(),
      (perWorker) => perWorker,
      (max) => max,
    );
  }

  /**
   * The least {@link imbalance} any placement of the same requests with the same uncached work
   * could reach: per window max(1, largest request / mean), averaged alike. Where a policy's
   * imbalance sits at this floor, its windows hold too little work to split more evenly.
   */
  indivisibleFloor(): number {
    return meanOverWindows(
      this.windows.values(),
      (win) => win.perWorker,
      (max, win, mean) => Math.max(mean, win.largestRequest),
    );
  }

  /**
   * The busiest worker's prefill tokens per window, averaged over the windows with work: the load
   * that sets queueing delay, in absolute terms (the imbalance ratio divides by the mean, which
   * shrinks as a policy caches more, so it compares policies that do different amounts of work
   * unevenly).
   */
  meanPeakTokens(): number {
    return meanOverWindows(
      this.windows.values(),
      (win) => win.perWorker,
      (max, _win, mean) => max * mean,
    );
  }
}

/** The per-worker tokens of window (or bucket) `k`, created empty on first use. */
function tokensOf(map: Map<number, Float64Array>, k: number, workers: number): Float64Array {
  let row = map.get(k);
  if (row === undefined) {
    row = new Float64Array(workers);
    map.set(k, row);
  }
  return row;
}

/** Mean of `top(max, win, mean) / mean` over the windows with work (max and mean of their per-worker tokens); 1 when none had work. */
function meanOverWindows<W>(
  windows: Iterable<W>,
  tokens: (win: W) => Float64Array,
  top: (max: number, win: W, mean: number) => number,
): number {
  let sum = 0;
  let n = 0;
  for (const win of windows) {
    const perWorker = tokens(win);
    let total = 0;
    let max = 0;
    for (const x of perWorker) {
      total += x;
      max = Math.max(max, x);
    }
    if (total === 0) continue;
    const mean = total / perWorker.length;
    sum += top(max, win, mean) / mean;
    n += 1;
  }
  return n === 0 ? 1 : sum / n;
}
