// In-memory Llama weights, the tensor order of llama2.c checkpoints, and the model's identity.
import type { ModelConfig } from "./model-config.js";

/** One transformer layer. Matrices are row-major [out][in], as llama2.c stores them. */
export interface LlamaLayerWeights {
  /** [dim] */ rmsAtt: Float32Array;
  /** [dim][dim] */ wq: Float32Array;
  /** [kvDim][dim] */ wk: Float32Array;
  /** [kvDim][dim] */ wv: Float32Array;
  /** [dim][dim] */ wo: Float32Array;
  /** [dim] */ rmsFfn: Float32Array;
  /** [hiddenDim][dim] gate */ w1: Float32Array;
  /** [dim][hiddenDim] down */ w2: Float32Array;
  /** [hiddenDim][dim] up */ w3: Float32Array;
}

/** All weights of a model. */
export interface LlamaWeights {
  /** [vocabSize][dim] */ tokenEmbedding: Float32Array;
  layers: LlamaLayerWeights[];
  /** [dim] */ rmsFinal: Float32Array;
  /** [vocabSize][dim]; the same array as tokenEmbedding when the classifier is shared. */
  classifier: Float32Array;
}

/** A loaded model: its shape, weights and a stable id ("stories260K@b0a507e7") used in block namespaces. */
export interface LlamaModel {
  config: ModelConfig;
  weights: LlamaWeights;
  modelId: string;
}

/**
 * Slice a flat float array laid out exactly like llama2.c run.c `memory_map_weights`
 * (per-tensor, all layers contiguous; two skipped RoPE tables; classifier last if unshared).
 * Returns the weights (views into `flat`) and how many floats were consumed.
 */
export function mapLlamaWeights(config: ModelConfig, flat: Float32Array): { weights: LlamaWeights; floats: number } {
  const { dim, hiddenDim, nLayers, vocabSize, seqLen, headDim } = config;
  const kvd = config.nKvHeads * headDim;
  let at = 0;
  const take = (n: number): Float32Array => {
    const view = flat.subarray(at, at + n);
    at += n;
    return view;
  };
  const perLayer = (all: Float32Array, n: number): Float32Array[] =>
    Array.from({ length: nLayers }, (_, l) => all.subarray(l * n, (l + 1) * n));

  const tokenEmbedding = take(vocabSize * dim);
  const rmsAtt = perLayer(take(nLayers * dim), dim);
  const wq = perLayer(take(nLayers * dim * dim), dim * dim);
  const wk = perLayer(take(nLayers * dim * kvd), dim * kvd);
  const wv = perLayer(take(nLayers * dim * kvd), dim * kvd);
  const wo = perLayer(take(nLayers * dim * dim), dim * dim);
  const rmsFfn = perLayer(take(nLayers * dim), dim);
  const w1 = perLayer(take(nLayers * dim * hiddenDim), dim * hiddenDim);
  const w2 = perLayer(take(nLayers * hiddenDim * dim), hiddenDim * dim);
  const w3 = perLayer(take(nLayers * dim * hiddenDim), dim * hiddenDim);
  const rmsFinal = take(dim);
  take((seqLen * headDim) / 2); // freq_cis_real: unused, RoPE is computed
  take((seqLen * headDim) / 2); // freq_cis_imag
  const classifier = config.sharedClassifier ? tokenEmbedding : take(vocabSize * dim);
  const layers = rmsAtt.map((_, l) => ({
    rmsAtt: rmsAtt[l],
    wq: wq[l],
    wk: wk[l],
    wv: wv[l],
    wo: wo[l],
    rmsFfn: rmsFfn[l],
    w1: w1[l],
    w2: w2[l],
    w3: w3[l],
  }));
  return { weights: { tokenEmbedding, layers, rmsFinal, classifier }, floats: at };
}

/** Number of floats `mapLlamaWeights` consumes for a config. */
export function llamaWeightFloats(config: ModelConfig): number {
  const { dim, hiddenDim, nLayers, vocabSize, seqLen, headDim } = config;
  const kvd = config.nKvHeads * headDim;
  return (
    vocabSize * dim +
    nLayers * (2 * dim + 2 * dim * dim + 2 * dim * kvd + 3 * dim * hiddenDim) +
    dim +
    seqLen * headDim +
    (config.sharedClassifier ? 0 : vocabSize * dim)
  );
}
