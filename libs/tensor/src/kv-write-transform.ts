// An optional rewrite of K (pre-RoPE) and V as the forward pass writes them into the pool: the
// quality harness runs a codec "as each position is written" (quantize-dequantize) with it, and
// KIVI's full-precision residual window decides when a position is rewritten.
// Unset, the engine's behaviour is unchanged bit for bit. The write through the hook is in
// kv-transformed-write.ts: the pool holds each sequence's transform, so the hook knows no pool.

/**
 * Rewrites one layer's K (before RoPE) or V in place, each `tokens` x [kvHead][headDim].
 * - `token`: every token is rewritten on its own.
 * - `block`: keys are rewritten a whole block at a time (a codec whose key groups span tokens).
 *
 * Without a residual window, a token transform rewrites each token as it is written (before
 * anything attends to it) and a block transform rewrites the block (K and V) when its last token
 * is written: the unfinished tail block stays as computed.
 *
 * With a residual window of R tokens (KIVI), the last R positions of the sequence stay as computed:
 * writing position p rewrites position p - R (its values, and its keys for a token transform), and
 * a block transform rewrites a block's keys when its last position leaves the window. Pages in the
 * prefix cache are never rewritten (they are registered only once they have left the window).
 *
 * Any transform that rewrites a position later than when it is written makes prefill run one
 * token per forward, so no position attends to a state it would not see token by token.
 */
export interface KvWriteTransform {
  readonly granularity: "token" | "block";
  /** Positions kept as computed at the end of the sequence. @default 0 */
  readonly residualTokens?: number;
  applyKeys(layer: number, k: Float32Array, tokens: number): void;
  applyValues(layer: number, v: Float32Array, tokens: number): void;
}

/** The residual window of a transform (0 when none). */
export function residualTokensOf(transform: KvWriteTransform | null | undefined): number {
  return transform?.residualTokens ?? 0;
}

/** True when the transform rewrites positions after they are written (prefill must then go token by token). */
export function rewritesLater(transform: KvWriteTransform | null | undefined): boolean {
  return transform != null && (transform.granularity === "block" || residualTokensOf(transform) > 0);
}
