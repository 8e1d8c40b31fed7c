// Every registered codec in whole blocks: exact sizes, header/CRC round trip (full and partial
// blocks), per-codec error bounds, aliases, and KIVI's block-size floor.
import { describe, expect, it } from "vitest";
import { INT4_SPEC, INT8_SPEC, INT8_SYM_SPEC, KIVI2_LSQ_SPEC, kiviSpec } from "../src/codecs/affine-codecs.js";
import { groupIndex, segmentGeometry, type AffineCodecSpec } from "../src/codecs/affine-spec.js";
import { checkCodecBlockSize, getCodec, KNOWN_CODECS, resolveCodecId } from "../src/codecs/codec-registry.js";
import { decodeKvBlock, encodeKvBlock, KV_BLOCK_HEADER_BYTES, readKvBlockHeader, type KvBlockShape } from "../src/kv-block.js";
import { KvBlockError } from "../src/kv-block-error.js";
import { prng } from "./codec-inputs.js";

const STORIES = { nLayers: 5, nKvHeads: 4, headDim: 8 };
const hash = new Uint8Array(16).fill(3);

function shape(codec: string, tokens: number, blockSize: number): KvBlockShape {
  return { modelId: "stories260K@test", codec, ...STORIES, tokens, blockSize, blockHash: hash };
}

/** K with a few outlier channels (as the model's keys), V plain. */
function kv(tokens: number, seed: number): { k: Float32Array; v: Float32Array } {
  const n = STORIES.nLayers * tokens * STORIES.nKvHeads * STORIES.headDim;
  const rnd = prng(seed);
  const k = Float32Array.from({ length: n }, (_, i) => (rnd() - 0.5) * (i % 8 === 6 ? 40 : 6));
  const v = Float32Array.from({ length: n }, () => (rnd() - 0.5) * 2);
  return { k, v };
}

const AFFINE: Record<string, AffineCodecSpec> = Object.fromEntries(
  [INT8_SYM_SPEC, INT8_SPEC, INT4_SPEC, kiviSpec(2), kiviSpec(4), KIVI2_LSQ_SPEC].map((s) => [s.id, s]),
);

describe("codec sizes", () => {
  it("registers every codec, with its alias", () => {
    expect([...KNOWN_CODECS]).toEqual(
      expect.arrayContaining([
        "fp32",
        "fp16",
        "bf16",
        "fp8-e4m3",
        "fp8-e4m3-th-f16",
        "int8-sym-th-f16",
        "int8-kc-vt32-f16",
        "int4-g32-f16",
        "kivi4-g32-f16",
        "kivi2-g32-f16",
      ]),
    );
    expect(resolveCodecId("kivi2")).toBe("kivi2-g32-f16");
    expect(resolveCodecId("int8")).toBe("int8-kc-vt32-f16");
    expect(resolveCodecId("int8-sym")).toBe("int8-sym-th-f16");
    expect(resolveCodecId("fp8")).toBe("fp8-e4m3-th-f16");
    expect(resolveCodecId("fp8-unscaled")).toBe("fp8-e4m3");
    expect(resolveCodecId("fp16")).toBe("fp16");
    expect(() => resolveCodecId("int3")).toThrow(KvBlockError);
    expect(() => getCodec("kivi2")).toThrow(KvBlockError); // stored objects use ids, never aliases
  });

  it("kivi2 at block size 32 on stories260K: 3952 bytes, >= 4.5x smaller than fp16", () => {
    const { k, v } = kv(32, 1);
    const kivi = encodeKvBlock(shape("kivi2-g32-f16", 32, 32), k, v);
    const fp16 = encodeKvBlock(shape("fp16", 32, 32), k, v);
    // per layer: K 32x32 2-bit codes (256) + 32 channel groups x 4; V 256 + 32 token groups x 4
    expect(kivi.length).toBe(KV_BLOCK_HEADER_BYTES + 5 * (256 + 128 + 256 + 128));
    expect(fp16.length).toBe(KV_BLOCK_HEADER_BYTES + 5 * 2 * 32 * 32 * 2);
    expect(fp16.length / kivi.length).toBeGreaterThanOrEqual(4.5);
  });

  it("explicit sizes of the integer codecs for one 32-token segment (32 channels, 4 heads of 8)", () => {
    const seg = (kind: "k" | "v") => ({ kind, tokens: 32, nKvHeads: 4, headDim: 8 });
    const size = (id: string, kind: "k" | "v") => getCodec(id).bytesFor(1024, seg(kind));
    expect([size("int8-sym-th-f16", "k"), size("int8-sym-th-f16", "v")]).toEqual([1024 + 128 * 2, 1024 + 128 * 2]);
    expect([size("int8-kc-vt32-f16", "k"), size("int8-kc-vt32-f16", "v")]).toEqual([1024 + 32 * 4, 1024 + 32 * 4]);
    expect([size("int4-g32-f16", "k"), size("int4-g32-f16", "v")]).toEqual([512 + 32 * 4, 512 + 32 * 4]);
    expect([size("kivi4-g32-f16", "k"), size("kivi4-g32-f16", "v")]).toEqual([512 + 32 * 4, 512 + 32 * 4]);
    expect(getCodec("kivi4-g32-f16").bytesFor(64 * 32, { kind: "k", tokens: 64, nKvHeads: 4, headDim: 8 })).toBe(1024 + 2 * 32 * 4);
    expect(getCodec("bf16").bytesFor(1024)).toBe(2048);
    expect(getCodec("fp8-e4m3").bytesFor(1024)).toBe(1024);
    expect([size("fp8-e4m3-th-f16", "k"), size("fp8-e4m3-th-f16", "v")]).toEqual([1024 + 128 * 2, 1024 + 128 * 2]);
  });
});

describe("codec block round trip", () => {
  for (const id of [
    "fp32",
    "fp16",
    "bf16",
    "fp8-e4m3",
    "fp8-e4m3-th-f16",
    "int8-sym-th-f16",
    "int8-kc-vt32-f16",
    "int4-g32-f16",
    "kivi4-g32-f16",
    "kivi2-g32-f16",
    "kivi2-g32-f16-lsq",
  ]) {
    it(`${id}: full and partial blocks verify, decode within the codec's bound, sizes exact`, () => {
      for (const tokens of [32, 13, 1]) {
        const { k, v } = kv(tokens, tokens);
        const bytes = encodeKvBlock(shape(id, tokens, 32), k, v);
        const header = readKvBlockHeader(bytes);
        expect(header.codec).toBe(id);
        expect(bytes.length).toBe(KV_BLOCK_HEADER_BYTES + header.payloadBytes);
        const dec = decodeKvBlock(bytes);
        checkBound(id, "k", k, dec.k, tokens);
        checkBound(id, "v", v, dec.v, tokens);
      }
    });
  }

  it("a flipped payload bit is caught by the checksum for a quantized block", () => {
    const { k, v } = kv(32, 2);
    const bytes = encodeKvBlock(shape("kivi2-g32-f16", 32, 32), k, v);
    bytes[KV_BLOCK_HEADER_BYTES + 10] ^= 4;
    expect(() => decodeKvBlock(bytes)).toThrow(KvBlockError);
  });
});

/**
 * Per-value error bound of each codec: relative (float formats) or half a step of the value's own
 * group (integer codecs; the step from the group's range, widened by the fp16 rounding of the
 * minimum and scale), so a wrong grouping (an outlier channel leaking into others) fails it.
 */
function checkBound(id: string, kind: "k" | "v", x: Float32Array, y: Float32Array, tokens: number): void {
  if (id === "fp8-e4m3-th-f16") {
    // E4M3's relative half ulp, or half a subnormal step of the head's scale (<= absMax/448 * (1 + 2^-10))
    for (let h = 0; h < x.length; h += STORIES.headDim) {
      const absMax = Math.max(...x.subarray(h, h + STORIES.headDim).map(Math.abs));
      for (let i = h; i < h + STORIES.headDim; i++) {
        if (Math.abs(y[i] - x[i]) > Math.abs(x[i]) * 2 ** -4 * (1 + 1e-9) + (absMax / 448) * 2 ** -9)
          expect({ id, kind, i, x: x[i], y: y[i] }).toBeNull();
      }
    }
    return;
  }
  const spec = AFFINE[id];
  if (spec === undefined) {
    const rel = { fp32: 0, fp16: 2 ** -11, bf16: 2 ** -8, "fp8-e4m3": 2 ** -4 }[id] as number;
    const abs = { fp32: 0, fp16: 2 ** -25, bf16: 0, "fp8-e4m3": 2 ** -10 }[id] as number;
    for (let i = 0; i < x.length; i++) {
      if (Math.abs(y[i] - x[i]) > Math.abs(x[i]) * rel + abs) expect({ id, kind, i, x: x[i], y: y[i] }).toBeNull();
    }
    return;
  }
  const C = STORIES.nKvHeads * STORIES.headDim;
  const levels = spec.symmetric ? (1 << (spec.bits - 1)) - 1 : (1 << spec.bits) - 1;
  const geo = segmentGeometry(spec, tokens * C, { kind, tokens, nKvHeads: STORIES.nKvHeads, headDim: STORIES.headDim });
  for (let l = 0; l < STORIES.nLayers; l++) {
    const seg = x.subarray(l * tokens * C, (l + 1) * tokens * C);
    const out = y.subarray(l * tokens * C, (l + 1) * tokens * C);
    const lo = new Float64Array(geo.groups).fill(Infinity);
    const hi = new Float64Array(geo.groups).fill(-Infinity);
    for (let t = 0; t < tokens; t++) {
      for (let c = 0; c < C; c++) {
        const g = groupIndex(geo, t, c);
        lo[g] = Math.min(lo[g], seg[t * C + c]);
        hi[g] = Math.max(hi[g], seg[t * C + c]);
      }
    }
    for (let t = 0; t < tokens; t++) {
      for (let c = 0; c < C; c++) {
        const g = groupIndex(geo, t, c);
        const mag = Math.abs(lo[g]) + Math.abs(hi[g]);
        const range = spec.symmetric ? 2 * Math.max(-lo[g], hi[g]) : hi[g] - lo[g];
        // a least-squares grid may clip its group's extremes: then only the group's own range bounds the error
        const step = spec.fit === "lsq" ? 2 * levels : 1;
        const bound = (0.5 * step * (range + 2 ** -9 * mag)) / levels + 2 ** -22 * mag + 2 ** -24;
        const i = t * C + c;
        if (Math.abs(out[i] - seg[i]) > bound) expect({ id, kind, l, t, c, x: seg[i], y: out[i], bound }).toBeNull();
      }
    }
  }
}

describe("KIVI block-size floor", () => {
  it("refuses KIVI blocks of a block size below its 32-token key groups, with the reason", () => {
    const { k, v } = kv(16, 3);
    for (const id of ["kivi2-g32-f16", "kivi4-g32-f16"]) {
      try {
        encodeKvBlock(shape(id, 16, 16), k, v);
        throw new Error("expected a refusal");
      } catch (err) {
        expect(err).toBeInstanceOf(KvBlockError);
        expect((err as KvBlockError).code).toBe("SIZE_MISMATCH");
        expect((err as Error).message).toMatch(/block_size >= 32/);
      }
      expect(() => checkCodecBlockSize(id, 16)).toThrow(/block_size >= 32/);
      expect(() => checkCodecBlockSize(id, 32)).not.toThrow();
    }
    // a tail of 16 tokens in a 32-token deployment is fine
    expect(() => encodeKvBlock(shape("kivi2-g32-f16", 16, 32), k, v)).not.toThrow();
    expect(() => encodeKvBlock(shape("int8-kc-vt32-f16", 16, 16), k, v)).not.toThrow();
  });
});
