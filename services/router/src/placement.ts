// Where a request runs: the decode worker and the prefill worker with the best cached overlap
// against load, and whether to disaggregate at all (a short uncached part prefills on decode).
import { chooseWorker, mergeMatches, shouldDisaggregate, type LocationMatch, type RoutingWeights, type WorkerLoad } from "@kvtier/prefix-index";
import type { LiveWorker, WorkerTable } from "./worker-table.js";

/** The router's own account of work it sent and that is not finished (reports lag behind it). */
export class LocalLoad {
  readonly prefillTokens = new Map<string, number>();
  readonly decodeBlocks = new Map<string, number>();

  add(map: Map<string, number>, id: string, n: number): void {
    const v = (map.get(id) ?? 0) + n;
    if (v <= 0) map.delete(id);
    else map.set(id, v);
  }
}

export interface Placement {
  decode: LiveWorker;
  prefill: LiveWorker;
  disaggregated: boolean;
  /** Cached prompt tokens at the best-placed worker of any role. */
  bestCachedTokens: number;
  /** Cached prompt tokens the chosen prefilling worker can load. */
  chosenCachedTokens: number;
}

export interface PlacementOptions {
  weights: RoutingWeights;
  localPrefillMaxTokens: number;
  blockSize: number;
}

function loadOf(w: LiveWorker, local: LocalLoad): WorkerLoad {
  const id = w.info.workerId;
  return {
    workerId: id,
    role: w.info.role as "prefill" | "decode",
    queuedPrefillTokens: Math.max(w.load?.queuedPrefillTokens ?? 0, local.prefillTokens.get(id) ?? 0),
    activeDecodeBlocks: Math.max(w.load?.activeDecodeBlocks ?? 0, local.decodeBlocks.get(id) ?? 0),
    capacityBlocks: w.info.capacityBlocks,
  };
}

/**
 * Choose workers for a prompt whose full-block hashes were matched (`matches`, per location).
 * Returns null when no decode worker is available.
 */
export function place(
  table: WorkerTable,
  matches: ReadonlyMap<string, LocationMatch>,
  promptTokens: number,
  reusableBlocks: number,
  local: LocalLoad,
  opts: PlacementOptions,
  exclude: ReadonlySet<string> = new Set(),
): Placement | null {
  const cap = (m: LocationMatch): LocationMatch => ({
    device: Math.min(m.device, reusableBlocks), host: Math.min(m.host, reusableBlocks), ssd: Math.min(m.ssd, reusableBlocks), best: Math.min(m.best, reusableBlocks),
  });
  const merged = new Map<string, LocationMatch>();
  const all = [...table.byRole("decode"), ...table.byRole("prefill")].filter((w) => !exclude.has(w.info.workerId));
  for (const w of all) merged.set(w.info.workerId, cap(mergeMatches(matches.get(w.info.workerId), matches.get(w.info.kvstoreId))));
  const decodes = all.filter((w) => w.info.role === "decode");
  const prefills = all.filter((w) => w.info.role === "prefill");
  const d = chooseWorker(decodes.map((w) => loadOf(w, local)), merged, promptTokens, opts.blockSize, opts.weights);
  if (!d) return null;
  const decode = decodes.find((w) => w.info.workerId === d.workerId) as LiveWorker;
  let bestCachedTokens = 0;
  for (const m of merged.values()) bestCachedTokens = Math.max(bestCachedTokens, m.best * opts.blockSize);
  const decodeCached = (merged.get(d.workerId)?.best ?? 0) * opts.blockSize;
  const p = prefills.length > 0 && shouldDisaggregate(promptTokens - decodeCached, opts.localPrefillMaxTokens)
    ? chooseWorker(prefills.map((w) => loadOf(w, local)), merged, promptTokens, opts.blockSize, opts.weights)
    : null;
  if (!p) return { decode, prefill: decode, disaggregated: false, bestCachedTokens, chosenCachedTokens: decodeCached };
  const prefill = prefills.find((w) => w.info.workerId === p.workerId) as LiveWorker;
  return { decode, prefill, disaggregated: true, bestCachedTokens, chosenCachedTokens: (merged.get(p.workerId)?.best ?? 0) * opts.blockSize };
}
