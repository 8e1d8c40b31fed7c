// Public entry of @kvtier/quality: the method contract, the registry, and the harness helpers.
export { WINDOW_TOKENS, WINDOW_STRIDE_TOKENS, CODEC_WINDOW_STRIDE_TOKENS, CODEC_SCORE_FROM, POLICY_COMPRESS_AT } from './quality-method.js';
export type {
  QualityMethod,
  QualityMethodKind,
  EvalWindow,
  WindowOutcome,
  MethodTiming,
  ReferenceActivations,
  LayerActivations,
} from './quality-method.js';
export { QualityMethodRegistry, QualityMethodError } from './method-registry.js';
export type { MethodComparison } from './method-registry.js';
export { attentionOutputError } from './attention-error.js';
export type { AttentionErrorOptions } from './attention-error.js';
export { recordReference, rotateKeys, ropeInPlace, attendPosition } from './reference-forward.js';
export { registerPolicyMethods } from './methods/policy-methods.js';
export { QualityInputError, makeWindows } from './windows.js';
export type { TextWindow } from './windows.js';
export { scorePosition } from './logit-metrics.js';
export type { PositionScore } from './logit-metrics.js';
export { meanInterval, pairedInterval, BOOTSTRAP_RESAMPLES } from './bootstrap.js';
export type { Interval, PairedStats } from './bootstrap.js';
export { runMethods, HARNESS_BLOCK_TOKENS } from './run-quality.js';
export type { MethodRun, WindowResult, QualityRunOptions } from './run-quality.js';
export { summarize, summarizeRun, compareRuns } from './summarize.js';
export type { MethodSummary, ComparisonSummary } from './summarize.js';
export { buildReport, lastLineJson } from './quality-report.js';
export type { QualityReport } from './quality-report.js';
export { renderMarkdown } from './report-markdown.js';
export { renderSvg } from './report-svg.js';
export { codecMethod, encodedBlockBytes, CODEC_TIMING_REPEATS, ATTENTION_ERROR_STEP } from './methods/codec-method.js';
export { registerCodecMethods } from './methods/codec-methods.js';
export { defaultMethodRegistry } from './default-methods.js';
export { evalQuality, HELD_OUT_TEXT_PATH, ENTROPY_PROBED_CODECS } from './eval-quality.js';
export type { EvalQualityOptions, EvalQualityResult } from './eval-quality.js';
export { EntropyHeadroomProbe } from './entropy-headroom.js';
export type { EntropyHeadroom, EntropyProbeState } from './entropy-headroom.js';
export { loadInputs, entropyProbe } from './harness-inputs.js';
export type { HarnessInputs } from './harness-inputs.js';
