// The affine integer codecs (int8, int4, KIVI) through the WebAssembly SIMD kernels, for segments
// whose rows are a multiple of 8 channels (and, grouping by token, groups of a multiple of 8):
// every shipped codec on models with headDim % 8 == 0. Other shapes run the JS encoder.
import type { AffineCodecSpec, SegmentGeometry } from "../affine-spec.js";
import { alignRegion, codecKernels } from "./codec-kernels.js";

const F32_BYTES = 4;
/** Codes the kernels handle per step: rows and token-axis groups must be multiples of it. */
const KERNEL_CODES_PER_STEP = 8;
/** Encode scratch per group in flight: lo, hi, min, inv (f32) and min, inv (f64). */
const ENCODE_SCRATCH_PER_GROUP = 32;
/** Encode scratch beyond the per-group slots (one group's range). */
const ENCODE_SCRATCH_EXTRA = 16;
/** Decode scratch per channel: scale and min (f32). */
const DECODE_SCRATCH_PER_CHANNEL = 8;

/** Scratch the encoder needs: slots for every group of the segment (token axis) or of one token group (channel axis). */
function encodeScratchBytes(geo: SegmentGeometry): number {
  return (geo.axis === "channel" ? geo.channels : geo.groups) * ENCODE_SCRATCH_PER_GROUP + ENCODE_SCRATCH_EXTRA;
}

/** True when the kernels take this segment geometry. */
export function wasmTakesGeometry(geo: SegmentGeometry): boolean {
  return geo.channels % KERNEL_CODES_PER_STEP === 0 && (geo.axis === "channel" || geo.groupSize % KERNEL_CODES_PER_STEP === 0);
}

/** Encode one segment (already resolved to `geo`); false when the JS path must run. */
export function affineEncodeWasm(spec: AffineCodecSpec, geo: SegmentGeometry, src: Float32Array, dst: Uint8Array): boolean {
  if (!wasmTakesGeometry(geo)) return false;
  const inBytes = alignRegion(src.length * F32_BYTES);
  const outBytes = alignRegion(geo.totalBytes);
  const k = codecKernels(inBytes + outBytes + encodeScratchBytes(geo));
  if (k === null) return false;
  const at = k.base;
  const out = at + inBytes;
  k.f32.set(src, at / F32_BYTES);
  k.fn.affineEncode(
    at,
    out,
    geo.tokens,
    geo.channels,
    geo.axis === "channel" ? 1 : 0,
    geo.groupSize,
    spec.bits,
    spec.symmetric ? 1 : 0,
    out + outBytes,
  );
  dst.set(k.u8.subarray(out, out + geo.totalBytes));
  return true;
}

/** Decode one segment (already resolved to `geo`); false when the JS path must run. */
export function affineDecodeWasm(spec: AffineCodecSpec, geo: SegmentGeometry, src: Uint8Array, dst: Float32Array): boolean {
  if (!wasmTakesGeometry(geo)) return false;
  const inBytes = alignRegion(geo.totalBytes);
  const outBytes = alignRegion(dst.length * F32_BYTES);
  const k = codecKernels(inBytes + outBytes + geo.channels * DECODE_SCRATCH_PER_CHANNEL);
  if (k === null) return false;
  const at = k.base;
  const out = at + inBytes;
  k.u8.set(src.subarray(0, geo.totalBytes), at);
  k.fn.affineDecode(
    at,
    out,
    geo.tokens,
    geo.channels,
    geo.axis === "channel" ? 1 : 0,
    geo.groupSize,
    spec.bits,
    spec.symmetric ? 1 : 0,
    out + outBytes,
  );
  dst.set(k.f32.subarray(out / F32_BYTES, out / F32_BYTES + dst.length));
  return true;
}
