// The fast affine codecs (int8, int4, KIVI) against their reference: byte-exact encode and
// bit-exact decode over random and adversarial segments, plus stated NaN/Inf behaviour.
import { describe, expect, it } from "vitest";
import { affineCodec, INT4_SPEC, INT8_SPEC, INT8_SYM_SPEC, kiviSpec } from "../src/codecs/affine-codecs.js";
import { affineDecodeFast, affineEncodeFast } from "../src/codecs/affine-fast.js";
import { affineDecodeReference, affineEncodeReference } from "../src/codecs/affine-reference.js";
import { segmentGeometry, type AffineCodecSpec } from "../src/codecs/affine-spec.js";
import { decodersAgreeOnRandomBytes, firstByteDiff, sameFloats, segmentCases, SHAPES } from "./codec-inputs.js";

/** The shipped specs plus variants that exercise the other code paths (symmetric 4/2-bit, channel groups). */
const SPECS: AffineCodecSpec[] = [
  INT8_SYM_SPEC,
  INT8_SPEC,
  INT4_SPEC,
  kiviSpec(2),
  kiviSpec(4),
  { id: "sym4-ch5", bits: 4, symmetric: true, keys: { axis: "channel", size: 5 }, values: { axis: "token", size: 3 } },
  { id: "sym2-tok", bits: 2, symmetric: true, keys: { axis: "token", size: "head" }, values: { axis: "channel", size: "segment" } },
  { id: "asym8-ch7", bits: 8, symmetric: false, keys: { axis: "channel", size: 7 }, values: { axis: "token", size: "head" } },
];

function encodeBoth(
  spec: AffineCodecSpec,
  values: Float32Array,
  segment: Parameters<typeof affineEncodeFast>[3],
): [Uint8Array, Uint8Array] {
  const bytes = segmentGeometry(spec, values.length, segment).totalBytes;
  const fast = new Uint8Array(bytes).fill(0xa5); // garbage: the encoder must write every byte
  const ref = new Uint8Array(bytes).fill(0x5a);
  affineEncodeFast(spec, values, fast, segment);
  affineEncodeReference(spec, values, ref, segment);
  return [fast, ref];
}

describe("affine codecs: fast equals reference", () => {
  for (const spec of SPECS) {
    it(`${spec.id}: encode byte-exact, decode bit-exact`, () => {
      let seed = 1;
      for (const shape of SHAPES) {
        for (const kind of ["k", "v"] as const) {
          for (const c of segmentCases(shape, kind, seed++)) {
            const [fast, ref] = encodeBoth(spec, c.values, c.segment);
            const at = firstByteDiff(fast, ref);
            expect(at, `${c.name} ${kind} ${JSON.stringify(shape)}: first differing byte`).toBe(-1);
            const outFast = new Float32Array(c.values.length);
            const outRef = new Float32Array(c.values.length);
            affineDecodeFast(spec, ref, outFast, c.segment);
            affineDecodeReference(spec, ref, outRef, c.segment);
            expect(sameFloats(outFast, outRef), `${c.name} ${kind} decode`).toBe(true);
          }
        }
      }
    });

    it(`${spec.id}: decoding arbitrary bytes agrees too`, () => {
      expect(decodersAgreeOnRandomBytes(spec, SHAPES, 99, affineDecodeFast, affineDecodeReference)).toBe(true);
    });
  }

  it("encodes into an unaligned destination and leaves bytes after the segment alone", () => {
    const codec = affineCodec(kiviSpec(2), []);
    const segment = { kind: "k" as const, tokens: 32, nKvHeads: 4, headDim: 8 };
    const values = segmentCases(segment, "k", 5)[1].values;
    const size = codec.bytesFor(values.length, segment);
    const buf = new Uint8Array(size + 3).fill(7);
    codec.encode(values, buf.subarray(1, 1 + size), segment);
    expect(buf[0]).toBe(7);
    expect(buf[size + 1]).toBe(7);
    const [, ref] = encodeBoth(kiviSpec(2), values, segment);
    expect(firstByteDiff(buf.subarray(1, 1 + size), ref)).toBe(-1);
  });
});

describe("affine codecs: NaN and infinities", () => {
  const segment = { kind: "v" as const, tokens: 1, nKvHeads: 1, headDim: 8 };
  const values = new Float32Array([1, 2, NaN, Infinity, -Infinity, -3, 0.5, 4]);
  for (const spec of [INT8_SYM_SPEC, INT8_SPEC, INT4_SPEC, kiviSpec(2)]) {
    it(`${spec.id}: NaN decodes as 0 clamped to the group range, ±Inf as the group's extremes`, () => {
      const codec = affineCodec(spec, []);
      const bytes = new Uint8Array(codec.bytesFor(values.length, segment));
      codec.encode(values, bytes, segment);
      const out = new Float32Array(values.length);
      codec.decode(bytes, out, segment);
      const step = (4 - -3) / (spec.symmetric ? (1 << (spec.bits - 1)) - 1 : (1 << spec.bits) - 1);
      expect(out.every(Number.isFinite)).toBe(true);
      expect(Math.abs(out[2])).toBeLessThanOrEqual(step); // NaN -> ~0
      expect(out[3]).toBeGreaterThanOrEqual(4 - step); // +Inf -> ~max
      expect(out[4]).toBeLessThanOrEqual(-3 + step); // -Inf -> ~min
    });
  }
});
