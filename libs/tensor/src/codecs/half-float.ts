// IEEE 754 binary16 conversions: a plain reference and the fast bit-trick/table versions the codec uses.

const HALF_SIGN = 0x8000;
const HALF_QNAN = 0x7e00;
const HALF_INF = 0x7c00;
/** Smallest |x| that rounds to +Inf in half precision (halfway between 65504 and 65536). */
const HALF_OVERFLOW_THRESHOLD = 65520;
const HALF_MIN_NORMAL = 2 ** -14;
const HALF_SUBNORMAL_STEP = 2 ** -24;

function roundHalfEven(q: number): number {
  const f = Math.floor(q);
  const d = q - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Reference float32 -> half conversion, written for clarity rather than speed:
 * round-to-nearest-even, overflow to ±Inf, every NaN to the positive quiet NaN 0x7e00.
 */
export function floatToHalfBitsReference(value: number): number {
  const x = Math.fround(value);
  if (Number.isNaN(x)) return HALF_QNAN;
  const sign = x < 0 || Object.is(x, -0) ? HALF_SIGN : 0;
  const a = Math.abs(x);
  if (a >= HALF_OVERFLOW_THRESHOLD) return sign | HALF_INF;
  if (a < HALF_MIN_NORMAL) {
    // Subnormal: an integer count of 2^-24 steps; 1024 steps is the smallest normal, same bits.
    return sign | roundHalfEven(a / HALF_SUBNORMAL_STEP);
  }
  let e = -14;
  while (a >= 2 ** (e + 1)) e++;
  let m = roundHalfEven((a / 2 ** e - 1) * 1024);
  if (m === 1024) {
    m = 0;
    e++;
  }
  if (e > 15) return sign | HALF_INF;
  return sign | ((e + 15) << 10) | m;
}

/** Reference half -> float conversion (exact: every half is a float32). */
export function halfBitsToFloatReference(h: number): number {
  const sign = h & HALF_SIGN ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * HALF_SUBNORMAL_STEP;
  if (e === 31) return m === 0 ? sign * Infinity : NaN;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

// Scratch for reinterpreting float32 <-> uint32 bits without allocation.
const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

const F32_HALF_OVERFLOW_BITS = (127 + 16) << 23; // 65536.0f: at or above -> Inf/NaN
const F32_INF_BITS = 0x7f800000;
const F32_HALF_MIN_NORMAL_BITS = 113 << 23; // 2^-14
const DENORM_MAGIC_BITS = (127 - 15 + (23 - 10) + 1) << 23; // 0.5f
const DENORM_MAGIC = 0.5;
const EXPONENT_REBIAS = (15 - 127) * (1 << 23);

/**
 * Fast float32 bits -> half bits (after F. Giesen, float_to_half_fast3_rtne): integer
 * rebias plus a rounding bias for normals, one float32 add for subnormals.
 * Bit-identical to {@link floatToHalfBitsReference}.
 */
export function floatBitsToHalfBits(u: number): number {
  const sign = (u >>> 16) & HALF_SIGN;
  const a = u & 0x7fffffff;
  if (a >= F32_HALF_OVERFLOW_BITS) return a > F32_INF_BITS ? HALF_QNAN : sign | HALF_INF;
  if (a < F32_HALF_MIN_NORMAL_BITS) {
    // Adding 0.5f aligns the 10 mantissa bits at the bottom; float32 addition rounds to even.
    scratchU32[0] = a;
    scratchF32[0] = scratchF32[0] + DENORM_MAGIC;
    return sign | (scratchU32[0] - DENORM_MAGIC_BITS);
  }
  const mantOdd = (a >>> 13) & 1;
  return sign | ((a + EXPONENT_REBIAS + 0xfff + mantOdd) >>> 13);
}

/** Half bits -> float32 bits (after F. Giesen, half_to_float), used to build the decode table. */
function halfBitsToFloatBits(h: number): number {
  const shiftedExp = HALF_INF << 13;
  let o = (h & 0x7fff) << 13;
  const exp = shiftedExp & o;
  o += (127 - 15) << 23;
  if (exp === shiftedExp) {
    o += (128 - 16) << 23;
  } else if (exp === 0) {
    o += 1 << 23;
    scratchU32[0] = o;
    scratchF32[0] = scratchF32[0] - 2 ** -14;
    o = scratchU32[0];
  }
  return (o | ((h & HALF_SIGN) << 16)) >>> 0;
}

let decodeTable: Uint32Array | null = null;

/** 65536-entry table of float32 bits for every half value (256 KiB, built on first use). */
export function halfToFloatBitsTable(): Uint32Array {
  if (decodeTable === null) {
    const t = new Uint32Array(1 << 16);
    for (let h = 0; h < t.length; h++) t[h] = halfBitsToFloatBits(h);
    decodeTable = t;
  }
  return decodeTable;
}

/** Fast half -> float via the table. */
export function halfBitsToFloat(h: number): number {
  scratchU32[0] = halfToFloatBitsTable()[h & 0xffff];
  return scratchF32[0];
}

/** Fast float -> half bits (the value is first rounded to float32). */
export function floatToHalfBits(value: number): number {
  scratchF32[0] = value;
  return floatBitsToHalfBits(scratchU32[0]);
}
