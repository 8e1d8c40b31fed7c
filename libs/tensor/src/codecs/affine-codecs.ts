// The integer KV codecs: int8 (symmetric per token and head; keys per channel), int4 (groups of
// 32) and KIVI at 2 and 4 bits (keys per channel in 32-token groups, values per token in
// 32-channel groups). Ids carry every parameter; the short names are aliases.
import { affineDecodeFast, affineEncodeFast } from "./affine-fast.js";
import { KIVI_RESIDUAL_TOKENS, segmentGeometry, type AffineCodecSpec } from "./affine-spec.js";
import type { KvCodec, KvSegmentShape } from "./kv-codec.js";

/** KIVI's group size (tokens per key group, channels per value group), as in the paper. */
export const KIVI_GROUP = 32;
/** int4's group size (consecutive channels of one token). */
export const INT4_GROUP = 32;

/** int8, symmetric, one fp16 scale per token and KV head (per-token quantization, ZeroQuant style). */
export const INT8_SYM_SPEC: AffineCodecSpec = {
  id: "int8-sym-th-f16",
  bits: 8,
  symmetric: true,
  keys: { axis: "token", size: "head" },
  values: { axis: "token", size: "head" },
};

/**
 * int8, asymmetric: keys per channel over the block's tokens (the outlier channels get their own
 * range, KVQuant/KIVI), values per token in groups of 32 channels; fp16 scale and minimum.
 */
export const INT8_SPEC: AffineCodecSpec = {
  id: "int8-kc-vt32-f16",
  bits: 8,
  symmetric: false,
  keys: { axis: "channel", size: "segment" },
  values: { axis: "token", size: 32 },
};

/** Plain int4: asymmetric, per token in groups of 32 channels for keys and values alike. */
export const INT4_SPEC: AffineCodecSpec = {
  id: "int4-g32-f16",
  bits: 4,
  symmetric: false,
  keys: { axis: "token", size: INT4_GROUP },
  values: { axis: "token", size: INT4_GROUP },
};

/**
 * KIVI-2 with least-squares group grids: KIVI-2's layout, payload and decoder, each group's grid
 * refitted to its values (quant-params.ts lsqAffineParams) instead of spanning its min/max. Only
 * the encoder differs, so the id differs: one id, one byte stream.
 */
export const KIVI2_LSQ_SPEC: AffineCodecSpec = {
  id: "kivi2-g32-f16-lsq",
  bits: 2,
  symmetric: false,
  keys: { axis: "channel", size: KIVI_GROUP },
  values: { axis: "token", size: KIVI_GROUP },
  minBlockTokens: KIVI_GROUP,
  fit: "lsq",
  residualTokens: KIVI_RESIDUAL_TOKENS,
};

/** KIVI (Liu et al. 2024) at `bits`: keys per channel in 32-token groups, values per token in 32-channel groups. */
export function kiviSpec(bits: 2 | 4): AffineCodecSpec {
  return {
    id: `kivi${bits}-g${KIVI_GROUP}-f16`,
    bits,
    symmetric: false,
    keys: { axis: "channel", size: KIVI_GROUP },
    values: { axis: "token", size: KIVI_GROUP },
    minBlockTokens: KIVI_GROUP,
    residualTokens: KIVI_RESIDUAL_TOKENS,
  };
}

/** A KvCodec over the fast affine encoder, with its size rule and block-size floor. */
export function affineCodec(spec: AffineCodecSpec, aliases: readonly string[]): KvCodec {
  const acrossTokens = spec.keys.axis === "channel" || spec.values.axis === "channel";
  return {
    id: spec.id,
    aliases,
    minBlockTokens: spec.minBlockTokens,
    residualTokens: spec.residualTokens,
    groupsAcrossTokens: acrossTokens,
    bytesFor(values: number, segment?: KvSegmentShape): number {
      return segmentGeometry(spec, values, segment).totalBytes;
    },
    encode(src: Float32Array, dst: Uint8Array, segment?: KvSegmentShape): void {
      affineEncodeFast(spec, src, dst, requireSegment(spec, segment));
    },
    decode(src: Uint8Array, dst: Float32Array, segment?: KvSegmentShape): void {
      affineDecodeFast(spec, src, dst, requireSegment(spec, segment));
    },
  };
}

function requireSegment(spec: AffineCodecSpec, segment: KvSegmentShape | undefined): KvSegmentShape {
  // segmentGeometry throws the named error; this only narrows the type
  if (segment === undefined) segmentGeometry(spec, 0, segment);
  return segment as KvSegmentShape;
}

export const int8SymCodec = affineCodec(INT8_SYM_SPEC, ["int8-sym"]);
export const int8Codec = affineCodec(INT8_SPEC, ["int8"]);
export const int4Codec = affineCodec(INT4_SPEC, ["int4"]);
export const kivi2Codec = affineCodec(kiviSpec(2), ["kivi2"]);
export const kivi4Codec = affineCodec(kiviSpec(4), ["kivi4"]);
/** "kivi2-g32-f16-lsq" (alias "kivi2-lsq"). */
export const kivi2LsqCodec = affineCodec(KIVI2_LSQ_SPEC, ["kivi2-lsq"]);
