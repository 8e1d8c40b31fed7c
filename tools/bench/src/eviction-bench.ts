// `pnpm bench eviction`: replays the Mooncake synthetic trace against the kvstore's eviction
// policy (the pure PrefixAwarePolicy class, in process, no gRPC) and against plain LRU at the
// same capacities, and prints the token hit rate of each.
//
// Replay semantics (those that reproduce the published LRU figures 0.142 / 0.315 / 0.577):
// - one trace block = 512 tokens = one unit of capacity; capacity = floor(tokens / 512) blocks;
// - a request hits the leading blocks the cache holds, stopping at the first it does not
//   (a prefix hit); hit tokens = min(hit blocks x 512, input_length), rate = hit / input tokens;
// - after each request, its blocks are used in order: a held block is touched, a missing one is
//   inserted (its parent = the block before it), evicting until the cache has room.
// No timing: the trace's timestamps only order the requests.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { LruPolicy, PrefixAwarePolicy, type EvictionPolicy } from "@kvtier/kv-tiers";
import type { Benchmark } from "./benchmark.js";

/** Tokens per trace block (Mooncake trace format). */
export const TRACE_BLOCK_TOKENS = 512;
/** Capacities replayed, in tokens. */
export const CAPACITIES_TOKENS = [1_000_000, 3_000_000, 10_000_000];
/** Published plain-LRU hit rates at those capacities, which the replay must reproduce. */
export const PUBLISHED_LRU_HIT_RATES = [0.142, 0.315, 0.577];
/** How close the replayed LRU must come to the published figures. */
export const LRU_TOLERANCE = 0.005;
/** The trace, relative to this module (dist/ of tools/bench in /work/main, beside ../shared). */
const DEFAULT_TRACE = fileURLToPath(new URL("../../../../shared/traces/mooncake-synthetic.jsonl", import.meta.url));

/** One trace request: its input length and its prefix-chained block ids. */
export interface TraceRequest {
  inputLength: number;
  blockIds: string[];
}

/** Parse the JSON-lines trace. */
export function readTrace(path: string): TraceRequest[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => {
      const r = JSON.parse(l) as { input_length: number; hash_ids: number[] };
      return { inputLength: r.input_length, blockIds: r.hash_ids.map(String) };
    });
}

/**
 * Token hit rate of `policy` holding at most `capacityBlocks` blocks over `trace`. `withParents`
 * false replays a store whose clients send no parent hashes (PutHeader.parent_hash unset).
 */
export function replay(trace: readonly TraceRequest[], policy: EvictionPolicy, capacityBlocks: number, withParents = true): number {
  let hitTokens = 0;
  let inputTokens = 0;
  for (const r of trace) {
    const ids = r.blockIds;
    let n = 0;
    while (n < ids.length && policy.has(ids[n])) n++;
    hitTokens += Math.min(n * TRACE_BLOCK_TOKENS, r.inputLength);
    inputTokens += r.inputLength;
    for (let i = 0; i < ids.length; i++) {
      if (policy.has(ids[i])) {
        policy.touch(ids[i]);
        continue;
      }
      while (policy.size >= capacityBlocks) if (!policy.evict()) break;
      policy.insert(ids[i], withParents && i > 0 ? ids[i - 1] : undefined);
    }
  }
  return hitTokens / inputTokens;
}

const round = (x: number): number => Math.round(x * 10_000) / 10_000;

/** The benchmark. Args: `--trace <path>` (default ../shared/traces/mooncake-synthetic.jsonl). */
export const evictionBench: Benchmark = async (args) => {
  const { values } = parseArgs({ args, options: { trace: { type: "string" } } });
  const path = values.trace ?? DEFAULT_TRACE;
  const trace = readTrace(path);
  const blocks = trace.reduce((n, r) => n + r.blockIds.length, 0);
  process.stdout.write(
    `trace ${path}: ${trace.length} requests, ${blocks} block accesses, ${TRACE_BLOCK_TOKENS} tokens per block; replayed in order, no timing\n`,
  );
  process.stdout.write(`infinite-cache ideal prefix hit rate: ${replay(trace, new LruPolicy(), Number.POSITIVE_INFINITY).toFixed(4)}\n`);
  const hitRate: number[] = [];
  const lruHitRate: number[] = [];
  const noParentsHitRate: number[] = [];
  for (const [i, tokens] of CAPACITIES_TOKENS.entries()) {
    const capacityBlocks = Math.floor(tokens / TRACE_BLOCK_TOKENS);
    const lru = replay(trace, new LruPolicy(), capacityBlocks);
    const ours = replay(trace, new PrefixAwarePolicy(), capacityBlocks);
    const noParents = replay(trace, new PrefixAwarePolicy(), capacityBlocks, false);
    lruHitRate.push(round(lru));
    hitRate.push(round(ours));
    noParentsHitRate.push(round(noParents));
    const published = PUBLISHED_LRU_HIT_RATES[i];
    const check = Math.abs(lru - published) <= LRU_TOLERANCE ? "reproduced" : "NOT REPRODUCED";
    process.stdout.write(
      `${(tokens / 1e6).toFixed(0)}M tokens (${capacityBlocks} blocks): prefix-aware ${ours.toFixed(4)}  lru ${lru.toFixed(4)} ` +
        `(published ${published}, ${check})  gain ${((ours - lru) * 100).toFixed(2)} points; without parent hashes ${noParents.toFixed(4)}\n`,
    );
  }
  return { capacity_tokens: CAPACITIES_TOKENS, hit_rate: hitRate, lru_hit_rate: lruHitRate, hit_rate_without_parents: noParentsHitRate };
};
