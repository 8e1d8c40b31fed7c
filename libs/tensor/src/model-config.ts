// Llama model hyper-parameters (the llama2.c header, normalised) and their consistency rules.
import { EngineError } from "./engine-error.js";

/** Shape of a Llama-architecture model. All fields are counts. */
export interface ModelConfig {
  /** Residual stream width. */
  dim: number;
  /** SwiGLU inner width. */
  hiddenDim: number;
  nLayers: number;
  /** Query heads. */
  nHeads: number;
  /** Key/value heads (grouped-query attention: nHeads is a multiple of nKvHeads). */
  nKvHeads: number;
  /** dim / nHeads. */
  headDim: number;
  vocabSize: number;
  /** Longest sequence (context) the model supports, in tokens. */
  seqLen: number;
  /** True when the classifier reuses the token embedding matrix. */
  sharedClassifier: boolean;
}

/** Width of one token's K (or V) row across all KV heads: nKvHeads * headDim. */
export function kvDim(config: ModelConfig): number {
  return config.nKvHeads * config.headDim;
}

/** Throws EngineError INVALID_ARGUMENT unless the config is internally consistent. */
export function checkModelConfig(config: ModelConfig): void {
  const counts: Record<string, number> = {
    dim: config.dim,
    hiddenDim: config.hiddenDim,
    nLayers: config.nLayers,
    nHeads: config.nHeads,
    nKvHeads: config.nKvHeads,
    headDim: config.headDim,
    vocabSize: config.vocabSize,
    seqLen: config.seqLen,
  };
  for (const [name, value] of Object.entries(counts)) {
    if (!Number.isInteger(value) || value < 1) {
      throw new EngineError("INVALID_ARGUMENT", `model config ${name} must be a positive integer, got ${value}`);
    }
  }
  if (config.headDim * config.nHeads !== config.dim) {
    throw new EngineError("INVALID_ARGUMENT", `headDim ${config.headDim} * nHeads ${config.nHeads} != dim ${config.dim}`);
  }
  if (config.nHeads % config.nKvHeads !== 0) {
    throw new EngineError("INVALID_ARGUMENT", `nHeads ${config.nHeads} is not a multiple of nKvHeads ${config.nKvHeads}`);
  }
  if (config.headDim % 2 !== 0) {
    throw new EngineError("INVALID_ARGUMENT", `headDim ${config.headDim} must be even for RoPE pairs`);
  }
}
