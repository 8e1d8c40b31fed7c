// fp16 and bf16 through the WebAssembly SIMD kernels: copy the input into the module's memory,
// convert eight values per step, copy the result out.
import { alignRegion, codecKernels, type CodecKernels } from "./codec-kernels.js";

const F32_BYTES = 4;
const HALF_BYTES = 2;

/** The 16-bit float formats with SIMD kernels. */
export type HalfWidthFormat = "fp16" | "bf16";

function encodeKernel(k: CodecKernels, format: HalfWidthFormat): (src: number, dst: number, n: number) => void {
  return format === "fp16" ? k.fn.fp16Encode : k.fn.bf16Encode;
}

function decodeKernel(k: CodecKernels, format: HalfWidthFormat): (src: number, dst: number, n: number) => void {
  return format === "fp16" ? k.fn.fp16Decode : k.fn.bf16Decode;
}

/** Encode src as `format` into dst's first 2 * src.length bytes; false when the JS path must run. */
export function halfWidthEncodeWasm(format: HalfWidthFormat, src: Float32Array, dst: Uint8Array): boolean {
  const n = src.length;
  const inBytes = alignRegion(n * F32_BYTES);
  const k = codecKernels(inBytes + n * HALF_BYTES);
  if (k === null) return false;
  const at = k.base;
  const out = at + inBytes;
  k.f32.set(src, at / F32_BYTES);
  encodeKernel(k, format)(at, out, n);
  dst.set(k.u8.subarray(out, out + n * HALF_BYTES));
  return true;
}

/** Decode dst.length values of `format` from src; false when the JS path must run. */
export function halfWidthDecodeWasm(format: HalfWidthFormat, src: Uint8Array, dst: Float32Array): boolean {
  const n = dst.length;
  const inBytes = alignRegion(n * HALF_BYTES);
  const k = codecKernels(inBytes + n * F32_BYTES);
  if (k === null) return false;
  const at = k.base;
  const out = at + inBytes;
  k.u8.set(src.subarray(0, n * HALF_BYTES), at);
  decodeKernel(k, format)(at, out, n);
  dst.set(k.f32.subarray(out / F32_BYTES, out / F32_BYTES + n));
  return true;
}
