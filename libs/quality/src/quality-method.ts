// The contract between the quality harness and each compression method it scores (a codec or a
// selection policy): the harness hands a method one window with its uncompressed reference, the
// method returns teacher-forced logits for the scored positions and what it stored.
import type { LlamaModel } from "@kvtier/tensor";

/**
 * `codec`: compresses every past position as it is written (shareable, DESIGN.md §5), scored at
 * positions {@link CODEC_SCORE_FROM}..510. `policy`: compresses once after a
 * {@link POLICY_COMPRESS_AT}-token prefill (request-scoped), scored at positions 256..510.
 */
export type QualityMethodKind = "codec" | "policy";

/** Per-layer activations of the uncompressed forward over one window, positions 0..len-1. */
export interface LayerActivations {
  /** Queries after RoPE, [position][nHeads * headDim]. */
  readonly q: Float32Array;
  /** Keys before RoPE, [position][nKvHeads * headDim] (what blocks store). */
  readonly kPre: Float32Array;
  /** Keys after RoPE at their position, same layout (what attention reads). */
  readonly kRot: Float32Array;
  /** Values, [position][nKvHeads * headDim]. */
  readonly v: Float32Array;
  /** Attention outputs (all heads, before the output projection), [position][nHeads * headDim]. */
  readonly attn: Float32Array;
}

/** The uncompressed run of one window, computed once and shared by every method. */
export interface ReferenceActivations {
  /** One entry per layer. */
  readonly layers: readonly LayerActivations[];
}

/** One evaluation window, as the harness hands it to a method. */
export interface EvalWindow {
  /** Window number (0-based), the pairing key across methods. */
  readonly index: number;
  readonly model: LlamaModel;
  /** The window's tokens, BOS first ({@link WINDOW_TOKENS} of them unless the text is shorter). */
  readonly tokens: readonly number[];
  /**
   * Scored positions are scoreFrom..scoreTo inclusive; the logits at position p predict tokens[p + 1].
   * Codecs: 64..510; policies: 256..510.
   */
  readonly scoreFrom: number;
  readonly scoreTo: number;
  /** Policies compress after prefilling positions [0, compressAt); codecs ignore it. */
  readonly compressAt: number;
  /** Tokens per KV block in the harness (block codecs group over it; KIVI needs >= 32). */
  readonly blockSize: number;
  /** The uncompressed forward's per-layer activations (for attention-output error). */
  readonly reference: ReferenceActivations;
}

/** Seconds a method spent compressing and decompressing `kvBytes` bytes of fp32 KV (GB/s columns). */
export interface MethodTiming {
  readonly encodeSeconds: number;
  readonly decodeSeconds: number;
  readonly kvBytes: number;
}

/** What a method reports for one window. */
export interface WindowOutcome {
  /** Logits at positions scoreFrom..scoreTo, in order (scoreTo - scoreFrom + 1 arrays). */
  readonly logits: readonly Float32Array[];
  /**
   * Bytes the method keeps for `positions` positions, all layers, K and V. Codecs: the encoded full
   * blocks of the window, headers and scales included. Policies: fp16 bytes of the positions kept at
   * the moment of compression (summed over layers and KV heads).
   */
  readonly storedBytes: number;
  /** fp16 bytes of the same positions (for codecs: the same full blocks as fp16 blocks, headers included). */
  readonly fp16Bytes: number;
  /** Positions covered by storedBytes (bytes per token = storedBytes / positions). */
  readonly positions: number;
  /** Mean relative attention-output error over scored positions, layers and heads (see attentionOutputError). */
  readonly attentionRelError: number;
  /** Optional compress/decompress timing; omit when it means nothing for the method. */
  readonly timing?: MethodTiming;
}

/** A compression method the harness can score. Register one per row (see QualityMethodRegistry). */
export interface QualityMethod {
  /** Row key in the report and the last-line JSON, e.g. "kivi2" or "snapkv@25" (budget in percent). */
  readonly id: string;
  readonly kind: QualityMethodKind;
  /** One line for the report: what it is and its parameters (codec id, budget, window sizes). */
  readonly description: string;
  /** Teacher-forced evaluation of one window; deterministic, and must not mutate `window`. */
  evaluate(window: EvalWindow): WindowOutcome;
}

/** Tokens per evaluation window (the model context). */
export const WINDOW_TOKENS = 512;
/** Distance between window starts, in tokens: policies are scored on every window. */
export const WINDOW_STRIDE_TOKENS = 256;
/**
 * Distance between the windows codecs are scored on (every other window): their scored spans
 * (64..510) then tile the text, as the policies' spans (256..510) do at stride 256.
 */
export const CODEC_WINDOW_STRIDE_TOKENS = 512;
/** First scored position for codecs. */
export const CODEC_SCORE_FROM = 64;
/** Prefill length after which policies compress, and their first scored position. */
export const POLICY_COMPRESS_AT = 256;
