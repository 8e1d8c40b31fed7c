// Public entry of @kvtier/quality: the harness (evalQuality), the method contract, the registry, and the report's types.
export type {
  QualityMethod,
  QualityMethodKind,
  EvalWindow,
  WindowOutcome,
  MethodTiming,
  ReferenceActivations,
  LayerActivations,
} from "./quality-method.js";
export { QualityMethodRegistry, QualityMethodError } from "./method-registry.js";
export type { MethodComparison } from "./method-registry.js";
export { attentionOutputError } from "./attention-error.js";
export type { AttentionErrorOptions } from "./attention-error.js";
export type { Interval } from "./bootstrap.js";
export type { MethodSummary, ComparisonSummary } from "./summarize.js";
export type { QualityReport } from "./quality-report.js";
export { defaultMethodRegistry } from "./default-methods.js";
export { evalQuality } from "./eval-quality.js";
export type { EvalQualityOptions, EvalQualityResult } from "./eval-quality.js";
export type { EntropyHeadroom } from "./entropy-headroom.js";
