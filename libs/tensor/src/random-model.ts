// Deterministic random-weight Llama models of any shape, for speed measurements on large configs.
import { mapLlamaWeights, llamaWeightFloats, type LlamaModel } from "./llama-model.js";
import { checkModelConfig, type ModelConfig } from "./model-config.js";
import { Xoshiro128 } from "./xoshiro128.js";

/**
 * A model with uniform weights scaled by 1/sqrt(fan-in) (RMSNorm gains 1), reproducible from `seed`.
 * modelId "random-d<dim>l<layers>h<heads>k<kvHeads>@<seed>". Not a language model: for speed only.
 */
export function randomModel(config: ModelConfig, seed: number): LlamaModel {
  checkModelConfig(config);
  const flat = new Float32Array(llamaWeightFloats(config));
  const rng = new Xoshiro128(seed);
  const scale = 2 / Math.sqrt(config.dim);
  for (let i = 0; i < flat.length; i++) flat[i] = (rng.nextFloat() - 0.5) * scale;
  const { weights } = mapLlamaWeights(config, flat);
  for (const layer of weights.layers) {
    layer.rmsAtt.fill(1);
    layer.rmsFfn.fill(1);
  }
  weights.rmsFinal.fill(1);
  const id = `random-d${config.dim}l${config.nLayers}h${config.nHeads}k${config.nKvHeads}@${seed >>> 0}`;
  return { config, weights, modelId: id };
}
