// Fast encoder/decoder of the affine integer codecs. Encode: one pass for every group's range and
// parameters, then one fused pass that quantizes and bit-packs; decode: one fused pass that
// unpacks and scales. Same arithmetic as the reference (quant-params.ts), inlined; tested
// byte-exact against affine-reference.ts. The reference's floor(v) clamped to [0, top] is written
// `v >= top ? top : v > 0 ? v | 0 : 0`: v | 0 equals floor(v) on [0, 2^31) and every v outside
// [0, top] clamps anyway (Math.floor was the slowest step of the loop). The exported Fast functions
// run the WebAssembly SIMD kernels (wasm/affine-wasm.ts) when they take the shape, else this code.
import { codeLevels, segmentGeometry, type AffineCodecSpec, type SegmentGeometry } from "./affine-spec.js";
import { affineLsqEncodeFast } from "./affine-lsq-fast.js";
import { halfToFloatBitsTable } from "./half-float.js";
import type { KvSegmentShape } from "./kv-codec.js";
import { affineParams, symmetricParams } from "./quant-params.js";
import { affineDecodeWasm, affineEncodeWasm } from "./wasm/affine-wasm.js";

/** Per group: [lo, hi, min, inv] (asymmetric) or [-absMax, absMax, 0, inv] (symmetric) when encoding; [scale, min] when decoding. */
const PARAM_SLOTS = 4;
let paramScratch = new Float64Array(0);
let halfValues: Float32Array | null = null;

function params(groups: number): Float64Array {
  if (paramScratch.length < groups * PARAM_SLOTS) paramScratch = new Float64Array(groups * PARAM_SLOTS);
  return paramScratch;
}

/** Every half as a float32, a view on the shared decode table. */
function halves(): Float32Array {
  if (halfValues === null) halfValues = new Float32Array(halfToFloatBitsTable().buffer);
  return halfValues;
}

/** Range of [from, to) with stride `step` over finite values, then the group's parameters into p[4g..]. */
function groupParams(
  spec: AffineCodecSpec,
  levels: number,
  src: Float32Array,
  from: number,
  to: number,
  step: number,
  p: Float64Array,
  g: number,
  dst: Uint8Array,
  at: number,
): void {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = from; i < to; i += step) {
    const x = src[i];
    if (x - x !== 0) continue;
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  if (lo > hi) lo = hi = 0;
  setParams(spec, levels, lo, hi, p, g, dst, at);
}

/** Parameters of one group from its finite range: written as halves at `at`, kept as floats in p. */
function setParams(
  spec: AffineCodecSpec,
  levels: number,
  lo: number,
  hi: number,
  p: Float64Array,
  g: number,
  dst: Uint8Array,
  at: number,
): void {
  const o = g * PARAM_SLOTS;
  if (spec.symmetric) {
    const s = symmetricParams(lo, hi, levels);
    dst[at] = s.scaleBits & 0xff;
    dst[at + 1] = s.scaleBits >>> 8;
    p[o] = -s.absMax;
    p[o + 1] = s.absMax;
    p[o + 2] = 0;
    p[o + 3] = s.inv;
    return;
  }
  const a = affineParams(lo, hi, levels);
  dst[at] = a.scaleBits & 0xff;
  dst[at + 1] = a.scaleBits >>> 8;
  dst[at + 2] = a.minBits & 0xff;
  dst[at + 3] = a.minBits >>> 8;
  p[o] = lo;
  p[o + 1] = hi;
  p[o + 2] = a.min;
  p[o + 3] = a.inv;
}

/** Every group's parameters, indexed as affine-spec.ts groupIndex. */
function allParams(spec: AffineCodecSpec, geo: SegmentGeometry, levels: number, src: Float32Array, dst: Uint8Array): Float64Array {
  const p = params(geo.groups);
  const C = geo.channels;
  const gs = geo.groupSize;
  if (geo.axis === "token") {
    for (let t = 0, g = 0; t < geo.tokens; t++) {
      for (let c0 = 0; c0 < C; c0 += gs, g++)
        groupParams(spec, levels, src, t * C + c0, t * C + Math.min(C, c0 + gs), 1, p, g, dst, geo.codeBytes + g * geo.paramBytes);
    }
    return p;
  }
  for (let t0 = 0, tg = 0; t0 < geo.tokens; t0 += gs, tg++) {
    const t1 = Math.min(geo.tokens, t0 + gs);
    const o = tg * C * PARAM_SLOTS;
    for (let c = 0; c < C; c++) {
      p[o + c * PARAM_SLOTS] = Infinity;
      p[o + c * PARAM_SLOTS + 1] = -Infinity;
    }
    for (let t = t0; t < t1; t++) {
      for (let c = 0, i = t * C, q = o; c < C; c++, i++, q += PARAM_SLOTS) {
        const x = src[i];
        if (x - x !== 0) continue;
        if (x < p[q]) p[q] = x;
        if (x > p[q + 1]) p[q + 1] = x;
      }
    }
    for (let c = 0; c < C; c++) {
      const q = o + c * PARAM_SLOTS;
      const empty = p[q] > p[q + 1];
      setParams(spec, levels, empty ? 0 : p[q], empty ? 0 : p[q + 1], p, tg * C + c, dst, geo.codeBytes + (tg * C + c) * geo.paramBytes);
    }
  }
  return p;
}

/**
 * Encode one segment; byte-identical to affineEncodeReference. WebAssembly SIMD when available,
 * else JS; a least-squares spec (`fit: 'lsq'`) goes to its own encoder (affine-lsq-fast.ts).
 */
export function affineEncodeFast(spec: AffineCodecSpec, src: Float32Array, dst: Uint8Array, segment: KvSegmentShape): void {
  if (spec.fit === "lsq") return affineLsqEncodeFast(spec, src, dst, segment);
  const geo = segmentGeometry(spec, src.length, segment);
  if (!affineEncodeWasm(spec, geo, src, dst)) encodeJs(spec, geo, src, dst);
}

/** affineEncodeFast without WebAssembly: the JS fast path (and fallback). */
export function affineEncodeJs(spec: AffineCodecSpec, src: Float32Array, dst: Uint8Array, segment: KvSegmentShape): void {
  if (spec.fit === "lsq") return affineLsqEncodeFast(spec, src, dst, segment);
  encodeJs(spec, segmentGeometry(spec, src.length, segment), src, dst);
}

function encodeJs(spec: AffineCodecSpec, geo: SegmentGeometry, src: Float32Array, dst: Uint8Array): void {
  const levels = codeLevels(spec);
  const p = allParams(spec, geo, levels, src, dst);
  if (spec.symmetric) packSymmetric(geo, spec.bits, levels, src, p, dst);
  else if (byteAligned(geo, spec.bits)) packAsymmetricAligned(geo, spec.bits, levels, src, p, dst);
  else packAsymmetric(geo, spec.bits, levels, src, p, dst);
}

/** True when every group run (token axis) or token row (channel axis) starts on a byte boundary. */
function byteAligned(geo: SegmentGeometry, bits: number): boolean {
  const perByte = 8 / bits;
  return geo.channels % perByte === 0 && (geo.axis === "channel" || geo.groupSize % perByte === 0);
}

/** The asymmetric code of x (the inner step of the packing loops; small enough to be inlined). */
function code(x: number, lo: number, hi: number, min: number, inv: number, levels: number): number {
  if (x !== x) x = 0;
  if (x < lo) x = lo;
  else if (x > hi) x = hi;
  const v = (x - min) * inv + 0.5;
  return v >= levels ? levels : v > 0 ? v | 0 : 0;
}

/** packAsymmetric when runs are byte-aligned: whole bytes of 1, 2 or 4 codes per step. */
function packAsymmetricAligned(
  geo: SegmentGeometry,
  bits: number,
  levels: number,
  src: Float32Array,
  p: Float64Array,
  dst: Uint8Array,
): void {
  const C = geo.channels;
  const gs = geo.groupSize;
  let k = 0;
  if (geo.axis === "token") {
    for (let t = 0, g = 0; t < geo.tokens; t++) {
      for (let c0 = 0; c0 < C; c0 += gs, g++) {
        const o = g * PARAM_SLOTS;
        const lo = p[o],
          hi = p[o + 1],
          min = p[o + 2],
          inv = p[o + 3];
        const end = t * C + Math.min(C, c0 + gs);
        let i = t * C + c0;
        if (bits === 8) for (; i < end; i++) dst[k++] = code(src[i], lo, hi, min, inv, levels);
        else if (bits === 4)
          for (; i < end; i += 2) dst[k++] = code(src[i], lo, hi, min, inv, levels) | (code(src[i + 1], lo, hi, min, inv, levels) << 4);
        else {
          for (; i < end; i += 4) {
            dst[k++] =
              code(src[i], lo, hi, min, inv, levels) |
              (code(src[i + 1], lo, hi, min, inv, levels) << 2) |
              (code(src[i + 2], lo, hi, min, inv, levels) << 4) |
              (code(src[i + 3], lo, hi, min, inv, levels) << 6);
          }
        }
      }
    }
    return;
  }
  const step = 8 / bits;
  for (let t = 0; t < geo.tokens; t++) {
    const base = Math.floor(t / gs) * C * PARAM_SLOTS;
    for (let c = 0, i = t * C; c < C; c += step, i += step) {
      let byte = 0;
      for (let j = 0, o = base + c * PARAM_SLOTS; j < step; j++, o += PARAM_SLOTS) {
        byte |= code(src[i + j], p[o], p[o + 1], p[o + 2], p[o + 3], levels) << (j * bits);
      }
      dst[k++] = byte;
    }
  }
}

/** Quantize and bit-pack every value with its group's asymmetric parameters (the hot loop). */
function packAsymmetric(geo: SegmentGeometry, bits: number, levels: number, src: Float32Array, p: Float64Array, dst: Uint8Array): void {
  const C = geo.channels;
  const gs = geo.groupSize;
  const byToken = geo.axis === "token";
  let k = 0;
  let acc = 0;
  let nb = 0;
  for (let t = 0; t < geo.tokens; t++) {
    const row = t * C;
    const rowGroup = byToken ? t * geo.groupsPerLine : Math.floor(t / gs) * C;
    for (let c = 0; c < C; c++) {
      const o = (byToken ? rowGroup + ((c / gs) | 0) : rowGroup + c) * PARAM_SLOTS;
      let x = src[row + c];
      if (x !== x) x = 0;
      if (x < p[o]) x = p[o];
      else if (x > p[o + 1]) x = p[o + 1];
      const v = (x - p[o + 2]) * p[o + 3] + 0.5;
      acc |= (v >= levels ? levels : v > 0 ? v | 0 : 0) << nb;
      nb += bits;
      if (nb === 8) {
        dst[k++] = acc;
        acc = 0;
        nb = 0;
      }
    }
  }
  if (nb > 0) dst[k] = acc;
}

/** Quantize and bit-pack every value with its group's symmetric scale (codes stored two's complement). */
function packSymmetric(geo: SegmentGeometry, bits: number, levels: number, src: Float32Array, p: Float64Array, dst: Uint8Array): void {
  const C = geo.channels;
  const gs = geo.groupSize;
  const byToken = geo.axis === "token";
  const top = 2 * levels;
  const mask = (1 << bits) - 1;
  let k = 0;
  let acc = 0;
  let nb = 0;
  for (let t = 0; t < geo.tokens; t++) {
    const row = t * C;
    const rowGroup = byToken ? t * geo.groupsPerLine : Math.floor(t / gs) * C;
    for (let c = 0; c < C; c++) {
      const o = (byToken ? rowGroup + ((c / gs) | 0) : rowGroup + c) * PARAM_SLOTS;
      let x = src[row + c];
      if (x !== x) x = 0;
      else if (x < p[o]) x = p[o];
      else if (x > p[o + 1]) x = p[o + 1];
      const v = x * p[o + 3] + levels + 0.5;
      acc |= (((v >= top ? top : v > 0 ? v | 0 : 0) - levels) & mask) << nb;
      nb += bits;
      if (nb === 8) {
        dst[k++] = acc;
        acc = 0;
        nb = 0;
      }
    }
  }
  if (nb > 0) dst[k] = acc;
}

/** Decode one segment; bit-identical to affineDecodeReference. WebAssembly SIMD when available, else JS. */
export function affineDecodeFast(spec: AffineCodecSpec, src: Uint8Array, dst: Float32Array, segment: KvSegmentShape): void {
  const geo = segmentGeometry(spec, dst.length, segment);
  if (!affineDecodeWasm(spec, geo, src, dst)) decodeJs(spec, geo, src, dst);
}

/** affineDecodeFast without WebAssembly: the JS fast path (and fallback). */
export function affineDecodeJs(spec: AffineCodecSpec, src: Uint8Array, dst: Float32Array, segment: KvSegmentShape): void {
  decodeJs(spec, segmentGeometry(spec, dst.length, segment), src, dst);
}

function decodeJs(spec: AffineCodecSpec, geo: SegmentGeometry, src: Uint8Array, dst: Float32Array): void {
  const h = halves();
  const p = params(geo.groups);
  for (let g = 0, at = geo.codeBytes; g < geo.groups; g++, at += geo.paramBytes) {
    p[g * PARAM_SLOTS] = h[src[at] | (src[at + 1] << 8)];
    p[g * PARAM_SLOTS + 1] = spec.symmetric ? 0 : h[src[at + 2] | (src[at + 3] << 8)];
  }
  if (!spec.symmetric && geo.axis === "token" && byteAligned(geo, spec.bits)) {
    decodeTokenGroupsAligned(geo, spec.bits, src, p, dst);
    return;
  }
  const C = geo.channels;
  const gs = geo.groupSize;
  const byToken = geo.axis === "token";
  const bits = spec.bits;
  const mask = (1 << bits) - 1;
  const shift = 32 - bits;
  const symmetric = spec.symmetric;
  let k = 0;
  let cur = 0;
  let nb = 8;
  for (let t = 0; t < geo.tokens; t++) {
    const row = t * C;
    const rowGroup = byToken ? t * geo.groupsPerLine : Math.floor(t / gs) * C;
    for (let c = 0; c < C; c++) {
      if (nb === 8) {
        cur = src[k++];
        nb = 0;
      }
      const raw = (cur >> nb) & mask;
      nb += bits;
      const o = (byToken ? rowGroup + ((c / gs) | 0) : rowGroup + c) * PARAM_SLOTS;
      dst[row + c] = symmetric ? ((raw << shift) >> shift) * p[o] : p[o + 1] + raw * p[o];
    }
  }
}

/** Asymmetric token-axis decode with byte-aligned groups: scale and minimum hoisted per group. */
function decodeTokenGroupsAligned(geo: SegmentGeometry, bits: number, src: Uint8Array, p: Float64Array, dst: Float32Array): void {
  const C = geo.channels;
  const gs = geo.groupSize;
  let k = 0;
  for (let t = 0, g = 0; t < geo.tokens; t++) {
    for (let c0 = 0; c0 < C; c0 += gs, g++) {
      const scale = p[g * PARAM_SLOTS];
      const min = p[g * PARAM_SLOTS + 1];
      const end = t * C + Math.min(C, c0 + gs);
      let i = t * C + c0;
      if (bits === 8) for (; i < end; i++) dst[i] = min + src[k++] * scale;
      else if (bits === 4) {
        for (; i < end; i += 2) {
          const b = src[k++];
          dst[i] = min + (b & 15) * scale;
          dst[i + 1] = min + (b >> 4) * scale;
        }
      } else {
        for (; i < end; i += 4) {
          const b = src[k++];
          dst[i] = min + (b & 3) * scale;
          dst[i + 1] = min + ((b >> 2) & 3) * scale;
          dst[i + 2] = min + ((b >> 4) & 3) * scale;
          dst[i + 3] = min + (b >> 6) * scale;
        }
      }
    }
  }
}
