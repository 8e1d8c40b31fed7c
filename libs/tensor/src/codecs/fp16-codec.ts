// fp16 codec: IEEE half precision, round-to-nearest-even: the WebAssembly SIMD kernels when
// available, else the fast conversions in half-float.ts (fp16EncodeJs/fp16DecodeJs).
import { HOST_IS_LITTLE_ENDIAN } from "./endianness.js";
import { floatBitsToHalfBits, halfToFloatBitsTable } from "./half-float.js";
import type { KvCodec } from "./kv-codec.js";
import { halfWidthDecodeWasm, halfWidthEncodeWasm } from "./wasm/half-width-wasm.js";

const FP16_BYTES = 2;

/** IEEE binary16 codec, id "fp16": half the bytes of fp32, ~3 significant decimal digits. */
export const fp16Codec: KvCodec = {
  id: "fp16",
  bytesFor(values: number): number {
    return values * FP16_BYTES;
  },
  encode(src: Float32Array, dst: Uint8Array): void {
    if (!halfWidthEncodeWasm("fp16", src, dst)) fp16EncodeJs(src, dst);
  },
  decode(src: Uint8Array, dst: Float32Array): void {
    if (!halfWidthDecodeWasm("fp16", src, dst)) fp16DecodeJs(src, dst);
  },
};

/** fp16 encode in JavaScript (the fallback without WebAssembly SIMD). */
export function fp16EncodeJs(src: Float32Array, dst: Uint8Array): void {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const n = src.length;
  if (HOST_IS_LITTLE_ENDIAN && dst.byteOffset % FP16_BYTES === 0) {
    const out = new Uint16Array(dst.buffer, dst.byteOffset, n);
    for (let i = 0; i < n; i++) out[i] = floatBitsToHalfBits(bits[i]);
    return;
  }
  for (let i = 0; i < n; i++) {
    const h = floatBitsToHalfBits(bits[i]);
    dst[2 * i] = h & 0xff;
    dst[2 * i + 1] = h >>> 8;
  }
}

/** fp16 decode in JavaScript (the fallback without WebAssembly SIMD). */
export function fp16DecodeJs(src: Uint8Array, dst: Float32Array): void {
  const table = halfToFloatBitsTable();
  // Writing bits (not numbers) keeps NaN payloads and avoids float canonicalisation.
  const out = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  const n = dst.length;
  if (HOST_IS_LITTLE_ENDIAN && src.byteOffset % FP16_BYTES === 0) {
    const inp = new Uint16Array(src.buffer, src.byteOffset, n);
    for (let i = 0; i < n; i++) out[i] = table[inp[i]];
    return;
  }
  for (let i = 0; i < n; i++) out[i] = table[src[2 * i] | (src[2 * i + 1] << 8)];
}
