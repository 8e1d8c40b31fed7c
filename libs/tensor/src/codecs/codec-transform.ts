// A codec as a KV write transform: quantize-dequantize K (pre-RoPE) and V as the engine writes
// them, token by token for per-token codecs, block by block for codecs whose groups span tokens.
import type { KvWriteTransform } from '../kv-write-transform.js';
import { getCodec } from './codec-registry.js';
import type { KvSegmentShape } from './kv-codec.js';

/** KV geometry a transform needs. */
export interface KvHeadShape {
  readonly nKvHeads: number;
  readonly headDim: number;
}

/**
 * The round trip encode -> decode of `codecId` as a KvWriteTransform. Granularity is `block` when
 * the codec groups values across tokens (KIVI, int8 with keys per channel), else `token`.
 */
export function codecWriteTransform(codecId: string, shape: KvHeadShape): KvWriteTransform {
  const codec = getCodec(codecId);
  let scratch = new Uint8Array(0);
  const roundTrip = (values: Float32Array, kind: 'k' | 'v', tokens: number): void => {
    const segment: KvSegmentShape = { kind, tokens, nKvHeads: shape.nKvHeads, headDim: shape.headDim };
    const bytes = codec.bytesFor(values.length, segment);
    if (scratch.length < bytes) scratch = new Uint8Array(bytes);
    const dst = scratch.subarray(0, bytes);
    codec.encode(values, dst, segment);
    codec.decode(dst, values, segment);
  };
  return {
    granularity: codec.groupsAcrossTokens === true ? 'block' : 'token',
    apply(_layer: number, k: Float32Array, v: Float32Array, tokens: number): void {
      roundTrip(k, 'k', tokens);
      roundTrip(v, 'v', tokens);
    },
  };
}
