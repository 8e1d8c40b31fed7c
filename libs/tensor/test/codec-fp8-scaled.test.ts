// fp8 E4M3 with a scale per token and KV head: the fast codec against its reference (byte-exact
// encode, bit-exact decode, arbitrary bytes included), the scale rule (a head's largest value maps
// to 448 and comes back almost exactly), NaN/Inf/zero groups, and the "fp8" alias.
import { describe, expect, it } from "vitest";
import { segmentGeometry } from "../src/codecs/affine-spec.js";
import { getCodec, resolveCodecId } from "../src/codecs/codec-registry.js";
import { e4m3BitsToFloatReference } from "../src/codecs/fp8-e4m3-codec.js";
import {
  FP8_E4M3_TH_SPEC,
  fp8E4m3ScaledCodec,
  fp8ScaledDecodeReference,
  fp8ScaledEncodeReference,
} from "../src/codecs/fp8-e4m3-scaled-codec.js";
import { halfBitsToFloatReference } from "../src/codecs/half-float.js";
import type { KvSegmentShape } from "../src/codecs/kv-codec.js";
import { KvBlockError } from "../src/kv-block-error.js";
import { firstByteDiff, prng, sameFloats, segmentCases, SHAPES } from "./codec-inputs.js";

const codec = fp8E4m3ScaledCodec;

function encode(values: Float32Array, segment: KvSegmentShape): { fast: Uint8Array; ref: Uint8Array } {
  const n = codec.bytesFor(values.length, segment);
  const fast = new Uint8Array(n).fill(0xa5); // garbage: the encoder must write every byte
  const ref = new Uint8Array(n).fill(0x5a);
  codec.encode(values, fast, segment);
  fp8ScaledEncodeReference(values, ref, segment);
  return { fast, ref };
}

function roundTrip(values: Float32Array, segment: KvSegmentShape): { out: Float32Array; bytes: Uint8Array } {
  const bytes = new Uint8Array(codec.bytesFor(values.length, segment));
  codec.encode(values, bytes, segment);
  const out = new Float32Array(values.length);
  codec.decode(bytes, out, segment);
  return { out, bytes };
}

describe("fp8-e4m3-th-f16: fast equals reference", () => {
  it("encode byte-exact and decode bit-exact over random and adversarial segments", () => {
    let seed = 1;
    for (const shape of SHAPES) {
      for (const kind of ["k", "v"] as const) {
        for (const c of segmentCases(shape, kind, seed++)) {
          const { fast, ref } = encode(c.values, c.segment);
          expect(firstByteDiff(fast, ref), `${c.name} ${kind} ${JSON.stringify(shape)}: first differing byte`).toBe(-1);
          const outFast = new Float32Array(c.values.length);
          const outRef = new Float32Array(c.values.length);
          codec.decode(ref, outFast, c.segment);
          fp8ScaledDecodeReference(ref, outRef, c.segment);
          expect(sameFloats(outFast, outRef), `${c.name} ${kind} decode`).toBe(true);
        }
      }
    }
  });

  it("decoding arbitrary bytes agrees too", () => {
    const rnd = prng(7);
    for (const shape of SHAPES) {
      const segment = { kind: "v" as const, ...shape };
      const n = shape.tokens * shape.nKvHeads * shape.headDim;
      const bytes = new Uint8Array(codec.bytesFor(n, segment)).map(() => Math.floor(rnd() * 256));
      const a = new Float32Array(n);
      const b = new Float32Array(n);
      codec.decode(bytes, a, segment);
      fp8ScaledDecodeReference(bytes, b, segment);
      expect(sameFloats(a, b)).toBe(true);
    }
  });
});

describe("fp8-e4m3-th-f16: scale rule and special values", () => {
  const segment: KvSegmentShape = { kind: "k", tokens: 16, nKvHeads: 4, headDim: 8 };

  it("costs one byte per value plus an fp16 scale per token and head", () => {
    expect(codec.bytesFor(16 * 32, segment)).toBe(16 * 32 + 16 * 4 * 2);
    expect(segmentGeometry(FP8_E4M3_TH_SPEC, 16 * 32, segment).groups).toBe(64);
    expect(() => codec.bytesFor(16 * 32)).toThrow(KvBlockError);
    expect(() => codec.bytesFor(100, segment)).toThrow(/100 values/);
  });

  it("maps each head's largest |x| to 448 with scale = absMax/448 rounded up, and stays within fp8's relative error", () => {
    const rnd = prng(3);
    // head-dependent magnitudes, one outlier channel per head (as the model's pre-RoPE keys)
    const x = Float32Array.from({ length: 16 * 32 }, (_, i) => (rnd() - 0.5) * (i % 8 === 6 ? 40 : 4) * 2 ** (((i >> 3) % 4) - 6));
    const { out, bytes } = roundTrip(x, segment);
    for (let g = 0; g < 64; g++) {
      const head = x.subarray(g * 8, g * 8 + 8);
      const absMax = Math.max(...head.map(Math.abs));
      const scale = halfBitsToFloatReference(bytes[512 + 2 * g] | (bytes[513 + 2 * g] << 8));
      expect(scale).toBeGreaterThanOrEqual(absMax / 448);
      expect(scale).toBeLessThanOrEqual((absMax / 448) * (1 + 2 ** -10));
      const top = head.findIndex((v) => Math.abs(v) === absMax);
      expect(e4m3BitsToFloatReference(bytes[g * 8 + top] & 0x7f)).toBe(448); // the maximum's code
      expect(Math.abs(out[g * 8 + top] - head[top])).toBeLessThanOrEqual(absMax * 2 ** -10);
      for (let j = 0; j < 8; j++) {
        const err = Math.abs(out[g * 8 + j] - head[j]);
        // E4M3's half ulp (2^-4 relative), or half its subnormal step below 2^-6 of the scaled range
        expect(err).toBeLessThanOrEqual(Math.abs(head[j]) * 2 ** -4 * (1 + 1e-9) + scale * 2 ** -10);
      }
    }
  });

  it("small heads keep their relative precision (the unscaled codec rounds them to subnormals)", () => {
    const x = Float32Array.from({ length: 32 }, (_, i) => (i % 2 === 0 ? 1 : -1) * (0.001 + i * 1e-4));
    const one: KvSegmentShape = { kind: "v", tokens: 1, nKvHeads: 4, headDim: 8 };
    const { out } = roundTrip(x, one);
    const plain = getCodec("fp8-e4m3");
    const coded = new Uint8Array(plain.bytesFor(32));
    plain.encode(x, coded);
    const outPlain = new Float32Array(32);
    plain.decode(coded, outPlain);
    let scaledErr = 0;
    let plainErr = 0;
    for (let i = 0; i < 32; i++) {
      expect(Math.abs(out[i] - x[i])).toBeLessThanOrEqual(Math.abs(x[i]) * 2 ** -4 * (1 + 1e-9));
      scaledErr += Math.abs(out[i] - x[i]);
      plainErr += Math.abs(outPlain[i] - x[i]);
    }
    expect(scaledErr).toBeLessThan(plainErr / 8);
  });

  it("NaN stays NaN, ±Inf saturate to the head maximum, an all-zero head has scale 0", () => {
    const x = new Float32Array(32);
    x.set([NaN, Infinity, -Infinity, 2.5, -1, 0.25, -0, 0], 0); // head 0
    x.set([NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN], 8); // head 1: no finite value
    x.set([0, -0, 0, 0, 0, 0, 0, 0], 16); // head 2: zeros
    x.set([1e30, -3e30, 1, 2, 3, 4, 5, 6], 24); // head 3: beyond fp16, scale clamps to 65504
    const one: KvSegmentShape = { kind: "k", tokens: 1, nKvHeads: 4, headDim: 8 };
    const { out, bytes } = roundTrip(x, one);
    expect(Number.isNaN(out[0])).toBe(true);
    expect(Math.abs(out[3] - 2.5)).toBeLessThanOrEqual(2.5 * 2 ** -10);
    expect([out[1], out[2]]).toEqual([out[3], -out[3]]);
    expect(Object.is(out[6], -0)).toBe(true);
    expect(out.subarray(9, 16).every((v) => Number.isNaN(v))).toBe(true);
    expect(bytes[32 + 2] | (bytes[33 + 2] << 8)).toBe(0); // head 1's scale
    expect(bytes[32 + 4] | (bytes[33 + 4] << 8)).toBe(0); // head 2's scale
    expect(Array.from(out.subarray(16, 24))).toEqual([0, -0, 0, 0, 0, 0, 0, 0]);
    expect(out[25]).toBe(-448 * 65504); // saturates at 448 x the largest fp16 scale
  });
});

describe("the fp8 alias", () => {
  it('"fp8" names the scaled codec, "fp8-unscaled" the plain one', () => {
    expect(resolveCodecId("fp8")).toBe("fp8-e4m3-th-f16");
    expect(resolveCodecId("fp8-unscaled")).toBe("fp8-e4m3");
    expect(getCodec("fp8-e4m3-th-f16")).toBe(codec);
    expect(codec.groupsAcrossTokens ?? false).toBe(false); // per token: applied as each token is written
  });
});
