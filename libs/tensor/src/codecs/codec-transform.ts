// A codec as a KV write transform: quantize-dequantize K (pre-RoPE) and V as the engine writes
// them, token by token for per-token codecs, block by block for codecs whose groups span tokens,
// keeping the codec's full-precision residual window (KIVI) of recent tokens as computed.
import { KvBlockError } from "../kv-block-error.js";
import type { KvWriteTransform } from "../kv-write-transform.js";
import { getCodec } from "./codec-registry.js";
import type { KvSegmentShape } from "./kv-codec.js";

/** KV geometry a transform needs. */
export interface KvHeadShape {
  readonly nKvHeads: number;
  readonly headDim: number;
}

/** Options of {@link codecWriteTransform}. */
export interface CodecTransformOptions {
  /** Residual window in tokens (0 = off). @default the codec's residualTokens (128 for KIVI, else 0) */
  readonly residualTokens?: number;
}

/**
 * The round trip encode -> decode of `codecId` as a KvWriteTransform. Granularity is `block` when
 * the codec groups values across tokens (KIVI, int8 with keys per channel), else `token`. Throws
 * KvBlockError `SIZE_MISMATCH` naming `residualTokens` when it is not a non-negative integer.
 */
export function codecWriteTransform(codecId: string, shape: KvHeadShape, opts?: CodecTransformOptions): KvWriteTransform {
  const codec = getCodec(codecId);
  const residualTokens = opts?.residualTokens ?? codec.residualTokens ?? 0;
  if (!Number.isInteger(residualTokens) || residualTokens < 0) {
    throw new KvBlockError("SIZE_MISMATCH", `residualTokens must be a non-negative integer, got ${residualTokens}`);
  }
  let scratch = new Uint8Array(0);
  const roundTrip = (values: Float32Array, kind: "k" | "v", tokens: number): void => {
    const segment: KvSegmentShape = { kind, tokens, nKvHeads: shape.nKvHeads, headDim: shape.headDim };
    const bytes = codec.bytesFor(values.length, segment);
    if (scratch.length < bytes) scratch = new Uint8Array(bytes);
    const dst = scratch.subarray(0, bytes);
    codec.encode(values, dst, segment);
    codec.decode(dst, values, segment);
  };
  return {
    granularity: codec.groupsAcrossTokens === true ? "block" : "token",
    residualTokens,
    applyKeys(_layer: number, k: Float32Array, tokens: number): void {
      roundTrip(k, "k", tokens);
    },
    applyValues(_layer: number, v: Float32Array, tokens: number): void {
      roundTrip(v, "v", tokens);
    },
  };
}
