// `kvtier eval-quality [--text FILE] [--methods a,b] [--out DIR] [--windows N]`: the KV-compression
// quality harness (@kvtier/quality) on stories260K. Progress goes to stderr; stdout gets the
// Markdown table and, as its last line, one JSON object keyed by method.
import { DEFAULT_MODEL_DIR } from "@kvtier/platform";
import { defaultMethodRegistry, evalQuality } from "@kvtier/quality";
import { envValue, flagString, intFlag, parseCommandLine, type FlagSpec } from "../args.js";
import { UsageError } from "../usage-error.js";

/** Most worker threads --jobs accepts. */
const MAX_EVAL_JOBS = 16;

/** Where reports go when --out is not given (bench-results/ is git-ignored). */
const DEFAULT_QUALITY_OUT_DIR = "bench-results/quality";

const EVAL_QUALITY_FLAGS = {
  text: { type: "string" },
  methods: { type: "string" },
  out: { type: "string" },
  windows: { type: "string" },
  jobs: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const satisfies FlagSpec;

/** `kvtier eval-quality --help`. */
const EVAL_QUALITY_HELP = `usage: pnpm kvtier eval-quality [flags]

  --text FILE          text to score (default: the committed held-out text, libs/quality/data/held-out.txt)
  --methods a,b,...    rows to run, e.g. int8,kivi2,snapkv@25 (default: every registered method)
  --out DIR            where report.md, report.json and quality.svg go (default ${DEFAULT_QUALITY_OUT_DIR})
  --windows N          only the first N windows (quick runs)
  --jobs N             worker threads, windows dealt round-robin (default 1; the results do not change)

The model is stories260K from $KVTIER_MODEL_DIR (default ../shared/models). The last stdout line is
one JSON object keyed by method: ratio_vs_fp16, kl, top1, ppl_delta, bytes_per_token, ...
`;

/** Parse the flags and run the harness; resolves with the exit status. */
export async function runEvalQualityCommand(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, EVAL_QUALITY_FLAGS);
  if (values["help"] === true) {
    process.stdout.write(EVAL_QUALITY_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(positionals[0], "unexpected argument (see --help)");
  const registry = defaultMethodRegistry();
  const methods = flagString(values, "methods")
    ?.split(",")
    .map((m) => m.trim())
    .filter((m) => m !== "");
  const unknown = methods?.filter((m) => !registry.ids().includes(m)) ?? [];
  if (unknown.length > 0) throw new UsageError("--methods", `unknown method ${unknown.join(", ")} (known: ${registry.ids().join(", ")})`);
  const windows = flagString(values, "windows");
  const jobs = flagString(values, "jobs");
  const result = await evalQuality({
    modelDir: envValue(env, "KVTIER_MODEL_DIR") ?? DEFAULT_MODEL_DIR,
    textPath: flagString(values, "text"),
    methods,
    outDir: flagString(values, "out") ?? DEFAULT_QUALITY_OUT_DIR,
    maxWindows: windows === undefined ? undefined : intFlag("--windows", windows, 1),
    jobs: jobs === undefined ? 1 : intFlag("--jobs", jobs, 1, MAX_EVAL_JOBS),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stderr.write(`wrote ${result.files.markdown}, ${result.files.json}, ${result.files.svg}\n`);
  process.stdout.write(`${result.markdown}\n${result.lastLine}\n`);
  return 0;
}
