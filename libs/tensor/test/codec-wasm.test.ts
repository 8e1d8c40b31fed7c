// The WebAssembly SIMD codec kernels against the JS fast paths and the references: byte-exact
// encode and bit-exact decode on random, grid-aligned (rounding ties) and adversarial data, for
// every shape the kernels take; plus the backend switch and the JS fallback for other shapes.
import { afterEach, describe, expect, it } from "vitest";
import { INT4_SPEC, INT8_SPEC, INT8_SYM_SPEC, kiviSpec } from "../src/codecs/affine-codecs.js";
import { affineDecodeFast, affineDecodeJs, affineEncodeFast, affineEncodeJs } from "../src/codecs/affine-fast.js";
import { affineDecodeReference, affineEncodeReference } from "../src/codecs/affine-reference.js";
import { segmentGeometry, type AffineCodecSpec } from "../src/codecs/affine-spec.js";
import { bf16Codec, bf16DecodeJs, bf16EncodeJs, floatToBf16BitsReference } from "../src/codecs/bf16-codec.js";
import { fp16Codec, fp16DecodeJs, fp16EncodeJs } from "../src/codecs/fp16-codec.js";
import { floatToHalfBitsReference } from "../src/codecs/half-float.js";
import type { KvSegmentShape } from "../src/codecs/kv-codec.js";
import { codecBackend, setCodecBackend } from "../src/codecs/wasm/codec-kernels.js";
import { wasmTakesGeometry } from "../src/codecs/wasm/affine-wasm.js";
import { decodersAgreeOnRandomBytes, firstByteDiff, prng, sameFloats, segmentCases } from "./codec-inputs.js";

const SPECS: AffineCodecSpec[] = [
  INT8_SYM_SPEC,
  INT8_SPEC,
  INT4_SPEC,
  kiviSpec(2),
  kiviSpec(4),
  { id: "sym4-ch5", bits: 4, symmetric: true, keys: { axis: "channel", size: 5 }, values: { axis: "token", size: 8 } },
  { id: "sym2-tok", bits: 2, symmetric: true, keys: { axis: "token", size: "head" }, values: { axis: "channel", size: "segment" } },
  { id: "asym8-ch7", bits: 8, symmetric: false, keys: { axis: "channel", size: 7 }, values: { axis: "token", size: "head" } },
];

/** Shapes the kernels take (channels % 8 == 0): a Llama-like head, stories260K's, partial groups, few tokens. */
const WASM_SHAPES: readonly Omit<KvSegmentShape, "kind">[] = [
  { tokens: 32, nKvHeads: 4, headDim: 8 },
  { tokens: 32, nKvHeads: 2, headDim: 128 },
  { tokens: 64, nKvHeads: 2, headDim: 24 },
  { tokens: 5, nKvHeads: 1, headDim: 16 },
  { tokens: 1, nKvHeads: 8, headDim: 8 },
];

afterEach(() => setCodecBackend("wasm-simd"));

/** Values on a fine binary grid: (x - min) / scale often lands exactly on a tie or an integer. */
function gridCases(
  shape: Omit<KvSegmentShape, "kind">,
  kind: "k" | "v",
  seed: number,
): { name: string; segment: KvSegmentShape; values: Float32Array }[] {
  const rnd = prng(seed);
  const n = shape.tokens * shape.nKvHeads * shape.headDim;
  const segment = { kind, ...shape };
  const step = (k: number): Float32Array => Float32Array.from({ length: n }, () => Math.floor(rnd() * 64 - 16) / k);
  const requantized = step(8).map((x, i) => (i % 3 === 0 ? x + 1 / 64 : x)); // halfway between grid points
  return [
    { name: "grid 1/8", segment, values: step(8) },
    { name: "grid 1/1024", segment, values: step(1024) },
    { name: "grid with ties", segment, values: requantized },
  ];
}

function encodeWith(
  encode: typeof affineEncodeFast,
  spec: AffineCodecSpec,
  values: Float32Array,
  segment: KvSegmentShape,
  fill: number,
): Uint8Array {
  const out = new Uint8Array(segmentGeometry(spec, values.length, segment).totalBytes).fill(fill);
  encode(spec, values, out, segment);
  return out;
}

describe("WebAssembly SIMD kernels", () => {
  it("are the backend on this runtime", () => {
    expect(codecBackend()).toEqual({ backend: "wasm-simd" });
  });

  for (const spec of SPECS) {
    it(`${spec.id}: wasm encode equals JS and reference byte for byte, decode bit for bit`, () => {
      let seed = 11;
      let checked = 0;
      for (const shape of WASM_SHAPES) {
        for (const kind of ["k", "v"] as const) {
          const segment = { kind, ...shape };
          expect(wasmTakesGeometry(segmentGeometry(spec, shape.tokens * shape.nKvHeads * shape.headDim, segment))).toBe(true);
          for (const c of [...segmentCases(shape, kind, seed++), ...gridCases(shape, kind, seed++)]) {
            const label = `${c.name} ${kind} ${JSON.stringify(shape)}`;
            const wasm = encodeWith(affineEncodeFast, spec, c.values, segment, 0xa5);
            const js = encodeWith(affineEncodeJs, spec, c.values, segment, 0x5a);
            const ref = encodeWith(affineEncodeReference, spec, c.values, segment, 0x33);
            expect(firstByteDiff(wasm, js), `${label}: first byte wasm != js`).toBe(-1);
            expect(firstByteDiff(wasm, ref), `${label}: first byte wasm != reference`).toBe(-1);
            const a = new Float32Array(c.values.length).fill(7);
            const b = new Float32Array(c.values.length);
            const r = new Float32Array(c.values.length);
            affineDecodeFast(spec, wasm, a, segment);
            affineDecodeJs(spec, wasm, b, segment);
            affineDecodeReference(spec, wasm, r, segment);
            expect(sameFloats(a, b), `${label}: decode wasm != js`).toBe(true);
            expect(sameFloats(a, r), `${label}: decode wasm != reference`).toBe(true);
            checked++;
          }
        }
      }
      expect(checked).toBeGreaterThan(100);
    });

    it(`${spec.id}: wasm decodes arbitrary bytes (NaN, Inf, subnormal parameters) like JS`, () => {
      expect(decodersAgreeOnRandomBytes(spec, WASM_SHAPES, 7, affineDecodeFast, affineDecodeJs)).toBe(true);
    });
  }

  it("shapes the kernels do not take run the JS path with the same bytes", () => {
    const segment: KvSegmentShape = { kind: "v", tokens: 7, nKvHeads: 3, headDim: 5 };
    expect(wasmTakesGeometry(segmentGeometry(INT4_SPEC, 105, segment))).toBe(false);
    const values = segmentCases(segment, "v", 3)[1].values;
    expect(
      firstByteDiff(
        encodeWith(affineEncodeFast, INT4_SPEC, values, segment, 1),
        encodeWith(affineEncodeReference, INT4_SPEC, values, segment, 2),
      ),
    ).toBe(-1);
  });
});

/** Float32 bit patterns over every exponent, plus NaN payloads, ±Inf, ±0, subnormals and half/bf16 rounding ties. */
function floatPatterns(n: number, seed: number): Float32Array {
  const rnd = prng(seed);
  const bits = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const r = Math.floor(rnd() * 2 ** 32) >>> 0;
    switch (i % 6) {
      case 0:
        bits[i] = r;
        break; // anything, NaNs included
      case 1:
        bits[i] = (r & 0x80000000) | (((r & 0x3fffffff) % 0x0fffffff) + 0x30000000);
        break; // around the half range
      case 2:
        bits[i] = (r & 0x80001fff) | 0x38000000 | (r & 0x007fe000);
        break; // near the half subnormal boundary
      case 3:
        bits[i] = (r & 0xffffe000) | 0x1000;
        break; // fp16 ties
      case 4:
        bits[i] = (r & 0xffff0000) | 0x8000;
        break; // bf16 ties
      default:
        bits[i] = [0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00001, 0x00000001, 0x477fefff, 0x477ff000][r % 8];
    }
  }
  return new Float32Array(bits.buffer);
}

describe("WebAssembly SIMD fp16 and bf16", () => {
  for (const n of [1, 7, 8, 9, 1000, 4099]) {
    it(`${n} values: encode equals the JS path and the reference; decode of every half equals JS`, () => {
      const values = floatPatterns(n, n);
      for (const [codec, js, ref] of [
        [fp16Codec, fp16EncodeJs, floatToHalfBitsReference],
        [bf16Codec, bf16EncodeJs, floatToBf16BitsReference],
      ] as const) {
        const wasm = new Uint8Array(2 * n + 1).fill(9);
        codec.encode(values, wasm.subarray(1, 1 + 2 * n)); // unaligned destination
        const jsOut = new Uint8Array(2 * n);
        js(values, jsOut);
        expect(firstByteDiff(wasm.subarray(1, 1 + 2 * n), jsOut), codec.id).toBe(-1);
        expect(wasm[0]).toBe(9);
        const view = new DataView(jsOut.buffer);
        for (let i = 0; i < n; i++) expect(view.getUint16(2 * i, true), `${codec.id} value ${i}`).toBe(ref(values[i]));
      }
    });
  }

  it("decode of all 65536 bit patterns equals the JS path (fp16 and bf16)", () => {
    const all = new Uint8Array(new Uint16Array(Array.from({ length: 65536 }, (_, i) => i)).buffer);
    for (const [codec, js] of [
      [fp16Codec, fp16DecodeJs],
      [bf16Codec, bf16DecodeJs],
    ] as const) {
      const a = new Float32Array(65536);
      const b = new Float32Array(65536);
      codec.decode(all, a);
      js(all, b);
      expect(sameFloats(a, b), codec.id).toBe(true);
    }
  });

  it('setCodecBackend("js") switches every codec to the JS path, and rejects unknown names', () => {
    setCodecBackend("js");
    expect(codecBackend().backend).toBe("js");
    const values = floatPatterns(64, 5);
    const a = new Uint8Array(128);
    fp16Codec.encode(values, a);
    setCodecBackend("wasm-simd");
    const b = new Uint8Array(128);
    fp16Codec.encode(values, b);
    expect(firstByteDiff(a, b)).toBe(-1);
    expect(() => setCodecBackend("gpu" as never)).toThrow(/backend/);
  });
});
