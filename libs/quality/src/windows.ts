// Cuts a tokenized text into evaluation windows: BOS followed by the next 511 text tokens, one
// window every WINDOW_STRIDE_TOKENS; only full windows, unless the text is shorter than one.
import { WINDOW_STRIDE_TOKENS, WINDOW_TOKENS } from "./quality-method.js";

/** One window of the held-out text. */
export interface TextWindow {
  readonly index: number;
  /** Offset of its first text token in the text. */
  readonly start: number;
  /** BOS, then text tokens. */
  readonly tokens: readonly number[];
}

/** Thrown when a text is too short to score anything; `code` is stable. */
class QualityInputError extends Error {
  override readonly name = "QualityInputError";
  readonly code = "TEXT_TOO_SHORT";
}

/**
 * Windows over `textTokens` (no BOS): each is `bos` plus windowTokens - 1 text tokens, starts
 * `stride` apart. A text shorter than one window gives one (shorter) window.
 */
export function makeWindows(
  textTokens: readonly number[],
  bos: number,
  windowTokens = WINDOW_TOKENS,
  stride = WINDOW_STRIDE_TOKENS,
): TextWindow[] {
  const body = windowTokens - 1;
  if (textTokens.length < 2) throw new QualityInputError(`the text has ${textTokens.length} tokens; at least 2 are needed`);
  if (textTokens.length <= body) return [{ index: 0, start: 0, tokens: [bos, ...textTokens] }];
  const out: TextWindow[] = [];
  for (let start = 0; start + body <= textTokens.length; start += stride) {
    out.push({ index: out.length, start, tokens: [bos, ...textTokens.slice(start, start + body)] });
  }
  return out;
}
