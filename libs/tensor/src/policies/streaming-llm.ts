// StreamingLLM (Xiao et al., 2023): attention sinks (the first tokens) plus a recent window.
import { STREAMING_SINK_TOKENS } from "./policy-defaults.js";

/** Sinks kept for a budget of `keep`: the paper's 4, but always leaving at least one recent token. */
export function streamingSinks(keep: number): number {
  return Math.max(0, Math.min(STREAMING_SINK_TOKENS, keep - 1));
}

/** Kept positions (ascending): the sinks, then the most recent `keep - sinks` positions. */
export function selectStreamingHead(promptTokens: number, keep: number): Int32Array {
  if (keep >= promptTokens) return Int32Array.from({ length: promptTokens }, (_, i) => i);
  const sinks = streamingSinks(keep);
  const out = new Int32Array(keep);
  for (let i = 0; i < sinks; i++) out[i] = i;
  const recent = keep - sinks;
  for (let i = 0; i < recent; i++) out[sinks + i] = promptTokens - recent + i;
  return out;
}
