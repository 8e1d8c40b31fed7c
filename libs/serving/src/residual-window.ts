// KIVI's full-precision residual window across the prefill -> decode hand-off. The shared prompt
// blocks go to the kvstore fully encoded, as for any codec; the request's last R positions travel
// besides them at full precision (fp32, exactly what the prefill worker's pool holds), as
// request-scoped blocks under request-derived hashes (never a prefix chain's, so no other request
// can find them), from the first block not yet wholly out of the window to the prompt's end. The
// decode worker imports the encoded blocks before the window and the window after them, then
// deletes the window blocks: it holds what a single-process engine with the window would hold.
import { createHash } from "node:crypto";
import { BLOCK_HASH_BYTES, sequenceId, type Logger, type PlannedRequest } from "@kvtier/core";
import type { BlockStore } from "./block-store.js";
import { getCodec, type EngineHost } from "@kvtier/tensor";
import { hasPolicy } from "./plan-policy.js";

/** Codec of the window blocks: the pool's own precision, so the decode worker holds the same bits. */
const RESIDUAL_WINDOW_CODEC = "fp32";

/** Where a request's residual window starts, in blocks and tokens. */
export interface ResidualWindow {
  /** Window length of the codec, in tokens. */
  readonly residualTokens: number;
  /** First block not wholly out of the window: blocks before it are encoded, from it on full precision. */
  readonly firstBlock: number;
  /** Prompt tokens. */
  readonly promptTokens: number;
  /** Full blocks in the window part (the partial tail block, if any, follows them). */
  readonly fullBlocks: number;
  /** Tokens of the partial last block (0 when the prompt is block-aligned). */
  readonly tailTokens: number;
}

/**
 * The residual window of a request, or null when its codec has none (or it names a selection
 * policy: policies hand off their own request-scoped blocks, and the window is not applied there).
 */
export function residualWindowOf(plan: Pick<PlannedRequest, "codec" | "policy" | "tokens">, blockSize: number): ResidualWindow | null {
  if (hasPolicy(plan)) return null;
  let residualTokens = 0;
  try {
    residualTokens = getCodec(plan.codec).residualTokens ?? 0;
  } catch {
    return null; // an unknown codec is refused where the plan is checked
  }
  if (residualTokens <= 0) return null;
  const promptTokens = plan.tokens.length;
  const full = Math.floor(promptTokens / blockSize);
  const firstBlock = Math.min(full, Math.floor(Math.max(0, promptTokens - residualTokens) / blockSize));
  return { residualTokens, firstBlock, promptTokens, fullBlocks: full - firstBlock, tailTokens: promptTokens - full * blockSize };
}

/** Number of window blocks (full ones and the tail). */
const windowBlockCount = (w: ResidualWindow): number => w.fullBlocks + (w.tailTokens > 0 ? 1 : 0);

/** The block hashes of one attempt's window blocks, derived from the request (never a chain hash). */
function windowBlockHashes(plan: Pick<PlannedRequest, "namespaceHash" | "requestId" | "attempt">, count: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => {
    const h = createHash("sha256")
      .update("kvtier-residual-window-v1")
      .update(plan.namespaceHash)
      .update(`${plan.requestId}@${plan.attempt}#${i}`);
    return new Uint8Array(h.digest().subarray(0, BLOCK_HASH_BYTES));
  });
}

/** Prefill side: export the window's blocks at full precision; the caller puts them with the others. */
export async function exportWindow(engine: EngineHost, plan: PlannedRequest, w: ResidualWindow): Promise<Uint8Array[]> {
  const seqId = sequenceId(plan);
  const hashes = windowBlockHashes(plan, windowBlockCount(w));
  const blocks =
    w.fullBlocks > 0
      ? await engine.exportBlocks(seqId, w.firstBlock, w.fullBlocks, RESIDUAL_WINDOW_CODEC, hashes.slice(0, w.fullBlocks))
      : [];
  if (w.tailTokens > 0) {
    const tail = await engine.exportTail(seqId, RESIDUAL_WINDOW_CODEC, hashes[w.fullBlocks], plan.tokens.length);
    if (tail) blocks.push(tail);
  }
  return blocks;
}

/**
 * Decode side: fetch the window blocks (all or none) and delete them from the store either way.
 * Null when they cannot all be had: the caller recomputes the window instead.
 */
export async function fetchWindow(
  store: BlockStore,
  plan: PlannedRequest,
  w: ResidualWindow,
  log: Logger,
): Promise<{ blocks: Uint8Array[]; bytes: number } | null> {
  const hashes = windowBlockHashes(plan, windowBlockCount(w));
  if (hashes.length === 0) return { blocks: [], bytes: 0 };
  try {
    const run = await store.getRun(hashes, RESIDUAL_WINDOW_CODEC);
    if (run.blocks.length === hashes.length) return { blocks: run.blocks, bytes: run.bytes };
    log.warn("residual window blocks missing; recomputing the window", {
      requestId: plan.requestId,
      got: run.blocks.length,
      want: hashes.length,
    });
    return null;
  } finally {
    await store
      .delete(hashes, RESIDUAL_WINDOW_CODEC)
      .catch((err: unknown) => log.warn("could not delete residual window blocks", { requestId: plan.requestId, err: String(err) }));
  }
}
