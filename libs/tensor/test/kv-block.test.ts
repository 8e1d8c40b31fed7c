import { describe, expect, it } from "vitest";
import { getCodec, KNOWN_CODECS } from "../src/codecs/codec-registry.js";
import { floatToHalfBitsReference, halfBitsToFloatReference } from "../src/codecs/half-float.js";
import {
  decodeKvBlock,
  encodeKvBlock,
  KV_BLOCK_HEADER_BYTES,
  KV_BLOCK_LAYOUT_VERSION,
  MAX_KV_BLOCK_BYTES,
  readKvBlockHeader,
  verifyKvBlock,
  type KvBlockShape,
} from "../src/kv-block.js";
import { KvBlockError, type KvBlockErrorCode } from "../src/kv-block-error.js";

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function shapeFor(codec: string, tokens = 5): KvBlockShape {
  const blockHash = new Uint8Array(16);
  for (let i = 0; i < 16; i++) blockHash[i] = (i * 37 + 11) & 0xff;
  return { modelId: "stories260K@b0a507e7", codec, nLayers: 3, nKvHeads: 2, headDim: 4, tokens, blockSize: 8, blockHash };
}

function randomKv(shape: KvBlockShape, seed: number): { k: Float32Array; v: Float32Array } {
  const n = shape.nLayers * shape.tokens * shape.nKvHeads * shape.headDim;
  const rnd = prng(seed);
  const k = new Float32Array(n);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    k[i] = (rnd() - 0.5) * 8;
    v[i] = (rnd() - 0.5) * 2;
  }
  return { k, v };
}

function expectCode(fn: () => unknown, code: KvBlockErrorCode): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(KvBlockError);
    expect((err as KvBlockError).code).toBe(code);
    return;
  }
  throw new Error(`expected KvBlockError ${code}, nothing was thrown`);
}

describe("KV block format", () => {
  it("registers fp32 and fp16", () => {
    expect(KNOWN_CODECS).toContain("fp32");
    expect(KNOWN_CODECS).toContain("fp16");
  });

  it("fp32 round trip is exact and the header reads back", () => {
    const shape = shapeFor("fp32");
    const { k, v } = randomKv(shape, 1);
    const bytes = encodeKvBlock(shape, k, v);
    expect(bytes.length).toBe(KV_BLOCK_HEADER_BYTES + 2 * k.length * 4);
    const dec = decodeKvBlock(bytes);
    expect(dec.k).toEqual(k);
    expect(dec.v).toEqual(v);
    expect(dec.header).toMatchObject({
      layoutVersion: KV_BLOCK_LAYOUT_VERSION,
      modelId: shape.modelId,
      codec: "fp32",
      nLayers: 3,
      nKvHeads: 2,
      headDim: 4,
      tokens: 5,
      blockSize: 8,
      payloadBytes: 2 * k.length * 4,
    });
    expect(Array.from(dec.header.blockHash)).toEqual(Array.from(shape.blockHash));
    // Fixed header fields at their documented offsets.
    expect(Array.from(bytes.subarray(0, 4))).toEqual([0x4b, 0x56, 0x42, 0x31]);
    expect(new DataView(bytes.buffer).getUint32(8, true) & 1).toBe(1);
  });

  it("fp16 round trip equals element-wise reference rounding, also from an unaligned buffer", () => {
    const shape = shapeFor("fp16", 8);
    const { k, v } = randomKv(shape, 2);
    const bytes = encodeKvBlock(shape, k, v);
    expect(bytes.length).toBe(KV_BLOCK_HEADER_BYTES + 2 * k.length * 2);
    const unaligned = new Uint8Array(bytes.length + 1).subarray(1);
    unaligned.set(bytes);
    for (const src of [bytes, unaligned]) {
      const dec = decodeKvBlock(src);
      for (let i = 0; i < k.length; i++) {
        expect(dec.k[i]).toBe(halfBitsToFloatReference(floatToHalfBitsReference(k[i])));
        expect(dec.v[i]).toBe(halfBitsToFloatReference(floatToHalfBitsReference(v[i])));
      }
    }
  });

  it("payload is per layer K then V", () => {
    const shape = shapeFor("fp32", 1);
    const n = shape.nLayers * shape.nKvHeads * shape.headDim;
    const k = new Float32Array(n).fill(1);
    const v = new Float32Array(n).fill(2);
    const bytes = encodeKvBlock(shape, k, v);
    const seg = shape.nKvHeads * shape.headDim * 4;
    const view = new DataView(bytes.buffer);
    expect(view.getFloat32(KV_BLOCK_HEADER_BYTES, true)).toBe(1);
    expect(view.getFloat32(KV_BLOCK_HEADER_BYTES + seg, true)).toBe(2);
    expect(view.getFloat32(KV_BLOCK_HEADER_BYTES + 2 * seg, true)).toBe(1);
  });
});

describe("KV block errors", () => {
  const shape = shapeFor("fp32");
  const { k, v } = randomKv(shape, 3);
  const good = encodeKvBlock(shape, k, v);
  const mutate = (fn: (b: Uint8Array, view: DataView) => void): Uint8Array => {
    const b = good.slice();
    fn(b, new DataView(b.buffer));
    return b;
  };

  it("TRUNCATED: short header and short payload", () => {
    expectCode(() => readKvBlockHeader(good.subarray(0, 50)), "TRUNCATED");
    expectCode(() => verifyKvBlock(good.subarray(0, good.length - 1)), "TRUNCATED");
  });

  it("BAD_MAGIC", () => {
    expectCode(() => readKvBlockHeader(mutate((b) => (b[0] ^= 0x01))), "BAD_MAGIC");
  });

  it("BAD_VERSION: other layout version or unsupported flags", () => {
    expectCode(() => readKvBlockHeader(mutate((_b, d) => d.setUint16(4, 2, true))), "BAD_VERSION");
    expectCode(() => readKvBlockHeader(mutate((_b, d) => d.setUint32(8, 0, true))), "BAD_VERSION");
  });

  it("UNKNOWN_CODEC: lookup and in a header", () => {
    expectCode(() => getCodec("int3-bogus"), "UNKNOWN_CODEC");
    const bad = mutate((b) => {
      b.fill(0, 80, 112);
      b.set(new TextEncoder().encode("int3-bogus"), 80);
    });
    expectCode(() => readKvBlockHeader(bad), "UNKNOWN_CODEC");
    expectCode(() => encodeKvBlock({ ...shape, codec: "int3-bogus" }, k, v), "UNKNOWN_CODEC");
  });

  it("SIZE_MISMATCH: payloadBytes, trailing bytes, header size, tokens > blockSize, wrong k length", () => {
    expectCode(() => readKvBlockHeader(mutate((_b, d) => d.setUint32(24, d.getUint32(24, true) - 4, true))), "SIZE_MISMATCH");
    const longer = new Uint8Array(good.length + 1);
    longer.set(good);
    expectCode(() => readKvBlockHeader(longer), "SIZE_MISMATCH");
    expectCode(() => readKvBlockHeader(mutate((_b, d) => d.setUint16(6, 128, true))), "SIZE_MISMATCH");
    expectCode(() => readKvBlockHeader(mutate((_b, d) => d.setUint16(18, 9, true))), "SIZE_MISMATCH");
    expectCode(() => readKvBlockHeader(mutate((_b, d) => d.setUint16(12, 0, true))), "SIZE_MISMATCH");
    expectCode(() => encodeKvBlock(shape, k.subarray(1), v), "SIZE_MISMATCH");
    expectCode(() => encodeKvBlock({ ...shape, blockHash: new Uint8Array(8) }, k, v), "SIZE_MISMATCH");
  });

  it("BAD_CHECKSUM: a flipped payload byte, a flipped header byte", () => {
    expect(() => verifyKvBlock(good)).not.toThrow();
    const payloadFlip = mutate((b) => (b[KV_BLOCK_HEADER_BYTES + 17] ^= 0x40));
    expect(() => readKvBlockHeader(payloadFlip)).not.toThrow();
    expectCode(() => verifyKvBlock(payloadFlip), "BAD_CHECKSUM");
    expectCode(() => decodeKvBlock(payloadFlip), "BAD_CHECKSUM");
    for (const offset of [33, 50, 22]) {
      // block hash, model id, reserved: structurally fine, caught by the CRC
      const headerFlip = mutate((b) => (b[offset] ^= 0x02));
      expect(() => readKvBlockHeader(headerFlip)).not.toThrow();
      expectCode(() => verifyKvBlock(headerFlip), "BAD_CHECKSUM");
    }
    expectCode(() => verifyKvBlock(mutate((b) => (b[28] ^= 0x80))), "BAD_CHECKSUM");
  });

  it("TOO_LARGE: a header claiming a huge payload, an over-long model id", () => {
    expectCode(() => readKvBlockHeader(mutate((_b, d) => d.setUint32(24, MAX_KV_BLOCK_BYTES, true))), "TOO_LARGE");
    expectCode(() => encodeKvBlock({ ...shape, modelId: "x".repeat(33) }, k, v), "TOO_LARGE");
  });
});
