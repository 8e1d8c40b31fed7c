// How a run is cut into requests, and an answer's payload into blocks. Kept apart so the client
// paths share one rule and the tests can check it directly.
import { MAX_RUN_BLOCKS } from "./frame-format.js";

/**
 * Consecutive groups of `sizes` (indices [start, end)), each with at most `maxBlocks` blocks and
 * at most `maxBytes` bytes (a single larger block gets a group of its own).
 */
export function groupRun(sizes: readonly number[], maxBytes: number, maxBlocks = MAX_RUN_BLOCKS): [number, number][] {
  const groups: [number, number][] = [];
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < sizes.length; i++) {
    if (i > start && (i - start >= maxBlocks || bytes + sizes[i] > maxBytes)) {
      groups.push([start, i]);
      start = i;
      bytes = 0;
    }
    bytes += sizes[i];
  }
  if (sizes.length > start) groups.push([start, sizes.length]);
  return groups;
}

/** Views of `buf` for consecutive blocks of `sizes` (no copy). */
export function splitBlocks(buf: Uint8Array, sizes: readonly number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  for (const s of sizes) {
    out.push(buf.subarray(at, at + s));
    at += s;
  }
  return out;
}
