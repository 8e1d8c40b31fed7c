// The replay's load model: every simulated worker prefills its queue at a fixed throughput
// (tokens/s); a request adds its uncached prompt tokens to the queue of the worker it goes to.
// A worker's load is its queued uncached tokens — the unit of DEFAULT_ROUTING_WEIGHTS — and its
// recent work (prefill tokens sent to it, decayed with a time constant) breaks routing ties.

/** Default time constant of the recent-work decay, in seconds (the load-imbalance window's length). */
export const RECENT_WORK_TAU_S = 60;

/** Per-worker queues of prefill tokens draining at `tokensPerS` each. */
export class PrefillQueueModel {
  private readonly queued: Float64Array;
  private readonly recent: Float64Array;
  private nowS = 0;

  constructor(
    readonly workers: number,
    readonly tokensPerS: number,
    /** Time constant of the recent-work decay, s. */
    readonly recentTauS: number = RECENT_WORK_TAU_S,
  ) {
    this.queued = new Float64Array(workers);
    this.recent = new Float64Array(workers);
  }

  /** Moves the clock to `tS` (never backwards): queues drain, recent work decays. */
  advance(tS: number): void {
    const dt = tS - this.nowS;
    if (dt <= 0) return;
    this.nowS = tS;
    const drained = this.tokensPerS * dt;
    const decay = Math.exp(-dt / this.recentTauS);
    for (let w = 0; w < this.workers; w++) {
      this.queued[w] = Math.max(0, this.queued[w] - drained);
      this.recent[w] *= decay;
    }
  }

  /** Tokens waiting for prefill on worker `w` now. */
  queuedTokens(w: number): number {
    return this.queued[w];
  }

  /** Decayed prefill tokens recently sent to worker `w`. */
  recentTokens(w: number): number {
    return this.recent[w];
  }

  /** Worker `w` takes a request needing `tokens` of prefill; returns when that prefill is done, s (its queue is first in, first out). */
  enqueue(w: number, tokens: number): number {
    this.queued[w] += tokens;
    this.recent[w] += tokens;
    return this.nowS + this.queued[w] / this.tokensPerS;
  }
}
