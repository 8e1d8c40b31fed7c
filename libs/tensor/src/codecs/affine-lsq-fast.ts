// The fast encoder of asymmetric least-squares specs (`fit: 'lsq'`, e.g. kivi2-g32-f16-lsq, in
// affine-codecs.ts): byte-identical to affineEncodeReference, whose grids come from
// quant-params.ts lsqAffineParams. It gathers each group in the reference's member order (the fit
// sums in that order), runs lsqAffineParams with the quantizer inlined and one pass per refit (the
// error of a grid and the sums for the next come from the same codes), and packs whole bytes.
// affineEncodeFast sends such specs here; decoding is the affine fast decoder (the layout is
// the min/max codecs').
import { codeLevels, segmentGeometry, type AffineCodecSpec, type SegmentGeometry } from "./affine-spec.js";
import type { KvSegmentShape } from "./kv-codec.js";
import { affineParams, finiteRange, LSQ_FIT_ITERATIONS, lsqRefit, type AffineParams } from "./quant-params.js";

/** Scratch sizes before the first segment (KIVI's group). */
const INITIAL_GROUP = 32;

let groupValues = new Float32Array(INITIAL_GROUP);
let groupIndexes = new Int32Array(INITIAL_GROUP);
let codes = new Uint8Array(0);

/** Byte-identical to affineEncodeReference for an asymmetric `lsq` spec whose bits divide 8. */
export function affineLsqEncodeFast(spec: AffineCodecSpec, src: Float32Array, dst: Uint8Array, segment: KvSegmentShape): void {
  if (spec.symmetric || spec.fit !== "lsq") throw new Error(`affineLsqEncodeFast: ${spec.id} is not an asymmetric least-squares spec`);
  const geo = segmentGeometry(spec, src.length, segment);
  const levels = codeLevels(spec);
  if (codes.length < src.length) codes = new Uint8Array(src.length);
  if (groupValues.length < geo.groupSize) {
    groupValues = new Float32Array(geo.groupSize);
    groupIndexes = new Int32Array(geo.groupSize);
  }
  for (let g = 0; g < geo.groups; g++) {
    const count = gather(geo, g, src);
    const p = lsqParamsFast(groupValues, count, levels);
    const at = geo.codeBytes + g * geo.paramBytes;
    dst[at] = p.scaleBits & 0xff;
    dst[at + 1] = p.scaleBits >>> 8;
    dst[at + 2] = p.minBits & 0xff;
    dst[at + 3] = p.minBits >>> 8;
    const { lo, hi, min, inv } = p;
    for (let j = 0; j < count; j++) {
      const x = groupValues[j];
      const c = x !== x ? 0 : x;
      const y = c < lo ? lo : c > hi ? hi : c;
      const q = Math.floor((y - min) * inv + 0.5);
      codes[groupIndexes[j]] = q < 0 ? 0 : q > levels ? levels : q;
    }
  }
  pack(spec.bits, src.length, dst, geo.codeBytes);
}

/** Sums one pass over a group's finite values yields under a grid: its squared error and the refit's sums. */
const pass = { err: 0, n: 0, sq: 0, sqq: 0, sx: 0, sqx: 0 };

function measure(values: Float32Array, count: number, p: AffineParams, levels: number): void {
  const { lo, hi, min, inv, scale } = p;
  let err = 0;
  let n = 0;
  let sq = 0;
  let sqq = 0;
  let sx = 0;
  let sqx = 0;
  for (let i = 0; i < count; i++) {
    const x = values[i];
    if (x - x !== 0) continue;
    const y = x < lo ? lo : x > hi ? hi : x;
    const r = Math.floor((y - min) * inv + 0.5);
    const q = r < 0 ? 0 : r > levels ? levels : r;
    const d = min + q * scale - x;
    err += d * d;
    n++;
    sq += q;
    sqq += q * q;
    sx += x;
    sqx += q * x;
  }
  pass.err = err;
  pass.n = n;
  pass.sq = sq;
  pass.sqq = sqq;
  pass.sx = sx;
  pass.sqx = sqx;
}

/** lsqAffineParams, the same arithmetic in the same order, one pass per candidate grid. */
function lsqParamsFast(values: Float32Array, count: number, levels: number): AffineParams {
  const { lo, hi } = finiteRange(count, (i) => values[i]);
  let best = affineParams(lo, hi, levels);
  if (best.scale === 0) return best;
  measure(values, count, best, levels);
  let bestErr = pass.err;
  for (let it = 0; it < LSQ_FIT_ITERATIONS; it++) {
    const next = lsqRefit(pass.n, pass.sq, pass.sqq, pass.sx, pass.sqx, lo, hi);
    if (next === undefined) break;
    measure(values, count, next, levels);
    if (pass.err < bestErr) {
      best = next;
      bestErr = pass.err;
    }
  }
  return best;
}

/** Values and element indexes of group g into the scratch arrays, in member order; returns the count. */
function gather(geo: SegmentGeometry, g: number, src: Float32Array): number {
  const C = geo.channels;
  let n = 0;
  if (geo.axis === "token") {
    const t = Math.floor(g / geo.groupsPerLine);
    const c0 = (g % geo.groupsPerLine) * geo.groupSize;
    for (let c = c0; c < Math.min(C, c0 + geo.groupSize); c++, n++) {
      groupIndexes[n] = t * C + c;
      groupValues[n] = src[t * C + c];
    }
    return n;
  }
  const c = g % C;
  const t0 = Math.floor(g / C) * geo.groupSize;
  for (let t = t0; t < Math.min(geo.tokens, t0 + geo.groupSize); t++, n++) {
    groupIndexes[n] = t * C + c;
    groupValues[n] = src[t * C + c];
  }
  return n;
}

/** Codes of elements [0, count) packed little-end first, `bits` (2, 4 or 8) per element. */
function pack(bits: number, count: number, dst: Uint8Array, codeBytes: number): void {
  dst.fill(0, 0, codeBytes);
  const perByte = 8 / bits;
  for (let i = 0; i < count; i++) dst[(i / perByte) | 0] |= codes[i] << ((i % perByte) * bits);
}
