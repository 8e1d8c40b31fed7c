// The contract every KV payload codec (fp32, fp16, bf16, fp8, int8, int4, KIVI) implements.

/**
 * Shape of one encoded segment: the K or V tensor of one layer in one block,
 * laid out [tokens][kvHead][headDim]. Grouped codecs (int4, KIVI) need it to pick
 * their groups; element-wise codecs ignore it.
 */
export interface KvSegmentShape {
  readonly kind: "k" | "v";
  readonly tokens: number;
  readonly nKvHeads: number;
  readonly headDim: number;
}

/**
 * A deterministic encoding of float32 KV values. The codec id carries every parameter
 * (bits, group size, scale type), so (block hash, codec id) names one stored object.
 */
export interface KvCodec {
  /** Registry key, at most 32 UTF-8 bytes, e.g. "fp16". */
  readonly id: string;
  /** Encoded size in bytes of `values` float32 values (one segment). */
  bytesFor(values: number, segment?: KvSegmentShape): number;
  /** Encode `src` into exactly `bytesFor(src.length)` bytes at the start of `dst`. */
  encode(src: Float32Array, dst: Uint8Array, segment?: KvSegmentShape): void;
  /** Decode `dst.length` values from the start of `src`. */
  decode(src: Uint8Array, dst: Float32Array, segment?: KvSegmentShape): void;
  /**
   * True when decode(encode(x)) is x bit for bit (fp32): a block imported through it holds exactly
   * the KV the forward pass computed. @default false
   */
  readonly lossless?: boolean;
  /**
   * Smallest block size (tokens) the codec is defined for, when its groups span tokens (KIVI's
   * 32-token key groups). Blocks with a smaller blockSize are refused. @default 1
   */
  readonly minBlockTokens?: number;
  /**
   * True when a value's encoding depends on other tokens of its segment (keys per channel): such a
   * codec can only be applied to whole blocks, never token by token. @default false
   */
  readonly groupsAcrossTokens?: boolean;
  /**
   * Full-precision residual window (KIVI): while a request is live, its most recent
   * `residualTokens` positions are kept as computed; a position is quantized when it leaves the
   * window (keys per channel: when the whole block holding its group has left it). It changes what
   * a live request attends to, never a stored block (blocks are always fully encoded), so it is not
   * part of the codec id. Only codecs whose values are grouped per token may set it. 0 = off.
   * @default 0
   */
  readonly residualTokens?: number;
  /** Short names that resolve to this codec (resolveCodecId), e.g. "kivi2" for "kivi2-g32-f16". */
  readonly aliases?: readonly string[];
}
