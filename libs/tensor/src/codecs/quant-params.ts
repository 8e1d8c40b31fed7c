// The scalar rules every affine integer codec follows, shared by the reference and fast encoders:
// group parameters (fp16 scale and minimum, rounded so the grid covers the data), the quantizer,
// and what happens to NaN, ±Inf and values beyond the fp16 range. Half conversions use the fast
// functions of half-float.ts, which are tested bit-exact against their references.
import { floatBitsToHalfBits, halfToFloatBitsTable } from "./half-float.js";

/** Largest finite half-precision value; group parameters are clamped to ±this. */
const HALF_MAX = 65504;

/**
 * The finite minimum and maximum of `count` values read by `at(i)`; non-finite values (NaN, ±Inf)
 * are skipped (x - x is 0 only for finite x). A group with no finite value gets [0, 0].
 */
export function finiteRange(count: number, at: (i: number) => number): { lo: number; hi: number } {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < count; i++) {
    const x = at(i);
    if (x - x !== 0) continue;
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  return lo > hi ? { lo: 0, hi: 0 } : { lo, hi };
}

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);
let halfValues: Float32Array | null = null;

/** The value of half bits `h` (finite h only: a float32 view on the shared decode table). */
function halfValue(h: number): number {
  if (halfValues === null) halfValues = new Float32Array(halfToFloatBitsTable().buffer);
  return halfValues[h];
}

/** Half bits nearest to x (x rounded to float32 first), as floatToHalfBits, without a call chain. */
function nearestHalfBits(x: number): number {
  scratchF32[0] = x;
  return floatBitsToHalfBits(scratchU32[0]);
}

/** Half bits of the largest half <= x (x finite, clamped to ±HALF_MAX). */
function halfFloorBits(x: number): number {
  const c = x > HALF_MAX ? HALF_MAX : x < -HALF_MAX ? -HALF_MAX : x;
  const h = nearestHalfBits(c);
  return halfValue(h) > c ? stepHalf(h, -1) : h;
}

/** Half bits of the smallest half >= x (x finite, clamped to ±HALF_MAX). */
export function halfCeilBits(x: number): number {
  const c = x > HALF_MAX ? HALF_MAX : x < -HALF_MAX ? -HALF_MAX : x;
  const h = nearestHalfBits(c);
  return halfValue(h) < c ? stepHalf(h, 1) : h;
}

/** The adjacent half value in direction `dir` (finite, non-NaN input). */
function stepHalf(h: number, dir: 1 | -1): number {
  const negative = (h & 0x8000) !== 0;
  const mag = h & 0x7fff;
  if (mag === 0) return dir > 0 ? 0x0001 : 0x8001;
  const away = negative ? dir < 0 : dir > 0; // moving away from zero grows the magnitude
  return (h & 0x8000) | (away ? mag + 1 : mag - 1);
}

/** Parameters of one asymmetric group: half bits of scale and minimum, and their float values. */
export interface AffineParams {
  scaleBits: number;
  minBits: number;
  scale: number;
  min: number;
  /** 1 / scale, or 0 for a constant group (scale 0): every code is then 0. */
  inv: number;
  /** The finite data range the values are clamped to before quantizing. */
  lo: number;
  hi: number;
}

/**
 * Asymmetric parameters for `levels` + 1 codes over [lo, hi]: the minimum rounded down to a half,
 * the scale (hi - min) / levels rounded up to a half, so min + levels * scale >= hi.
 */
export function affineParams(lo: number, hi: number, levels: number): AffineParams {
  const minBits = halfFloorBits(lo);
  const min = halfValue(minBits);
  const scaleBits = halfCeilBits((hi > min ? hi - min : 0) / levels);
  const scale = halfValue(scaleBits);
  return { scaleBits, minBits, scale, min, inv: scale > 0 ? 1 / scale : 0, lo, hi };
}

/**
 * The asymmetric code of x: NaN counts as 0; x is clamped to [lo, hi] (so ±Inf saturate), then
 * q = floor((x - min) * inv + 0.5) clamped to [0, levels]. Ties round up.
 */
export function affineCode(x: number, p: AffineParams, levels: number): number {
  const c = x !== x ? 0 : x;
  const y = c < p.lo ? p.lo : c > p.hi ? p.hi : c;
  const q = Math.floor((y - p.min) * p.inv + 0.5);
  return q < 0 ? 0 : q > levels ? levels : q;
}

/** Decoded value of an asymmetric code (float64; stored as float32 by the caller). */
export function affineValue(q: number, scale: number, min: number): number {
  return min + q * scale;
}

/** Parameters of one symmetric group: half bits of the scale, its value and inverse. */
export interface SymmetricParams {
  scaleBits: number;
  scale: number;
  inv: number;
  /** Largest finite |x| of the group; values are clamped to ±absMax. */
  absMax: number;
}

/** Symmetric parameters for codes in [-levels, levels]: scale = absMax / levels rounded up to a half. */
export function symmetricParams(lo: number, hi: number, levels: number): SymmetricParams {
  const absMax = Math.max(-lo, hi, 0);
  const scaleBits = halfCeilBits(absMax / levels);
  const scale = halfValue(scaleBits);
  return { scaleBits, scale, inv: scale > 0 ? 1 / scale : 0, absMax };
}

/**
 * The symmetric code of x: NaN counts as 0, x is clamped to ±absMax, then
 * q = floor(x * inv + levels + 0.5) - levels clamped to [-levels, levels] (ties round up).
 */
export function symmetricCode(x: number, p: SymmetricParams, levels: number): number {
  const c = x !== x ? 0 : x;
  const y = c < -p.absMax ? -p.absMax : c > p.absMax ? p.absMax : c;
  const q = Math.floor(y * p.inv + levels + 0.5) - levels;
  return q < -levels ? -levels : q > levels ? levels : q;
}

/** Least-squares refits lsqAffineParams tries after the min/max grid. */
export const LSQ_FIT_ITERATIONS = 4;

/** Sum of squared decode errors of a group's finite values under `p` (what lsqAffineParams minimizes). */
export function groupSquaredError(values: Float32Array, count: number, p: AffineParams, levels: number): number {
  let err = 0;
  for (let i = 0; i < count; i++) {
    const x = values[i];
    if (x - x !== 0) continue;
    const d = affineValue(affineCode(x, p, levels), p.scale, p.min) - x;
    err += d * d;
  }
  return err;
}

/** Parameters from half bits of a scale and a minimum (values clamped to the data range [lo, hi]). */
function paramsOfHalves(scaleBits: number, minBits: number, lo: number, hi: number): AffineParams {
  const scale = halfValue(scaleBits);
  return { scaleBits, minBits, scale, min: halfValue(minBits), inv: scale > 0 ? 1 / scale : 0, lo, hi };
}

const clampHalf = (x: number): number => (x > HALF_MAX ? HALF_MAX : x < -HALF_MAX ? -HALF_MAX : x);

/**
 * One least-squares refit of lsqAffineParams: from the sums of one pass over a group's finite
 * values under a grid (n values, their codes q and values x: Σq, Σq², Σx, Σqx), the minimum and
 * scale that fit those codes best, rounded to the nearest halves (values clamped to [lo, hi]).
 * Undefined when no refit can follow: every value on one code (the grid is already exact enough),
 * a scale that is not positive or a minimum that is not finite, or a scale that rounds to zero.
 */
export function lsqRefit(n: number, sq: number, sqq: number, sx: number, sqx: number, lo: number, hi: number): AffineParams | undefined {
  const det = n * sqq - sq * sq;
  if (!(det > 0)) return undefined;
  const s = (n * sqx - sq * sx) / det;
  const m = (sx - s * sq) / n;
  if (!(s > 0) || !Number.isFinite(m)) return undefined;
  const next = paramsOfHalves(nearestHalfBits(clampHalf(s)), nearestHalfBits(clampHalf(m)), lo, hi);
  return next.scale === 0 ? undefined : next;
}

/**
 * Asymmetric parameters fitted to a group's values (`count` of them, in member order) by alternating
 * minimization of the squared error, as LQ-Nets fits its quantizer basis: codes under the current
 * grid, then the least-squares minimum and scale for those codes (rounded to the nearest halves),
 * {@link LSQ_FIT_ITERATIONS} times from the min/max grid of {@link affineParams}; the grid with the
 * smallest error wins (ties keep the earlier). A fitted grid may not reach the group's extremes:
 * they take the end codes (clipping), which is what buys the smaller error at 2 bits.
 */
export function lsqAffineParams(values: Float32Array, count: number, levels: number): AffineParams {
  const { lo, hi } = finiteRange(count, (i) => values[i]);
  let best = affineParams(lo, hi, levels);
  if (best.scale === 0) return best;
  let bestErr = groupSquaredError(values, count, best, levels);
  let cur = best;
  for (let it = 0; it < LSQ_FIT_ITERATIONS; it++) {
    let n = 0;
    let sq = 0;
    let sqq = 0;
    let sx = 0;
    let sqx = 0;
    for (let i = 0; i < count; i++) {
      const x = values[i];
      if (x - x !== 0) continue;
      const q = affineCode(x, cur, levels);
      n++;
      sq += q;
      sqq += q * q;
      sx += x;
      sqx += q * x;
    }
    const next = lsqRefit(n, sq, sqq, sx, sqx, lo, hi);
    if (next === undefined) break;
    const err = groupSquaredError(values, count, next, levels);
    if (err < bestErr) {
      best = next;
      bestErr = err;
    }
    cur = next;
  }
  return best;
}
