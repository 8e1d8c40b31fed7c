// fp8 E4M3 codec (OCP "E4M3FN", as H100/MI300 KV caches): 1 sign, 4 exponent (bias 7), 3 mantissa
// bits, no infinities, max ±448. Unscaled (a KV-cache scale of 1.0, vLLM's default; the scaled
// variant fp8-e4m3-th-f16 is what the "fp8" alias names). Rounding is to
// nearest even; magnitudes >= 464 (halfway to the next binade step) and ±Inf saturate to ±448
// (SATFINITE); NaN encodes as 0x7f.
import type { KvCodec } from "./kv-codec.js";

/** Largest finite E4M3 value. */
export const E4M3_MAX = 448;
/** Smallest |x| that no longer rounds to 448 (the midpoint to 480). */
const E4M3_SATURATE_FROM = 464;
const E4M3_NAN = 0x7f;
const E4M3_MAX_BITS = 0x7e;
const E4M3_MIN_NORMAL = 2 ** -6;
const E4M3_SUBNORMAL_STEP = 2 ** -9;

const F32_SATURATE_BITS = 0x43e80000; // 464.0f
const F32_MIN_NORMAL_BITS = 121 << 23; // 2^-6
const F32_REBIAS = 120 << 23; // exponent bias 127 -> 7
const SUBNORMAL_MAGIC = 2 ** 14; // float32 ulp at 2^14 is 2^-9, the E4M3 subnormal step
const SUBNORMAL_MAGIC_BITS = 141 << 23;

function roundHalfEven(q: number): number {
  const f = Math.floor(q);
  const d = q - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** Reference float -> E4M3 bits by arithmetic, for clarity; the fast path must agree bit for bit. */
export function floatToE4m3BitsReference(value: number): number {
  const x = Math.fround(value);
  if (Number.isNaN(x)) return E4M3_NAN;
  const sign = x < 0 || Object.is(x, -0) ? 0x80 : 0;
  const a = Math.abs(x);
  if (a >= E4M3_SATURATE_FROM) return sign | E4M3_MAX_BITS;
  if (a < E4M3_MIN_NORMAL) return sign | roundHalfEven(a / E4M3_SUBNORMAL_STEP); // 8 steps = the smallest normal
  let e = -6;
  while (a >= 2 ** (e + 1)) e++;
  let m = roundHalfEven((a / 2 ** e - 1) * 8);
  if (m === 8) {
    m = 0;
    e++;
  }
  return sign | ((e + 7) << 3) | m;
}

/** Reference E4M3 bits -> float (exact). */
export function e4m3BitsToFloatReference(b: number): number {
  const sign = b & 0x80 ? -1 : 1;
  const e = (b >> 3) & 0xf;
  const m = b & 7;
  if (e === 15 && m === 7) return NaN;
  if (e === 0) return sign * m * E4M3_SUBNORMAL_STEP;
  return sign * (1 + m / 8) * 2 ** (e - 7);
}

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** Fast float32 bits -> E4M3 bits: integer rebias with a rounding bias; one float32 add for subnormals. */
export function floatBitsToE4m3Bits(u: number): number {
  const sign = (u >>> 24) & 0x80;
  const a = u & 0x7fffffff;
  if (a > 0x7f800000) return E4M3_NAN;
  if (a >= F32_SATURATE_BITS) return sign | E4M3_MAX_BITS;
  if (a < F32_MIN_NORMAL_BITS) {
    scratchU32[0] = a;
    scratchF32[0] = scratchF32[0] + SUBNORMAL_MAGIC;
    return sign | (scratchU32[0] - SUBNORMAL_MAGIC_BITS);
  }
  return sign | ((a - F32_REBIAS + 0x7ffff + ((a >>> 20) & 1)) >>> 20);
}

let decodeTable: Float32Array | null = null;

/** All 256 E4M3 values as float32 (built on first use). */
export function e4m3DecodeTable(): Float32Array {
  if (decodeTable === null) {
    decodeTable = new Float32Array(256);
    for (let b = 0; b < 256; b++) decodeTable[b] = e4m3BitsToFloatReference(b);
  }
  return decodeTable;
}

/**
 * fp8 E4M3 codec, unscaled, id "fp8-e4m3" (alias "fp8-unscaled"): a quarter of fp32's bytes, ~2
 * significant digits; values below 2^-6 lose precision in E4M3's subnormals.
 */
export const fp8E4m3Codec: KvCodec = {
  id: "fp8-e4m3",
  aliases: ["fp8-unscaled"],
  bytesFor(values: number): number {
    return values;
  },
  encode(src: Float32Array, dst: Uint8Array): void {
    const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
    const n = src.length;
    for (let i = 0; i < n; i++) {
      const u = bits[i];
      const a = u & 0x7fffffff;
      // the common case (normal, in range) inline; the rest through the full function
      dst[i] =
        a >= F32_MIN_NORMAL_BITS && a < F32_SATURATE_BITS
          ? ((u >>> 24) & 0x80) | ((a - F32_REBIAS + 0x7ffff + ((a >>> 20) & 1)) >>> 20)
          : floatBitsToE4m3Bits(u);
    }
  },
  decode(src: Uint8Array, dst: Float32Array): void {
    const table = e4m3DecodeTable();
    const n = dst.length;
    for (let i = 0; i < n; i++) dst[i] = table[src[i]];
  },
};
