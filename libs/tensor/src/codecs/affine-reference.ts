// Reference encoder/decoder of the affine integer codecs, written for clarity: groups are listed
// as index sets, codes are written bit by bit. The fast codec (affine-fast.ts) must match it
// byte for byte (encode) and bit for bit (decode).
import { codeLevels, groupIndex, segmentGeometry, type AffineCodecSpec, type SegmentGeometry } from "./affine-spec.js";
import { halfBitsToFloatReference } from "./half-float.js";
import type { KvSegmentShape } from "./kv-codec.js";
import { affineCode, affineParams, affineValue, finiteRange, lsqAffineParams, symmetricCode, symmetricParams } from "./quant-params.js";

/** Element indices ([token][channel] order) of every group, in parameter-entry order. */
function groupMembers(geo: SegmentGeometry): number[][] {
  const members: number[][] = Array.from({ length: geo.groups }, () => []);
  for (let t = 0; t < geo.tokens; t++) {
    for (let c = 0; c < geo.channels; c++) members[groupIndex(geo, t, c)].push(t * geo.channels + c);
  }
  return members;
}

function writeBits(dst: Uint8Array, index: number, bits: number, code: number): void {
  for (let b = 0; b < bits; b++) {
    const bit = index * bits + b;
    const mask = 1 << (bit % 8);
    const byte = Math.floor(bit / 8);
    dst[byte] = (code >> b) & 1 ? dst[byte] | mask : dst[byte] & ~mask;
  }
}

function readBits(src: Uint8Array, index: number, bits: number): number {
  let code = 0;
  for (let b = 0; b < bits; b++) {
    const bit = index * bits + b;
    if (src[Math.floor(bit / 8)] & (1 << (bit % 8))) code |= 1 << b;
  }
  return code;
}

function writeHalf(dst: Uint8Array, at: number, bits: number): void {
  dst[at] = bits & 0xff;
  dst[at + 1] = bits >> 8;
}

const readHalf = (src: Uint8Array, at: number): number => halfBitsToFloatReference(src[at] | (src[at + 1] << 8));

/** Encode one segment exactly as the fast codec must. */
export function affineEncodeReference(spec: AffineCodecSpec, src: Float32Array, dst: Uint8Array, segment: KvSegmentShape): void {
  const geo = segmentGeometry(spec, src.length, segment);
  const levels = codeLevels(spec);
  dst.fill(0, 0, geo.codeBytes);
  groupMembers(geo).forEach((members, g) => {
    const { lo, hi } = finiteRange(members.length, (i) => src[members[i]]);
    const at = geo.codeBytes + g * geo.paramBytes;
    if (spec.symmetric) {
      const p = symmetricParams(lo, hi, levels);
      writeHalf(dst, at, p.scaleBits);
      const mask = (1 << spec.bits) - 1;
      for (const i of members) writeBits(dst, i, spec.bits, symmetricCode(src[i], p, levels) & mask);
    } else {
      const p =
        spec.fit === "lsq"
          ? lsqAffineParams(
              Float32Array.from(members, (i) => src[i]),
              members.length,
              levels,
            )
          : affineParams(lo, hi, levels);
      writeHalf(dst, at, p.scaleBits);
      writeHalf(dst, at + 2, p.minBits);
      for (const i of members) writeBits(dst, i, spec.bits, affineCode(src[i], p, levels));
    }
  });
}

/** Decode one segment: value = min + q * scale (asymmetric) or q * scale (symmetric, q sign-extended). */
export function affineDecodeReference(spec: AffineCodecSpec, src: Uint8Array, dst: Float32Array, segment: KvSegmentShape): void {
  const geo = segmentGeometry(spec, dst.length, segment);
  const shift = 32 - spec.bits;
  groupMembers(geo).forEach((members, g) => {
    const at = geo.codeBytes + g * geo.paramBytes;
    const scale = readHalf(src, at);
    const min = spec.symmetric ? 0 : readHalf(src, at + 2);
    for (const i of members) {
      const raw = readBits(src, i, spec.bits);
      dst[i] = spec.symmetric ? ((raw << shift) >> shift) * scale : affineValue(raw, scale, min);
    }
  });
}
