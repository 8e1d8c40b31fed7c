// A/B figures of the router's hot-path tricks for `pnpm bench router`: each trick against its plain
// form on the same queries or event stream, in alternating passes (A B, B A, ...) so that machine
// drift falls on both; each ratio is the median over passes of plain time / trick time (> 1: the
// trick is faster). The plain forms are the library's own (PrefixIndexOptions.plainForms,
// PlacerOptions.plainForms, an index stored without links) or, where the trick is a whole design,
// straightforward code (one walk per codec, below; the generated protobuf decoder,
// router-bench-ingest.ts). Where each side has its own index, the plain side's is built first: an
// index built later measured up to 5% slower in A/A runs, so the order can only understate a trick.
import {
  DEFAULT_LOCAL_PREFILL_MAX_TOKENS,
  DEFAULT_ROUTING_WEIGHTS,
  DEVICE_CODEC,
  Placer,
  matchForCodec,
  mergeMatches,
  type LoadSources,
  type LocationMatch,
  type PackedHashes,
  type PlacerOptions,
  type PrefixIndex,
  type PrefixIndexOptions,
  type Roster,
} from "@kvtier/kv-router";
import { BENCH_BLOCK_TOKENS, PROMPT_BLOCKS, buildIndex, type BenchDeployment } from "./router-bench-index.js";

/** Alternating passes of each A/B, and queries per pass and side. */
const AB_PASSES = 6;
const AB_QUERIES = 3_000;
/** Alternating passes of each ingest A/B (one pass is about a second). */
const AB_INGEST_PASSES = 4;

const percentile = (sorted: Float64Array, p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round3 = (x: number): number => Number(x.toFixed(3));

/** One route: the matches of a query and the placement over them. */
export type Route = (hashes: PackedHashes) => void;

/** The route of a router with this index, placer and matching. */
export function routeWith(
  index: PrefixIndex,
  placer: Placer,
  roster: Roster,
  loads: LoadSources,
  match: (index: PrefixIndex, hashes: PackedHashes) => ReadonlyMap<string, LocationMatch> = fp16Match,
): Route {
  return (hashes) =>
    void placer.place({
      roster,
      matches: match(index, hashes),
      promptTokens: PROMPT_BLOCKS * BENCH_BLOCK_TOKENS,
      reusableBlocks: PROMPT_BLOCKS,
      loads,
    });
}

const fp16Match = (index: PrefixIndex, hashes: PackedHashes): Map<string, LocationMatch> => matchForCodec(index, hashes, "fp16");

/** The plain form of matching two codecs in one walk: one walk per codec, merged per location. */
export function matchPerCodec(index: PrefixIndex, hashes: PackedHashes): Map<string, LocationMatch> {
  const out = index.match(hashes, DEVICE_CODEC);
  for (const [location, m] of index.match(hashes, "fp16")) out.set(location, mergeMatches(out.get(location), m));
  return out;
}

/** Per-query microseconds of `route` over queries [offset, offset + n), sorted. */
function timeRoutes(route: Route, query: (i: number) => PackedHashes, offset: number, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const hashes = query(offset + k);
    const t0 = process.hrtime.bigint();
    route(hashes);
    out[k] = Number(process.hrtime.bigint() - t0) / 1e3;
  }
  return out.sort();
}

/** Route A/B: plain / trick ratios of the per-pass p50 and p99 (medians over passes). */
export interface RouteAb {
  p50Ratio: number;
  p99Ratio: number;
  trickP50Us: number;
  plainP50Us: number;
}

/** Times `trick` and `plain` on the same queries in alternating passes, after a warm-up of each. */
export function routeAb(trick: Route, plain: Route, query: (i: number) => PackedHashes): RouteAb {
  timeRoutes(trick, query, 0, AB_QUERIES);
  timeRoutes(plain, query, 0, AB_QUERIES);
  const p50: number[] = [];
  const p99: number[] = [];
  const trickP50: number[] = [];
  const plainP50: number[] = [];
  for (let pass = 0; pass < AB_PASSES; pass++) {
    const offset = (pass + 1) * AB_QUERIES;
    const first = pass % 2 === 0 ? trick : plain;
    const a = timeRoutes(first, query, offset, AB_QUERIES);
    const b = timeRoutes(first === trick ? plain : trick, query, offset, AB_QUERIES);
    const [t, p] = first === trick ? [a, b] : [b, a];
    p50.push(percentile(p, 0.5) / percentile(t, 0.5));
    p99.push(percentile(p, 0.99) / percentile(t, 0.99));
    trickP50.push(percentile(t, 0.5));
    plainP50.push(percentile(p, 0.5));
  }
  return { p50Ratio: round3(median(p50)), p99Ratio: round3(median(p99)), trickP50Us: median(trickP50), plainP50Us: median(plainP50) };
}

/** Fresh indexes of the deployment for an index trick's A/B: [with the trick, with `plain` options] (the plain one built first). */
export function indexPair(dep: BenchDeployment, plain: PrefixIndexOptions & { links?: boolean }): [PrefixIndex, PrefixIndex] {
  const plainIndex = buildIndex(dep, plain);
  return [buildIndex(dep), plainIndex];
}

/** A route A/B of an index trick over a fresh {@link indexPair}. */
export function indexTrickAb(
  dep: BenchDeployment,
  plain: PrefixIndexOptions & { links?: boolean },
  placer: Placer,
  roster: Roster,
  loads: LoadSources,
  query: (i: number) => PackedHashes,
): RouteAb {
  const [trickIndex, plainIndex] = indexPair(dep, plain);
  return routeAb(routeWith(trickIndex, placer, roster, loads), routeWith(plainIndex, placer, roster, loads), query);
}

/** A route A/B of a placement trick (same index; a Placer with its plain form). */
export function placerTrickAb(
  index: PrefixIndex,
  plain: PlacerOptions["plainForms"],
  roster: Roster,
  loads: LoadSources,
  query: (i: number) => PackedHashes,
): RouteAb {
  const opts: PlacerOptions = {
    weights: DEFAULT_ROUTING_WEIGHTS,
    localPrefillMaxTokens: DEFAULT_LOCAL_PREFILL_MAX_TOKENS,
    blockSize: BENCH_BLOCK_TOKENS,
  };
  return routeAb(
    routeWith(index, new Placer(opts), roster, loads),
    routeWith(index, new Placer({ ...opts, plainForms: plain }), roster, loads),
    query,
  );
}

/** Ingest A/B: the median over alternating passes of plain seconds / trick seconds (> 1: the trick ingests faster). */
export function ingestAb(trick: () => number, plain: () => number): number {
  const ratios: number[] = [];
  for (let pass = 0; pass < AB_INGEST_PASSES; pass++) {
    let t: number;
    let p: number;
    if (pass % 2 === 0) {
      t = trick();
      p = plain();
    } else {
      p = plain();
      t = trick();
    }
    ratios.push(p / t);
  }
  return round3(median(ratios));
}
