// KIVI-2 with least-squares group grids: the fast encoder against the reference (byte-exact, over
// random and adversarial segments and other bit widths/layouts), the fit never worse than the
// min/max grid of plain KIVI-2 on any group, same layout and size as kivi2-g32-f16.
import { describe, expect, it } from "vitest";
import { KIVI2_LSQ_SPEC, kivi2LsqCodec, kiviSpec } from "../src/codecs/affine-codecs.js";
import { affineDecodeFast, affineEncodeFast } from "../src/codecs/affine-fast.js";
import { affineLsqEncodeFast } from "../src/codecs/affine-lsq-fast.js";
import { affineDecodeReference, affineEncodeReference } from "../src/codecs/affine-reference.js";
import { groupIndex, segmentGeometry, type AffineCodecSpec } from "../src/codecs/affine-spec.js";
import { getCodec, resolveCodecId } from "../src/codecs/codec-registry.js";
import type { KvSegmentShape } from "../src/codecs/kv-codec.js";
import { affineParams, groupSquaredError, lsqAffineParams } from "../src/codecs/quant-params.js";
import { firstByteDiff, prng, sameFloats, segmentCases, SHAPES } from "./codec-inputs.js";

/** The shipped spec plus 4- and 8-bit and token-axis-keys variants through the same encoder. */
const SPECS: AffineCodecSpec[] = [
  KIVI2_LSQ_SPEC,
  { ...KIVI2_LSQ_SPEC, id: "lsq4", bits: 4 },
  {
    id: "lsq8-tok",
    bits: 8,
    symmetric: false,
    keys: { axis: "token", size: "head" },
    values: { axis: "channel", size: "segment" },
    fit: "lsq",
  },
  { id: "lsq2-odd", bits: 2, symmetric: false, keys: { axis: "channel", size: 5 }, values: { axis: "token", size: 3 }, fit: "lsq" },
];

describe("kivi2-g32-f16-lsq: fast equals reference", () => {
  for (const spec of SPECS) {
    it(`${spec.id}: encode byte-exact, decode bit-exact`, () => {
      let seed = 11;
      for (const shape of SHAPES) {
        for (const kind of ["k", "v"] as const) {
          for (const c of segmentCases(shape, kind, seed++)) {
            const n = segmentGeometry(spec, c.values.length, c.segment).totalBytes;
            const fast = new Uint8Array(n).fill(0xa5);
            const ref = new Uint8Array(n).fill(0x5a);
            affineLsqEncodeFast(spec, c.values, fast, c.segment);
            affineEncodeReference(spec, c.values, ref, c.segment);
            expect(firstByteDiff(fast, ref), `${c.name} ${kind} ${JSON.stringify(shape)}: first differing byte`).toBe(-1);
            // affineEncodeFast, which every affine codec encodes through, sends the spec to the same encoder
            const dispatched = new Uint8Array(n).fill(0x3c);
            affineEncodeFast(spec, c.values, dispatched, c.segment);
            expect(firstByteDiff(dispatched, ref), `${c.name} ${kind} via affineEncodeFast`).toBe(-1);
            const a = new Float32Array(c.values.length);
            const b = new Float32Array(c.values.length);
            affineDecodeFast(spec, ref, a, c.segment);
            affineDecodeReference(spec, ref, b, c.segment);
            expect(sameFloats(a, b), `${c.name} ${kind} decode`).toBe(true);
          }
        }
      }
    });
  }

  it("refuses a spec that is not an asymmetric least-squares one", () => {
    const seg: KvSegmentShape = { kind: "k", tokens: 32, nKvHeads: 4, headDim: 8 };
    expect(() => affineLsqEncodeFast(kiviSpec(2), new Float32Array(1024), new Uint8Array(1024), seg)).toThrow(/least-squares/);
  });
});

describe("kivi2-g32-f16-lsq: the fit", () => {
  it("has kivi2-g32-f16 layout and size, is registered with its alias, groups keys across tokens", () => {
    const seg: KvSegmentShape = { kind: "k", tokens: 32, nKvHeads: 4, headDim: 8 };
    expect(kivi2LsqCodec.bytesFor(1024, seg)).toBe(getCodec("kivi2-g32-f16").bytesFor(1024, seg));
    expect(resolveCodecId("kivi2-lsq")).toBe("kivi2-g32-f16-lsq");
    expect(getCodec("kivi2-g32-f16-lsq")).toBe(kivi2LsqCodec);
    expect(kivi2LsqCodec.groupsAcrossTokens).toBe(true);
    expect(kivi2LsqCodec.minBlockTokens).toBe(32);
  });

  it("never has a larger squared error than the min/max grid on any group, and a smaller one overall", () => {
    const rnd = prng(5);
    const gauss = (): number => Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
    let lsqTotal = 0;
    let minmaxTotal = 0;
    for (let g = 0; g < 400; g++) {
      const values = Float32Array.from({ length: 32 }, () => gauss() * (g % 7 === 0 ? 20 : 1.5) + (g % 3));
      const lo = Math.min(...values);
      const hi = Math.max(...values);
      const lsq = groupSquaredError(values, 32, lsqAffineParams(values, 32, 3), 3);
      const minmax = groupSquaredError(values, 32, affineParams(lo, hi, 3), 3);
      expect(lsq).toBeLessThanOrEqual(minmax);
      lsqTotal += lsq;
      minmaxTotal += minmax;
    }
    expect(lsqTotal).toBeLessThan(0.9 * minmaxTotal);
  });

  it("segment round trip: every group decodes with no more squared error than plain KIVI-2", () => {
    const rnd = prng(8);
    const seg: KvSegmentShape = { kind: "k", tokens: 32, nKvHeads: 4, headDim: 8 };
    const x = Float32Array.from({ length: 1024 }, (_, i) => (rnd() - 0.5) * (i % 8 === 6 ? 40 : 6));
    const decode = (id: string): Float32Array => {
      const c = getCodec(id);
      const bytes = new Uint8Array(c.bytesFor(x.length, seg));
      c.encode(x, bytes, seg);
      const out = new Float32Array(x.length);
      c.decode(bytes, out, seg);
      return out;
    };
    const lsq = decode("kivi2-g32-f16-lsq");
    const plain = decode("kivi2-g32-f16");
    const geo = segmentGeometry(KIVI2_LSQ_SPEC, x.length, seg);
    const errLsq = new Float64Array(geo.groups);
    const errPlain = new Float64Array(geo.groups);
    for (let t = 0; t < 32; t++) {
      for (let c = 0; c < 32; c++) {
        const i = t * 32 + c;
        errLsq[groupIndex(geo, t, c)] += (lsq[i] - x[i]) ** 2;
        errPlain[groupIndex(geo, t, c)] += (plain[i] - x[i]) ** 2;
      }
    }
    for (let g = 0; g < geo.groups; g++) expect(errLsq[g]).toBeLessThanOrEqual(errPlain[g] * (1 + 1e-6) + 1e-12);
  });
});
