// The router benchmark's synthetic deployment: 64 workers (32 decode, 32 prefill) on 8 nodes,
// each node with its kvstore, and an index of about 1M distinct 16-token blocks: documents of 512
// blocks (an 8K-token prompt) that start with one of a few shared system prompts; each document
// sits in one worker's device pool (its first part) and in that node's kvstore (all of it).
// Also a naive index of the same content (hex-string Map of holder objects) as the baseline.
import { PrefixIndex, type BlockHash, type LocationMatch, type PrefixIndexOptions, type Tier } from "@kvtier/kv-router";
import type { RosterWorker } from "@kvtier/kv-router";

/** Tokens per block and blocks per query prompt (8192 tokens). */
export const BENCH_BLOCK_TOKENS = 16;
export const PROMPT_BLOCKS = 512;
/** Workers, and workers per node (each node has one kvstore). */
export const BENCH_WORKERS = 64;
const WORKERS_PER_NODE = 8;
/** Shared system prompts, and their length in blocks. */
const SYSTEM_PROMPTS = 16;
const SYSTEM_PROMPT_BLOCKS = 32;
/** Share of a document its worker keeps in its device pool (the rest only in the kvstore). */
const DEVICE_SHARE = 0.6;

/** A deterministic 16-byte hash per (document, block): the bench does not time hashing here. */
function syntheticHash(doc: number, block: number): BlockHash {
  const h = new Uint8Array(16);
  const v = new DataView(h.buffer);
  let x = (Math.imul(doc + 1, 0x9e3779b1) ^ Math.imul(block + 1, 0x85ebca6b)) >>> 0;
  for (let w = 0; w < 4; w++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    v.setUint32(4 * w, (x ^ doc ^ (block << 16)) >>> 0, true);
  }
  h[15] = doc & 0xff;
  h[14] = (doc >>> 8) & 0xff;
  h[13] = (doc >>> 16) & 0xff;
  h[12] = block & 0xff;
  h[11] = (block >>> 8) & 0xff;
  return h;
}

/** One document: its block hashes (system prompt first), its worker and node. */
export interface BenchDocument {
  hashes: BlockHash[];
  worker: number;
}

/** The synthetic deployment. */
export interface BenchDeployment {
  documents: BenchDocument[];
  workers: RosterWorker[];
  /** Distinct blocks indexed. */
  blocks: number;
}

export const workerId = (w: number): string => `worker-${String(w).padStart(2, "0")}`;
const kvstoreId = (w: number): string => `kvstore-node-${Math.floor(w / WORKERS_PER_NODE)}`;

/** Documents enough for `targetBlocks` distinct blocks, and the 64 workers. */
export function makeDeployment(targetBlocks: number): BenchDeployment {
  const system = Array.from({ length: SYSTEM_PROMPTS }, (_, s) =>
    Array.from({ length: SYSTEM_PROMPT_BLOCKS }, (_, b) => syntheticHash(1_000_000 + s, b)),
  );
  const perDoc = PROMPT_BLOCKS - SYSTEM_PROMPT_BLOCKS;
  const count = Math.max(1, Math.ceil((targetBlocks - SYSTEM_PROMPTS * SYSTEM_PROMPT_BLOCKS) / perDoc));
  const documents: BenchDocument[] = Array.from({ length: count }, (_, d) => ({
    hashes: [...system[d % SYSTEM_PROMPTS], ...Array.from({ length: perDoc }, (_, b) => syntheticHash(d, b))],
    worker: d % BENCH_WORKERS,
  }));
  const workers: RosterWorker[] = Array.from({ length: BENCH_WORKERS }, (_, w) => ({
    info: {
      workerId: workerId(w),
      role: w % 2 === 0 ? "decode" : "prefill",
      endpoint: "",
      nodeId: `node-${Math.floor(w / WORKERS_PER_NODE)}`,
      kvstoreEndpoint: "",
      kvstoreId: kvstoreId(w),
      layout: undefined,
      incarnation: "bench",
      heartbeatUnixMs: 0,
      capacityBlocks: 1 << 20,
    },
    load: {
      workerId: workerId(w),
      role: w % 2 === 0 ? "decode" : "prefill",
      queuedPrefillTokens: (w * 997) % 5000,
      activeDecodeBlocks: (w * 31) % 200,
      freeBlocks: 0,
      runningRequests: 0,
      unixMs: 0,
      leaving: false,
    },
  }));
  return { documents, workers, blocks: count * perDoc + SYSTEM_PROMPTS * SYSTEM_PROMPT_BLOCKS };
}

/** Where a document's blocks live: its worker's device pool (first part) and its node's kvstore (all). */
function placementsOf(doc: BenchDocument): Array<[location: string, tier: Tier, codec: string, hashes: BlockHash[]]> {
  return [
    [workerId(doc.worker), "device", "raw", doc.hashes.slice(0, Math.floor(DEVICE_SHARE * doc.hashes.length))],
    [kvstoreId(doc.worker), "host", "fp16", doc.hashes],
  ];
}

/**
 * The real index over the deployment, built with `options`; `links` false stores each document's
 * blocks as a snapshot lists them (not as a chain), so no record is linked to the one before it.
 */
export function buildIndex(dep: BenchDeployment, { links = true, ...options }: PrefixIndexOptions & { links?: boolean } = {}): PrefixIndex {
  const index = new PrefixIndex(options);
  for (const doc of dep.documents)
    for (const [loc, tier, codec, hashes] of placementsOf(doc)) index.applyStored(loc, tier, codec, hashes, undefined, links);
  return index;
}

/** A holder in the naive baseline. */
interface NaiveHolder {
  location: string;
  tier: Tier;
  codec: string;
}

/** The straightforward index: hex keys, an array of holder objects per block. */
export class NaiveIndex {
  private readonly blocks = new Map<string, NaiveHolder[]>();

  constructor(dep: BenchDeployment) {
    for (const doc of dep.documents) {
      for (const [location, tier, codec, hashes] of placementsOf(doc)) {
        for (const h of hashes) {
          const key = Buffer.from(h).toString("hex");
          const list = this.blocks.get(key) ?? [];
          if (!list.some((x) => x.location === location && x.tier === tier && x.codec === codec)) list.push({ location, tier, codec });
          this.blocks.set(key, list);
        }
      }
    }
  }

  /** Leading runs per location (device / device-or-host / any); no shared-prefix tracking (`shared` 0). */
  match(hashes: readonly BlockHash[]): Map<string, LocationMatch> {
    const out = new Map<string, LocationMatch>();
    for (let i = 0; i < hashes.length; i++) {
      const holders = this.blocks.get(Buffer.from(hashes[i]).toString("hex")) ?? [];
      const here = new Map<string, Set<Tier>>();
      for (const h of holders) here.set(h.location, (here.get(h.location) ?? new Set()).add(h.tier));
      let any = false;
      for (const [loc, tiers] of here) {
        let st = out.get(loc);
        if (!st && i === 0) out.set(loc, (st = { device: 0, host: 0, ssd: 0, best: 0, shared: 0 }));
        if (!st || st.ssd !== i) continue;
        any = true;
        if (st.device === i && tiers.has("device")) st.device++;
        if (st.host === i && (tiers.has("device") || tiers.has("host"))) st.host++;
        st.ssd++;
        st.best = st.ssd;
      }
      if (!any) break;
    }
    return out;
  }
}
