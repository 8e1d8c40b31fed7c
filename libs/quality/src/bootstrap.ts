// Bootstrap 95% intervals over windows (resampling whole windows, so positions of one window stay
// together): for one method's mean, and for two methods paired on the same windows.

/** Bootstrap resamples per interval. */
const BOOTSTRAP_RESAMPLES = 2000;
/** Seed of the resampling generator: the same inputs always give the same intervals. */
const BOOTSTRAP_SEED = 0x5eed;

/** A 95% interval [low, high]. */
export type Interval = [number, number];

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

function percentiles(samples: number[]): Interval {
  samples.sort((a, b) => a - b);
  const at = (q: number): number => samples[Math.min(samples.length - 1, Math.max(0, Math.round(q * (samples.length - 1))))];
  return [at(0.025), at(0.975)];
}

/** Resample window indices and apply `stat` to each resample. */
function resample(n: number, stat: (idx: number[]) => number): number[] {
  const rnd = lcg(BOOTSTRAP_SEED);
  const out: number[] = [];
  const idx = new Array<number>(n);
  for (let b = 0; b < BOOTSTRAP_RESAMPLES; b++) {
    for (let i = 0; i < n; i++) idx[i] = Math.floor(rnd() * n);
    out.push(stat(idx));
  }
  return out;
}

/** 95% bootstrap interval of the mean of per-window values. */
export function meanInterval(values: readonly number[]): Interval {
  if (values.length === 0) return [NaN, NaN];
  return percentiles(resample(values.length, (idx) => mean(idx.map((i) => values[i]))));
}

/** A paired comparison of per-window values a[i], b[i]. */
export interface PairedStats {
  /** mean(a) - mean(b) and its interval. */
  diff: number;
  diffCi95: Interval;
  /** mean(a) / mean(b) and its interval (resampled as a ratio of means). */
  ratio: number;
  ratioCi95: Interval;
}

/** Paired bootstrap of two methods on the same windows. */
export function pairedInterval(a: readonly number[], b: readonly number[]): PairedStats {
  if (a.length !== b.length) throw new Error(`paired samples differ in length: ${a.length} vs ${b.length}`);
  const diffs = resample(a.length, (idx) => mean(idx.map((i) => a[i])) - mean(idx.map((i) => b[i])));
  const ratios = resample(a.length, (idx) => mean(idx.map((i) => a[i])) / mean(idx.map((i) => b[i])));
  return { diff: mean(a) - mean(b), diffCi95: percentiles(diffs), ratio: mean(a) / mean(b), ratioCi95: percentiles(ratios) };
}
