// Per-method summaries (what the table, the plot and the last-line JSON show) and the paired
// comparisons, from the per-window results of a harness run.
import { meanInterval, pairedInterval, type Interval } from "./bootstrap.js";
import type { MethodComparison } from "./method-registry.js";
import type { QualityMethodKind } from "./quality-method.js";
import type { MethodRun, WindowResult } from "./run-quality.js";

/** One row of the report. Means are over all scored positions; intervals resample windows. */
export interface MethodSummary {
  id: string;
  kind: QualityMethodKind;
  description: string;
  windows: number;
  positions: number;
  /** Stored bytes per KV position (all layers, K and V, headers and scales included for codecs). */
  bytes_per_token: number;
  ratio_vs_fp16: number;
  kl: number;
  kl_ci95: Interval;
  top1: number;
  top1_ci95: Interval;
  /** exp(mean NLL of the true next token) with the method, and with the uncompressed cache. */
  ppl: number;
  ppl_ref: number;
  ppl_delta: number;
  /** Paired interval of the per-window NLL change (nats; > 0 is worse). */
  nll_delta_ci95: Interval;
  attn_rel_err: number;
  /** fp32 KV bytes per second through encode / decode, GB/s; null when the method has no codec step. */
  encode_gbps: number | null;
  decode_gbps: number | null;
}

/** A paired comparison on the windows both methods were scored on. */
export interface ComparisonSummary {
  a: string;
  b: string;
  windows: number;
  /** mean KL of a over mean KL of b, and its 95% interval (< 1 everywhere: a is better). */
  kl_ratio: number;
  kl_ratio_ci95: Interval;
  kl_diff: number;
  kl_diff_ci95: Interval;
  top1_diff: number;
  top1_diff_ci95: Interval;
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

function weighted(ws: readonly WindowResult[], f: (w: WindowResult) => number): number {
  const n = sum(ws.map((w) => w.positions));
  return n > 0 ? sum(ws.map((w) => f(w) * w.positions)) / n : NaN;
}

/** Summarize one method's windows. */
function summarizeRun(run: MethodRun): MethodSummary {
  const ws = run.windows;
  const timed = ws.filter((w) => w.timing !== undefined);
  const kvBytes = sum(timed.map((w) => w.timing!.kvBytes));
  const gbps = (pick: (w: WindowResult) => number): number | null => (timed.length === 0 ? null : kvBytes / sum(timed.map(pick)) / 1e9);
  const nll = weighted(ws, (w) => w.nll);
  const nllRef = weighted(ws, (w) => w.nllRef);
  const stored = sum(ws.map((w) => w.storedBytes));
  return {
    id: run.method.id,
    kind: run.method.kind,
    description: run.method.description,
    windows: ws.length,
    positions: sum(ws.map((w) => w.positions)),
    bytes_per_token: stored / sum(ws.map((w) => w.kvPositions)),
    ratio_vs_fp16: sum(ws.map((w) => w.fp16Bytes)) / stored,
    kl: weighted(ws, (w) => w.kl),
    kl_ci95: meanInterval(ws.map((w) => w.kl)),
    top1: weighted(ws, (w) => w.top1),
    top1_ci95: meanInterval(ws.map((w) => w.top1)),
    ppl: Math.exp(nll),
    ppl_ref: Math.exp(nllRef),
    ppl_delta: Math.exp(nll) - Math.exp(nllRef),
    nll_delta_ci95: meanInterval(ws.map((w) => w.nll - w.nllRef)),
    attn_rel_err: sum(ws.map((w) => w.attentionRelError)) / Math.max(1, ws.length),
    encode_gbps: gbps((w) => w.timing!.encodeSeconds),
    decode_gbps: gbps((w) => w.timing!.decodeSeconds),
  };
}

/** Pair two runs on their common windows. */
function compareRuns(a: MethodRun, b: MethodRun): ComparisonSummary {
  const byWindow = new Map(b.windows.map((w) => [w.window, w]));
  const pairs = a.windows.filter((w) => byWindow.has(w.window)).map((w) => [w, byWindow.get(w.window)!] as const);
  const kl = pairedInterval(
    pairs.map(([x]) => x.kl),
    pairs.map(([, y]) => y.kl),
  );
  const top1 = pairedInterval(
    pairs.map(([x]) => x.top1),
    pairs.map(([, y]) => y.top1),
  );
  return {
    a: a.method.id,
    b: b.method.id,
    windows: pairs.length,
    kl_ratio: kl.ratio,
    kl_ratio_ci95: kl.ratioCi95,
    kl_diff: kl.diff,
    kl_diff_ci95: kl.diffCi95,
    top1_diff: top1.diff,
    top1_diff_ci95: top1.diffCi95,
  };
}

/** Summaries of every run and of the requested comparisons. */
export function summarize(
  runs: readonly MethodRun[],
  comparisons: readonly MethodComparison[],
): { methods: MethodSummary[]; comparisons: ComparisonSummary[] } {
  const byId = new Map(runs.map((r) => [r.method.id, r]));
  return {
    methods: runs.filter((r) => r.windows.length > 0).map(summarizeRun),
    comparisons: comparisons.filter((c) => byId.has(c.a) && byId.has(c.b)).map((c) => compareRuns(byId.get(c.a)!, byId.get(c.b)!)),
  };
}
