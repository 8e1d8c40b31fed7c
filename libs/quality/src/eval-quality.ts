// `kvtier eval-quality` as a library call: load stories260K and the text, score the selected
// methods, write report.md, report.json and quality.svg, and return the last-line JSON.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { INT8_SPEC, kiviSpec, loadCheckpoint, Tokenizer, type AffineCodecSpec } from '@kvtier/tensor';
import { EntropyHeadroomProbe } from './entropy-headroom.js';
import { CODEC_WINDOW_STRIDE_TOKENS } from './quality-method.js';
import { defaultMethodRegistry } from './default-methods.js';
import type { QualityMethodRegistry } from './method-registry.js';
import { buildReport, lastLineJson, type QualityReport } from './quality-report.js';
import { renderMarkdown } from './report-markdown.js';
import { renderSvg } from './report-svg.js';
import { HARNESS_BLOCK_TOKENS, runMethods } from './run-quality.js';
import { summarize } from './summarize.js';

/** The committed held-out text (two long narratives, 4,977 stories260K tokens; data/held-out-more.txt holds two more for --text). */
export const HELD_OUT_TEXT_PATH = fileURLToPath(new URL('../data/held-out.txt', import.meta.url));

/** Integer codecs whose entropy-coding headroom the report measures. */
export const ENTROPY_PROBED_CODECS: readonly AffineCodecSpec[] = [INT8_SPEC, kiviSpec(4), kiviSpec(2)];

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
  /** @default defaultMethodRegistry() */
  registry?: QualityMethodRegistry;
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
export function evalQuality(opts: EvalQualityOptions): EvalQualityResult {
  const t0 = performance.now();
  const model = loadCheckpoint(join(opts.modelDir, 'stories260K.bin'));
  const tokenizer = Tokenizer.fromFile(join(opts.modelDir, 'tok512.bin'), model.config.vocabSize);
  const textPath = resolve(opts.textPath ?? HELD_OUT_TEXT_PATH);
  const textTokens = tokenizer.encode(readFileSync(textPath, 'utf8'), { bos: false });
  const registry = opts.registry ?? defaultMethodRegistry();
  const ids = opts.methods ?? registry.ids();
  const methods = ids.map((id) => registry.get(id));
  const probe = new EntropyHeadroomProbe(model.config, HARNESS_BLOCK_TOKENS, ENTROPY_PROBED_CODECS.map((s) => s.id), new Map(ENTROPY_PROBED_CODECS.map((s) => [s.id, s])));
  const { windows, runs } = runMethods({
    model, textTokens, bos: tokenizer.bosId, methods, maxWindows: opts.maxWindows, onProgress: opts.log,
    onReference: (w, reference) => {
      if (w.start % CODEC_WINDOW_STRIDE_TOKENS === 0) probe.add(reference);
    },
  });
  const summary = summarize(runs, registry.comparisons(ids));
  const report = buildReport(
    model.modelId,
    { source: textPath, tokens: textTokens.length, windows: windows.length },
    HARNESS_BLOCK_TOKENS,
    (performance.now() - t0) / 1000,
    summary.methods,
    summary.comparisons,
    probe.result(),
  );
  mkdirSync(opts.outDir, { recursive: true });
  const files = { markdown: join(opts.outDir, 'report.md'), json: join(opts.outDir, 'report.json'), svg: join(opts.outDir, 'quality.svg') };
  const markdown = renderMarkdown(report);
  writeFileSync(files.markdown, markdown);
  writeFileSync(files.json, JSON.stringify(report, null, 2) + '\n');
  writeFileSync(files.svg, renderSvg(report.methods));
  return { report, markdown, files, lastLine: lastLineJson(report) };
}
