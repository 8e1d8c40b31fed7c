// bfloat16 codec: the top 16 bits of a float32, rounded to nearest even; the fp32 exponent range
// with 8 significant bits. NaN becomes the quiet NaN of its sign; overflow rounds to ±Inf as IEEE.
// The codec runs the WebAssembly SIMD kernels when available, else bf16EncodeJs/bf16DecodeJs.
import { HOST_IS_LITTLE_ENDIAN } from "./endianness.js";
import type { KvCodec } from "./kv-codec.js";
import { halfWidthDecodeWasm, halfWidthEncodeWasm } from "./wasm/half-width-wasm.js";

const BF16_BYTES = 2;
const F32_ABS_MASK = 0x7fffffff;
const F32_INF_BITS = 0x7f800000;
const BF16_QNAN = 0x7fc0;

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** Float32 bits -> bf16 bits: a rounding bias then a shift (the fast path). */
export function floatBitsToBf16Bits(u: number): number {
  if ((u & F32_ABS_MASK) > F32_INF_BITS) return ((u >>> 16) & 0x8000) | BF16_QNAN;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/**
 * Reference float -> bf16 bits, by comparing the two bf16 neighbours of x: the nearer wins, a tie
 * goes to the even one. Written for clarity; the fast path must agree bit for bit.
 */
export function floatToBf16BitsReference(value: number): number {
  scratchF32[0] = value;
  const u = scratchU32[0];
  const x = scratchF32[0];
  if (Number.isNaN(x)) return ((u >>> 16) & 0x8000) | BF16_QNAN;
  if (!Number.isFinite(x)) return u >>> 16;
  const down = u >>> 16; // truncation: the neighbour towards zero
  const up = down + 1; // the neighbour away from zero (may be Inf)
  // Inf stands for 2^128 here, the value IEEE rounding measures the distance to
  const valueOf = (h: number): number => ((h & 0x7fff) === 0x7f80 ? (h & 0x8000 ? -1 : 1) * 2 ** 128 : bf16BitsToFloat(h));
  const dist = (h: number): number => Math.abs(valueOf(h) - x);
  if (dist(down) < dist(up)) return down;
  if (dist(up) < dist(down)) return up & 0xffff;
  return (down & 1) === 0 ? down : up & 0xffff;
}

/** bf16 bits -> float (exact). */
export function bf16BitsToFloat(h: number): number {
  scratchU32[0] = (h & 0xffff) << 16;
  return scratchF32[0];
}

/** bfloat16 codec, id "bf16". */
export const bf16Codec: KvCodec = {
  id: "bf16",
  bytesFor(values: number): number {
    return values * BF16_BYTES;
  },
  encode(src: Float32Array, dst: Uint8Array): void {
    if (!halfWidthEncodeWasm("bf16", src, dst)) bf16EncodeJs(src, dst);
  },
  decode(src: Uint8Array, dst: Float32Array): void {
    if (!halfWidthDecodeWasm("bf16", src, dst)) bf16DecodeJs(src, dst);
  },
};

/** bf16 encode in JavaScript (the fallback without WebAssembly SIMD). */
export function bf16EncodeJs(src: Float32Array, dst: Uint8Array): void {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const n = src.length;
  if (HOST_IS_LITTLE_ENDIAN && dst.byteOffset % BF16_BYTES === 0) {
    const out = new Uint16Array(dst.buffer, dst.byteOffset, n);
    for (let i = 0; i < n; i++) {
      const u = bits[i];
      out[i] = (u & F32_ABS_MASK) > F32_INF_BITS ? ((u >>> 16) & 0x8000) | BF16_QNAN : (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    const h = floatBitsToBf16Bits(bits[i]);
    dst[2 * i] = h & 0xff;
    dst[2 * i + 1] = h >>> 8;
  }
}

/** bf16 decode in JavaScript (the fallback without WebAssembly SIMD). */
export function bf16DecodeJs(src: Uint8Array, dst: Float32Array): void {
  const out = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  const n = dst.length;
  if (HOST_IS_LITTLE_ENDIAN && src.byteOffset % BF16_BYTES === 0) {
    const inp = new Uint16Array(src.buffer, src.byteOffset, n);
    for (let i = 0; i < n; i++) out[i] = inp[i] << 16;
    return;
  }
  for (let i = 0; i < n; i++) out[i] = (src[2 * i] | (src[2 * i + 1] << 8)) << 16;
}
