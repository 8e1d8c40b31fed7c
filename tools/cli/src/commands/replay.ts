// `kvtier replay`: replays a Mooncake-format trace (a file, or one generated from a named shape)
// against the real prefix index and routing cost over simulated workers (@kvtier/trace-replay),
// prints one line per policy and, last, one JSON summary line. Reads files; no network.
import { readFileSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import {
  DEFAULT_ROUTING_WEIGHTS,
  DEFAULT_SWEEP_SETTINGS,
  ROUTING_POLICIES,
  ReplayError,
  TRACE_SHAPE_NAMES,
  formatMooncakeTrace,
  generateTrace,
  parseMooncakeTrace,
  replayLines,
  replaySummary,
  runReplay,
  sweepLines,
  sweepReplay,
  sweepSummary,
  type NamedTrace,
  type PoolSetting,
  type RoutingPolicy,
  type RoutingWeights,
  type TraceRequest,
  type TraceShapeName,
} from "@kvtier/trace-replay";
import { flagString, intFlag, numberFlag, parseCommandLine, type FlagSpec, type FlagValues } from "../args.js";
import { UsageError } from "../usage-error.js";

/** Help of `replay` (printed for --help). */
const REPLAY_HELP = `usage: pnpm kvtier replay --trace FILE --capacity-tokens C [flags]
       pnpm kvtier replay --synthetic SHAPE --capacity-tokens C [flags]
       pnpm kvtier replay --sweep [--trace FILE] [--shapes LIST] [--trace-seeds LIST] [--settings LIST] [--json]

  --trace FILE             Mooncake-format JSONL (timestamp ms, input_length, output_length, hash_ids)
  --synthetic SHAPE        generate the trace instead: ${TRACE_SHAPE_NAMES.join(", ")}
  --trace-seed N           seed of --synthetic (default 1)
  --save-trace FILE        write the generated trace there
  --workers N              simulated workers (default 8)
  --capacity-tokens C      LRU device cache per worker, tokens (required)
  --policy P               ${ROUTING_POLICIES.join(" | ")} (default kv); the others run too, for comparison
  --prefill-tokens-per-s X per-worker prefill throughput of the load model, or "auto" (default):
                           the trace's prompt tokens/s over the workers
  --seed S                 seed of the random policy (default 1)
  --weights LIST           kv policy weights as NAME=VALUE, comma-separated, over the router's
                           defaults (names: ${Object.keys(DEFAULT_ROUTING_WEIGHTS).join(", ")})
  --recent-work-tau-s X    time constant of the recent work the bounded-load terms read (default 60,
                           the router's KVTIER_ROUTING_RECENT_WORK_TAU_MS / 1000)
  --json                   print only the JSON summary line

Sweep (kv against round-robin and the pooled LRU, over several traces and pools in one run):
  --sweep                  replay every trace below at every setting; one line per pair, then JSON
  --trace FILE             include this trace file (e.g. ../shared/traces/mooncake-synthetic.jsonl)
  --shapes LIST            generated shapes to include, comma-separated, or "none" (default: all)
  --trace-seeds LIST       seeds of the generated traces (default 1,2)
  --settings LIST          pools as WORKERSxCAPACITY, comma-separated
                           (default ${DEFAULT_SWEEP_SETTINGS.map((p) => `${p.workers}x${p.capacityTokens}`).join(",")})
  After the rows, reported beside the targets: on how many rows kv's load imbalance is at most
  round-robin's with the windows starting 0, 15, 30 and 45 s after the trace's start
  (imbalance_at_most_round_robin_by_phase in the JSON).
  --weights, --recent-work-tau-s, --json as above
  Targets per row: kv hit rate >= 0.95 of the pooled LRU's, and "kv/rr busiest" (kv's busiest
  worker's uncached tokens per 60-second window over round-robin's, peak_vs_round_robin) <= 1.
  "floor" is the imbalance no placement of the same uncached work could go below (one request
  per window larger than the window's mean work per worker). Exit status 0 either way.

Time is simulated (requests at their trace timestamps, no pacing); one trace block = 512 tokens.
The last line is one JSON object: hit_rate, load_imbalance, pooled_lru_hit_rate,
round_robin_hit_rate, round_robin_load_imbalance, least_loaded_*, random_*, settings.
`;

const REPLAY_FLAGS = {
  trace: { type: "string" },
  synthetic: { type: "string" },
  "trace-seed": { type: "string" },
  "save-trace": { type: "string" },
  workers: { type: "string" },
  "capacity-tokens": { type: "string" },
  policy: { type: "string" },
  "prefill-tokens-per-s": { type: "string" },
  seed: { type: "string" },
  json: { type: "boolean" },
  sweep: { type: "boolean" },
  shapes: { type: "string" },
  "trace-seeds": { type: "string" },
  settings: { type: "string" },
  weights: { type: "string" },
  "recent-work-tau-s": { type: "string" },
} as const satisfies FlagSpec;

/** How the kv policy scores: `--weights` over the defaults, and `--recent-work-tau-s`. */
export interface KvPolicyFlags {
  weights: RoutingWeights | undefined;
  recentWorkTauS: number | undefined;
}

function parseKvPolicyFlags(values: FlagValues): KvPolicyFlags {
  const raw = flagString(values, "weights");
  let weights: RoutingWeights | undefined;
  if (raw !== undefined) {
    const w: Record<string, number> = { ...DEFAULT_ROUTING_WEIGHTS };
    for (const item of commaList("--weights", raw)) {
      const m = /^([A-Za-z]+)=(.*)$/.exec(item);
      if (m === null) throw new UsageError("--weights", `expected NAME=VALUE, got "${item}"`);
      if (!(m[1] in DEFAULT_ROUTING_WEIGHTS))
        throw new UsageError("--weights", `unknown weight "${m[1]}" (names: ${Object.keys(DEFAULT_ROUTING_WEIGHTS).join(", ")})`);
      w[m[1]] = numberFlag(`--weights ${m[1]}`, m[2], 0, Number.MAX_SAFE_INTEGER);
    }
    weights = w as unknown as RoutingWeights;
  }
  const tau = flagString(values, "recent-work-tau-s");
  return { weights, recentWorkTauS: tau === undefined ? undefined : numberFlag("--recent-work-tau-s", tau, 0, 1e9, true) };
}

const SWEEP_ONLY_FLAGS = ["shapes", "trace-seeds", "settings"] as const;

/** A parsed `replay --sweep` command line. */
export interface ReplaySweepCommand {
  file: string | undefined;
  shapes: TraceShapeName[];
  seeds: number[];
  settings: PoolSetting[];
  kv: KvPolicyFlags;
  json: boolean;
}

function commaList(flag: string, raw: string): string[] {
  const items = raw.split(",").map((x) => x.trim());
  if (items.some((x) => x.length === 0)) throw new UsageError(flag, `expected a comma-separated list, got "${raw}"`);
  return items;
}

function parseSettings(raw: string): PoolSetting[] {
  return commaList("--settings", raw).map((item) => {
    const m = /^(\d+)x(\d+)$/.exec(item);
    if (m === null) throw new UsageError("--settings", `expected WORKERSxCAPACITY (e.g. 8x1250000), got "${item}"`);
    return { workers: intFlag("--settings", m[1], 1, 4096), capacityTokens: intFlag("--settings", m[2], 0) };
  });
}

/** Parse `replay --sweep` arguments; throws a UsageError naming the flag at fault. */
export function parseReplaySweepArgs(argv: string[]): ReplaySweepCommand {
  const { values, positionals } = parseCommandLine(argv, REPLAY_FLAGS);
  if (positionals.length > 0) throw new UsageError(positionals[0], "unexpected argument");
  for (const f of ["synthetic", "trace-seed", "save-trace", "workers", "capacity-tokens", "policy", "prefill-tokens-per-s", "seed"]) {
    if (values[f] !== undefined) throw new UsageError(`--${f}`, "not used with --sweep (see --shapes, --trace-seeds, --settings)");
  }
  const shapesRaw = flagString(values, "shapes");
  const shapes = shapesRaw === undefined ? [...TRACE_SHAPE_NAMES] : shapesRaw === "none" ? [] : commaList("--shapes", shapesRaw);
  for (const s of shapes) {
    if (!(TRACE_SHAPE_NAMES as string[]).includes(s))
      throw new UsageError("--shapes", `expected names among ${TRACE_SHAPE_NAMES.join(", ")}, got "${s}"`);
  }
  const file = flagString(values, "trace");
  if (file === undefined && shapes.length === 0)
    throw new UsageError("--shapes", "nothing to sweep: give --trace FILE or at least one shape");
  const seedsRaw = flagString(values, "trace-seeds");
  const settingsRaw = flagString(values, "settings");
  return {
    file,
    shapes: shapes as TraceShapeName[],
    seeds: seedsRaw === undefined ? [1, 2] : commaList("--trace-seeds", seedsRaw).map((x) => intFlag("--trace-seeds", x, 0)),
    settings: settingsRaw === undefined ? [...DEFAULT_SWEEP_SETTINGS] : parseSettings(settingsRaw),
    kv: parseKvPolicyFlags(values),
    json: values["json"] === true,
  };
}

/** A parsed `replay` command line. */
export interface ReplayCommand {
  source: { file: string } | { shape: TraceShapeName; seed: number; saveTo: string | undefined };
  workers: number;
  capacityTokens: number;
  policy: RoutingPolicy;
  prefillTokensPerS: number | "auto";
  seed: number;
  kv: KvPolicyFlags;
  json: boolean;
}

/** Parse `replay` arguments; throws a UsageError naming the flag at fault. */
export function parseReplayArgs(argv: string[]): ReplayCommand {
  const { values, positionals } = parseCommandLine(argv, REPLAY_FLAGS);
  if (positionals.length > 0) throw new UsageError(positionals[0], "unexpected argument");
  for (const f of SWEEP_ONLY_FLAGS) if (values[f] !== undefined) throw new UsageError(`--${f}`, "only used with --sweep");
  const file = flagString(values, "trace");
  const shape = flagString(values, "synthetic");
  if ((file === undefined) === (shape === undefined))
    throw new UsageError("--trace", "give exactly one of --trace FILE or --synthetic SHAPE");
  if (shape !== undefined && !(TRACE_SHAPE_NAMES as string[]).includes(shape))
    throw new UsageError("--synthetic", `expected one of ${TRACE_SHAPE_NAMES.join(", ")}, got "${shape}"`);
  const capacity = flagString(values, "capacity-tokens");
  if (capacity === undefined) throw new UsageError("--capacity-tokens", "required");
  const policy = flagString(values, "policy") ?? "kv";
  if (!(ROUTING_POLICIES as readonly string[]).includes(policy))
    throw new UsageError("--policy", `expected one of ${ROUTING_POLICIES.join(", ")}, got "${policy}"`);
  const rate = flagString(values, "prefill-tokens-per-s") ?? "auto";
  const opt = (name: string, fallback: number, min: number, max?: number): number => {
    const raw = flagString(values, name);
    return raw === undefined ? fallback : intFlag(`--${name}`, raw, min, max);
  };
  return {
    source:
      file !== undefined
        ? { file }
        : { shape: shape as TraceShapeName, seed: opt("trace-seed", 1, 0), saveTo: flagString(values, "save-trace") },
    workers: opt("workers", 8, 1, 4096),
    capacityTokens: intFlag("--capacity-tokens", capacity, 0),
    policy: policy as RoutingPolicy,
    prefillTokensPerS: rate === "auto" ? "auto" : numberFlag("--prefill-tokens-per-s", rate, 0, Number.MAX_SAFE_INTEGER, true),
    seed: opt("seed", 1, 0),
    kv: parseKvPolicyFlags(values),
    json: values["json"] === true,
  };
}

function readTraceFile(file: string): TraceRequest[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError("--trace", `cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return parseMooncakeTrace(text);
}

function loadTrace(source: ReplayCommand["source"]): TraceRequest[] {
  if ("file" in source) return readTraceFile(source.file);
  const trace = generateTrace(source.shape, source.seed);
  if (source.saveTo !== undefined) writeFileSync(source.saveTo, formatMooncakeTrace(trace));
  return trace;
}

/** Run `replay` from its raw arguments; resolves with the exit status. */
export async function runReplayCommand(argv: string[], _env: Record<string, string | undefined>): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(REPLAY_HELP);
    return 0;
  }
  if (argv.includes("--sweep")) return runSweep(parseReplaySweepArgs(argv));
  const cmd = parseReplayArgs(argv);
  let trace: TraceRequest[];
  try {
    trace = loadTrace(cmd.source);
  } catch (err) {
    // a bad trace line is the input's fault, shown like a bad flag (exit 2), naming line and field
    if (err instanceof ReplayError) throw new UsageError("--trace", err.message);
    throw err;
  }
  const report = runReplay(trace, cmd.policy, {
    workers: cmd.workers,
    capacityTokens: cmd.capacityTokens,
    prefillTokensPerS: cmd.prefillTokensPerS,
    seed: cmd.seed,
    ...cmd.kv,
  });
  if (!cmd.json) process.stdout.write(replayLines(report).join("\n") + "\n");
  process.stdout.write(JSON.stringify(replaySummary(report)) + "\n");
  return 0;
}

function runSweep(cmd: ReplaySweepCommand): number {
  const traces: NamedTrace[] = [];
  try {
    if (cmd.file !== undefined) traces.push({ name: basename(cmd.file, ".jsonl"), trace: readTraceFile(cmd.file) });
  } catch (err) {
    if (err instanceof ReplayError) throw new UsageError("--trace", err.message);
    throw err;
  }
  for (const shape of cmd.shapes)
    for (const seed of cmd.seeds) traces.push({ name: `${shape}/seed${seed}`, trace: generateTrace(shape, seed) });
  const rows = sweepReplay(traces, cmd.settings, cmd.kv);
  if (!cmd.json) process.stdout.write(sweepLines(rows).join("\n") + "\n");
  process.stdout.write(JSON.stringify(sweepSummary(rows)) + "\n");
  return 0;
}
