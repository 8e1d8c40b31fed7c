// bf16 and fp8-e4m3: the fast bit-trick conversions against the arithmetic references, over
// random float32 bit patterns, every rounding midpoint and its neighbours, and the special values.
import { describe, expect, it } from "vitest";
import { bf16BitsToFloat, bf16Codec, floatBitsToBf16Bits, floatToBf16BitsReference } from "../src/codecs/bf16-codec.js";
import {
  e4m3BitsToFloatReference,
  e4m3DecodeTable,
  floatBitsToE4m3Bits,
  floatToE4m3BitsReference,
  fp8E4m3Codec,
} from "../src/codecs/fp8-e4m3-codec.js";
import { prng } from "./codec-inputs.js";

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const floatOf = (u: number): number => {
  u32[0] = u;
  return f32[0];
};
const bitsOf = (x: number): number => {
  f32[0] = x;
  return u32[0];
};

/** Random bit patterns plus every float32 within 2 ulps of each midpoint between adjacent codes. */
function probeBits(midpoints: number[], seed: number): number[] {
  const rnd = prng(seed);
  const out: number[] = [];
  for (let i = 0; i < 200_000; i++) out.push((rnd() * 2 ** 32) >>> 0);
  for (const m of midpoints) {
    for (const s of [1, -1]) {
      const b = bitsOf(s * m);
      for (let d = -2; d <= 2; d++) out.push((b + d) >>> 0);
    }
  }
  for (const x of [0, -0, Infinity, -Infinity, NaN, 3.4028234e38, -3.4028234e38, 1.4e-45, -1.4e-45]) out.push(bitsOf(x));
  out.push(0x7fc00001, 0xffc00000, 0x7f800001, 0xff800001);
  return out;
}

describe("bf16", () => {
  it("fast bits equal the reference, midpoints and specials included", () => {
    const mids: number[] = [];
    const rnd = prng(3);
    for (let i = 0; i < 2000; i++) {
      const h = Math.floor(rnd() * 0x7f7f);
      mids.push((bf16BitsToFloat(h) + bf16BitsToFloat(h + 1)) / 2);
    }
    for (const u of probeBits(mids, 7)) {
      const fast = floatBitsToBf16Bits(u);
      const ref = floatToBf16BitsReference(floatOf(u));
      if (fast !== ref) expect({ u: u.toString(16), fast, ref }).toBeNull();
    }
  });

  it("codec round trip: relative error <= 2^-8, NaN stays NaN, Inf stays Inf", () => {
    const rnd = prng(11);
    const src = Float32Array.from({ length: 4096 }, () => (rnd() - 0.5) * 10 ** (rnd() * 8 - 4));
    src.set([NaN, Infinity, -Infinity, -0], 0);
    const dst = new Uint8Array(bf16Codec.bytesFor(src.length));
    bf16Codec.encode(src, dst);
    const out = new Float32Array(src.length);
    bf16Codec.decode(dst, out);
    expect(Number.isNaN(out[0])).toBe(true);
    expect([out[1], out[2]]).toEqual([Infinity, -Infinity]);
    expect(Object.is(out[3], -0)).toBe(true);
    for (let i = 4; i < src.length; i++) expect(Math.abs(out[i] - src[i])).toBeLessThanOrEqual(Math.abs(src[i]) * 2 ** -8);
  });
});

describe("fp8-e4m3", () => {
  it("decode table matches the reference for all 256 codes", () => {
    const t = e4m3DecodeTable();
    for (let b = 0; b < 256; b++) {
      const ref = e4m3BitsToFloatReference(b);
      if (Number.isNaN(ref)) expect(Number.isNaN(t[b])).toBe(true);
      else expect(Object.is(t[b], ref)).toBe(true);
    }
    expect(t[0x7e]).toBe(448);
    expect(t[0x01]).toBe(2 ** -9);
  });

  it("fast bits equal the reference, every midpoint and specials included", () => {
    const mids: number[] = [];
    for (let b = 0; b < 0x7e; b++) mids.push((e4m3BitsToFloatReference(b) + e4m3BitsToFloatReference(b + 1)) / 2);
    mids.push(464, 480, 2 ** -6, 2 ** -10);
    for (const u of probeBits(mids, 13)) {
      const fast = floatBitsToE4m3Bits(u);
      const ref = floatToE4m3BitsReference(floatOf(u));
      if (fast !== ref) expect({ u: u.toString(16), fast, ref }).toBeNull();
    }
  });

  it("rounds to nearest even, saturates at ±448, maps NaN to 0x7f", () => {
    expect(floatToE4m3BitsReference(1.0625)).toBe(0x38); // midpoint of 1 and 1.125 -> even (1)
    expect(floatToE4m3BitsReference(1.1875)).toBe(0x3a); // midpoint of 1.125 and 1.25 -> even (1.25)
    expect(floatToE4m3BitsReference(463.9)).toBe(0x7e);
    expect(floatToE4m3BitsReference(464)).toBe(0x7e);
    expect(floatToE4m3BitsReference(-Infinity)).toBe(0xfe);
    expect(floatToE4m3BitsReference(NaN)).toBe(0x7f);
    expect(floatToE4m3BitsReference(-0)).toBe(0x80);
  });

  it("codec round trip: relative error <= 2^-4 for normals, absolute <= 2^-10 below 2^-6", () => {
    const rnd = prng(17);
    const src = Float32Array.from({ length: 4096 }, () => (rnd() - 0.5) * 2 ** (rnd() * 16 - 10));
    src.set([NaN, Infinity, 1e6, -1e6], 0);
    const dst = new Uint8Array(fp8E4m3Codec.bytesFor(src.length));
    fp8E4m3Codec.encode(src, dst);
    const out = new Float32Array(src.length);
    fp8E4m3Codec.decode(dst, out);
    expect(Number.isNaN(out[0])).toBe(true);
    expect([out[1], out[2], out[3]]).toEqual([448, 448, -448]);
    for (let i = 4; i < src.length; i++) {
      const a = Math.abs(src[i]);
      const err = Math.abs(out[i] - src[i]);
      if (a >= 2 ** -6) expect(err).toBeLessThanOrEqual(Math.min(a, 448) * 2 ** -4 + Math.max(0, a - 448));
      else expect(err).toBeLessThanOrEqual(2 ** -10);
    }
  });
});
