// Fast encoder/decoder of the affine integer codecs: one pass for group ranges, one to quantize
// into a byte-per-code scratch, one to pack; decode unpacks then scales. Same arithmetic as the
// reference (quant-params.ts), inlined; tested byte-exact against affine-reference.ts. The
// reference's floor(v) clamped to [0, top] is written `v >= top ? top : v > 0 ? v | 0 : 0`:
// v | 0 equals floor(v) on [0, 2^31) and every v outside [0, top] clamps anyway; Math.floor was
// the slowest step of the loop.
import { codeLevels, segmentGeometry, type AffineCodecSpec, type SegmentGeometry } from './affine-spec.js';
import { packCodes, unpackCodes } from './bit-packing.js';
import { halfToFloatBitsTable } from './half-float.js';
import type { KvSegmentShape } from './kv-codec.js';
import { affineParams, symmetricParams } from './quant-params.js';

let codeScratch = new Uint8Array(0);
let lineScratch = new Float64Array(0);
let halfValues: Float32Array | null = null;

function codes(n: number): Uint8Array {
  if (codeScratch.length < n) codeScratch = new Uint8Array(n);
  return codeScratch;
}

/** Five per-channel float64 arrays (lo, hi, min, inv, scale) for channel-axis groups. */
function lines(channels: number): Float64Array {
  if (lineScratch.length < 5 * channels) lineScratch = new Float64Array(5 * channels);
  return lineScratch;
}

/** Every half as a float32, a view on the shared decode table. */
function halves(): Float32Array {
  if (halfValues === null) halfValues = new Float32Array(halfToFloatBitsTable().buffer);
  return halfValues;
}

function putHalf(dst: Uint8Array, at: number, bits: number): void {
  dst[at] = bits & 0xff;
  dst[at + 1] = bits >>> 8;
}

/** Range of group [from, to) with stride `step` over finite values; [0, 0] if none. */
function groupRange(src: Float32Array, from: number, to: number, step: number, out: Float64Array): void {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = from; i < to; i += step) {
    const x = src[i];
    if (x - x !== 0) continue;
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  if (lo > hi) lo = hi = 0;
  out[0] = lo;
  out[1] = hi;
}

const range = new Float64Array(2);

/** Quantize one group [from, to) with stride `step` into `out`; writes its parameters at `at`. */
function encodeGroup(spec: AffineCodecSpec, levels: number, src: Float32Array, out: Uint8Array, from: number, to: number, step: number, dst: Uint8Array, at: number): void {
  groupRange(src, from, to, step, range);
  const lo = range[0];
  const hi = range[1];
  if (spec.symmetric) {
    const p = symmetricParams(lo, hi, levels);
    putHalf(dst, at, p.scaleBits);
    const { inv, absMax } = p;
    const mask = (1 << spec.bits) - 1;
    const top = 2 * levels;
    for (let i = from; i < to; i += step) {
      let x = src[i];
      if (x !== x) x = 0;
      else if (x < -absMax) x = -absMax;
      else if (x > absMax) x = absMax;
      const v = x * inv + levels + 0.5;
      out[i] = ((v >= top ? top : v > 0 ? v | 0 : 0) - levels) & mask;
    }
    return;
  }
  const p = affineParams(lo, hi, levels);
  putHalf(dst, at, p.scaleBits);
  putHalf(dst, at + 2, p.minBits);
  encodeAffineRun(src, out, from, to, step, lo, hi, p.min, p.inv, levels);
}

/** Asymmetric codes of [from, to) with stride `step`, the hot loop of every asymmetric codec. */
function encodeAffineRun(src: Float32Array, out: Uint8Array, from: number, to: number, step: number, lo: number, hi: number, min: number, inv: number, levels: number): void {
  for (let i = from; i < to; i += step) {
    let x = src[i];
    if (x !== x) x = 0;
    if (x < lo) x = lo;
    else if (x > hi) x = hi;
    const v = (x - min) * inv + 0.5;
    out[i] = v >= levels ? levels : v > 0 ? v | 0 : 0; // v < 0 only below the fp16 range
  }
}

/** Channel-axis groups: per token group, every channel's range in one sweep over tokens. */
function encodeChannelGroups(spec: AffineCodecSpec, geo: SegmentGeometry, levels: number, src: Float32Array, out: Uint8Array, dst: Uint8Array): void {
  const C = geo.channels;
  if (spec.symmetric) {
    // symmetric per-channel groups are not on the hot path: one strided group at a time
    for (let t0 = 0, tg = 0; t0 < geo.tokens; t0 += geo.groupSize, tg++) {
      const t1 = Math.min(geo.tokens, t0 + geo.groupSize);
      for (let c = 0; c < C; c++) encodeGroup(spec, levels, src, out, t0 * C + c, t1 * C, C, dst, geo.codeBytes + (tg * C + c) * geo.paramBytes);
    }
    return;
  }
  const s = lines(C);
  for (let t0 = 0, tg = 0; t0 < geo.tokens; t0 += geo.groupSize, tg++) {
    const t1 = Math.min(geo.tokens, t0 + geo.groupSize);
    s.fill(Infinity, 0, C);
    s.fill(-Infinity, C, 2 * C);
    for (let t = t0; t < t1; t++) {
      const row = t * C;
      for (let c = 0; c < C; c++) {
        const x = src[row + c];
        if (x - x !== 0) continue;
        if (x < s[c]) s[c] = x;
        if (x > s[C + c]) s[C + c] = x;
      }
    }
    for (let c = 0; c < C; c++) {
      if (s[c] > s[C + c]) s[c] = s[C + c] = 0;
      const p = affineParams(s[c], s[C + c], levels);
      const at = geo.codeBytes + (tg * C + c) * geo.paramBytes;
      putHalf(dst, at, p.scaleBits);
      putHalf(dst, at + 2, p.minBits);
      s[2 * C + c] = p.min;
      s[3 * C + c] = p.inv;
    }
    for (let t = t0; t < t1; t++) {
      const row = t * C;
      for (let c = 0; c < C; c++) {
        let x = src[row + c];
        if (x !== x) x = 0;
        const lo = s[c];
        const hi = s[C + c];
        if (x < lo) x = lo;
        else if (x > hi) x = hi;
        const v = (x - s[2 * C + c]) * s[3 * C + c] + 0.5;
        out[row + c] = v >= levels ? levels : v > 0 ? v | 0 : 0;
      }
    }
  }
}

/** Encode one segment; byte-identical to affineEncodeReference. */
export function affineEncodeFast(spec: AffineCodecSpec, src: Float32Array, dst: Uint8Array, segment: KvSegmentShape): void {
  const geo = segmentGeometry(spec, src.length, segment);
  const levels = codeLevels(spec);
  const out = codes(src.length);
  const C = geo.channels;
  if (geo.axis === 'token') {
    for (let t = 0, g = 0; t < geo.tokens; t++) {
      const row = t * C;
      for (let c0 = 0; c0 < C; c0 += geo.groupSize, g++) {
        encodeGroup(spec, levels, src, out, row + c0, row + Math.min(C, c0 + geo.groupSize), 1, dst, geo.codeBytes + g * geo.paramBytes);
      }
    }
  } else {
    encodeChannelGroups(spec, geo, levels, src, out, dst);
  }
  packCodes(out, src.length, spec.bits, dst);
}

/** Decode one segment; bit-identical to affineDecodeReference. */
export function affineDecodeFast(spec: AffineCodecSpec, src: Uint8Array, dst: Float32Array, segment: KvSegmentShape): void {
  const geo = segmentGeometry(spec, dst.length, segment);
  const q = codes(dst.length);
  unpackCodes(src, dst.length, spec.bits, q);
  const h = halves();
  const C = geo.channels;
  const base = geo.codeBytes;
  const pb = geo.paramBytes;
  const shift = 32 - spec.bits;
  if (geo.axis === 'token') {
    for (let t = 0, g = 0; t < geo.tokens; t++) {
      const row = t * C;
      for (let c0 = 0; c0 < C; c0 += geo.groupSize, g++) {
        const at = base + g * pb;
        const scale = h[src[at] | (src[at + 1] << 8)];
        const end = row + Math.min(C, c0 + geo.groupSize);
        if (spec.symmetric) {
          for (let i = row + c0; i < end; i++) dst[i] = ((q[i] << shift) >> shift) * scale;
        } else {
          const min = h[src[at + 2] | (src[at + 3] << 8)];
          for (let i = row + c0; i < end; i++) dst[i] = min + q[i] * scale;
        }
      }
    }
    return;
  }
  const s = lines(C);
  for (let t0 = 0, tg = 0; t0 < geo.tokens; t0 += geo.groupSize, tg++) {
    const t1 = Math.min(geo.tokens, t0 + geo.groupSize);
    for (let c = 0; c < C; c++) {
      const at = base + (tg * C + c) * pb;
      s[4 * C + c] = h[src[at] | (src[at + 1] << 8)];
      s[2 * C + c] = spec.symmetric ? 0 : h[src[at + 2] | (src[at + 3] << 8)];
    }
    for (let t = t0; t < t1; t++) {
      const row = t * C;
      if (spec.symmetric) {
        for (let c = 0; c < C; c++) dst[row + c] = ((q[row + c] << shift) >> shift) * s[4 * C + c];
      } else {
        for (let c = 0; c < C; c++) dst[row + c] = s[2 * C + c] + q[row + c] * s[4 * C + c];
      }
    }
  }
}
