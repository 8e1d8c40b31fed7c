// Public entry of @kvtier/quality: the method contract, the registry, and the harness helpers.
export { WINDOW_TOKENS, WINDOW_STRIDE_TOKENS, CODEC_SCORE_FROM, POLICY_COMPRESS_AT } from './quality-method.js';
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
