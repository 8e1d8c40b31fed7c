// `kvtier eval-quality` as a library call: load stories260K and the text, score the selected
// methods (in this thread, or over worker threads for the default registry), write report.md,
// report.json and quality.svg, and return the last-line JSON.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { defaultMethodRegistry } from "./default-methods.js";
import { entropyProbe, loadInputs } from "./harness-inputs.js";
import type { QualityMethodRegistry } from "./method-registry.js";
import { CODEC_WINDOW_STRIDE_TOKENS } from "./quality-method.js";
import { buildReport, lastLineJson, type QualityReport } from "./quality-report.js";
import { renderMarkdown } from "./report-markdown.js";
import { renderSvg } from "./report-svg.js";
import { HARNESS_BLOCK_TOKENS, runMethods, type MethodRun } from "./run-quality.js";
import { summarize } from "./summarize.js";
import { runInWorkers } from "./window-workers.js";
import { makeWindows } from "./windows.js";

/** Options of one harness run. */
export interface EvalQualityOptions {
  /** Directory holding stories260K.bin and tok512.bin. */
  modelDir: string;
  /** Text to score. @default HELD_OUT_TEXT_PATH */
  textPath?: string;
  /** Method ids to run, in this order. @default every registered method */
  methods?: readonly string[];
  /** Where report.md, report.json and quality.svg go. */
  outDir: string;
  /** Only the first N windows (quick runs). @default all */
  maxWindows?: number;
  /** A registry of your own (then everything runs in this thread). @default defaultMethodRegistry() */
  registry?: QualityMethodRegistry;
  /** Worker threads for the windows (default registry only; results are identical). @default 1 */
  jobs?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** What a run produced. */
export interface EvalQualityResult {
  report: QualityReport;
  markdown: string;
  files: { markdown: string; json: string; svg: string };
  lastLine: string;
}

/** Run the harness end to end. */
export async function evalQuality(opts: EvalQualityOptions): Promise<EvalQualityResult> {
  const t0 = performance.now();
  const inputs = loadInputs(opts.modelDir, opts.textPath);
  const registry = opts.registry ?? defaultMethodRegistry();
  const ids = opts.methods ?? registry.ids();
  const methods = ids.map((id) => registry.get(id));
  const probe = entropyProbe(inputs.model);
  const windows = makeWindows(inputs.textTokens, inputs.bos).slice(0, opts.maxWindows ?? Infinity);
  let runs: MethodRun[];
  const jobs = opts.registry === undefined ? Math.max(1, opts.jobs ?? 1) : 1;
  if (jobs > 1) {
    const base = { modelDir: opts.modelDir, textPath: inputs.textPath, methodIds: ids, maxWindows: opts.maxWindows };
    const out = await runInWorkers(base, windows.length, jobs, opts.log);
    out.probes.forEach((state) => probe.absorb(state));
    runs = methods.map((method) => ({ method, windows: out.results.get(method.id) ?? [] }));
  } else {
    runs = runMethods({
      model: inputs.model,
      textTokens: inputs.textTokens,
      bos: inputs.bos,
      methods,
      maxWindows: opts.maxWindows,
      onProgress: opts.log,
      onReference: (w, reference) => {
        if (w.start % CODEC_WINDOW_STRIDE_TOKENS === 0) probe.add(reference, w.start / CODEC_WINDOW_STRIDE_TOKENS);
      },
    }).runs;
  }
  const summary = summarize(runs, registry.comparisons(ids));
  const report = buildReport(
    inputs.model.modelId,
    { source: inputs.textPath, tokens: inputs.textTokens.length, windows: windows.length },
    HARNESS_BLOCK_TOKENS,
    (performance.now() - t0) / 1000,
    summary.methods,
    summary.comparisons,
    probe.result(),
  );
  mkdirSync(opts.outDir, { recursive: true });
  const files = { markdown: join(opts.outDir, "report.md"), json: join(opts.outDir, "report.json"), svg: join(opts.outDir, "quality.svg") };
  const markdown = renderMarkdown(report);
  writeFileSync(files.markdown, markdown);
  writeFileSync(files.json, JSON.stringify(report, null, 2) + "\n");
  writeFileSync(files.svg, renderSvg(report.methods));
  return { report, markdown, files, lastLine: lastLineJson(report) };
}
