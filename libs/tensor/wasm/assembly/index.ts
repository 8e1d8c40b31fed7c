// Entry of the WebAssembly SIMD codec kernels (compiled by ../build-wasm.mjs). Every function works
// on byte offsets into this module's memory; src/codecs/wasm/ copies data in and out and checks
// shapes. Memory from heapBase() on belongs to the caller.
export { affineDecode } from "./affine-decode";
export { affineEncode, encodeScratchBytes } from "./affine-encode";
export { bf16Decode, bf16Encode, fp16Decode, fp16Encode } from "./float-kernels";

/** First byte of memory the module's own data does not use. */
export function heapBase(): usize {
  return __heap_base;
}
