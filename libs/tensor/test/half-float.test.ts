import { describe, expect, it } from "vitest";
import { floatToHalfBits, floatToHalfBitsReference, halfBitsToFloat, halfBitsToFloatReference } from "../src/codecs/half-float.js";
import { fp16Codec } from "../src/codecs/fp16-codec.js";

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function fromBits(bits: number): number {
  u32[0] = bits >>> 0;
  return f32[0];
}
function sameFloat(a: number, b: number): boolean {
  return Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
}

describe("fp16 fast conversions match the reference bit for bit", () => {
  it("all 65536 half values decode identically and re-encode to themselves", () => {
    let mismatches = 0;
    for (let h = 0; h < 65536; h++) {
      const ref = halfBitsToFloatReference(h);
      const fast = halfBitsToFloat(h);
      if (!sameFloat(ref, fast)) mismatches++;
      const isNaN = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      const back = floatToHalfBits(fast);
      if (back !== floatToHalfBitsReference(ref)) mismatches++;
      if (!isNaN && back !== h) mismatches++;
      if (isNaN && back !== 0x7e00) mismatches++;
    }
    expect(mismatches).toBe(0);
  });

  it("midpoints between adjacent halves round to even in both", () => {
    let mismatches = 0;
    for (let h = 0; h < 0x7bff; h++) {
      const lo = halfBitsToFloatReference(h);
      const hi = halfBitsToFloatReference(h + 1);
      for (const sign of [1, -1]) {
        const mid = sign * ((lo + hi) / 2);
        const expected = (h % 2 === 0 ? h : h + 1) | (sign < 0 ? 0x8000 : 0);
        if (floatToHalfBitsReference(mid) !== expected) mismatches++;
        if (floatToHalfBits(mid) !== expected) mismatches++;
      }
    }
    expect(mismatches).toBe(0);
    expect(floatToHalfBitsReference(65519.99)).toBe(0x7bff);
    expect(floatToHalfBitsReference(65520)).toBe(0x7c00);
    expect(floatToHalfBits(65520)).toBe(0x7c00);
  });

  it("random float32 bit patterns (all exponents, NaN, Inf, subnormals) encode identically", () => {
    let s = 0x9e3779b9;
    let mismatches = 0;
    for (let i = 0; i < 400_000; i++) {
      s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
      const x = fromBits(s);
      if (floatToHalfBits(x) !== floatToHalfBitsReference(x)) mismatches++;
      // Values near the half range exercise rounding far more than random exponents do.
      const near = fromBits((0x33000000 + (s % 0x14800000)) ^ (s & 0x80000000));
      if (floatToHalfBits(near) !== floatToHalfBitsReference(near)) mismatches++;
    }
    expect(mismatches).toBe(0);
  });

  it("the fp16 codec encodes and decodes a buffer like the scalar reference", () => {
    const src = new Float32Array(4099);
    for (let i = 0; i < src.length; i++) src[i] = Math.sin(i * 0.37) * 2 ** ((i % 40) - 25);
    const bytes = new Uint8Array(fp16Codec.bytesFor(src.length));
    fp16Codec.encode(src, bytes);
    const out = new Float32Array(src.length);
    fp16Codec.decode(bytes, out);
    for (let i = 0; i < src.length; i++) {
      const h = bytes[2 * i] | (bytes[2 * i + 1] << 8);
      expect(h).toBe(floatToHalfBitsReference(src[i]));
      expect(out[i]).toBe(halfBitsToFloatReference(h));
    }
  });
});
