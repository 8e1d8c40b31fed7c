// The single-process reference: the same model run greedily in this process, no services.
import { LlamaEngine, Tokenizer, loadCheckpoint, type LlamaModel } from "@kvtier/tensor";
import { DEFAULT_MODEL_DIR } from "@kvtier/platform";

const modelDir = process.env.KVTIER_MODEL_DIR || DEFAULT_MODEL_DIR;
let cached: { model: LlamaModel; tokenizer: Tokenizer } | undefined;

export function referenceModel(): { model: LlamaModel; tokenizer: Tokenizer } {
  if (!cached) {
    const model = loadCheckpoint(`${modelDir}/stories260K.bin`);
    cached = { model, tokenizer: Tokenizer.fromFile(`${modelDir}/tok512.bin`, model.config.vocabSize) };
  }
  return cached;
}

/** Greedy continuation with the services' stopping rules (end tokens 1 and 2 stop, not emitted). */
export function referenceGreedy(prompt: string, maxTokens: number): { tokens: number[]; firstLogits: Float32Array } {
  const { model, tokenizer } = referenceModel();
  const engine = new LlamaEngine(model, { blockSize: 16, capacityBlocks: 64 });
  const ids = tokenizer.encode(prompt, { bos: true });
  engine.openSequence("ref");
  let logits = engine.prefill("ref", ids);
  const firstLogits = logits.slice();
  const out: number[] = [];
  for (let i = 0; i < maxTokens; i++) {
    let best = 0;
    for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
    if (best === 1 || best === 2) break;
    out.push(best);
    if (out.length === maxTokens) break;
    logits = engine.decodeStep([{ seqId: "ref", token: best }])[0];
  }
  return { tokens: out, firstLogits };
}
