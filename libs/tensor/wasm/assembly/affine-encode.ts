// Affine integer encoder (int8, int4, KIVI): every group's range, every group's parameters (four
// groups per vector), then quantize and bit-pack eight values per step. The codes equal those of
// src/codecs/affine-fast.ts, which computes (x - min) * inv (+ levels) + 0.5 in f64: here it is
// computed in f32 and a run is redone in f64 when any value lands near an integer (Step.value4).
// Supports rows of channels % 8 == 0 and, on the token axis, groups % 8 == 0 (the JS encoder
// handles every other shape).
import { groupParamsRun, slotsBytes, slotsHi, slotsInv, slotsInv32, slotsLo, slotsMin, slotsMin32 } from "./affine-params";

const F32_BYTES: usize = 4;

/** The fast quantizer is trusted when v is at least this far from an integer (its error is below 2^-13). */
const F32_TRUST_MARGIN: f32 = 1.0 / 4096;

/** quantize4 in f64, exactly as the JS (y already clamped); parameters from slot i (token axis) or i..i+3 (channel axis). */
function quantize4Exact(y: v128, q: usize, i: usize, cap: usize, channelAxis: bool, symmetric: bool, levels: f32): v128 {
  const d = i << 3;
  const minL = channelAxis ? v128.load(slotsMin(q, cap) + d) : v128.load64_splat(slotsMin(q, cap) + d);
  const minH = channelAxis ? v128.load(slotsMin(q, cap) + d, 16) : minL;
  const invL = channelAxis ? v128.load(slotsInv(q, cap) + d) : v128.load64_splat(slotsInv(q, cap) + d);
  const invH = channelAxis ? v128.load(slotsInv(q, cap) + d, 16) : invL;
  let vl = f64x2.mul(f64x2.sub(f64x2.promote_low_f32x4(y), minL), invL);
  let vh = f64x2.mul(f64x2.sub(f64x2.promote_low_f32x4(v128.shuffle<u32>(y, y, 2, 3, 2, 3)), minH), invH);
  if (symmetric) {
    vl = f64x2.add(vl, f64x2.splat(<f64>levels));
    vh = f64x2.add(vh, f64x2.splat(<f64>levels));
  }
  vl = f64x2.add(vl, f64x2.splat(0.5));
  vh = f64x2.add(vh, f64x2.splat(0.5));
  return v128.shuffle<u32>(i32x4.trunc_sat_f64x2_s_zero(vl), i32x4.trunc_sat_f64x2_s_zero(vh), 0, 1, 4, 5);
}

/** The per-step kernels, as static methods so that they can carry @inline (AssemblyScript). */
class Step {
  /**
   * v = (y - min) * inv (+ levels when symmetric) + 0.5 of four values in f32, y = x clamped to
   * [lo, hi] (exact in f32), NaN as 0. The JS computes v in f64; the f32 error is below 2^-13
   * wherever the code is not saturated (|v| < 512: three roundings of 2^-24 relative, one of
   * 2^-15 absolute), so floor(v) agrees unless v is that close to an integer (see nearInteger).
   */
  @inline static value4(x: v128, lo: v128, hi: v128, min32: v128, inv32: v128, symmetric: bool, levels: f32): v128 {
    const y = f32x4.pmin(f32x4.pmax(v128.and(x, f32x4.eq(x, x)), lo), hi);
    let v = f32x4.mul(f32x4.sub(y, min32), inv32);
    if (symmetric) v = f32x4.add(v, f32x4.splat(levels));
    return f32x4.add(v, f32x4.splat(0.5));
  }

  /** Lanes of v within F32_TRUST_MARGIN of an integer. */
  @inline static nearInteger(v: v128): v128 {
    return f32x4.lt(f32x4.abs(f32x4.sub(v, f32x4.nearest(v))), f32x4.splat(F32_TRUST_MARGIN));
  }

  /**
   * Eight codes (i32 lanes of a and b) clamped to [0, top] (negative ones saturate to 0), shifted
   * to two's complement when symmetric, packed `bits` wide and stored at out (8, 4 or 2 bytes).
   */
  @inline static pack8(a: v128, b: v128, top: v128, symmetric: bool, levels: v128, mask: v128, bits: i32, out: usize): void {
    let c = i16x8.min_u(i16x8.narrow_i32x4_u(a, b), top);
    if (symmetric) c = v128.and(i16x8.sub(c, levels), mask);
    if (bits == 8) {
      v128.store64_lane(out, i8x16.narrow_i16x8_u(c, c), 0);
    } else if (bits == 4) {
      const w = v128.and(v128.or(c, i32x4.shr_u(c, 12)), i32x4.splat(0xff));
      const n = i16x8.narrow_i32x4_u(w, w);
      v128.store32_lane(out, i8x16.narrow_i16x8_u(n, n), 0);
    } else {
      const w = v128.and(v128.or(c, i32x4.shr_u(c, 14)), i32x4.splat(0xf));
      const d = v128.and(v128.or(w, i64x2.shr_u(w, 28)), i64x2.splat(0xff));
      v128.store8_lane(out, d, 0);
      v128.store8_lane(out, d, 8, 1);
    }
  }

  /**
   * Quantize and pack `len` values from p (a multiple of 8) whose parameters are vectors at
   * f32 offset `f` of the slots (channel axis: one per lane, advancing) or splat (token axis).
   * Returns true when some value came within the f32 margin of an integer: the caller redoes the run.
   */
  @inline static run(
    p: usize,
    len: i32,
    out: usize,
    slots: usize,
    cap: usize,
    f0: usize,
    perLane: bool,
    symmetric: bool,
    bits: i32,
    levels: i32,
  ): bool {
    const top = i16x8.splat(<i16>(symmetric ? 2 * levels : levels));
    const lv = i16x8.splat(<i16>levels);
    const mask = i16x8.splat(<i16>(((<i32>1) << bits) - 1));
    const lvf = <f32>levels;
    let near = i32x4.splat(0);
    let lo = v128.load32_splat(slotsLo(slots) + f0);
    let hi = v128.load32_splat(slotsHi(slots, cap) + f0);
    let mn = v128.load32_splat(slotsMin32(slots, cap) + f0);
    let inv = v128.load32_splat(slotsInv32(slots, cap) + f0);
    let lo2 = lo,
      hi2 = hi,
      mn2 = mn,
      inv2 = inv;
    for (let j = 0, f = f0; j < len; j += 8, f += 32, out += <usize>bits) {
      if (perLane) {
        lo = v128.load(slotsLo(slots) + f);
        hi = v128.load(slotsHi(slots, cap) + f);
        mn = v128.load(slotsMin32(slots, cap) + f);
        inv = v128.load(slotsInv32(slots, cap) + f);
        lo2 = v128.load(slotsLo(slots) + f, 16);
        hi2 = v128.load(slotsHi(slots, cap) + f, 16);
        mn2 = v128.load(slotsMin32(slots, cap) + f, 16);
        inv2 = v128.load(slotsInv32(slots, cap) + f, 16);
      }
      const va = Step.value4(v128.load(p + <usize>j * F32_BYTES), lo, hi, mn, inv, symmetric, lvf);
      const vb = Step.value4(v128.load(p + <usize>j * F32_BYTES, 16), lo2, hi2, mn2, inv2, symmetric, lvf);
      near = v128.or(near, v128.or(Step.nearInteger(va), Step.nearInteger(vb)));
      Step.pack8(i32x4.trunc_sat_f32x4_s(va), i32x4.trunc_sat_f32x4_s(vb), top, symmetric, lv, mask, bits, out);
    }
    return v128.any_true(near);
  }
}

/** Step.run without the f32 shortcut: every value through quantize4Exact. */
function runExact(
  p: usize,
  len: i32,
  out: usize,
  slots: usize,
  cap: usize,
  g0: usize,
  perLane: bool,
  symmetric: bool,
  bits: i32,
  levels: i32,
): void {
  const top = i16x8.splat(<i16>(symmetric ? 2 * levels : levels));
  const lv = i16x8.splat(<i16>levels);
  const mask = i16x8.splat(<i16>(((<i32>1) << bits) - 1));
  for (let j = 0, g = g0; j < len; j += 8, out += <usize>bits) {
    const lo = perLane ? v128.load(slotsLo(slots) + (g << 2)) : v128.load32_splat(slotsLo(slots) + (g << 2));
    const hi = perLane ? v128.load(slotsHi(slots, cap) + (g << 2)) : v128.load32_splat(slotsHi(slots, cap) + (g << 2));
    const lo2 = perLane ? v128.load(slotsLo(slots) + (g << 2), 16) : lo;
    const hi2 = perLane ? v128.load(slotsHi(slots, cap) + (g << 2), 16) : hi;
    const ya = f32x4.pmin(
      f32x4.pmax(
        v128.and(v128.load(p + <usize>j * F32_BYTES), f32x4.eq(v128.load(p + <usize>j * F32_BYTES), v128.load(p + <usize>j * F32_BYTES))),
        lo,
      ),
      hi,
    );
    const xb = v128.load(p + <usize>j * F32_BYTES, 16);
    const yb = f32x4.pmin(f32x4.pmax(v128.and(xb, f32x4.eq(xb, xb)), lo2), hi2);
    const a = quantize4Exact(ya, slots, g, cap, perLane, symmetric, <f32>levels);
    const b = quantize4Exact(yb, slots, perLane ? g + 4 : g, cap, perLane, symmetric, <f32>levels);
    Step.pack8(a, b, top, symmetric, lv, mask, bits, out);
    if (perLane) g += 8;
  }
}

/** Quantize and pack one run (a token-axis group, or a row of channel groups), redoing it exactly when needed. */
function quantizeRun(
  p: usize,
  len: i32,
  out: usize,
  slots: usize,
  cap: usize,
  g0: usize,
  perLane: bool,
  symmetric: bool,
  bits: i32,
  levels: i32,
): void {
  let near: bool;
  if (symmetric) near = Step.run(p, len, out, slots, cap, g0 << 2, perLane, true, bits, levels);
  else near = Step.run(p, len, out, slots, cap, g0 << 2, perLane, false, bits, levels);
  if (near) runExact(p, len, out, slots, cap, g0, perLane, symmetric, bits, levels);
}

/** Finite range of n values at p with stride `step` bytes, exactly as the JS loop (first minimum wins). */
function finiteRangeScalar(p: usize, n: i32, step: usize, out: usize): void {
  let lo: f32 = Infinity;
  let hi: f32 = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = load<f32>(p + <usize>i * step);
    if (x - x != 0) continue;
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  if (lo > hi) lo = hi = 0;
  store<f32>(out, lo);
  store<f32>(out, hi, 4);
}

/** Scratch bytes affineEncode needs for a segment. */
export function encodeScratchBytes(tokens: i32, channels: i32, channelAxis: bool, groupSize: i32): usize {
  const groups = channelAxis ? <usize>channels : <usize>tokens * <usize>((channels + groupSize - 1) / groupSize);
  return slotsBytes(groups) + 16;
}

/** Encode one segment; `scratch` holds encodeScratchBytes(...) bytes, 16-aligned. */
export function affineEncode(
  src: usize,
  dst: usize,
  tokens: i32,
  channels: i32,
  channelAxis: bool,
  groupSize: i32,
  bits: i32,
  symmetric: bool,
  scratch: usize,
): void {
  const levels = symmetric ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;
  const codeBytes = (<usize>tokens * <usize>channels * <usize>bits + 7) >> 3;
  const paramBytes: usize = symmetric ? 2 : 4;
  if (channelAxis) encodeChannelGroups(src, dst, tokens, channels, groupSize, bits, symmetric, levels, codeBytes, paramBytes, scratch);
  else encodeTokenGroups(src, dst, tokens, channels, groupSize, bits, symmetric, levels, codeBytes, paramBytes, scratch);
}

/** The finite range of one token-axis group (len % 4 == 0) into element g of the slots, exactly as the JS loop. */
function tokenGroupRange(p: usize, len: i32, qLo: usize, qHi: usize, g: usize, range: usize): void {
  let lo4 = f32x4.splat(Infinity);
  let hi4 = f32x4.splat(-Infinity);
  for (let j = 0; j < len; j += 4) {
    const x = v128.load(p + <usize>j * F32_BYTES);
    lo4 = f32x4.pmin(lo4, x);
    hi4 = f32x4.pmax(hi4, x);
  }
  // across lanes with pmin/pmax (one instruction each; no NaN can be in the accumulators)
  lo4 = f32x4.pmin(lo4, v128.shuffle<u32>(lo4, lo4, 2, 3, 0, 1));
  hi4 = f32x4.pmax(hi4, v128.shuffle<u32>(hi4, hi4, 2, 3, 0, 1));
  let lo = f32x4.extract_lane(f32x4.pmin(lo4, v128.shuffle<u32>(lo4, lo4, 1, 0, 3, 2)), 0);
  let hi = f32x4.extract_lane(f32x4.pmax(hi4, v128.shuffle<u32>(hi4, hi4, 1, 0, 3, 2)), 0);
  if (lo == -Infinity || hi == Infinity) {
    // ±Inf is skipped by the range: redo this group the scalar way
    finiteRangeScalar(p, len, F32_BYTES, range);
    lo = load<f32>(range);
    hi = load<f32>(range, 4);
  } else if (lo > hi) {
    lo = hi = 0; // no finite value
  } else if (lo == 0) {
    // the range keeps the first zero met, and -0 and +0 give different fp16 minimums
    for (let j = 0; j < len; j++) {
      const x = load<f32>(p + <usize>j * F32_BYTES);
      if (x == 0) {
        lo = x;
        break;
      }
    }
  }
  store<f32>(qLo + (g << 2), lo);
  store<f32>(qHi + (g << 2), hi);
}

function encodeTokenGroups(
  src: usize,
  dst: usize,
  tokens: i32,
  channels: i32,
  gs: i32,
  bits: i32,
  symmetric: bool,
  levels: i32,
  codeBytes: usize,
  paramBytes: usize,
  q: usize,
): void {
  const groups = <usize>tokens * <usize>((channels + gs - 1) / gs);
  const qLo = slotsLo(q);
  const qHi = slotsHi(q, groups);
  const range = q + slotsBytes(groups);
  let g: usize = 0;
  for (let t = 0; t < tokens; t++) {
    for (let c0 = 0; c0 < channels; c0 += gs, g++) {
      tokenGroupRange(src + (<usize>t * <usize>channels + <usize>c0) * F32_BYTES, min(gs, channels - c0), qLo, qHi, g, range);
    }
  }
  groupParamsRun(levels, symmetric, dst + codeBytes, paramBytes, q, groups, 0, groups);
  g = 0;
  for (let t = 0; t < tokens; t++) {
    for (let c0 = 0; c0 < channels; c0 += gs, g++) {
      const len = min(gs, channels - c0);
      const first = <usize>t * <usize>channels + <usize>c0;
      const p = src + first * F32_BYTES;
      quantizeRun(p, len, dst + ((first * <usize>bits) >> 3), q, groups, g, false, symmetric, bits, levels);
    }
  }
}

function encodeChannelGroups(
  src: usize,
  dst: usize,
  tokens: i32,
  channels: i32,
  gs: i32,
  bits: i32,
  symmetric: bool,
  levels: i32,
  codeBytes: usize,
  paramBytes: usize,
  q: usize,
): void {
  const C = <usize>channels;
  const row = C * F32_BYTES;
  const qLo = slotsLo(q);
  const qHi = slotsHi(q, C);
  const range = q + slotsBytes(C);
  for (let t0 = 0, tg: usize = 0; t0 < tokens; t0 += gs, tg++) {
    const t1 = min(tokens, t0 + gs);
    const base = src + <usize>t0 * row;
    // per-channel ranges, four channels per vector, tokens in order (so the first minimum wins, as in JS)
    for (let c: usize = 0; c < C; c += 4) {
      let lo4 = f32x4.splat(Infinity);
      let hi4 = f32x4.splat(-Infinity);
      for (let t = t0, p = base + c * F32_BYTES; t < t1; t++, p += row) {
        const x = v128.load(p);
        lo4 = f32x4.pmin(lo4, x);
        hi4 = f32x4.pmax(hi4, x);
      }
      if (v128.any_true(v128.or(f32x4.eq(lo4, f32x4.splat(-Infinity)), f32x4.eq(hi4, f32x4.splat(Infinity))))) {
        for (let k: usize = 0; k < 4; k++) {
          finiteRangeScalar(base + (c + k) * F32_BYTES, t1 - t0, row, range);
          lo4 = f32x4.replace_lane(lo4, 0, load<f32>(range));
          hi4 = f32x4.replace_lane(hi4, 0, load<f32>(range, 4));
          lo4 = v128.shuffle<u32>(lo4, lo4, 1, 2, 3, 0);
          hi4 = v128.shuffle<u32>(hi4, hi4, 1, 2, 3, 0);
        }
      }
      // no finite value: [0, 0]
      const empty = f32x4.gt(lo4, hi4);
      v128.store(qLo + c * F32_BYTES, v128.andnot(lo4, empty));
      v128.store(qHi + c * F32_BYTES, v128.andnot(hi4, empty));
    }
    groupParamsRun(levels, symmetric, dst + codeBytes + tg * C * paramBytes, paramBytes, q, C, 0, C);
    for (let t = t0; t < t1; t++) {
      quantizeRun(src + <usize>t * row, channels, dst + ((<usize>t * C * <usize>bits) >> 3), q, C, 0, true, symmetric, bits, levels);
    }
  }
}
