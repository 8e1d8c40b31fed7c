// Real KV blocks for tests, encoded with @kvtier/tensor.
import { randomBytes } from "node:crypto";
import { encodeKvBlock, readKvBlockHeader, type KvBlockShape } from "@kvtier/tensor";

/** A 128-bit block hash. */
export const randomHash = (): Uint8Array => new Uint8Array(randomBytes(16));

/** Shape overrides; the default is a small fp32 block of 16 tokens (4,208 bytes). */
export type BlockSpec = Partial<KvBlockShape> & { seed?: number };

/** An encoded block with deterministic pseudo-random K/V. */
export function makeBlock(spec: BlockSpec = {}): Uint8Array {
  const shape: KvBlockShape = {
    modelId: "test-model",
    codec: "fp32",
    nLayers: 2,
    nKvHeads: 2,
    headDim: 8,
    tokens: 16,
    blockSize: 16,
    blockHash: randomHash(),
    ...spec,
  };
  const n = shape.nLayers * shape.tokens * shape.nKvHeads * shape.headDim;
  let s = (spec.seed ?? 1) >>> 0;
  const next = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
  const k = Float32Array.from({ length: n }, next);
  const v = Float32Array.from({ length: n }, next);
  return encodeKvBlock(shape, k, v);
}

/** Bytes of a default {@link makeBlock} block. */
export const SMALL_BLOCK_BYTES = 112 + 2 * 2 * 16 * 2 * 8 * 4;

/** A block of more than 2 MiB (8 layers x 16 KV heads x 128 dims x 16 tokens, fp32): several chunks. */
export const makeLargeBlock = (seed = 7): Uint8Array => makeBlock({ nLayers: 8, nKvHeads: 16, headDim: 128, seed });

/** The hash a block's header carries. */
export const hashOf = (block: Uint8Array): Uint8Array => readKvBlockHeader(block).blockHash;
