// Geometry of the affine integer codecs (int8, int4, KIVI): how a segment's values are grouped for
// keys and for values, and the exact payload size that follows. One segment's payload is its codes
// (bit-packed in [token][channel] order, element 0 in the low bits) followed by one parameter entry
// per group (fp16 scale, then fp16 minimum unless symmetric), little-endian.
import { KvBlockError } from "../kv-block-error.js";
import type { KvSegmentShape } from "./kv-codec.js";

/**
 * How values are grouped along one axis.
 * - `token`: a group is `size` consecutive channels of one token (`'head'`: one KV head's channels).
 * - `channel`: a group is `size` consecutive tokens of one channel (`'segment'`: all the segment's tokens).
 */
export type GroupAxis =
  { readonly axis: "token"; readonly size: number | "head" } | { readonly axis: "channel"; readonly size: number | "segment" };

/** A complete affine codec: every parameter is in the id. */
export interface AffineCodecSpec {
  readonly id: string;
  /** Code width in bits. */
  readonly bits: 2 | 4 | 8;
  /** Symmetric codes in [-(2^(bits-1) - 1), 2^(bits-1) - 1] with a scale only; else [0, 2^bits - 1] with scale and minimum. */
  readonly symmetric: boolean;
  readonly keys: GroupAxis;
  readonly values: GroupAxis;
  /** Smallest block size the codec is defined for (its token groups must fit a block). */
  readonly minBlockTokens?: number;
  /**
   * How an asymmetric group's scale and minimum are chosen (the decoder is the same either way):
   * `minmax`, the grid spans the group's range; `lsq`, the grid is then refitted to the values by
   * alternating least squares (quant-params.ts lsqAffineParams). @default 'minmax'
   */
  readonly fit?: "minmax" | "lsq";
  /**
   * KIVI's full-precision residual window: the most recent tokens of a live request stay
   * unquantized (KvCodec.residualTokens). Not part of the stored format. @default 0
   */
  readonly residualTokens?: number;
}

/** KIVI's residual window, in tokens (R = 128 in Liu et al. 2024, with 32-token groups). */
export const KIVI_RESIDUAL_TOKENS = 128;

/** Bytes of one fp16 parameter. */
const PARAM_HALF_BYTES = 2;

/** A segment's grouping, resolved against its shape. */
export interface SegmentGeometry {
  readonly tokens: number;
  /** Channels per token: nKvHeads * headDim. */
  readonly channels: number;
  readonly axis: "token" | "channel";
  /** Channels per group (token axis) or tokens per group (channel axis). */
  readonly groupSize: number;
  /** Groups along the grouped axis: per token (token axis) or per channel (channel axis). */
  readonly groupsPerLine: number;
  readonly groups: number;
  readonly codeBytes: number;
  /** Bytes of one group's parameters. */
  readonly paramBytes: number;
  readonly totalBytes: number;
}

/** Resolve a spec for one segment; throws KvBlockError SIZE_MISMATCH when the shape is missing or inconsistent. */
export function segmentGeometry(spec: AffineCodecSpec, values: number, segment: KvSegmentShape | undefined): SegmentGeometry {
  if (segment === undefined) throw new KvBlockError("SIZE_MISMATCH", `codec ${spec.id} groups values and needs the segment shape`);
  const channels = segment.nKvHeads * segment.headDim;
  const tokens = segment.tokens;
  if (tokens * channels !== values) {
    throw new KvBlockError("SIZE_MISMATCH", `codec ${spec.id}: ${values} values do not match ${tokens} tokens x ${channels} channels`);
  }
  const g = segment.kind === "k" ? spec.keys : spec.values;
  let groupSize: number;
  if (g.axis === "token") groupSize = g.size === "head" ? segment.headDim : g.size;
  else groupSize = g.size === "segment" ? tokens : g.size;
  groupSize = Math.max(1, groupSize);
  const lineLength = g.axis === "token" ? channels : tokens;
  const lines = g.axis === "token" ? tokens : channels;
  const groupsPerLine = Math.ceil(lineLength / groupSize);
  const groups = groupsPerLine * lines;
  const codeBytes = Math.ceil((values * spec.bits) / 8);
  const paramBytes = spec.symmetric ? PARAM_HALF_BYTES : 2 * PARAM_HALF_BYTES;
  return {
    tokens,
    channels,
    axis: g.axis,
    groupSize,
    groupsPerLine,
    groups,
    codeBytes,
    paramBytes,
    totalBytes: codeBytes + groups * paramBytes,
  };
}

/** Largest code magnitude: 2^bits - 1 (asymmetric) or 2^(bits-1) - 1 (symmetric). */
export function codeLevels(spec: AffineCodecSpec): number {
  return spec.symmetric ? (1 << (spec.bits - 1)) - 1 : (1 << spec.bits) - 1;
}

/**
 * Parameter-entry index of the group holding (token t, channel c). Token axis: token-major, then
 * channel group. Channel axis: token group first, then channel (so a block streams token groups).
 */
export function groupIndex(geo: SegmentGeometry, t: number, c: number): number {
  if (geo.axis === "token") return t * geo.groupsPerLine + Math.floor(c / geo.groupSize);
  return Math.floor(t / geo.groupSize) * geo.channels + c;
}
