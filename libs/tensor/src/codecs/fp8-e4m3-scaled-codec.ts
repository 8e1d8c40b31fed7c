// fp8 E4M3 with a scale per token and KV head (dynamic per-token-head scaling, as production fp8
// KV caches scale values into E4M3's normal range instead of storing them raw). Each head vector's
// largest finite |x| maps to 448: scale = absMax / 448 rounded up to an fp16, code = E4M3(x / scale)
// with the plain codec's rounding (nearest even), decode = E4M3 value * scale (exact in float32:
// 4 + 11 significant bits). The head's largest element, which for keys is the outlier channel that
// dominates q.k, so comes back to within the fp16 rounding of the scale; nothing falls into E4M3's
// subnormals unless it is 2^-14 of its head's maximum. Payload layout as int8-sym-th-f16: codes in
// [token][channel] order, then one little-endian fp16 scale per (token, head), token-major.
import { groupIndex, segmentGeometry, type AffineCodecSpec, type SegmentGeometry } from "./affine-spec.js";
import { e4m3DecodeTable, E4M3_MAX, floatBitsToE4m3Bits, floatToE4m3BitsReference } from "./fp8-e4m3-codec.js";
import { halfBitsToFloat, halfBitsToFloatReference } from "./half-float.js";
import type { KvCodec, KvSegmentShape } from "./kv-codec.js";
import { finiteRange, halfCeilBits, symmetricParams, type SymmetricParams } from "./quant-params.js";

/**
 * Geometry of the scaled codec: one byte per value and one fp16 scale per token and KV head, the
 * same grouping and parameter layout as int8-sym-th-f16 (so the affine geometry describes it).
 */
export const FP8_E4M3_TH_SPEC: AffineCodecSpec = {
  id: "fp8-e4m3-th-f16",
  bits: 8,
  symmetric: true,
  keys: { axis: "token", size: "head" },
  values: { axis: "token", size: "head" },
};

/** A group's scale: absMax / 448 rounded up to an fp16 (symmetric parameters with 448 "levels"). */
function scaleParams(lo: number, hi: number): SymmetricParams {
  return symmetricParams(lo, hi, E4M3_MAX);
}

/**
 * The value handed to the E4M3 conversion: NaN stays NaN (code 0x7f); x is clamped to ±absMax
 * (so ±Inf saturate to the group's maximum) and multiplied by 1 / scale (0 for a zero group).
 */
function scaledInput(x: number, p: SymmetricParams): number {
  if (x !== x) return NaN;
  const y = x < -p.absMax ? -p.absMax : x > p.absMax ? p.absMax : x;
  return y * p.inv;
}

function geometry(values: number, segment: KvSegmentShape | undefined): SegmentGeometry {
  return segmentGeometry(FP8_E4M3_TH_SPEC, values, segment);
}

/** Reference encoder, written for clarity: groups by index, arithmetic E4M3 rounding. */
export function fp8ScaledEncodeReference(src: Float32Array, dst: Uint8Array, segment: KvSegmentShape): void {
  const geo = geometry(src.length, segment);
  const members: number[][] = Array.from({ length: geo.groups }, () => []);
  for (let t = 0; t < geo.tokens; t++) {
    for (let c = 0; c < geo.channels; c++) members[groupIndex(geo, t, c)].push(t * geo.channels + c);
  }
  members.forEach((idx, g) => {
    const { lo, hi } = finiteRange(idx.length, (i) => src[idx[i]]);
    const p = scaleParams(lo, hi);
    dst[geo.codeBytes + 2 * g] = p.scaleBits & 0xff;
    dst[geo.codeBytes + 2 * g + 1] = p.scaleBits >> 8;
    for (const i of idx) dst[i] = floatToE4m3BitsReference(scaledInput(src[i], p));
  });
}

/** Reference decoder: value = E4M3 value of the code * the group's fp16 scale. */
export function fp8ScaledDecodeReference(src: Uint8Array, dst: Float32Array, segment: KvSegmentShape): void {
  const geo = geometry(dst.length, segment);
  for (let t = 0; t < geo.tokens; t++) {
    for (let c = 0; c < geo.channels; c++) {
      const g = groupIndex(geo, t, c);
      const at = geo.codeBytes + 2 * g;
      const scale = halfBitsToFloatReference(src[at] | (src[at + 1] << 8));
      const i = t * geo.channels + c;
      const b = src[i];
      const e = (b >> 3) & 0xf;
      const m = b & 7;
      const sign = b & 0x80 ? -1 : 1;
      const value = e === 15 && m === 7 ? NaN : e === 0 ? sign * m * 2 ** -9 : sign * (1 + m / 8) * 2 ** (e - 7);
      dst[i] = value * scale;
    }
  }
}

/** float32 bits of 2^-6 and 464 (E4M3's smallest normal; where rounding reaches 480): the inline range. */
const F32_MIN_NORMAL_BITS = 121 << 23;
const F32_SATURATE_BITS = 0x43e80000;
/** Exponent bias 127 -> 7, in float32 bit positions. */
const F32_REBIAS = 120 << 23;

let scaled = new Float32Array(128);
let scaledBits = new Uint32Array(scaled.buffer);

/** Largest finite |x| of `count` values from `base` (0 if none): the rare group holding ±Inf. */
function finiteAbsMax(src: Float32Array, base: number, count: number): number {
  let m = 0;
  for (let j = 0; j < count; j++) {
    const a = Math.abs(src[base + j]);
    if (a > m && a !== Infinity) m = a;
  }
  return m;
}

/**
 * Fast encoder, per head vector (contiguous: groups are token-major): its finite maximum, the
 * scaled values into a float32 scratch (rounding to float32 as the reference does; NaN passes
 * through the clamp and the product and converts to 0x7f), then the plain codec's bit trick,
 * inlined for normal in-range values.
 */
function encodeFast(src: Float32Array, dst: Uint8Array, segment: KvSegmentShape): void {
  const geo = geometry(src.length, segment);
  const hd = geo.groupSize;
  if (scaled.length < hd) {
    scaled = new Float32Array(hd);
    scaledBits = new Uint32Array(scaled.buffer);
  }
  const f = scaled;
  const u32 = scaledBits;
  for (let g = 0; g < geo.groups; g++) {
    const base = g * hd;
    let absMax = 0; // the reference's max(-lo, hi, 0) over finite values (NaN never compares greater)
    for (let j = 0; j < hd; j++) {
      const x = src[base + j];
      const a = x < 0 ? -x : x;
      absMax = a > absMax ? a : absMax;
    }
    if (absMax === Infinity) absMax = finiteAbsMax(src, base, hd);
    const scaleBits = halfCeilBits(absMax / E4M3_MAX);
    const scale = halfBitsToFloat(scaleBits);
    const inv = scale > 0 ? 1 / scale : 0;
    const at = geo.codeBytes + 2 * g;
    dst[at] = scaleBits & 0xff;
    dst[at + 1] = scaleBits >> 8;
    for (let j = 0; j < hd; j++) {
      const x = src[base + j];
      f[j] = (x < -absMax ? -absMax : x > absMax ? absMax : x) * inv;
    }
    for (let j = 0; j < hd; j++) {
      const u = u32[j];
      const a = u & 0x7fffffff;
      dst[base + j] =
        a >= F32_MIN_NORMAL_BITS && a < F32_SATURATE_BITS
          ? ((u >>> 24) & 0x80) | ((a - F32_REBIAS + 0x7ffff + ((a >>> 20) & 1)) >>> 20)
          : floatBitsToE4m3Bits(u);
    }
  }
}

/** Fast decoder: the 256-entry table times the group's scale. */
function decodeFast(src: Uint8Array, dst: Float32Array, segment: KvSegmentShape): void {
  const geo = geometry(dst.length, segment);
  const table = e4m3DecodeTable();
  const hd = geo.groupSize;
  for (let g = 0; g < geo.groups; g++) {
    const at = geo.codeBytes + 2 * g;
    const scale = halfBitsToFloat(src[at] | (src[at + 1] << 8));
    const base = g * hd;
    for (let j = 0; j < hd; j++) dst[base + j] = table[src[base + j]] * scale;
  }
}

/**
 * fp8 E4M3 with an fp16 scale per token and KV head, id "fp8-e4m3-th-f16" (alias "fp8"): 1.25
 * bytes per value at head size 8 (the unscaled "fp8-e4m3" is 1). Per token, so it applies token
 * by token and shares blocks like any element-wise codec.
 */
export const fp8E4m3ScaledCodec: KvCodec = {
  id: FP8_E4M3_TH_SPEC.id,
  aliases: ["fp8"],
  bytesFor(values: number, segment?: KvSegmentShape): number {
    return geometry(values, segment).totalBytes;
  },
  encode(src: Float32Array, dst: Uint8Array, segment?: KvSegmentShape): void {
    encodeFast(src, dst, requireSegment(segment));
  },
  decode(src: Uint8Array, dst: Float32Array, segment?: KvSegmentShape): void {
    decodeFast(src, dst, requireSegment(segment));
  },
};

function requireSegment(segment: KvSegmentShape | undefined): KvSegmentShape {
  if (segment === undefined) geometry(0, segment); // throws the named SIZE_MISMATCH error
  return segment as KvSegmentShape;
}
