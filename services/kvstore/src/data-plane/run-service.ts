// Put and get of runs for the fast paths, over the store's transport-neutral API (precheck, put,
// getRun). The TCP and shared-memory handlers differ only in where bytes come from and go to;
// verification of puts happens in KvBlockStore.put (block-admission.ts) as for gRPC puts.
import type { Logger } from "@kvtier/platform";
import { MAX_FRAME_PAYLOAD_BYTES, TransportError, type BlockPutOutcome, type PutRunMeta } from "@kvtier/kv-transport";
import type { BlockKey } from "@kvtier/kv-tiers";
import type { HeldBlock, KvBlockStore } from "../block-store.js";
import type { DataPath, KvStoreMetrics } from "../kvstore-metrics.js";
import { PUT_RETRY_AFTER_MS, type PutBudget } from "../put-budget.js";
import { parseBlockKeys } from "../wire-requests.js";
import { errorBodyOf, putRefusalOf } from "./error-frames.js";

/** What the fast-path handlers share. */
export interface DataPlaneDeps {
  store: KvBlockStore;
  /** Bytes of fast-path puts being received at once (its own budget beside the gRPC one). */
  budget: PutBudget;
  metrics: KvStoreMetrics | undefined;
  log: Logger | undefined;
}

/** The keys of a run; INVALID_ARGUMENT naming `codec` or `block_hashes[i]` (same rules as gRPC). */
export const runKeys = (codec: string, hashes: Uint8Array[]): BlockKey[] => parseBlockKeys(hashes, codec);

/** Reserve `bytes` of the put budget or refuse with RESOURCE_EXHAUSTED and a retry hint. */
export function reservePut(deps: DataPlaneDeps, bytes: number): void {
  if (deps.budget.tryAcquire(bytes)) return;
  throw new TransportError(
    "RESOURCE_EXHAUSTED",
    "busy",
    "frame.payload_bytes",
    `too many bytes of puts in flight (limit ${deps.budget.limitBytes}); retry`,
    { retryAfterMs: PUT_RETRY_AFTER_MS },
  );
}

/**
 * Store each block of a received run, in order (parents before children; block i's parent is
 * block i-1, which lets eviction take leaves first). One outcome per block; a refused block does
 * not stop the others. Counts bytes written per tier on `path`.
 */
export async function putRun(
  deps: DataPlaneDeps,
  path: DataPath,
  req: PutRunMeta,
  keys: BlockKey[],
  blocks: Uint8Array[],
): Promise<BlockPutOutcome[]> {
  const out: BlockPutOutcome[] = [];
  const ack = req.durable ? "durable" : "memory";
  for (let i = 0; i < blocks.length; i++) {
    try {
      const parent = i > 0 ? keys[i - 1].hash : undefined;
      const r = await deps.store.put(
        { key: keys[i], totalBytes: blocks[i].length, ack, parent, requestScoped: req.requestScoped },
        blocks[i],
      );
      deps.metrics?.putAccepted(r.created);
      if (r.created) deps.metrics?.written(r.tier, path, blocks[i].length);
      out.push({ outcome: r.created ? "created" : "existing", tier: r.tier });
    } catch (err) {
      const reason = putRefusalOf(err);
      if (reason) deps.metrics?.putRefused(reason);
      else deps.log?.error("fast-path put failed", { path, err: String(err) });
      out.push({ outcome: "refused", error: errorBodyOf(err) });
    }
  }
  return out;
}

/** The leading run held, cut to at most `limitBytes` of blocks (`limited` says a cut was made). */
export async function getRun(
  deps: DataPlaneDeps,
  keys: BlockKey[],
  limitBytes: number,
): Promise<{ blocks: HeldBlock[]; limited: boolean }> {
  const held = await deps.store.getRun(keys);
  const limit = Math.min(limitBytes, MAX_FRAME_PAYLOAD_BYTES);
  let bytes = 0;
  let n = 0;
  while (n < held.length && bytes + held[n].bytes.length <= limit) bytes += held[n++].bytes.length;
  return { blocks: held.slice(0, n), limited: n < held.length };
}

/** Count a served run's bytes per tier on `path`. */
export function countRead(deps: DataPlaneDeps, path: DataPath, blocks: HeldBlock[]): void {
  for (const b of blocks) deps.metrics?.read(b.tier, path, b.bytes.length);
}
