// `pnpm bench router`: the router's hot paths at deployment scale, each beside a baseline measured
// in the same run. (1) Event ingest: block operations per second through protobuf decoding,
// batchFromWire and IndexFeed (baseline: decoding alone). (2) Lookup and score of an 8K-token
// prompt (512 blocks of 16 tokens) over 64 workers with ~1M indexed blocks: matchForCodec + place
// with live loads (reports, this replica's ledger, a peer's shares), as the router does per
// request, tokenizing and hashing excluded (baseline: a hex-keyed Map of holder objects). The
// route figure is also split: the index walk alone and the placement alone; and its tail is read
// against a fixed loop's (machine jitter) and the garbage collections seen meanwhile.
// (3) Chain hashing throughput (baseline: createHash per block).
// (4) Bytes per indexed block (heap + array buffers after GC), and the naive index's.
// (5) A/B figures of the hot-path tricks, each against its plain form (router-bench-ab.ts).
// Flags: --blocks N (indexed blocks, default 1000000), --queries N, --ingest-ops N.
import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import {
  DEFAULT_LOCAL_PREFILL_MAX_TOKENS,
  DEFAULT_ROUTING_WEIGHTS,
  LoadLedger,
  PackedHashes,
  PeerLoads,
  Placer,
  Roster,
  hashChain,
  matchForCodec,
  namespaceHash,
} from "@kvtier/kv-router";
import type { Benchmark } from "./benchmark.js";
import { EVENTS_PER_BATCH, makeEventStream, timeDecodeOnly, timeIngest } from "./router-bench-ingest.js";
import { indexPair, indexTrickAb, ingestAb, matchPerCodec, placerTrickAb, routeAb, routeWith, type RouteAb } from "./router-bench-ab.js";
import { queryTimes, tailDuringGc, watchGc, type QueryTimes } from "./latency-tail.js";
import { BENCH_BLOCK_TOKENS, BENCH_WORKERS, NaiveIndex, PROMPT_BLOCKS, buildIndex, makeDeployment } from "./router-bench-index.js";

/** Defaults of the flags. */
const DEFAULT_INDEXED_BLOCKS = 1_000_000;
const DEFAULT_QUERIES = 20_000;
const DEFAULT_INGEST_OPS = 2_000_000;
/** Untimed queries before timing starts (JIT warm-up). */
const WARMUP_QUERIES = 2_000;
/** Timed passes of the ingest stream (odd: the median is one of them). */
const INGEST_PASSES = 3;
/** Prompts hashed for the hashing figure. */
const HASH_PROMPTS = 400;
/** How long before a placement the bench's work was charged to the ledger (its recent work decays). */
const CHARGED_AGO_MS = 500;

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

function flag(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(args[i + 1]);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name}: expected a positive integer, got ${args[i + 1]}`);
  return n;
}

const usedBytes = (): number => {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

const percentile = (sorted: Float64Array, p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

/**
 * Per-query microseconds of `fn` over `queries`, after a warm-up. `prepare(i)` runs untimed just
 * before query i and gives its input: a router hashes a prompt right before it looks it up, so
 * the query's hashes are fresh in the cache, not scattered over the setup's heap.
 */
function latencies<T>(queries: number, prepare: (i: number) => T, fn: (input: T) => void, record?: QueryTimes): Float64Array {
  for (let i = 0; i < WARMUP_QUERIES; i++) fn(prepare(i));
  const out = new Float64Array(queries);
  for (let i = 0; i < queries; i++) {
    const input = prepare(i);
    if (record !== undefined) record.startMs[i] = performance.now();
    const t0 = process.hrtime.bigint();
    fn(input);
    out[i] = Number(process.hrtime.bigint() - t0) / 1e3;
  }
  if (record !== undefined) record.us.set(out);
  return out.sort();
}

/**
 * A query's hashes as the router has them after hashing: fresh copies allocated together, packed
 * as `hashChain` packs them while hashing (its cost is in the hashing figure).
 */
const freshChain = (hashes: readonly Uint8Array[]): PackedHashes => PackedHashes.from(hashes.map((h) => Uint8Array.from(h)));

const line = (s: string): void => void process.stdout.write(`${s}\n`);

/** A trivial integer loop of `n` iterations (the machine measures and the jitter control). */
function spin(n: number): number {
  let sink = 0;
  for (let i = 0; i < n; i++) sink += i & 7;
  return sink;
}

/**
 * Per-query microseconds of a fixed loop that takes about `targetUs` (calibrated with `loopNs`),
 * timed as the route is: the spread of work that never varies and allocates nothing, so the
 * route's p99 can be read against how far this machine's scheduling alone stretches a query.
 */
function jitterControl(queries: number, targetUs: number, loopNs: number): Float64Array {
  const n = Math.max(1, Math.round((targetUs * 1e3) / loopNs));
  let sink = 0;
  const out = latencies(
    queries,
    () => n,
    (k) => void (sink += spin(k)),
  );
  if (sink < 0) throw new Error("unreachable");
  return out;
}

/** Nanoseconds per iteration of a trivial integer loop: how fast this machine runs JS (for reading the rest). */
function loopNsPerIteration(): number {
  let best = Infinity;
  let sink = 0;
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    sink += spin(20_000_000);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 20_000_000);
  }
  if (sink < 0) throw new Error("unreachable");
  return best;
}

export const routerBench: Benchmark = async (args) => {
  const targetBlocks = flag(args, "blocks", DEFAULT_INDEXED_BLOCKS);
  const queries = flag(args, "queries", DEFAULT_QUERIES);
  const ingestOps = flag(args, "ingest-ops", DEFAULT_INGEST_OPS);

  const loopNs = loopNsPerIteration();
  line(`machine: a trivial JS loop iteration takes ${loopNs.toFixed(2)} ns here (a current desktop core: about 0.3-0.5 ns)`);

  // (4) memory: the deployment's hashes exist before and after, so only the index is counted
  const dep = makeDeployment(targetBlocks);
  const before = usedBytes();
  const index = buildIndex(dep);
  const bytesPerBlock = (usedBytes() - before) / index.blockCount();
  const indexedBlocks = index.blockCount();
  line(
    `index: ${index.blockCount()} blocks, ${index.locationCount()} locations (${BENCH_WORKERS} worker pools + kvstores), ${bytesPerBlock.toFixed(1)} B/block (heap + array buffers after GC), table ${(index.tableBytes() / index.blockCount()).toFixed(1)} B/block`,
  );

  // (2) lookup and score, per request, as the router does it
  const ledger = new LoadLedger(60_000);
  const peers = new PeerLoads(1_000);
  // a busy deployment's load state: this replica has prefill and decode work in flight on every
  // worker (so its ledger holds an entry, with decaying recent work, per worker), and a peer
  // replica shares its own in-flight work on every worker; each worker's own report is in `dep`
  for (const [k, w] of dep.workers.entries()) {
    ledger.addPrefill(w.info.workerId, 512 + ((k * 389) % 6000));
    ledger.addDecode(w.info.workerId, 16 + ((k * 53) % 400));
  }
  peers.update(
    "bench-peer-router",
    dep.workers.map((w, k) => ({
      workerId: w.info.workerId,
      prefillTokens: (k * 131) % 4000,
      decodeBlocks: (k * 17) % 300,
      recentWorkTokens: (k * 977) % 20000,
      prefillTokensSinceReport: (k * 61) % 2000,
    })),
  );
  // as the router does: one clock reading per placement, a little after the work was charged (the
  // bench's clock does not move, so the peer's share stays live and the recent work decays to the
  // same value every time)
  const loads = { ledger, peers, nowMs: ledger.nowMs() + CHARGED_AGO_MS };
  const roster = new Roster(dep.workers);
  const placer = new Placer({
    weights: DEFAULT_ROUTING_WEIGHTS,
    localPrefillMaxTokens: DEFAULT_LOCAL_PREFILL_MAX_TOKENS,
    blockSize: BENCH_BLOCK_TOKENS,
  });
  const bigBlockPlacer = new Placer({
    weights: DEFAULT_ROUTING_WEIGHTS,
    localPrefillMaxTokens: DEFAULT_LOCAL_PREFILL_MAX_TOKENS,
    blockSize: 4 * BENCH_BLOCK_TOKENS,
  });
  const promptTokens = PROMPT_BLOCKS * BENCH_BLOCK_TOKENS;
  const docOf = (i: number): number => (i * 7919) % dep.documents.length;
  const docHashes = (i: number): PackedHashes => freshChain(dep.documents[docOf(i)].hashes);
  // a chained prompt diverging after the 32-block system prompt shares no later hash with anything
  // (fresh copies, changed in place: allocated as the other queries' hashes are)
  const coldHashes = (i: number): PackedHashes => {
    const d = docOf(i);
    return PackedHashes.from(
      dep.documents[d].hashes.map((x, b) => {
        const h = Uint8Array.from(x);
        if (b >= 32) for (let k = 0; k < 16; k++) h[k] ^= k === 15 ? 0xa5 : d & 0xff;
        return h;
      }),
    );
  };
  let placed = 0;
  const routeTimes = queryTimes(queries);
  const gcWatch = watchGc();
  const route = latencies(
    queries,
    docHashes,
    (hashes) => {
      const p = placer.place({ roster, matches: matchForCodec(index, hashes, "fp16"), promptTokens, reusableBlocks: PROMPT_BLOCKS, loads });
      if (p !== null) placed += p.chosenCachedTokens > 0 ? 1 : 0;
    },
    routeTimes,
  );
  await gcWatch.stop();
  const routeTail = tailDuringGc(routeTimes, percentile(route, 0.99), gcWatch.pauses);
  // a prompt no one holds beyond its system prompt (the common cold case)
  const routeMiss = latencies(queries, coldHashes, (hashes) => {
    placer.place({ roster, matches: matchForCodec(index, hashes, "fp16"), promptTokens, reusableBlocks: PROMPT_BLOCKS, loads });
  });
  line(
    `route (8K-token prompt, 512 blocks, held up to all 512 blocks by its worker + kvstore): p50 ${percentile(route, 0.5).toFixed(1)} us, p99 ${percentile(route, 0.99).toFixed(1)} us; ${placed} of ${queries + WARMUP_QUERIES} found the cache`,
  );
  // where the time goes: the same queries, the index walk and the placement timed apart
  const matchOnly = latencies(queries, docHashes, (hashes) => void matchForCodec(index, hashes, "fp16"));
  const placeOnly = latencies(
    queries,
    (i) => matchForCodec(index, docHashes(i), "fp16"),
    (matches) => void placer.place({ roster, matches, promptTokens, reusableBlocks: PROMPT_BLOCKS, loads }),
  );
  const control = jitterControl(queries, percentile(route, 0.5), loopNs);
  const spread = (a: Float64Array): number => percentile(a, 0.99) / percentile(a, 0.5);
  line(
    `  machine jitter control (a fixed loop taking the route's p50, allocating nothing): p50 ${percentile(control, 0.5).toFixed(1)} us, p99 ${percentile(control, 0.99).toFixed(1)} us; p99/p50 ${spread(control).toFixed(2)} vs the route's ${spread(route).toFixed(2)}; ${routeTail.duringGc} of the route's ${routeTail.tail} queries at or above its p99 overlapped one of ${gcWatch.pauses.length} garbage collections`,
  );
  line(
    `  of which the index walk (matchForCodec) p50 ${percentile(matchOnly, 0.5).toFixed(1)} us, p99 ${percentile(matchOnly, 0.99).toFixed(1)} us; placement over ${BENCH_WORKERS} workers (place) p50 ${percentile(placeOnly, 0.5).toFixed(1)} us, p99 ${percentile(placeOnly, 0.99).toFixed(1)} us`,
  );
  line(
    `route (a prompt sharing only its 32-block system prompt): p50 ${percentile(routeMiss, 0.5).toFixed(1)} us, p99 ${percentile(routeMiss, 0.99).toFixed(1)} us`,
  );
  const beforeNaive = usedBytes();
  const naive = new NaiveIndex(dep);
  const naiveBytesPerBlock = (usedBytes() - beforeNaive) / indexedBlocks;
  const naiveRoute = latencies(Math.min(queries, 5_000), docHashes, (hashes) => {
    placer.place({ roster, matches: naive.match(hashes.hashes), promptTokens, reusableBlocks: PROMPT_BLOCKS, loads });
  });
  // the same prompt at 64 tokens per block: 128 lookups (the index keeps its 1M blocks)
  const shortHashes = (i: number): PackedHashes => freshChain(dep.documents[docOf(i)].hashes.slice(0, PROMPT_BLOCKS / 4));
  const route64 = latencies(queries, shortHashes, (hashes) => {
    bigBlockPlacer.place({ roster, matches: matchForCodec(index, hashes, "fp16"), promptTokens, reusableBlocks: PROMPT_BLOCKS / 4, loads });
  });
  line(
    `route, same 8K-token prompt at 64 tokens per block (128 lookups): p50 ${percentile(route64, 0.5).toFixed(1)} us, p99 ${percentile(route64, 0.99).toFixed(1)} us`,
  );
  line(
    `route with the naive index (hex-keyed Map, holder objects): p50 ${percentile(naiveRoute, 0.5).toFixed(1)} us, p99 ${percentile(naiveRoute, 0.99).toFixed(1)} us; ${naiveBytesPerBlock.toFixed(1)} B/block`,
  );

  // (1) ingest: decode + convert + apply, against decode alone
  const stream = makeEventStream(ingestOps);
  const decodeS = timeDecodeOnly(stream);
  const blocksBefore = index.blockCount();
  // the median of the passes: one pass lasts about a second, and a shared VM stalls now and then
  const passS = Array.from({ length: INGEST_PASSES }, () => timeIngest(index, stream)).sort((a, b) => a - b);
  if (index.blockCount() !== blocksBefore) throw new Error(`the ingest passes left ${index.blockCount() - blocksBefore} blocks behind`);
  const ingestS = passS[INGEST_PASSES >> 1];
  const eventsPerS = stream.blockOps / ingestS;
  const mops = (s: number): string => `${(stream.blockOps / s / 1e6).toFixed(2)}M/s`;
  line(
    `ingest: ${stream.messages.length} batches, ${stream.blockOps} block ops (1-16 blocks per event, ${EVENTS_PER_BATCH} events per batch): ${(eventsPerS / 1e6).toFixed(2)}M block ops/s decoded and applied (median of ${INGEST_PASSES} passes: ${passS.map(mops).join(", ")})`,
  );
  line(
    `  decoding alone (the generated decoder + batchFromWire) ${mops(decodeS)} (${((100 * decodeS) / ingestS).toFixed(0)}% of the ingest time)`,
  );

  // (3) hashing: hashChain (hashes and their packed words, as the router hashes) against one createHash per block
  const ns = namespaceHash({ modelId: "bench", layoutVersion: 1, blockSize: BENCH_BLOCK_TOKENS, tenantSalt: "s" });
  const tokens = Uint32Array.from({ length: promptTokens }, (_, i) => (i * 7 + 3) % 32000);
  let t0 = process.hrtime.bigint();
  for (let r = 0; r < HASH_PROMPTS; r++) hashChain(ns, tokens, BENCH_BLOCK_TOKENS);
  const hashS = Number(process.hrtime.bigint() - t0) / 1e9;
  t0 = process.hrtime.bigint();
  for (let r = 0; r < HASH_PROMPTS; r++) {
    let parent = Buffer.from(ns);
    for (let b = 0; b < PROMPT_BLOCKS; b++) {
      const block = Buffer.from(tokens.buffer, b * BENCH_BLOCK_TOKENS * 4, BENCH_BLOCK_TOKENS * 4);
      parent = createHash("sha256").update(parent).update(block).digest().subarray(0, 16);
    }
  }
  const naiveHashS = Number(process.hrtime.bigint() - t0) / 1e9;
  const tokenBytes = HASH_PROMPTS * promptTokens * 4;
  const hashMbPerS = tokenBytes / hashS / 1e6;
  line(
    `hashing: ${hashMbPerS.toFixed(1)} MB/s of token ids (${((HASH_PROMPTS * PROMPT_BLOCKS) / hashS / 1e6).toFixed(2)}M blocks/s, ${((hashS / HASH_PROMPTS) * 1e3).toFixed(2)} ms per 8K-token prompt); createHash per block ${(tokenBytes / naiveHashS / 1e6).toFixed(1)} MB/s`,
  );

  // (5) each hot-path trick against its plain form, alternating passes (plain / trick: > 1 = the trick is faster)
  line("A/B, plain form / trick (route p50, p99; ingest):");
  const ab: Record<string, number> = {};
  const noteRoute = (name: string, r: RouteAb, what: string): void => {
    ab[`ab_${name}_route_p50_ratio`] = r.p50Ratio;
    ab[`ab_${name}_route_p99_ratio`] = r.p99Ratio;
    line(`  ${name} (${what}): route p50 x${r.p50Ratio} (${r.trickP50Us.toFixed(1)} vs ${r.plainP50Us.toFixed(1)} us), p99 x${r.p99Ratio}`);
  };
  const noteIngest = (name: string, ratio: number, what: string): void => {
    ab[`ab_${name}_ingest_ratio`] = ratio;
    line(`  ${name} (${what}): ingest x${ratio}`);
  };
  noteRoute(
    "run_skip",
    indexTrickAb(dep, { links: false }, placer, roster, loads, docHashes),
    "plain: every key compared, an index stored without links",
  );
  noteRoute(
    "same_holder_runs",
    indexTrickAb(dep, { plainForms: ["same-holder-runs"] }, placer, roster, loads, docHashes),
    "plain: every block's holders visited",
  );
  noteRoute(
    "fork_bits",
    indexTrickAb(dep, { plainForms: ["fork-bits"] }, placer, roster, loads, docHashes),
    "plain: every passed record's signature read",
  );
  noteRoute(
    "walk_scratch",
    indexTrickAb(dep, { plainForms: ["walk-scratch"] }, placer, roster, loads, docHashes),
    "plain: fresh scratch arrays per walk",
  );
  noteRoute(
    "codec_lanes",
    routeAb(routeWith(index, placer, roster, loads), routeWith(index, placer, roster, loads, matchPerCodec), docHashes),
    "plain: one walk per codec, merged",
  );
  noteRoute("roster_sets", placerTrickAb(index, ["roster-sets"], roster, loads, docHashes), "plain: new candidate sets per placement");
  noteRoute("load_lookups", placerTrickAb(index, ["load-lookups"], roster, loads, docHashes), "plain: ledger and peer lookups per worker");
  noteRoute("served_by", placerTrickAb(index, ["served-by"], roster, loads, docHashes), "plain: each worker looks up its two locations");
  noteRoute("load_checks", placerTrickAb(index, ["load-checks"], roster, loads, docHashes), "plain: every load check names its field");
  noteRoute(
    "next_record",
    indexTrickAb(dep, { plainForms: ["next-record"] }, placer, roster, loads, docHashes),
    "plain: the table probed for every block",
  );
  {
    const [trickIndex, touchPlain] = indexPair(dep, { plainForms: ["touch-ahead"] });
    noteIngest(
      "touch_ahead",
      ingestAb(
        () => timeIngest(trickIndex, stream),
        () => timeIngest(touchPlain, stream),
      ),
      "plain: no slots touched ahead",
    );
  }

  return {
    events_per_s: Math.round(eventsPerS),
    ingest_pass_events_per_s: passS.map((x) => Math.round(stream.blockOps / x)),
    decode_only_events_per_s: Math.round(stream.blockOps / decodeS),
    route_p50_us: Number(percentile(route, 0.5).toFixed(2)),
    route_p99_us: Number(percentile(route, 0.99).toFixed(2)),
    route_p99_over_p50: Number(spread(route).toFixed(2)),
    control_p99_over_p50: Number(spread(control).toFixed(2)),
    route_tail_during_gc: routeTail.duringGc,
    route_cold_p99_us: Number(percentile(routeMiss, 0.99).toFixed(2)),
    match_p99_us: Number(percentile(matchOnly, 0.99).toFixed(2)),
    place_p99_us: Number(percentile(placeOnly, 0.99).toFixed(2)),
    route_block64_p99_us: Number(percentile(route64, 0.99).toFixed(2)),
    naive_route_p99_us: Number(percentile(naiveRoute, 0.99).toFixed(2)),
    route_p99_vs_naive: Number((percentile(naiveRoute, 0.99) / percentile(route, 0.99)).toFixed(2)),
    bytes_per_block: Number(bytesPerBlock.toFixed(1)),
    naive_bytes_per_block: Number(naiveBytesPerBlock.toFixed(1)),
    hash_mb_per_s: Number(hashMbPerS.toFixed(1)),
    hash_vs_create_hash: Number((naiveHashS / hashS).toFixed(2)),
    indexed_blocks: indexedBlocks,
    loop_ns_per_iteration: Number(loopNs.toFixed(2)),
    workers: BENCH_WORKERS,
    prompt_tokens: promptTokens,
    block_tokens: BENCH_BLOCK_TOKENS,
    ...ab,
  };
};
