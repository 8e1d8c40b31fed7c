// `kvtier replay`: replays a Mooncake-format trace (a file, or one generated from a named shape)
// against the real prefix index and routing cost over simulated workers (@kvtier/trace-replay),
// prints one line per policy and, last, one JSON summary line. Reads files; no network.
import { readFileSync, writeFileSync } from "node:fs";
import {
  REPLAY_POLICIES, ReplayError, TRACE_SHAPE_NAMES, formatMooncakeTrace, generateTrace, parseMooncakeTrace, replayLines, replaySummary, runReplay,
  type ReplayPolicy, type TraceRequest, type TraceShapeName,
} from "@kvtier/trace-replay";
import { flagString, intFlag, numberFlag, parseCommandLine, type FlagSpec } from "../args.js";
import { UsageError } from "../usage-error.js";

/** Help of `replay` (printed for --help). */
export const REPLAY_HELP = `usage: pnpm kvtier replay --trace FILE --capacity-tokens C [flags]
       pnpm kvtier replay --synthetic SHAPE --capacity-tokens C [flags]

  --trace FILE             Mooncake-format JSONL (timestamp ms, input_length, output_length, hash_ids)
  --synthetic SHAPE        generate the trace instead: ${TRACE_SHAPE_NAMES.join(", ")}
  --trace-seed N           seed of --synthetic (default 1)
  --save-trace FILE        write the generated trace there
  --workers N              simulated workers (default 8)
  --capacity-tokens C      LRU device cache per worker, tokens (required)
  --policy P               ${REPLAY_POLICIES.join(" | ")} (default kv); the others run too, for comparison
  --prefill-tokens-per-s X per-worker prefill throughput of the load model, or "auto" (default):
                           the trace's prompt tokens/s over the workers
  --seed S                 seed of the random policy (default 1)
  --json                   print only the JSON summary line

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
} as const satisfies FlagSpec;

/** A parsed `replay` command line. */
export interface ReplayCommand {
  source: { file: string } | { shape: TraceShapeName; seed: number; saveTo: string | undefined };
  workers: number;
  capacityTokens: number;
  policy: ReplayPolicy;
  prefillTokensPerS: number | "auto";
  seed: number;
  json: boolean;
}

/** Parse `replay` arguments; throws a UsageError naming the flag at fault. */
export function parseReplayArgs(argv: string[]): ReplayCommand {
  const { values, positionals } = parseCommandLine(argv, REPLAY_FLAGS);
  if (positionals.length > 0) throw new UsageError(positionals[0], "unexpected argument");
  const file = flagString(values, "trace");
  const shape = flagString(values, "synthetic");
  if ((file === undefined) === (shape === undefined)) throw new UsageError("--trace", "give exactly one of --trace FILE or --synthetic SHAPE");
  if (shape !== undefined && !(TRACE_SHAPE_NAMES as string[]).includes(shape)) throw new UsageError("--synthetic", `expected one of ${TRACE_SHAPE_NAMES.join(", ")}, got "${shape}"`);
  const capacity = flagString(values, "capacity-tokens");
  if (capacity === undefined) throw new UsageError("--capacity-tokens", "required");
  const policy = flagString(values, "policy") ?? "kv";
  if (!(REPLAY_POLICIES as readonly string[]).includes(policy)) throw new UsageError("--policy", `expected one of ${REPLAY_POLICIES.join(", ")}, got "${policy}"`);
  const rate = flagString(values, "prefill-tokens-per-s") ?? "auto";
  const opt = (name: string, fallback: number, min: number, max?: number): number => {
    const raw = flagString(values, name);
    return raw === undefined ? fallback : intFlag(`--${name}`, raw, min, max);
  };
  return {
    source: file !== undefined ? { file } : { shape: shape as TraceShapeName, seed: opt("trace-seed", 1, 0), saveTo: flagString(values, "save-trace") },
    workers: opt("workers", 8, 1, 4096),
    capacityTokens: intFlag("--capacity-tokens", capacity, 0),
    policy: policy as ReplayPolicy,
    prefillTokensPerS: rate === "auto" ? "auto" : numberFlag("--prefill-tokens-per-s", rate, 0, Number.MAX_SAFE_INTEGER, true),
    seed: opt("seed", 1, 0),
    json: values["json"] === true,
  };
}

function loadTrace(source: ReplayCommand["source"]): TraceRequest[] {
  if ("file" in source) {
    let text: string;
    try {
      text = readFileSync(source.file, "utf8");
    } catch (err) {
      throw new UsageError("--trace", `cannot read ${source.file}: ${err instanceof Error ? err.message : String(err)}`);
    }
    return parseMooncakeTrace(text);
  }
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
    workers: cmd.workers, capacityTokens: cmd.capacityTokens, prefillTokensPerS: cmd.prefillTokensPerS, seed: cmd.seed,
  });
  if (!cmd.json) process.stdout.write(replayLines(report).join("\n") + "\n");
  process.stdout.write(JSON.stringify(replaySummary(report)) + "\n");
  return 0;
}
