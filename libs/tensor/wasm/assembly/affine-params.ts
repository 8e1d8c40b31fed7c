// Group parameters of the affine integer codecs, scalar f64 exactly as src/codecs/quant-params.ts
// computes them (fp16 minimum rounded down, fp16 scale rounded up, inverse scale in f64).
import { f32BitsToHalf, f32x4ToHalf, halfStep4, halfToF32, halfToF32x4 } from "./half";

const HALF_MAX: f64 = 65504;

function nearestHalfBits(x: f64): u32 {
  return f32BitsToHalf(reinterpret<u32>(<f32>x));
}

function stepHalf(h: u32, dir: i32): u32 {
  const negative = (h & 0x8000) != 0;
  const mag = h & 0x7fff;
  if (mag == 0) return dir > 0 ? 0x0001 : 0x8001;
  const away = negative ? dir < 0 : dir > 0;
  return (h & 0x8000) | (away ? mag + 1 : mag - 1);
}

/** Half bits of the largest half <= x (x finite), x clamped to ±HALF_MAX. */
export function halfFloorBits(x: f64): u32 {
  const c = x > HALF_MAX ? HALF_MAX : x < -HALF_MAX ? -HALF_MAX : x;
  const h = nearestHalfBits(c);
  return <f64>halfToF32(h) > c ? stepHalf(h, -1) : h;
}

/** Half bits of the smallest half >= x (x finite), x clamped to ±HALF_MAX. */
export function halfCeilBits(x: f64): u32 {
  const c = x > HALF_MAX ? HALF_MAX : x < -HALF_MAX ? -HALF_MAX : x;
  const h = nearestHalfBits(c);
  return <f64>halfToF32(h) < c ? stepHalf(h, 1) : h;
}

/**
 * The quantizer's view of a run of groups, one array per field so that adjacent channels'
 * parameters load as one vector: clamp bounds lo and hi (f32), minimum and inverse scale (f64, the
 * exact quantizer), minimum and inverse scale as f32 (the fast one), each array `cap` elements
 * long, starting at `base` (16-byte aligned).
 */
export function slotsLo(base: usize): usize {
  return base;
}
export function slotsHi(base: usize, cap: usize): usize {
  return base + cap * 4;
}
export function slotsMin(base: usize, cap: usize): usize {
  return base + cap * 8;
}
export function slotsInv(base: usize, cap: usize): usize {
  return base + cap * 16;
}
export function slotsMin32(base: usize, cap: usize): usize {
  return base + cap * 24;
}
export function slotsInv32(base: usize, cap: usize): usize {
  return base + cap * 28;
}
/** Bytes of the slots for `cap` groups. */
export function slotsBytes(cap: usize): usize {
  return cap * 32;
}

/**
 * One group's parameters from its finite range [lo, hi]: the fp16 scale (and minimum, when
 * asymmetric) at `out`, the quantizer's bounds, minimum and inverse scale at element `i` of the
 * slots at `q` (capacity `cap`).
 */
export function groupParams(lo: f32, hi: f32, levels: i32, symmetric: bool, out: usize, q: usize, cap: usize, i: usize): void {
  const f = i << 2;
  const d = i << 3;
  if (symmetric) {
    const absMax = max(max(-(<f64>lo), <f64>hi), 0.0);
    const scaleBits = halfCeilBits(absMax / <f64>levels);
    const scale = <f64>halfToF32(scaleBits);
    store<u16>(out, <u16>scaleBits);
    store<f32>(slotsLo(q) + f, <f32>-absMax);
    store<f32>(slotsHi(q, cap) + f, <f32>absMax);
    const inv = scale > 0 ? 1.0 / scale : 0.0;
    store<f64>(slotsMin(q, cap) + d, 0.0);
    store<f64>(slotsInv(q, cap) + d, inv);
    store<f32>(slotsMin32(q, cap) + f, 0);
    store<f32>(slotsInv32(q, cap) + f, <f32>inv);
    return;
  }
  const minBits = halfFloorBits(<f64>lo);
  const min = <f64>halfToF32(minBits);
  const h = <f64>hi;
  const scaleBits = halfCeilBits((h > min ? h - min : 0.0) / <f64>levels);
  const scale = <f64>halfToF32(scaleBits);
  store<u16>(out, <u16>scaleBits);
  store<u16>(out, <u16>minBits, 2);
  store<f32>(slotsLo(q) + f, lo);
  store<f32>(slotsHi(q, cap) + f, hi);
  const inv = scale > 0 ? 1.0 / scale : 0.0;
  store<f64>(slotsMin(q, cap) + d, min);
  store<f64>(slotsInv(q, cap) + d, inv);
  store<f32>(slotsMin32(q, cap) + f, <f32>min);
  store<f32>(slotsInv32(q, cap) + f, <f32>inv);
}

/** halfFloorBits of four f32 lanes (as i32 half lanes). */
function halfFloorBits4(x: v128): v128 {
  const c = f32x4.pmin(f32x4.pmax(x, f32x4.splat(<f32>-HALF_MAX)), f32x4.splat(<f32>HALF_MAX));
  const h = f32x4ToHalf(c);
  return v128.bitselect(halfStep4(h, true), h, f32x4.gt(halfToF32x4(h), c));
}

/** halfCeilBits of four f64 values (lanes 0-1 in lo, 2-3 in hi), as i32 half lanes. */
function halfCeilBits4(lo: v128, hi: v128): v128 {
  const bound = f64x2.splat(HALF_MAX);
  const cl = f64x2.pmin(f64x2.pmax(lo, f64x2.neg(bound)), bound);
  const ch = f64x2.pmin(f64x2.pmax(hi, f64x2.neg(bound)), bound);
  const h = f32x4ToHalf(v128.shuffle<u32>(f32x4.demote_f64x2_zero(cl), f32x4.demote_f64x2_zero(ch), 0, 1, 4, 5));
  const v = halfToF32x4(h);
  const below = v128.shuffle<u32>(
    f64x2.lt(f64x2.promote_low_f32x4(v), cl),
    f64x2.lt(f64x2.promote_low_f32x4(v128.shuffle<u32>(v, v, 2, 3, 2, 3)), ch),
    0,
    2,
    4,
    6,
  );
  return v128.bitselect(halfStep4(h, false), h, below);
}

/** 1 / scale, or 0 where scale is 0, of two f64 lanes. */
function inverse2(scale: v128): v128 {
  return v128.and(f64x2.div(f64x2.splat(1.0), scale), f64x2.gt(scale, f64x2.splat(0)));
}

/**
 * groupParams for four consecutive groups (elements i..i+3 of the slots at q, whose lo and hi are
 * already set: finite, lo <= hi); their parameter records are consecutive from `out`.
 */
export function groupParams4(levels: i32, symmetric: bool, out: usize, q: usize, cap: usize, i: usize): void {
  const f = i << 2;
  const d = i << 3;
  const lo = v128.load(slotsLo(q) + f);
  const hi = v128.load(slotsHi(q, cap) + f);
  const lv = f64x2.splat(<f64>levels);
  if (symmetric) {
    const absMax = f32x4.max(f32x4.max(f32x4.neg(lo), hi), f32x4.splat(0));
    const scaleBits = halfCeilBits4(
      f64x2.div(f64x2.promote_low_f32x4(absMax), lv),
      f64x2.div(f64x2.promote_low_f32x4(v128.shuffle<u32>(absMax, absMax, 2, 3, 2, 3)), lv),
    );
    const scale = halfToF32x4(scaleBits);
    v128.store64_lane(out, i16x8.narrow_i32x4_u(scaleBits, scaleBits), 0);
    v128.store(slotsLo(q) + f, f32x4.neg(absMax));
    v128.store(slotsHi(q, cap) + f, absMax);
    v128.store(slotsMin(q, cap) + d, f64x2.splat(0));
    v128.store(slotsMin(q, cap) + d, f64x2.splat(0), 16);
    storeInverse(q, cap, i, scale);
    v128.store(slotsMin32(q, cap) + f, f32x4.splat(0));
    return;
  }
  const minBits = halfFloorBits4(lo);
  const min = halfToF32x4(minBits);
  const minL = f64x2.promote_low_f32x4(min);
  const minH = f64x2.promote_low_f32x4(v128.shuffle<u32>(min, min, 2, 3, 2, 3));
  const hiL = f64x2.promote_low_f32x4(hi);
  const hiH = f64x2.promote_low_f32x4(v128.shuffle<u32>(hi, hi, 2, 3, 2, 3));
  const spanL = v128.and(f64x2.sub(hiL, minL), f64x2.gt(hiL, minL));
  const spanH = v128.and(f64x2.sub(hiH, minH), f64x2.gt(hiH, minH));
  const scaleBits = halfCeilBits4(f64x2.div(spanL, lv), f64x2.div(spanH, lv));
  const scale = halfToF32x4(scaleBits);
  v128.store(out, v128.or(scaleBits, i32x4.shl(minBits, 16)));
  v128.store(slotsMin(q, cap) + d, minL);
  v128.store(slotsMin(q, cap) + d, minH, 16);
  v128.store(slotsMin32(q, cap) + f, min);
  storeInverse(q, cap, i, scale);
}

/** 1 / scale (0 where scale is 0) of four f32 lanes, as f64 and as f32, into elements i..i+3 of the slots. */
function storeInverse(q: usize, cap: usize, i: usize, scale: v128): void {
  const l = inverse2(f64x2.promote_low_f32x4(scale));
  const h = inverse2(f64x2.promote_low_f32x4(v128.shuffle<u32>(scale, scale, 2, 3, 2, 3)));
  v128.store(slotsInv(q, cap) + (i << 3), l);
  v128.store(slotsInv(q, cap) + (i << 3), h, 16);
  v128.store(slotsInv32(q, cap) + (i << 2), v128.shuffle<u32>(f32x4.demote_f64x2_zero(l), f32x4.demote_f64x2_zero(h), 0, 1, 4, 5));
}

/** groupParams for `count` consecutive groups from element `first` of the slots (lo, hi set). */
export function groupParamsRun(
  levels: i32,
  symmetric: bool,
  out: usize,
  paramBytes: usize,
  q: usize,
  cap: usize,
  first: usize,
  count: usize,
): void {
  let i = first;
  const end = first + count;
  for (; i + 4 <= end; i += 4) groupParams4(levels, symmetric, out + (i - first) * paramBytes, q, cap, i);
  for (; i < end; i++)
    groupParams(
      load<f32>(slotsLo(q) + (i << 2)),
      load<f32>(slotsHi(q, cap) + (i << 2)),
      levels,
      symmetric,
      out + (i - first) * paramBytes,
      q,
      cap,
      i,
    );
}
