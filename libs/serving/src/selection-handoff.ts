// Selection policies across the prefill -> decode hand-off. The prefill worker compresses the
// prompt after prefill and writes the kept entries as request-scoped sparse blocks under
// request-derived hashes (never a prefix chain's, so no other request can find them); positions
// travel in the KvReady. The decode worker imports them, then deletes them from the store. If
// the sparse blocks cannot be had, it loads the dense prompt (shared prefix blocks, or
// recompute) and applies the same positions, so the answer is the same either way.
import { createHash } from "node:crypto";
import type { SelectionHandoff } from "./handoff-wire.js";
import { BLOCK_HASH_BYTES, KvtierError, messageOf, sequenceId, type Logger, type PlannedRequest } from "@kvtier/core";
import type { BlockStore } from "./block-store.js";
import { selectionBlockHash, type EngineHost, type SelectionMeta, type SelectionSummary } from "@kvtier/tensor";
import { loadHandoff, putBlocks, type HandoffBlocks, type HandoffLoad } from "./kv-handoff.js";
import { handsOffSparse } from "./plan-policy.js";

/** Largest SelectionHandoff (positions and scores) carried in a KvReady, in bytes (NATS payloads are <= 1 MiB). */
export const MAX_SELECTION_META_BYTES = 256 * 1024;
/** Bytes per kept position on the wire (uint16 LE; contexts up to 65,535 tokens). */
const POSITION_BYTES = 2;
/** Bytes per H2O score on the wire (float64 LE). */
const SCORE_BYTES = 8;

/** The request-derived key (BLOCK_HASH_BYTES long) of one attempt's sparse blocks. */
export function selectionKey(plan: Pick<PlannedRequest, "namespaceHash" | "requestId" | "attempt">): Uint8Array {
  const h = createHash("sha256").update("kvtier-selection-key-v1").update(plan.namespaceHash).update(`${plan.requestId}@${plan.attempt}`);
  return new Uint8Array(h.digest().subarray(0, BLOCK_HASH_BYTES));
}

/** Domain meta -> wire (positions as uint16, scores as float64, little-endian). */
export function selectionToWire(meta: SelectionMeta, key: Uint8Array, codec: string, blocks: readonly Uint8Array[]): SelectionHandoff {
  const positions = Buffer.alloc(meta.positions.length * POSITION_BYTES);
  meta.positions.forEach((p, i) => positions.writeUInt16LE(p, i * POSITION_BYTES));
  const scores = Buffer.alloc(meta.scores === null ? 0 : meta.scores.length * SCORE_BYTES);
  meta.scores?.forEach((s, i) => scores.writeDoubleLE(s, i * SCORE_BYTES));
  return {
    policy: meta.policy,
    promptTokens: meta.promptTokens,
    counts: meta.counts,
    positions: new Uint8Array(positions),
    scores: new Uint8Array(scores),
    key,
    blockCount: blocks.length,
    blockBytes: blocks.reduce((s, b) => s + b.length, 0),
    codec,
  };
}

/** Wire -> domain meta; INVALID_ARGUMENT naming the field when it is malformed (the engine checks it against the model). */
export function selectionFromWire(w: SelectionHandoff): SelectionMeta {
  const entries = w.counts.reduce((a: number, b: number) => a + b, 0);
  if (w.positions.length !== entries * POSITION_BYTES)
    throw new KvtierError("INVALID_ARGUMENT", `selection.positions: ${w.positions.length} bytes for ${entries} entries`, {
      field: "selection.positions",
    });
  if (w.scores.length !== 0 && w.scores.length !== entries * SCORE_BYTES)
    throw new KvtierError("INVALID_ARGUMENT", `selection.scores: ${w.scores.length} bytes for ${entries} entries`, {
      field: "selection.scores",
    });
  if (w.key.length !== BLOCK_HASH_BYTES)
    throw new KvtierError("INVALID_ARGUMENT", `selection.key: must be ${BLOCK_HASH_BYTES} bytes`, { field: "selection.key" });
  const pos = Buffer.from(w.positions.buffer, w.positions.byteOffset, w.positions.byteLength);
  const sc = Buffer.from(w.scores.buffer, w.scores.byteOffset, w.scores.byteLength);
  return {
    policy: w.policy,
    promptTokens: w.promptTokens,
    counts: [...w.counts],
    positions: Int32Array.from({ length: entries }, (_, i) => pos.readUInt16LE(i * POSITION_BYTES)),
    scores: w.scores.length === 0 ? null : Float64Array.from({ length: entries }, (_, i) => sc.readDoubleLE(i * SCORE_BYTES)),
  };
}

/** What the prefill side handed off. */
export interface SelectionWritten {
  wire: SelectionHandoff;
  summary: SelectionSummary;
  bytesWritten: number;
}

/**
 * Prefill side, after the dense hand-off blocks were exported: compress the sequence and put its
 * sparse blocks in `plan.codec`. Null for Quest (the decode worker selects at read time).
 */
export async function writeSelection(
  engine: EngineHost,
  store: BlockStore,
  plan: PlannedRequest,
  log: Logger,
): Promise<SelectionWritten | null> {
  if (!handsOffSparse(plan)) return null;
  const seqId = sequenceId(plan);
  const summary = await engine.compress(seqId);
  const key = selectionKey(plan);
  const { meta, blocks } = await engine.exportSelection(seqId, plan.codec, key);
  const wire = selectionToWire(meta, key, plan.codec, blocks);
  const metaBytes = wire.positions.length + wire.scores.length + wire.counts.length * 4;
  if (metaBytes > MAX_SELECTION_META_BYTES) {
    throw new KvtierError(
      "FAILED_PRECONDITION",
      `selection meta of ${metaBytes} bytes exceeds MAX_SELECTION_META_BYTES (${MAX_SELECTION_META_BYTES})`,
    );
  }
  const bytesWritten = await putBlocks(store, blocks, log, { requestScoped: true });
  return { wire, summary, bytesWritten };
}

/** What the decode side loaded for a policy request. */
export interface SelectionLoad extends HandoffLoad {
  summary: SelectionSummary;
  /** True when the sparse blocks came from the store; false when the dense prompt was used instead. */
  sparse: boolean;
}

/**
 * Decode side: bring the (open, reserved, empty) sequence to the compressed prompt. Sparse blocks
 * first; else the dense hand-off (device pool, store, recompute) with the same positions applied.
 * The sparse blocks are deleted from the store afterwards either way (request-scoped).
 */
export async function loadSelection(
  engine: EngineHost,
  store: BlockStore | undefined,
  plan: PlannedRequest,
  handoff: Pick<HandoffBlocks, "blockHashes" | "tailHash" | "tailTokens"> & { selection: SelectionHandoff },
  log: Logger,
): Promise<SelectionLoad> {
  const seqId = sequenceId(plan);
  const wire = handoff.selection;
  const meta = selectionFromWire(wire);
  const hashes = Array.from({ length: wire.blockCount }, (_, i) => selectionBlockHash(wire.key, i));
  try {
    if (store) {
      try {
        const run = await store.getRun(hashes, wire.codec);
        if (run.blocks.length === hashes.length) {
          const summary = await engine.importSelection(seqId, meta, wire.codec, run.blocks);
          return {
            deviceBlocks: 0,
            fetchedBlocks: run.blocks.length,
            transferredBytes: run.bytes,
            recomputedTokens: 0,
            summary,
            sparse: true,
          };
        }
        log.warn("sparse selection blocks missing; loading the dense prompt", {
          requestId: plan.requestId,
          got: run.blocks.length,
          want: hashes.length,
        });
      } catch (err) {
        log.warn("sparse selection import failed; loading the dense prompt", { requestId: plan.requestId, err: messageOf(err) });
      }
    }
    const dense = await loadHandoff(engine, store, plan, handoff, log);
    const summary = await engine.applySelection(seqId, meta);
    return { ...dense, summary, sparse: false };
  } finally {
    if (store && hashes.length > 0) {
      await store
        .delete(hashes, wire.codec)
        .catch((err: unknown) => log.warn("could not delete sparse selection blocks", { requestId: plan.requestId, err: messageOf(err) }));
    }
  }
}
